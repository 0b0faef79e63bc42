"""The state commands end to end against real `graphtasks serve` processes (docs/testing.md, "State
control", "The memory database", "The request journal"): `graphtasks token --url` mints tokens the
server accepts; `reset`, `export` and `import` work through a memory server's admin API (--url) and
on a SQLite or PostgreSQL database while its server runs (--database), an export going back where it
came from; `requests` prints the journal, bounded by --journal-size; `serve --load` starts with a
file's tasks, once however often it restarts. The commands run in this process, the servers not."""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import DEFAULT_CLIENT_ID
from graphtasks.config import DEFAULT_TENANT, MEMORY_DATABASE
from tests.integration.test_navigation import APP_VULNERABILITY, SECURITY_CONFIGURATION
from tests.support.cli import failure_line, graphtasks
from tests.support.cli import in_process as cli
from tests.support.databases import sqlite_database
from tests.support.server import TASKS_PATH, Server, backend_server, free_port

ADMIN = "/graphtasks/admin"
MANAGED_DEVICE = {
    "@odata.type": "#microsoft.graph.appVulnerabilityManagedDevice",
    "managedDeviceId": "device-7",
    "displayName": "LAPTOP-7",
}
LOAD_TENANT = "5b7e2c1a-9d4f-4e3b-8a6c-1f2e3d4c5b6a"
LOADED = [
    APP_VULNERABILITY | {"id": "0b6f9a52-7c1d-4e8a-9b3f-2d4c6e8a0b1c", "displayName": "Loaded one"},
    SECURITY_CONFIGURATION | {"displayName": "Loaded two"},
]
JOURNAL_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<method>[A-Z]+) (?P<where>\S+) (?P<status>\d{3})"
    r" \d+(\.\d+)?ms app=(?P<app>\S+)$"
)
TARGETS = [
    pytest.param("memory", id="memory-url"),
    pytest.param("sqlite", id="sqlite-database"),
    pytest.param("postgres", marks=pytest.mark.postgres, id="postgres-database"),
]


@dataclass(frozen=True)
class Target:
    """A running server, and the options that point the state commands at its state."""

    server: Server
    where: tuple[str, ...]


def succeeded(*args: str) -> str:
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def memory_server(directory: Path, *extra_args: str) -> Server:
    return Server(MEMORY_DATABASE, directory / "server.log", extra_args=extra_args).start()


def mint(server: Server, tenant: str) -> str:
    answer = httpx.post(f"{server.url}{ADMIN}/tokens", json={"tenant": tenant})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def populate(server: Server, tenant: str) -> None:
    """Two tasks: one with a managed device and a status note, one without either."""
    with server.client(mint(server, tenant)) as client:
        task = created(client.post(TASKS_PATH, json=APP_VULNERABILITY))
        created(client.post(f"{TASKS_PATH}/{task['id']}/managedDevices", json=MANAGED_DEVICE))
        status = {"status": "active", "note": "on it"}
        assert client.post(f"{TASKS_PATH}/{task['id']}/updateStatus", json=status).status_code == 204
        created(client.post(TASKS_PATH, json=SECURITY_CONFIGURATION))


def listing(server: Server, tenant: str) -> list[dict[str, Any]]:
    with server.client(mint(server, tenant)) as client:
        answer = client.get(TASKS_PATH)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["value"])


def exported_tasks(server: Server, tenant: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}{ADMIN}/tenants/{tenant}/export").json()["tasks"])


def journal(server: Server, tenant: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        succeeded("requests", "--url", server.url, "--tenant", tenant, "--json")
    )
    return entries


def unused_url() -> str:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{unused.getsockname()[1]}"


@pytest.fixture(autouse=True)
def no_graphtasks_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("GRAPHTASKS_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = memory_server(tmp_path_factory.mktemp("memory"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if request.param == "memory":
        memory: Server = request.getfixturevalue("memory")
        yield Target(memory, ("--url", memory.url))
        return
    with backend_server(request.param, tmp_path_factory.mktemp(f"state-{request.param}")) as server:
        yield Target(server, ("--database", server.database_url))


@pytest.fixture(scope="module")
def unjournaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = memory_server(tmp_path_factory.mktemp("journal-0"), "--journal-size", "0")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def preloaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A memory server with --journal-size 2, started with LOADED (a bare list) for LOAD_TENANT."""
    directory = tmp_path_factory.mktemp("preloaded")
    (directory / "tasks.json").write_text(json.dumps(LOADED))
    extra = ("--journal-size", "2", "--load", str(directory / "tasks.json"), "--load-tenant", LOAD_TENANT)
    server = memory_server(directory, *extra)
    try:
        yield server
    finally:
        server.stop()


# --- graphtasks token --url ---


@pytest.mark.parametrize(
    ("args", "claims"),
    [
        pytest.param((), {"tid": DEFAULT_TENANT, "roles": list(ALL_PERMISSIONS)}, id="default"),
        pytest.param(
            ("--tenant", LOAD_TENANT), {"tid": LOAD_TENANT, "roles": list(ALL_PERMISSIONS)}, id="tenant"
        ),
        pytest.param(
            ("--roles", "DeviceManagementApps.Read.All"),
            {"idtyp": "app", "roles": ["DeviceManagementApps.Read.All"]},
            id="roles",
        ),
        pytest.param(
            ("--scopes", "DeviceManagementApps.Read.All", "--user", "ada@contoso.com"),
            {"idtyp": "user", "scp": "DeviceManagementApps.Read.All", "upn": "ada@contoso.com"},
            id="delegated",
        ),
    ],
)
def test_a_token_from_the_url_works_on_the_graph_api(
    memory: Server, args: tuple[str, ...], claims: dict[str, Any]
) -> None:
    token = succeeded("token", "--url", memory.url, *args).strip()
    assert jwt.decode(token, options={"verify_signature": False}).items() >= claims.items()
    with memory.client(token) as client:
        assert client.get(TASKS_PATH).status_code == 200


def test_a_read_only_token_from_the_url_cannot_create(memory: Server) -> None:
    token = succeeded("token", "--url", memory.url, "--roles", "DeviceManagementApps.Read.All").strip()
    with memory.client(token) as client:
        assert client.post(TASKS_PATH, json=APP_VULNERABILITY).status_code == 403


def test_an_expired_token_from_the_url_is_refused(memory: Server) -> None:
    token = succeeded("token", "--url", memory.url, "--expires", "-5m").strip()
    with memory.client(token) as client:
        assert client.get(TASKS_PATH).status_code == 401


@pytest.mark.parametrize(
    "command",
    [("token",), ("reset",), ("export",), ("import", "FILE"), ("requests",)],
    ids=lambda command: command[0],
)
def test_a_url_where_no_server_answers_is_one_line_naming_it(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "tasks.json").write_text("[]")
    args = [str(tmp_path / "tasks.json") if word == "FILE" else word for word in command]
    url = unused_url()
    line = failure_line(cli(*args, "--url", url))
    assert line.startswith(f"graphtasks: no graphtasks server answers at {url}")


# --- reset, export and import: through a memory server's URL, or on a running server's database ---


def test_export_reset_import_gives_back_the_same_tasks(target: Target, tmp_path: Path) -> None:
    tenant, file = str(uuid.uuid4()), tmp_path / "export.json"
    populate(target.server, tenant)
    before, exported = listing(target.server, tenant), exported_tasks(target.server, tenant)
    assert exported[0]["@graphtasks.statusNote"] == "on it"
    assert [len(task.get("managedDevices", [])) for task in exported] == [1, 0]
    succeeded("export", "--tenant", tenant, "--output", str(file), *target.where)
    assert succeeded("reset", "--tenant", tenant, *target.where) == "2 tasks deleted\n"
    assert listing(target.server, tenant) == []
    assert succeeded("import", str(file), *target.where) == f"2 tasks imported into tenant {tenant}\n"
    assert listing(target.server, tenant) == before
    assert exported_tasks(target.server, tenant) == exported
    assert json.loads(file.read_text())["tasks"] == exported


def test_export_writes_to_standard_output_without_output(target: Target) -> None:
    tenant = str(uuid.uuid4())
    populate(target.server, tenant)
    document = json.loads(succeeded("export", "--tenant", tenant, *target.where))
    assert document["@graphtasks.export"] == 1
    assert document["tenant"] == tenant
    assert document["tasks"] == exported_tasks(target.server, tenant)


def test_importing_the_same_export_twice_is_a_conflict_that_writes_nothing(
    target: Target, tmp_path: Path
) -> None:
    source, copy, file = str(uuid.uuid4()), str(uuid.uuid4()), tmp_path / "export.json"
    populate(target.server, source)
    succeeded("export", "--tenant", source, "--output", str(file), *target.where)
    succeeded("import", str(file), "--tenant", copy, *target.where)
    line = failure_line(cli("import", str(file), "--tenant", copy, *target.where))
    assert len(listing(target.server, copy)) == 2
    assert "409" in line or "conflict" in line.lower()
    assert "unavailable" not in line


def test_an_import_with_a_wrong_body_names_its_place_and_writes_nothing(
    target: Target, tmp_path: Path
) -> None:
    tenant, file = str(uuid.uuid4()), tmp_path / "tasks.json"
    file.write_text(json.dumps([APP_VULNERABILITY, {"@odata.type": "#microsoft.graph.nope"}]))
    line = failure_line(cli("import", str(file), "--tenant", tenant, *target.where))
    assert "tasks[1]: " in line
    assert "unavailable" not in line
    assert listing(target.server, tenant) == []


@pytest.mark.parametrize(
    ("document", "tenant_option", "destination"),
    [
        pytest.param("export", None, "source", id="export-back-to-its-tenant"),
        pytest.param("export", "other", "other", id="export-to-the-tenant-given"),
        pytest.param("list", None, "default", id="list-to-the-default-tenant"),
        pytest.param("list", "other", "other", id="list-to-the-tenant-given"),
    ],
)
def test_an_import_goes_to_the_tenant_its_export_names_unless_told(
    target: Target, tmp_path: Path, document: str, tenant_option: str | None, destination: str
) -> None:
    tenants = {"source": str(uuid.uuid4()), "other": str(uuid.uuid4()), "default": DEFAULT_TENANT}
    populate(target.server, tenants["source"])
    exported = httpx.get(f"{target.server.url}{ADMIN}/tenants/{tenants['source']}/export").json()
    succeeded("reset", "--tenant", tenants["source"], *target.where)
    file = tmp_path / "tasks.json"
    file.write_text(json.dumps(exported if document == "export" else exported["tasks"]))
    options = ("--tenant", tenants[tenant_option]) if tenant_option else ()
    printed = succeeded("import", str(file), *options, *target.where)
    assert printed == f"2 tasks imported into tenant {tenants[destination]}\n"
    ids = {task["id"] for task in exported["tasks"]}
    for name, tenant in tenants.items():
        found = {task["id"] for task in listing(target.server, tenant)} & ids
        assert found == (ids if name == destination else set()), name
    succeeded("reset", "--tenant", tenants[destination], *target.where)


def test_reset_all_empties_every_tenant(target: Target) -> None:
    tenants = [str(uuid.uuid4()), str(uuid.uuid4())]
    for tenant in tenants:
        populate(target.server, tenant)
    deleted = re.fullmatch(r"(\d+) tasks deleted\n", succeeded("reset", "--all", *target.where))
    assert deleted is not None and int(deleted[1]) >= 4
    assert [listing(target.server, tenant) for tenant in tenants] == [[], []]


def test_reset_of_a_tenant_and_all_is_refused_and_deletes_nothing(target: Target) -> None:
    tenant = str(uuid.uuid4())
    populate(target.server, tenant)
    line = failure_line(cli("reset", "--tenant", tenant, "--all", *target.where))
    assert line == "graphtasks: give --tenant or --all, not both"
    assert len(listing(target.server, tenant)) == 2


@pytest.mark.parametrize(
    "command",
    [("export",), ("reset",), ("import", "FILE"), ("token",)],
    ids=lambda command: command[0],
)
def test_a_command_given_the_memory_database_points_at_url(tmp_path: Path, command: tuple[str, ...]) -> None:
    (tmp_path / "tasks.json").write_text("[]")
    args = [str(tmp_path / "tasks.json") if word == "FILE" else word for word in command]
    line = failure_line(cli(*args, "--database", MEMORY_DATABASE))
    assert line.startswith("graphtasks: a memory database belongs to the server process that holds it")
    assert "--url http://HOST:PORT" in line


# --- graphtasks requests ---


def test_requests_prints_a_line_per_graph_request_oldest_first(memory: Server) -> None:
    tenant, missing = str(uuid.uuid4()), str(uuid.uuid4())
    with memory.client(mint(memory, tenant)) as client:
        assert client.get(f"{TASKS_PATH}?$top=1").status_code == 200
        created(client.post(TASKS_PATH, json=APP_VULNERABILITY))
        assert client.get(f"{TASKS_PATH}/{missing}").status_code == 404
    lines = succeeded("requests", "--url", memory.url, "--tenant", tenant).splitlines()
    parsed = [JOURNAL_LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m["method"], m["where"], m["status"], m["app"]) for m in parsed if m] == [
        ("GET", f"{TASKS_PATH}?$top=1", "200", DEFAULT_CLIENT_ID),
        ("POST", TASKS_PATH, "201", DEFAULT_CLIENT_ID),
        ("GET", f"{TASKS_PATH}/{missing}", "404", DEFAULT_CLIENT_ID),
    ]


def test_requests_json_gives_the_entries_with_their_bodies(memory: Server) -> None:
    tenant = str(uuid.uuid4())
    with memory.client(mint(memory, tenant)) as client:
        task = created(client.post(TASKS_PATH, json=APP_VULNERABILITY))
    entries = journal(memory, tenant)
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["method"], entry["path"], entry["query"], entry["status"]) == ("POST", TASKS_PATH, "", 201)
    assert (entry["tenant"], entry["appId"], entry["inBatch"]) == (tenant, DEFAULT_CLIENT_ID, False)
    assert entry["requestBody"] == APP_VULNERABILITY
    assert entry["responseBody"]["id"] == task["id"]
    assert "Authorization" not in json.dumps(entry)


def test_requests_of_another_tenant_are_not_shown(memory: Server) -> None:
    with memory.client(mint(memory, str(uuid.uuid4()))) as client:
        assert client.get(TASKS_PATH).status_code == 200
    assert succeeded("requests", "--url", memory.url, "--tenant", str(uuid.uuid4())) == ""


def test_journal_size_zero_keeps_nothing(unjournaled: Server) -> None:
    tenant = str(uuid.uuid4())
    with unjournaled.client(mint(unjournaled, tenant)) as client:
        created(client.post(TASKS_PATH, json=APP_VULNERABILITY))
        assert client.get(TASKS_PATH).status_code == 200
    assert succeeded("requests", "--url", unjournaled.url, "--tenant", tenant) == ""
    assert journal(unjournaled, tenant) == []


def test_journal_size_two_keeps_the_two_most_recent(preloaded: Server) -> None:
    tenant = str(uuid.uuid4())
    with preloaded.client(mint(preloaded, tenant)) as client:
        for top in (1, 2, 3):
            assert client.get(f"{TASKS_PATH}?$top={top}").status_code == 200
    assert [entry["query"] for entry in journal(preloaded, tenant)] == ["$top=2", "$top=3"]


# --- graphtasks serve: the memory database, --load ---


def test_the_memory_banner_names_memory_and_a_token_command_that_works(memory: Server) -> None:
    banner = memory.log_path.read_text().splitlines()
    assert "  database   memory (nothing written to disk; gone when the server stops)" in banner
    command = f"graphtasks token --url http://127.0.0.1:{memory.port}"
    assert f"  token      {command}" in banner
    token = succeeded(*command.split()[1:]).strip()
    with memory.client(token) as client:
        assert client.get(TASKS_PATH).status_code == 200


def test_a_memory_server_cannot_have_workers(tmp_path: Path) -> None:
    result = graphtasks(
        "serve", "--database", MEMORY_DATABASE, "--workers", "2", "--port", str(free_port()), cwd=tmp_path
    )
    line = failure_line(result)
    assert line == "graphtasks: a memory database lives in one process: it cannot serve --workers"
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_a_memory_server_starts_with_the_loaded_tasks_in_the_load_tenant(preloaded: Server) -> None:
    log = preloaded.log_path.read_text()
    assert f"graphtasks: 2 tasks loaded from {preloaded.log_path.parent / 'tasks.json'}\n" in log
    loaded = listing(preloaded, LOAD_TENANT)
    assert [task["displayName"] for task in loaded] == ["Loaded one", "Loaded two"]
    assert loaded[0]["id"] == LOADED[0]["id"]
    assert listing(preloaded, DEFAULT_TENANT) == []


def test_load_on_a_sqlite_file_restarted_keeps_one_copy_in_the_tenant_the_export_names(
    tmp_path: Path,
) -> None:
    exported_tenant, load_tenant = str(uuid.uuid4()), str(uuid.uuid4())
    task_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
    tasks: list[dict[str, Any]] = [
        APP_VULNERABILITY | {"id": task_id, "managedDevices": [MANAGED_DEVICE | {"id": device_id}]},
        SECURITY_CONFIGURATION | {"id": str(uuid.uuid4()), "createdDateTime": "2026-01-01T00:00:00Z"},
    ]
    file = tmp_path / "export.json"
    file.write_text(json.dumps({"@graphtasks.export": 1, "tenant": exported_tenant, "tasks": tasks}))
    with sqlite_database(tmp_path) as url:
        for start, loaded in enumerate([2, 0]):
            log = tmp_path / f"server-{start}.log"
            server = Server(url, log, extra_args=("--load", str(file), "--load-tenant", load_tenant)).start()
            try:
                assert f"graphtasks: {loaded} tasks loaded from {file}\n" in log.read_text()
                found = exported_tasks(server, exported_tenant)
                assert listing(server, load_tenant) == []
            finally:
                server.stop()
            assert sorted(task["id"] for task in found) == sorted(task["id"] for task in tasks)
            devices = [task["managedDevices"] for task in found if task["id"] == task_id]
            assert [[device["id"] for device in listed] for listed in devices] == [[device_id]]
