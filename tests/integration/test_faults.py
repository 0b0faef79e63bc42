"""Fault and latency injection through the real server: a plan from a file at start, the admin
endpoint (and its key), `graphtasks faults`, reproducible draws, delays, a fault that changes nothing,
and a change that reaches another instance on the same database."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphtasks.auth.admin import admin_key
from tests.support.cli import in_process
from tests.support.databases import sqlite_database
from tests.support.server import TASKS_PATH, Server, sqlite_server

FAULTS = "/graphtasks/admin/faults"
TASK = {"@odata.type": "#microsoft.graph.securityConfigurationTask", "displayName": "faulty?"}


def admin(server: Server, method: str, body: Any = None, *, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key if key is not None else admin_key(server.keys())}"}
    return httpx.request(method, server.url + FAULTS, json=body, headers=headers)


def put_plan(server: Server, *rules: dict[str, Any], seed: int = 7) -> dict[str, Any]:
    answer = admin(server, "PUT", {"seed": seed, "rules": list(rules)})
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("faults")) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(server: Server) -> Iterator[None]:
    yield
    assert admin(server, "DELETE").status_code == 204


def test_the_admin_endpoint_wants_the_admin_key_not_a_graph_token(server: Server) -> None:
    # Without a key only from this machine, directly (docs/testing.md, "Who may use the admin endpoints").
    assert httpx.get(server.url + FAULTS).status_code == 200
    assert httpx.get(server.url + FAULTS, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401
    for key in ("wrong", server.token()):
        answer = admin(server, "GET", key=key)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert admin(server, "GET").json() == {
        "version": admin(server, "GET").json()["version"],
        "seed": 0,
        "rules": [],
    }


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"rules": [{"status": 502}]}, "status must be one of"),
        ({"rules": [{"operation": "createTask", "status": 503}]}, "is none of"),
        ([1, 2], "is an object"),
    ],
)
def test_a_bad_plan_is_a_graph_400_and_changes_nothing(server: Server, body: Any, says: str) -> None:
    before = admin(server, "GET").json()
    answer = admin(server, "PUT", body)
    assert answer.status_code == 400
    assert says in answer.json()["error"]["message"]
    assert admin(server, "GET").json() == before


@pytest.mark.parametrize(("status", "retry_after"), [(429, 2), (500, None), (503, 1), (504, None)])
def test_an_injected_fault_is_graph_shaped_and_the_create_never_happens(
    server: Server, status: int, retry_after: int | None
) -> None:
    tenant = str(uuid.uuid4())
    put_plan(
        server, {"tenant": tenant, "operation": "create_task", "status": status, "retryAfter": retry_after}
    )
    with server.client(server.token(tenant=tenant)) as client:
        answer = client.post(TASKS_PATH, json=TASK)
        assert answer.status_code == status
        assert answer.headers.get("Retry-After") == (None if retry_after is None else str(retry_after))
        assert set(answer.json()["error"]) == {"code", "message", "innerError"}
        assert client.get(f"{TASKS_PATH}/$count").text == "0"
        assert client.get(TASKS_PATH).status_code == 200  # the rule names create_task only


def statuses(server: Server, tenant: str, count: int) -> list[int]:
    with server.client(server.token(tenant=tenant)) as client:
        return [client.get(TASKS_PATH).status_code for _ in range(count)]


def test_the_same_seed_gives_the_same_sequence(server: Server) -> None:
    tenant = str(uuid.uuid4())
    rule = {"tenant": tenant, "operation": "list_tasks", "probability": 0.5, "status": 503}
    put_plan(server, rule)
    first = statuses(server, tenant, 30)
    put_plan(server, rule)  # a new version of the same plan starts the draws again
    assert statuses(server, tenant, 30) == first
    assert 5 < first.count(503) < 25
    put_plan(server, rule, seed=8)
    assert statuses(server, tenant, 30) != first


def test_latency_is_added_before_the_answer(server: Server) -> None:
    tenant = str(uuid.uuid4())
    put_plan(server, {"tenant": tenant, "operation": "list_tasks", "latencyMs": [300, 400]})
    with server.client(server.token(tenant=tenant)) as client:
        started = time.monotonic()
        assert client.get(TASKS_PATH).status_code == 200
        assert 0.3 <= time.monotonic() - started < 2
        started = time.monotonic()
        assert client.get(f"{TASKS_PATH}/$count").status_code == 200  # another operation: no delay
        assert time.monotonic() - started < 0.3


def test_a_plan_file_at_start_and_the_cli_set_show_and_clear(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"seed": 1, "rules": [{"operation": "create_task", "status": 503, "times": 1}]})
    )
    with sqlite_server(tmp_path, "--faults", str(plan)) as running:
        with running.client() as client:
            assert [client.post(TASKS_PATH, json=TASK).status_code for _ in range(2)] == [503, 201]
        where = ["--url", running.url, "--database", running.database_url]
        plan.write_text(json.dumps({"rules": [{"operation": "get_task", "status": 504}]}))
        assert _run("set", str(plan), *where)["rules"][0]["status"] == 504
        assert _run("show", *where)["rules"][0]["operation"] == "get_task"
        assert in_process("faults", "clear", *where).returncode == 0
        assert _run("show", *where)["rules"] == []
        key = in_process("faults", "key", "--database", running.database_url)
        assert key.stdout.strip() == admin_key(running.keys())


def _run(*args: str) -> Any:
    """`graphtasks faults ARGS` (in this process; its own process is not the point here): its JSON."""
    result = in_process("faults", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_change_reaches_another_instance_within_about_a_second(tmp_path: Path) -> None:
    with sqlite_database(tmp_path) as url:
        first, second = (Server(url, tmp_path / f"s{i}.log").start() for i in range(2))
        try:
            tenant = str(uuid.uuid4())
            assert statuses(second, tenant, 1) == [200]
            put_plan(first, {"tenant": tenant, "operation": "list_tasks", "status": 503})
            deadline = time.monotonic() + 5
            while statuses(second, tenant, 1) != [503]:
                assert time.monotonic() < deadline, "the plan never reached the second instance"
                time.sleep(0.1)
        finally:
            first.stop()
            second.stop()
