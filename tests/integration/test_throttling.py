"""Throttling through the real server: a 429 with Graph's body and an integer Retry-After, a throttled
request that changes nothing, per-app and per-tenant budgets, $batch requests throttled one by one, and
counters shared by instances on one PostgreSQL database or one Redis.

Windows are an hour long here so that no window can end in the middle of a test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graphtasks.auth.keys import KeyRing
from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import TokenRequest, issue_token
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT
from tests.support.databases import postgres_database, sqlite_database
from tests.support.redis import redis_url
from tests.support.server import TASKS_PATH, Server, sqlite_server

PROFILE = "window=3600,tenant_writes=5,app_writes=3,tenant_requests=1000,app_requests=1000"
TASK = {"@odata.type": "#microsoft.graph.securityConfigurationTask", "displayName": "throttled?"}


def token_for(keys: KeyRing, client_id: str, tenant: str = DEFAULT_TENANT) -> str:
    request = TokenRequest(tenant_id=tenant, roles=ALL_PERMISSIONS, client_id=client_id)
    return issue_token(keys, request, issuer_base=DEFAULT_ISSUER)


def create(server: Server, token: str) -> httpx.Response:
    return httpx.post(server.tasks_url, json=TASK, headers={"Authorization": f"Bearer {token}"})


def stored_count(server: Server, tenant: str = DEFAULT_TENANT) -> int:
    with server.client(server.token(tenant=tenant)) as client:
        return int(client.get(f"{TASKS_PATH}/$count").text)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("throttling"), "--throttle", PROFILE) as running:
        yield running


def test_past_the_app_budget_a_write_gets_graphs_429_and_changes_nothing(server: Server) -> None:
    tenant = str(uuid.uuid4())
    token = token_for(server.keys(), str(uuid.uuid4()), tenant)
    statuses = [create(server, token).status_code for _ in range(3)]
    refused = create(server, token)
    assert statuses == [201, 201, 201]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    error = refused.json()["error"]
    assert (error["code"], error["message"]) == ("TooManyRequests", "Please retry again later.")
    assert {"code": "429", "status": "429", "message": "Please retry after"}.items() <= error[
        "innerError"
    ].items()
    assert error["innerError"]["request-id"] == refused.headers["request-id"]
    assert stored_count(server, tenant) == 3  # the refused create was never done
    with server.client(token) as client:  # reads have a budget of their own
        assert client.get(TASKS_PATH).status_code == 200


def test_the_tenant_budget_is_shared_by_its_apps(server: Server) -> None:
    tenant = str(uuid.uuid4())
    first, second = (token_for(server.keys(), str(uuid.uuid4()), tenant) for _ in range(2))
    statuses = [create(server, token).status_code for token in (first, second) * 4]
    assert statuses.count(201) == 5 and statuses.count(429) == 3
    other_tenant = token_for(server.keys(), str(uuid.uuid4()), str(uuid.uuid4()))
    assert create(server, other_tenant).status_code == 201
    assert stored_count(server, tenant) == 5


def test_each_request_of_a_batch_is_throttled_on_its_own(server: Server) -> None:
    tenant = str(uuid.uuid4())
    token = token_for(server.keys(), str(uuid.uuid4()), tenant)
    requests = [
        {
            "id": str(i),
            "method": "POST",
            "url": "/deviceAppManagement/deviceAppManagementTasks",
            "headers": {"Content-Type": "application/json"},
            "body": TASK,
        }
        for i in range(5)
    ]
    answer = httpx.post(
        f"{server.url}/beta/$batch", json={"requests": requests}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200
    inner = sorted(response["status"] for response in answer.json()["responses"])
    assert inner == [201, 201, 201, 429, 429]
    throttled = next(r for r in answer.json()["responses"] if r["status"] == 429)
    assert throttled["body"]["error"]["code"] == "TooManyRequests"
    assert stored_count(server, tenant) == 3


def test_intune_is_off_unless_asked_for(tmp_path: Path) -> None:
    with sqlite_server(tmp_path) as running:
        token = running.token()
        assert {create(running, token).status_code for _ in range(12)} == {201}


def shared_counters(first: Server, second: Server) -> None:
    """Writes of one app alternate between two instances: together they get the app's 3, no more."""
    token = token_for(first.keys(), str(uuid.uuid4()), tenant := str(uuid.uuid4()))
    statuses = [create(instance, token).status_code for instance in (first, second) * 3]
    assert statuses == [201, 201, 201, 429, 429, 429]
    assert stored_count(first, tenant) == 3


def test_workers_on_one_sqlite_file_share_their_counters(tmp_path: Path) -> None:
    # One process alone counts in memory; with --workers the counters go to the database file.
    with sqlite_server(tmp_path, "--throttle", PROFILE, "--workers", "2") as running:
        token = token_for(running.keys(), str(uuid.uuid4()), tenant := str(uuid.uuid4()))
        statuses = [create(running, token).status_code for _ in range(8)]  # a new connection each
        assert statuses == [201] * 3 + [429] * 5
        assert stored_count(running, tenant) == 3


@pytest.mark.postgres
def test_instances_on_one_postgresql_share_their_counters(tmp_path: Path) -> None:
    with postgres_database() as url:
        servers = [Server(url, tmp_path / f"s{i}.log", extra_args=("--throttle", PROFILE)) for i in range(2)]
        try:
            shared_counters(*(s.start() for s in servers))
        finally:
            for s in servers:
                s.stop()


def test_instances_with_one_redis_share_their_counters(tmp_path: Path) -> None:
    args = ("--throttle", PROFILE, "--redis", redis_url())
    with sqlite_database(tmp_path) as url:
        servers = [Server(url, tmp_path / f"s{i}.log", extra_args=args) for i in range(2)]
        try:
            shared_counters(*(s.start() for s in servers))
        finally:
            for s in servers:
                s.stop()


def test_redis_away_is_a_503_with_retry_after_and_nothing_done(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens there, so every counter check fails at once.
    with sqlite_server(tmp_path, "--throttle", PROFILE, "--redis", "redis://127.0.0.1:1/0") as running:
        answer = create(running, running.token())
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
        assert answer.json()["error"]["code"] == "ServiceUnavailable"
