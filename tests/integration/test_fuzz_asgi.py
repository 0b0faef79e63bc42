"""Hypothesis against the application in process (httpx.ASGITransport, create_app on a temporary SQLite
file): JSON bodies of random shape and near-valid task shapes, query options random and grammar-shaped,
the Content-Type, If-Match, If-None-Match and Prefer headers, and $batch payloads. Bearer tokens have
their own module (test_fuzz_tokens.py).

Every answer must be below 500; every error Graph's envelope (test_openapi.py: graph_error_problem);
every success one the OpenAPI document (web/openapi.py) describes for the operation, with a body its
schema takes. Examples are derandomized, so CI runs the same ones every time; bench/fuzz.py runs many
more of the same tests (the strategies are test_fuzz_strategies.py's).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30ReadValidator

from graphtasks.app import Backend, create_app, open_backend
from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import TokenRequest, issue_token
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT, Settings
from graphtasks.model.schema import APP_VULNERABILITY_TASK, SECURITY_CONFIGURATION_TASK, TASK_TYPES
from graphtasks.web.application import GraphApplication
from graphtasks.web.openapi import openapi_document
from tests.integration.test_fuzz_strategies import (
    batches,
    filters,
    header_values,
    json_texts,
    query_options,
    task_bodies,
)
from tests.integration.test_openapi import OAUTH_OPERATIONS, graph_error_problem

HOST = "http://graphtasks.test"
DOCUMENT = openapi_document(HOST)
COMPONENTS = DOCUMENT["components"]
TASKS = "/beta/deviceAppManagement/deviceAppManagementTasks"
# bench/fuzz.py raises the count and seeds the run at random; CI runs the same examples every time.
EXAMPLES = int(os.environ.get("GRAPHTASKS_FUZZ_EXAMPLES", "80"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="GRAPHTASKS_FUZZ_RANDOM" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@dataclass
class InProcess:
    """The application in process, a token for it, and a task of each type with a child."""

    app: GraphApplication
    backend: Backend
    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    token: str
    tasks: dict[str, str]  # type name -> id
    children: dict[str, str]  # navigation URL below a task -> child id

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.loop.run_until_complete(self.client.request(method, url, headers=headers, **kwargs))

    def created(self, url: str, body: dict[str, Any]) -> str:
        response = self.send("POST", url, json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def in_process(directory: Path) -> InProcess:
    settings_ = Settings(
        database_url=f"sqlite:///{directory / 'fuzz.sqlite'}", page_size=5, allowed_hosts=("graphtasks.test",)
    )
    backend = open_backend(settings_)
    app = create_app(settings_, backend=backend)
    request = TokenRequest(DEFAULT_TENANT, roles=ALL_PERMISSIONS)
    token = issue_token(backend.keys, request, issuer_base=DEFAULT_ISSUER)
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HOST, timeout=30.0)
    target = InProcess(app, backend, loop, client, token, {}, {})
    for task_type in TASK_TYPES:
        target.tasks[task_type.name] = target.created(TASKS, {"@odata.type": task_type.odata_type})
    sct, avt = target.tasks[SECURITY_CONFIGURATION_TASK.name], target.tasks[APP_VULNERABILITY_TASK.name]
    for navigation in (f"{sct}/managedDevices", f"{avt}/managedDevices", f"{avt}/mobileApps"):
        target.children[navigation] = target.created(f"{TASKS}/{navigation}", {"displayName": "d"})
    return target


def close(target: InProcess) -> None:
    target.loop.run_until_complete(target.client.aclose())
    target.loop.close()
    target.backend.database.dispose()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    target = in_process(tmp_path_factory.mktemp("fuzz-asgi"))
    yield target
    close(target)


# --- what every answer must be ---

_OPERATIONS = {
    op["operationId"]: op
    for item in DOCUMENT["paths"].values()
    for method, op in item.items()
    if method not in {"parameters", "servers"}
}


# (operationId, status) -> how many answers: bench/fuzz.py's report of what the examples reached.
OUTCOMES: Counter[tuple[str, int]] = Counter()


def check_answer(response: httpx.Response, operation_id: str) -> None:
    """Below 500; an error in Graph's envelope; a success the document describes, body and all."""
    OUTCOMES[operation_id, response.status_code] += 1
    assert response.status_code < 500, f"{response.status_code} {response.text[:2000]}"
    if response.status_code >= 400 and operation_id not in OAUTH_OPERATIONS:
        problem = graph_error_problem(_body(response))
        assert problem is None, f"{response.status_code}: {problem}"
    documented = _OPERATIONS[operation_id]["responses"].get(str(response.status_code))
    assert documented is not None, f"{operation_id} answered an undocumented {response.status_code}"
    documented = _resolve(documented)
    media_type = response.headers.get("content-type", "").split(";")[0]
    if not documented.get("content"):
        assert not response.content, f"{response.status_code} has a body: {response.text[:300]}"
        return
    assert media_type in documented["content"], f"{media_type} not in {list(documented['content'])}"
    if media_type == "application/json":
        schema = documented["content"][media_type]["schema"]
        OAS30ReadValidator({**schema, "components": COMPONENTS}).validate(response.json())
        _check_entities(response.json())
    if operation_id == "batch" and response.status_code == 200:
        for item in response.json()["responses"]:
            assert item["status"] < 500, item
            if item["status"] >= 400:
                assert graph_error_problem(item.get("body")) is None, item


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        resolved: dict[str, Any] = COMPONENTS[section][name]
        return resolved
    return node


def _check_entities(body: object) -> None:
    """Each entity against the schema its @odata.type maps to: the document's schemas are polymorphic
    through a discriminator the validator does not follow."""
    entities = body.get("value", [body]) if isinstance(body, dict) else []
    for entity in entities if isinstance(entities, list) else []:
        name = str(entity.get("@odata.type", "")).removeprefix("#") if isinstance(entity, dict) else ""
        if name in COMPONENTS["schemas"]:
            OAS30ReadValidator({"$ref": f"#/components/schemas/{name}", "components": COMPONENTS}).validate(
                entity
            )


def _body(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


def json_body(text: bytes) -> dict[str, Any]:
    return {"content": text, "headers": {"Content-Type": "application/json"}}


# --- bodies ---


def write_targets(app: InProcess) -> list[tuple[str, str, str]]:
    """(method, URL, operationId) of every operation that reads a body."""
    sct, avt = app.tasks[SECURITY_CONFIGURATION_TASK.name], app.tasks[APP_VULNERABILITY_TASK.name]
    child = app.children[f"{avt}/mobileApps"]
    return [
        ("POST", TASKS, "create_task"),
        ("PATCH", f"{TASKS}/{sct}", "update_task"),
        ("PATCH", f"{TASKS}/{avt}", "update_task"),
        ("POST", f"{TASKS}/{sct}/updateStatus", "update_status"),
        ("POST", f"{TASKS}/{avt}/microsoft.graph.updateStatus", "update_status_qualified"),
        ("POST", f"{TASKS}/{sct}/managedDevices", "create_child_managedDevices"),
        ("PATCH", f"{TASKS}/{avt}/mobileApps/{child}", "update_child_mobileApps"),
        ("POST", "/beta/$batch", "batch"),
    ]


@FUZZ
@given(data=st.data(), text=json_texts())
def test_random_json_bodies(app: InProcess, data: st.DataObject, text: bytes) -> None:
    method, url, operation_id = data.draw(st.sampled_from(write_targets(app)))
    check_answer(app.send(method, url, **json_body(text)), operation_id)


@FUZZ
@given(data=st.data(), body=task_bodies())
def test_near_valid_task_bodies(app: InProcess, data: st.DataObject, body: bytes) -> None:
    method, url, operation_id = data.draw(st.sampled_from(write_targets(app)[:5]))
    response = app.send(method, url, **json_body(body))
    check_answer(response, operation_id)
    if response.status_code == 201:  # what was stored reads back as the document says
        created = response.json()["id"]
        check_answer(app.send("GET", f"{TASKS}/{created}"), "get_task")
        check_answer(app.send("GET", TASKS, params={"$filter": f"id eq '{created}'"}), "list_tasks")


@FUZZ
@given(batch=batches())
def test_batches(app: InProcess, batch: bytes) -> None:
    check_answer(app.send("POST", "/beta/$batch", **json_body(batch)), "batch")


# --- query options ---


def read_targets(app: InProcess) -> list[tuple[str, str]]:
    sct, avt = app.tasks[SECURITY_CONFIGURATION_TASK.name], app.tasks[APP_VULNERABILITY_TASK.name]
    child = app.children[f"{sct}/managedDevices"]
    cast = "microsoft.graph.appVulnerabilityTask"
    return [
        (TASKS, "list_tasks"),
        (f"{TASKS}/{cast}", f"list_tasks_{APP_VULNERABILITY_TASK.name}"),
        (f"{TASKS}/$count", "count_tasks"),
        (f"{TASKS}/{cast}/$count", f"count_tasks_{APP_VULNERABILITY_TASK.name}"),
        (f"{TASKS}/{sct}", "get_task"),
        (f"{TASKS}/{avt}/{cast}", f"get_task_{APP_VULNERABILITY_TASK.name}"),
        (f"{TASKS}/{avt}/mobileApps", "list_children_mobileApps"),
        (f"{TASKS}/{sct}/managedDevices/$count", "count_children_managedDevices"),
        (f"{TASKS}/{sct}/managedDevices/{child}", "get_child_managedDevices"),
    ]


@FUZZ
@given(data=st.data(), options=query_options())
def test_query_options(app: InProcess, data: st.DataObject, options: list[tuple[str, str]]) -> None:
    url, operation_id = data.draw(st.sampled_from(read_targets(app)))
    check_answer(app.send("GET", url, params=options), operation_id)


@FUZZ
@given(text=filters())
def test_grammar_shaped_filters(app: InProcess, text: str) -> None:
    response = app.send("GET", TASKS, params={"$filter": text, "$count": "true"})
    check_answer(response, "list_tasks")
    if response.status_code == 200:  # $count agrees with the filtered list it counts
        counted = app.send("GET", f"{TASKS}/$count", params={"$filter": text})
        check_answer(counted, "count_tasks")
        assert int(counted.text) == response.json()["@odata.count"]


@FUZZ
@given(data=st.data())
def test_next_links_and_garbled_skiptokens(app: InProcess, data: st.DataObject) -> None:
    first = app.send("GET", TASKS, params={"$top": "1"})
    link = first.json()["@odata.nextLink"]
    token = link.rsplit("$skiptoken=", 1)[1]
    garbled = data.draw(
        st.one_of(
            st.just(token),
            st.integers(0, len(token)).map(lambda n: token[:n]),
            st.text(max_size=60),
            st.builds(
                lambda i, c: token[:i] + c + token[i + 1 :], st.integers(0, len(token)), st.characters()
            ),
        )
    )
    response = app.send("GET", TASKS, params={"$top": "1", "$skiptoken": garbled})
    check_answer(response, "list_tasks")


# --- headers ---


@FUZZ
@given(data=st.data(), values=header_values())
def test_content_type_if_match_and_prefer(
    app: InProcess, data: st.DataObject, values: dict[str, bytes]
) -> None:
    targets = [(m, u, o) for m, u, o in write_targets(app)[:5]] + [("GET", TASKS, "list_tasks")]
    method, url, operation_id = data.draw(st.sampled_from(targets))
    if method == "GET":
        url, operation_id = f"{TASKS}/{app.tasks[SECURITY_CONFIGURATION_TASK.name]}", "get_task"
    body = json.dumps({"status": "active"} if "updateStatus" in url else {"displayName": "h"}).encode()
    headers = {"Content-Type": "application/json", **values}
    response = app.send(method, url, content=None if method == "GET" else body, headers=headers)
    check_answer(response, operation_id)
