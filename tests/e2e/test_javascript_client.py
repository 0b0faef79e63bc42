"""The official JavaScript clients end to end: @azure/identity's ClientSecretCredential and the Graph
JavaScript client (@microsoft/microsoft-graph-client) drive a task's life cycle against
`graphtasks serve --tls` started with default flags, for an app registered with `graphtasks apps add`.

Owns the proof that JavaScript production code works with nothing changed but the authority host, the
Graph base URL and the client's customHosts. tests/e2e/js/lifecycle.mjs makes every request and prints
each step's answer (or error) as one JSON object; the tests here judge one step each, and check the
server's own state over HTTP where the script's word alone would not do. The packages are those
tests/e2e/js/package-lock.json pins, installed with `npm ci` when node_modules is missing or older than
the lock file. Without node or npm the module skips, and fails instead under CI=true.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from graphtasks.config import DEFAULT_TENANT
from tests.e2e.test_identity import authority, register
from tests.support.examples import FOUNDING_REQUEST
from tests.support.node import npm_installed, tool
from tests.support.server import TASKS_PATH, Server

JS_DIR = Path(__file__).parent / "js"
SCRIPT = JS_DIR / "lifecycle.mjs"
PERMISSION = "DeviceManagementApps.ReadWrite.All"
PAGING_TASKS, PAGE_SIZE = 7, 3  # three pages: 3, 3 and 1

Report = dict[str, Any]

pytestmark = pytest.mark.slow  # npm ci on first use, then node and MSAL start-up


@pytest.fixture(scope="session")
def node() -> str:
    """node, with the locked packages installed in tests/e2e/js/node_modules."""
    node = tool("node")
    npm_installed(JS_DIR)
    return node


@pytest.fixture(scope="module")
def app(tls_server: Server) -> dict[str, str]:
    return register(tls_server, PERMISSION)


@pytest.fixture(scope="module")
def report(node: str, tls_server: Server, app: dict[str, str]) -> Report:
    """What lifecycle.mjs reports, run once against the module's server."""
    assert tls_server.ca is not None
    env = os.environ | {
        "GRAPHTASKS_ORIGIN": authority(tls_server),
        "GRAPHTASKS_TENANT": app["tenantId"],
        "GRAPHTASKS_CLIENT_ID": app["clientId"],
        "GRAPHTASKS_CLIENT_SECRET": app["clientSecret"],
        "GRAPHTASKS_SEED": json.dumps(FOUNDING_REQUEST),
        "GRAPHTASKS_PAGING_TASKS": str(PAGING_TASKS),
        "GRAPHTASKS_PAGE_SIZE": str(PAGE_SIZE),
        # Node's own TLS (MSAL's token requests and the Graph client's fetch) trusts this CA besides its own.
        "NODE_EXTRA_CA_CERTS": str(tls_server.ca),
    }
    done = subprocess.run(
        [node, str(SCRIPT)], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answers: Report = json.loads(done.stdout)
    return answers


def answer(report: Report, step: str) -> Any:
    """The step's answer; a step that raised fails the test with the error it raised."""
    assert "error" not in report[step], report[step]
    return report[step]["answer"]


def without(task: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in task.items() if name not in names}


def test_the_credential_gets_a_token_for_the_app(
    report: Report, tls_server: Server, app: dict[str, str]
) -> None:
    claims = answer(report, "token")
    assert (claims["tid"], claims["azp"], claims["roles"]) == (DEFAULT_TENANT, app["clientId"], [PERMISSION])
    assert claims["aud"] == "https://graph.microsoft.com"
    # MSAL for Node accepts an OpenID configuration only when its issuer shares the authority's origin.
    assert claims["iss"] == f"{authority(tls_server)}/{DEFAULT_TENANT}/v2.0"


def test_create_answers_the_seed_task(report: Report) -> None:
    created = answer(report, "create")
    normalized = ("dueDateTime", "intendedSettings")  # to UTC, and @odata.type with its "#"
    assert without(FOUNDING_REQUEST, *normalized).items() <= created.items()
    due = [datetime.fromisoformat(task["dueDateTime"]) for task in (FOUNDING_REQUEST, created)]
    assert due[0] == due[1]
    assert [(kv["name"], kv["value"]) for kv in created["intendedSettings"]] == [
        ("Name value", "Value value")
    ]
    assert created["id"] == report["deletedId"]


def test_get_answers_the_created_task(report: Report) -> None:
    assert answer(report, "get") == answer(report, "create")


def test_list_applies_filter_select_and_top(report: Report) -> None:
    page = answer(report, "list")
    assert [without(task, "@odata.type", "@odata.etag") for task in page["value"]] == [
        {"id": report["deletedId"], "displayName": "Display Name value", "status": "pending"}
    ]
    assert "@odata.nextLink" not in page


def test_count_answers_the_number_as_text(report: Report) -> None:
    assert answer(report, "count") == "1"


@pytest.mark.parametrize(
    ("step", "changed"),
    [
        ("patch", {"assignedTo": "secops@contoso.com"}),
        ("updateStatus", {"status": "completed"}),
    ],
)
def test_a_write_answers_no_content_and_changes_only_its_properties(
    report: Report, step: str, changed: dict[str, str]
) -> None:
    result = answer(report, step)
    assert result["reply"] is None  # 204 No Content
    assert changed.items() <= result["after"].items()
    # Each write builds on the one before it: the PATCH's assignee stays through updateStatus.
    before = answer(report, "get") | {"assignedTo": "secops@contoso.com"}
    assert without(result["after"], "@odata.etag", *changed) == without(before, "@odata.etag", *changed)


def test_delete_removes_the_task_from_the_server(report: Report, tls_server: Server) -> None:
    assert answer(report, "delete") is None
    with tls_server.client() as http:
        gone = http.get(f"{TASKS_PATH}/{report['deletedId']}")
        listed = http.get(TASKS_PATH, params={"$select": "id"}).json()["value"]
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "ResourceNotFound")
    assert report["deletedId"] not in {task["id"] for task in listed}


@pytest.mark.parametrize(
    ("step", "status", "code", "message"),
    [
        ("getDeleted", 404, "ResourceNotFound", "deviceAppManagementTask '{id}' was not found"),
        (
            "badFilter",
            400,
            "BadRequest",
            "Could not find a property named 'nope' on type 'microsoft.graph.deviceAppManagementTask'.",
        ),
        # Without customHosts the client sends no Authorization header to a host that is not Graph's.
        ("withoutCustomHosts", 401, "InvalidAuthenticationToken", "Access token is empty."),
    ],
)
def test_an_error_surfaces_as_a_graph_error(
    report: Report, step: str, status: int, code: str, message: str
) -> None:
    error = report[step].get("error")
    assert error is not None, report[step]
    assert (error["isGraphError"], error["statusCode"], error["code"]) == (True, status, code)
    assert message.format(id=report["deletedId"]) in error["message"]


def test_page_iterator_follows_next_links_through_every_page(report: Report, tls_server: Server) -> None:
    walk = answer(report, "paging")
    assert (walk["firstPage"], walk["complete"]) == (PAGE_SIZE, True)
    assert walk["firstNextLink"].startswith(authority(tls_server) + TASKS_PATH + "?")
    assert Counter(walk["seen"]) == Counter(walk["created"])  # each task once, none missing
    with tls_server.client() as http:
        params = {"$filter": "startswith(displayName, 'js-page-')", "$select": "id"}
        stored = http.get(TASKS_PATH, params=params).json()["value"]
    assert sorted(task["id"] for task in stored) == sorted(walk["created"])
