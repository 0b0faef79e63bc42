"""PostgreSQL stopped and restarted under a running server: every request meanwhile is a Graph 503 with
Retry-After (never a 201 for a write that did not happen), and the server recovers by itself.

Runs on a private cluster (tests/support/pg_cluster.py), never the shared server. Both ways PostgreSQL
goes away are tried: `-m fast` (each session gets 57P01 and the server closes it) and `-m immediate`
(the processes are killed; crash recovery on restart). What was written is read back with SQL straight
from the cluster, not through the server under test.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest

from graphtasks.storage.outages import RETRY_AFTER_S
from tests.support.examples import FOUNDING_REQUEST
from tests.support.pg_cluster import PgCluster, pg_cluster
from tests.support.server import TASKS_PATH, Server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MODES = ["fast", "immediate"]
# Far less than any request may take while the database is away: connection refused is immediate.
FAIL_FAST_S = 2.0
RECOVERY_S = 5.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    with pg_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def server(cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("outage") / "server.log"
    running = Server(cluster.url(), log).start()
    running.keys()  # read while the database is up: tokens are minted during the outage too
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


@pytest.fixture
def restarted(cluster: PgCluster) -> Iterator[None]:
    """Whatever the test does, the cluster is up again for the next one."""
    yield
    try:
        cluster.start()
    except RuntimeError:
        pass  # already running


def task_body(name: str) -> dict[str, Any]:
    return {**FOUNDING_REQUEST, "displayName": name}


def stored_names(cluster: PgCluster) -> set[str]:
    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres") as conn:
        return {row[0] for row in conn.execute("SELECT display_name FROM tasks")}


def assert_unavailable(response: httpx.Response, elapsed_s: float, what: str) -> None:
    assert response.status_code == 503, (what, response.text)
    assert response.headers["Retry-After"] == str(RETRY_AFTER_S)
    error = response.json()["error"]
    assert error["code"] == "ServiceUnavailable"
    assert "retry" in error["message"]
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert elapsed_s < FAIL_FAST_S, what


def timed(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def requests_of_every_kind(
    client: httpx.Client, task_id: str, created: str
) -> dict[str, Callable[[], httpx.Response]]:
    item = f"{TASKS_PATH}/{task_id}"
    return {
        "create": lambda: client.post(TASKS_PATH, json=task_body(created)),
        "list": lambda: client.get(TASKS_PATH),
        "count": lambda: client.get(f"{TASKS_PATH}/$count"),
        "get": lambda: client.get(item),
        "patch": lambda: client.patch(item, json={"assignedTo": "while down"}),
        "updateStatus": lambda: client.post(f"{item}/updateStatus", json={"status": "completed"}),
        "delete": lambda: client.delete(item),
    }


def batch_while_down(client: httpx.Client, task_id: str, created: str) -> httpx.Response:
    requests = [
        {
            "id": "1",
            "method": "POST",
            "url": "/deviceAppManagement/deviceAppManagementTasks",
            "headers": {"Content-Type": "application/json"},
            "body": task_body(created),
        },
        {"id": "2", "method": "GET", "url": f"/deviceAppManagement/deviceAppManagementTasks/{task_id}"},
    ]
    return client.post("/beta/$batch", json={"requests": requests})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.usefixtures("restarted")
def test_while_postgresql_is_down_every_request_is_a_503_and_the_server_recovers(
    cluster: PgCluster, server: Server, client: httpx.Client, mode: str
) -> None:
    created = client.post(TASKS_PATH, json=task_body(f"before the {mode} stop"))
    assert created.status_code == 201
    task_id = created.json()["id"]

    down = {f"created while down ({mode})", f"batched while down ({mode})"}
    cluster.stop(mode)
    for name, send in requests_of_every_kind(client, task_id, f"created while down ({mode})").items():
        assert_unavailable(*timed(send), name)
    # A tenant the guard has not seen: its licence lookup (a read before any handler) is the 503.
    with server.client(server.token(tenant=str(uuid.uuid4()))) as stranger:
        assert_unavailable(*timed(lambda: stranger.get(TASKS_PATH)), "licence lookup")
    # The token endpoint answers in OAuth's shape, which identity clients read, with the same wait.
    form = {
        "grant_type": "client_credentials",
        "client_id": str(uuid.uuid4()),
        "client_secret": "s",
        "scope": "https://graph.microsoft.com/.default",
    }
    token = httpx.post(f"{server.url}/{uuid.uuid4()}/oauth2/v2.0/token", data=form)
    assert (token.status_code, token.json()["error"]) == (503, "temporarily_unavailable")
    assert token.headers["Retry-After"] == str(RETRY_AFTER_S)
    batch = batch_while_down(client, task_id, f"batched while down ({mode})")
    assert batch.status_code == 200
    for item in batch.json()["responses"]:
        assert (item["status"], item["headers"]["Retry-After"]) == (503, str(RETRY_AFTER_S))
        assert item["body"]["error"]["code"] == "ServiceUnavailable"

    cluster.start()
    deadline = time.monotonic() + RECOVERY_S
    while client.get(f"{TASKS_PATH}/{task_id}").status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.05)
    # Nothing the 503s answered was done: the task is as it was, and no create went in.
    task = client.get(f"{TASKS_PATH}/{task_id}").json()
    assert (task["assignedTo"], task["status"]) == ("Assigned To value", "pending")
    assert not stored_names(cluster) & down
    # And every kind of request works again.
    for name, send in requests_of_every_kind(client, task_id, f"created after the {mode} stop").items():
        assert send().status_code in {200, 201, 204}, name


@dataclass
class Writer:
    """Creates tasks until told to stop, recording each name by the status it got."""

    client: httpx.Client
    name: str
    outcomes: dict[str, int] = field(default_factory=dict)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            name = f"{self.name} task {len(self.outcomes)}"
            self.outcomes[name] = self.client.post(TASKS_PATH, json=task_body(name)).status_code

    def named(self, status: int) -> set[str]:
        return {name for name, got in self.outcomes.items() if got == status}


def acknowledged(writers: list[Writer]) -> int:
    return sum(len(writer.named(201)) for writer in writers)


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.usefixtures("restarted")
def test_creates_racing_a_stop_are_acknowledged_if_and_only_if_stored(
    cluster: PgCluster, server: Server, mode: str
) -> None:
    token = server.token()
    clients = [server.client(token) for _ in range(4)]
    writers = [Writer(http, f"writer {number} ({mode})") for number, http in enumerate(clients)]
    stop = threading.Event()
    threads = [threading.Thread(target=writer.run, args=(stop,)) for writer in writers]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: acknowledged(writers) >= 20)
        cluster.stop(mode)
        unavailable = sum(len(writer.named(503)) for writer in writers)
        wait_for(lambda: sum(len(writer.named(503)) for writer in writers) >= unavailable + 20)
        cluster.start()
        recovered = acknowledged(writers)
        wait_for(lambda: acknowledged(writers) >= recovered + 20, timeout_s=RECOVERY_S)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        for http in clients:
            http.close()

    stored = stored_names(cluster)
    for writer in writers:
        # 500 is the one other answer allowed: a COMMIT lost in flight, whose outcome nobody knows.
        assert set(writer.outcomes.values()) <= {201, 500, 503}
        assert writer.named(201) <= stored
        assert not writer.named(503) & stored


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.usefixtures("restarted")
def test_a_restart_between_requests_fails_none_of_them(cluster: PgCluster, server: Server, mode: str) -> None:
    """Connections that died idle in the pool are replaced at checkout (storage/outages.py), so not even
    the first requests after a restart fail."""
    token = server.token()
    clients = [server.client(token) for _ in range(8)]
    try:
        # Several connections in the pool, all of which the restart kills while they sit idle.
        created = [http.post(TASKS_PATH, json=task_body(f"pooled ({mode})")) for http in clients]
        assert {response.status_code for response in created} == {201}
        cluster.stop(mode)
        cluster.start()
        # All at once, so that each request takes a different pooled connection.
        with ThreadPoolExecutor(len(clients)) as pool:
            statuses = list(pool.map(lambda http: http.get(TASKS_PATH).status_code, clients))
        assert statuses == [200] * len(clients)
        assert clients[0].post(TASKS_PATH, json=task_body(f"after restart ({mode})")).status_code == 201
    finally:
        for http in clients:
            http.close()
