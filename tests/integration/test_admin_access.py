"""Who may use the admin endpoints (auth/admin.py, AdminAccess; docs/testing.md, "Who may use the admin
endpoints"): on real `graphtasks serve` processes, a loopback client without the key on a loopback-bound
server, but not through a proxy, not with a wrong key, not under `--admin-key-required` and not on a
server bound to every address; the key everywhere. AdminAccess itself for the addresses no test process
can connect from. And a server on the memory database, whose key no other process can read, run through
the keyless admin API alone (docs/testing.md, "The memory database")."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphtasks.auth.admin import AdminAccess, admin_key
from graphtasks.config import MEMORY_DATABASE
from graphtasks.errors import Unauthorized
from tests.support.cli import failure_line, graphtasks
from tests.support.server import TASKS_PATH, Server, sqlite_server

ADMIN = "/graphtasks/admin"
KEY = "the-admin-key"
TASK = {"@odata.type": "#microsoft.graph.securityConfigurationTask", "displayName": "admin access"}
PROXY_HEADERS = [
    pytest.param({"X-Forwarded-For": "203.0.113.9"}, id="x-forwarded-for"),
    pytest.param({"X-Forwarded-For": "127.0.0.1"}, id="x-forwarded-for-claiming-loopback"),
    pytest.param({"Forwarded": "for=203.0.113.9;proto=https"}, id="forwarded"),
    pytest.param({"X-Real-IP": "127.0.0.1"}, id="x-real-ip"),
]


def admin(server: Server, method: str, path: str, **options: Any) -> httpx.Response:
    return httpx.request(method, server.url + ADMIN + path, timeout=30.0, **options)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def mint(server: Server, tenant: str, **options: Any) -> httpx.Response:
    return admin(server, "POST", "/tokens", json={"tenant": tenant}, **options)


def assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"


def assert_token_works(server: Server, token: str, tenant: str) -> None:
    """The token creates a task, and the task is the tenant's."""
    with httpx.Client(base_url=server.url, headers=bearer(token), timeout=30.0) as client:
        created = client.post(TASKS_PATH, json=TASK)
        assert created.status_code == 201, created.text
        assert client.get(f"{TASKS_PATH}/{created.json()['id']}").status_code == 200
    export = admin(server, "GET", f"/tenants/{tenant}/export", headers=bearer(admin_key(server.keys())))
    assert created.json()["id"] in [task["id"] for task in export.json()["tasks"]]


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("loopback")) as running:
        yield running


@pytest.fixture(scope="module")
def key_required(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("key-required"), "--admin-key-required") as running:
        yield running


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(MEMORY_DATABASE, tmp_path_factory.mktemp("memory") / "server.log").start()
    try:
        yield running
    finally:
        running.stop()


# --- a loopback-bound server ---


def test_a_loopback_client_mints_a_token_without_the_key_and_graph_accepts_it(loopback: Server) -> None:
    tenant = str(uuid.uuid4())
    answer = mint(loopback, tenant)
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
    assert_token_works(loopback, answer.json()["access_token"], tenant)


@pytest.mark.parametrize("headers", PROXY_HEADERS)
def test_a_request_a_proxy_forwarded_needs_the_key(loopback: Server, headers: dict[str, str]) -> None:
    assert_refused(mint(loopback, str(uuid.uuid4()), headers=headers))
    with_key = {**headers, **bearer(admin_key(loopback.keys()))}
    assert mint(loopback, str(uuid.uuid4()), headers=with_key).status_code == 200


def test_a_forwarded_reset_is_refused_and_deletes_nothing(loopback: Server) -> None:
    tenant = str(uuid.uuid4())
    assert admin(loopback, "POST", f"/tenants/{tenant}/import", json=[{}]).json()["imported"] == 1
    assert_refused(admin(loopback, "DELETE", "/tasks", headers={"X-Forwarded-For": "203.0.113.9"}))
    assert_refused(admin(loopback, "DELETE", f"/tenants/{tenant}/tasks", headers={"X-Real-IP": "10.0.0.5"}))
    assert len(admin(loopback, "GET", f"/tenants/{tenant}/export").json()["tasks"]) == 1


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer wrong", id="a-wrong-key"),
        pytest.param("Bearer", id="the-scheme-alone"),
        pytest.param("", id="an-empty-header"),
        pytest.param("Basic {key}", id="the-key-under-another-scheme"),
        pytest.param("Bearer {token}", id="a-graph-token"),
    ],
)
def test_a_wrong_key_is_refused_even_on_loopback(loopback: Server, authorization: str) -> None:
    value = authorization.format(key=admin_key(loopback.keys()), token=loopback.token())
    assert_refused(mint(loopback, str(uuid.uuid4()), headers={"Authorization": value}))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_the_admin_key_is_accepted_on_loopback(loopback: Server, scheme: str) -> None:
    headers = {"Authorization": f"{scheme} {admin_key(loopback.keys())}"}
    assert mint(loopback, str(uuid.uuid4()), headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/tenants", {"tenant": str(uuid.uuid4())}, id="register-a-tenant"),
        pytest.param("GET", f"/tenants/{uuid.uuid4()}/export", None, id="export"),
        pytest.param("GET", f"/tenants/{uuid.uuid4()}/requests", None, id="journal"),
        pytest.param("GET", "/faults", None, id="faults"),
    ],
)
def test_every_admin_endpoint_is_guarded_alike(
    loopback: Server, method: str, path: str, body: dict[str, Any] | None
) -> None:
    assert admin(loopback, method, path, json=body).status_code < 300
    assert_refused(admin(loopback, method, path, json=body, headers={"Forwarded": "for=198.51.100.1"}))
    assert_refused(admin(loopback, method, path, json=body, headers=bearer("wrong")))


# --- --admin-key-required, and a server bound to every address ---


def test_admin_key_required_refuses_a_keyless_loopback_client(key_required: Server) -> None:
    assert_refused(mint(key_required, str(uuid.uuid4())))
    assert_refused(admin(key_required, "GET", "/faults"))


def test_admin_key_required_accepts_the_key_and_its_token_works(key_required: Server) -> None:
    tenant = str(uuid.uuid4())
    answer = mint(key_required, tenant, headers=bearer(admin_key(key_required.keys())))
    assert answer.status_code == 200, answer.text
    assert_token_works(key_required, answer.json()["access_token"], tenant)


def test_the_token_command_needs_the_key_when_the_server_requires_it(key_required: Server) -> None:
    assert "401" in failure_line(graphtasks("token", "--url", key_required.url))
    result = graphtasks("token", "--url", key_required.url, "--admin-key", admin_key(key_required.keys()))
    assert result.returncode == 0, result.stderr
    with key_required.client(result.stdout.strip()) as client:
        assert client.get(TASKS_PATH).status_code == 200


def test_a_server_bound_to_every_address_needs_the_key_from_loopback_too(tmp_path: Path) -> None:
    with sqlite_server(tmp_path, "--host", "0.0.0.0") as server:  # noqa: S104 - what is under test
        assert_refused(mint(server, str(uuid.uuid4())))
        assert mint(server, str(uuid.uuid4()), headers=bearer(admin_key(server.keys()))).status_code == 200


# --- AdminAccess, for addresses a test cannot connect from ---


def scope(client: tuple[str, int] | None, *headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "client": client, "headers": [(b"host", b"graph.example"), *headers]}


LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("10.0.0.5", 1)


@pytest.mark.parametrize(
    ("trusted", "request_scope", "authorization", "allowed"),
    [
        pytest.param(True, scope(LOOPBACK), None, True, id="loopback-keyless"),
        pytest.param(True, scope(("127.8.9.10", 1)), None, True, id="any-127/8-address"),
        pytest.param(True, scope(("::1", 1)), None, True, id="ipv6-loopback"),
        pytest.param(True, scope(("localhost", 1)), None, True, id="localhost"),
        pytest.param(True, scope(REMOTE), None, False, id="remote-keyless"),
        pytest.param(True, scope(("::ffff:10.0.0.5", 1)), None, False, id="mapped-remote-keyless"),
        pytest.param(True, scope(None), None, False, id="no-client-address"),
        pytest.param(True, {"type": "http", "headers": []}, None, False, id="no-client-in-scope"),
        pytest.param(
            True, scope(LOOPBACK, (b"x-forwarded-for", b"10.0.0.5")), None, False, id="x-forwarded-for"
        ),
        pytest.param(True, scope(LOOPBACK, (b"forwarded", b"for=10.0.0.5")), None, False, id="forwarded"),
        pytest.param(True, scope(LOOPBACK, (b"x-real-ip", b"127.0.0.1")), None, False, id="x-real-ip"),
        pytest.param(True, scope(LOOPBACK, (b"user-agent", b"curl")), None, True, id="other-headers"),
        pytest.param(True, scope(LOOPBACK), "Bearer wrong", False, id="loopback-wrong-key"),
        pytest.param(True, scope(LOOPBACK), f"Bearer {KEY}", True, id="loopback-key"),
        pytest.param(True, scope(REMOTE), f"Bearer {KEY}", True, id="remote-key"),
        pytest.param(True, scope(REMOTE), f"bearer  {KEY} ", True, id="remote-key-lower-case-scheme"),
        pytest.param(True, scope(REMOTE), f"Basic {KEY}", False, id="remote-key-other-scheme"),
        pytest.param(True, scope(REMOTE), KEY, False, id="remote-key-without-scheme"),
        pytest.param(
            True, scope(REMOTE, (b"x-forwarded-for", b"1.2.3.4")), f"Bearer {KEY}", True, id="forwarded-key"
        ),
        pytest.param(False, scope(LOOPBACK), None, False, id="untrusted-loopback-keyless"),
        pytest.param(False, scope(REMOTE), None, False, id="untrusted-remote-keyless"),
        pytest.param(False, scope(LOOPBACK), f"Bearer {KEY}", True, id="untrusted-loopback-key"),
        pytest.param(False, scope(REMOTE), f"Bearer {KEY}", True, id="untrusted-remote-key"),
        pytest.param(False, scope(REMOTE), "Bearer wrong", False, id="untrusted-remote-wrong-key"),
    ],
)
def test_admin_access_allows_the_key_and_trusted_loopback_alone(
    trusted: bool, request_scope: dict[str, object], authorization: str | None, allowed: bool
) -> None:
    access = AdminAccess(KEY, loopback_trusted=trusted)
    if allowed:
        access.check(request_scope, authorization)
        return
    with pytest.raises(Unauthorized) as refused:
        access.check(request_scope, authorization)
    assert (refused.value.status, refused.value.code) == (401, "InvalidAuthenticationToken")


# --- a server on the memory database ---


def test_a_memory_server_is_run_through_the_keyless_admin_api(memory: Server) -> None:
    tenant = str(uuid.uuid4())
    token = mint(memory, tenant).json()["access_token"]
    with memory.client(token) as client:
        created = client.post(TASKS_PATH, json=TASK)
        assert created.status_code == 201, created.text
    [task] = admin(memory, "GET", f"/tenants/{tenant}/export").json()["tasks"]
    assert task["id"] == created.json()["id"]
    journal = admin(memory, "GET", f"/tenants/{tenant}/requests").json()["value"]
    assert [(entry["method"], entry["status"]) for entry in journal] == [("POST", 201)]
    assert admin(memory, "DELETE", f"/tenants/{tenant}/tasks").json() == {"tenant": tenant, "deleted": 1}
    with memory.client(token) as client:
        assert client.get(TASKS_PATH).json()["value"] == []


def test_the_token_command_takes_a_memory_server_s_token_from_its_url(memory: Server) -> None:
    tenant = str(uuid.uuid4())
    result = graphtasks("token", "--url", memory.url, "--tenant", tenant)
    assert result.returncode == 0, result.stderr
    with memory.client(result.stdout.strip()) as client:
        assert client.post(TASKS_PATH, json=TASK).status_code == 201
    assert len(admin(memory, "GET", f"/tenants/{tenant}/export").json()["tasks"]) == 1


def test_no_other_process_can_read_a_memory_server_s_key() -> None:
    assert "--url" in failure_line(graphtasks("faults", "key", "--database", MEMORY_DATABASE))
