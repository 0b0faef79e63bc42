"""Durability: a create the server acknowledged with 201 survives the server being killed with SIGKILL.

Owns its servers (it kills one, so it cannot use the shared module fixture) and its database. Only
the HTTP API is used to write and to read back: never the store or SQL directly, so the test holds
for whatever the server does between the socket and the disk.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.databases import database
from tests.support.server import Server

pytestmark = pytest.mark.slow

WRITERS = 8
# Writes run at least this long before the kill, and until at least MIN_ACKNOWLEDGED creates got a 201,
# so the assertion below can never pass on an empty set.
MIN_WRITE_S = 1.5
MIN_ACKNOWLEDGED = 20
WRITE_DEADLINE_S = 60.0


@dataclass
class Writer:
    """One client POSTing tasks until the connection fails, recording what it sent and what was acked."""

    server_url: str
    token: str
    number: int
    attempted: list[str] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)  # task id -> displayName sent
    unexpected: list[tuple[int, str]] = field(default_factory=list)
    ended_by: str = ""

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.server_url, headers=headers, timeout=60.0) as client:
            while True:
                name = f"durability writer {self.number} task {len(self.attempted)}"
                self.attempted.append(name)
                try:
                    response = client.post(TASKS, json=task_body(name))
                except httpx.TransportError as error:
                    # The server died with this request in flight: it is unacknowledged, commit or not.
                    self.ended_by = type(error).__name__
                    return
                if response.status_code == 201:
                    self.acknowledged[response.json()["id"]] = name
                else:
                    self.unexpected.append((response.status_code, response.text))


TASKS = "/beta/deviceAppManagement/deviceAppManagementTasks"


def task_body(name: str) -> dict[str, object]:
    return {
        "@odata.type": "#microsoft.graph.securityConfigurationTask",
        "displayName": name,
        "description": "written while the server may be killed",
        "dueDateTime": "2017-01-01T00:02:18.1994089-08:00",
        "priority": "high",
        "status": "pending",
        "endpointSecurityPolicy": "antivirus",
        "managedDeviceCount": 2,
        "intendedSettings": [{"@odata.type": "microsoft.graph.keyValuePair", "name": "n", "value": "v"}],
    }


def write_until_killed(server: Server) -> list[Writer]:
    """Start the writers, SIGKILL the server while they write, and wait for every writer to stop."""
    token = server.token()
    writers = [Writer(server.url, token, n) for n in range(WRITERS)]
    threads = [threading.Thread(target=w.run, name=f"writer-{w.number}") for w in writers]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    while time.monotonic() - started < WRITE_DEADLINE_S:
        acknowledged = sum(len(w.acknowledged) for w in writers)
        if time.monotonic() - started >= MIN_WRITE_S and acknowledged >= MIN_ACKNOWLEDGED:
            break
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=WRITE_DEADLINE_S)
    assert not any(t.is_alive() for t in threads), "a writer did not notice the server had died"
    return writers


def read_all_tasks(server: Server) -> dict[str, str]:
    """Every task the server lists, page by page through @odata.nextLink: id -> displayName."""
    stored: dict[str, str] = {}
    url: str | None = server.tasks_url
    with server.client() as client:
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200, response.text
            page = response.json()
            for task in page["value"]:
                assert task["id"] not in stored, f"task {task['id']} listed twice"
                stored[task["id"]] = task["displayName"]
            url = page.get("@odata.nextLink")
    return stored


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_acknowledged_creates_survive_sigkill(backend: str, tmp_path: Path) -> None:
    with database(backend, tmp_path) as url:
        first = Server(url, tmp_path / "before-kill.log").start()
        try:
            writers = write_until_killed(first)
        finally:
            first.stop(signal.SIGKILL)  # a no-op unless the writes above failed before the kill
        second = Server(url, tmp_path / "after-restart.log").start()
        try:
            stored = read_all_tasks(second)
        finally:
            second.stop()

    assert [w.unexpected for w in writers] == [[] for _ in writers]
    assert all(w.ended_by for w in writers)
    acknowledged = {task_id: name for w in writers for task_id, name in w.acknowledged.items()}
    assert len(acknowledged) >= MIN_ACKNOWLEDGED
    lost = {task_id: name for task_id, name in acknowledged.items() if task_id not in stored}
    assert lost == {}, f"{len(lost)} of {len(acknowledged)} acknowledged creates are gone"
    changed = {
        task_id: (name, stored[task_id]) for task_id, name in acknowledged.items() if stored[task_id] != name
    }
    assert changed == {}
    # Unacknowledged creates may or may not have committed, but nothing appears that nobody sent.
    attempted = {name for w in writers for name in w.attempted}
    assert set(stored.values()) <= attempted
