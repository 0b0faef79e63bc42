"""Scale-out: `graphtasks serve --workers 2`, and several instances on one PostgreSQL database behind nginx.

Real processes on real ports, a real nginx (tests/support/nginx.py), fresh databases, tokens from
`graphtasks token`. Which worker answered is read from /proc (the process holding the server end of the
client's connection); which instance behind nginx answered, from nginx's X-Upstream header.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from graphtasks.auth.keys import load_key_ring
from graphtasks.storage.engine import open_database
from graphtasks.storage.migrate import upgrade_to_head
from graphtasks.storage.registry import SqlKeyStore
from tests.support.databases import database, in_ci, postgres_database
from tests.support.examples import FOUNDING_REQUEST
from tests.support.nginx import (
    INSTANCE_ARGS,
    UPSTREAM_HEADER,
    Nginx,
    NginxUnavailable,
    nginx_binary,
    running_nginx,
)
from tests.support.server import TASKS_PATH, Server

pytestmark = pytest.mark.slow

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
WRITERS = 8
CREATES_PER_WRITER = 8
COUNT = f"{TASKS_PATH}/$count"


def cli_token(database_url: str, *, own_tenant: bool = False) -> str:
    """From `graphtasks token`; with own_tenant, for a new tenant, so a test lists only its own tasks."""
    tenant = ["--tenant", str(uuid.uuid4())] if own_tenant else []
    command = [sys.executable, "-m", "graphtasks", "token", "--database", database_url, *tenant]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def task(name: str) -> dict[str, Any]:
    return FOUNDING_REQUEST | {"displayName": name}


def client_for(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0)


def listed(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    """Every task the collection lists at `url`, page by page through @odata.nextLink."""
    tasks: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        tasks += response.json()["value"]
        next_url = response.json().get("@odata.nextLink")
    return tasks


def on_host(url: str, base_url: str) -> str:
    """`url` (a nextLink) sent to another server: the same path and query, `base_url`'s host and port."""
    return urlunsplit(urlsplit(url)._replace(netloc=urlsplit(base_url).netloc))


# --- serve --workers 2 ------------------------------------------------------------------------------


def worker_pids(parent: int, *, count: int) -> list[int]:
    """The uvicorn workers of `parent`: its children started by multiprocessing's spawn."""
    deadline = time.monotonic() + 30.0
    while True:
        children = _read(f"/proc/{parent}/task/{parent}/children").split()
        found = sorted(int(pid) for pid in children if b"spawn_main" in _read(f"/proc/{int(pid)}/cmdline"))
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) == count, f"expected {count} workers, found {found}"
            return found
        time.sleep(0.05)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:  # the process has just exited
        return b""


def connection_owner(server_port: int, response: httpx.Response, pids: list[int]) -> int:
    """Which of `pids` holds the server end of the (still open) connection `response` came on."""
    client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    socket_link = f"socket:[{_server_socket_inode(server_port, client_port)}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with suppress(OSError):
                if os.readlink(fd) == socket_link:
                    return pid
    raise AssertionError(f"no process of {pids} holds {socket_link}")


def _server_socket_inode(server_port: int, client_port: int) -> int:
    """From the kernel's TCP table: the socket whose local port is the server's, remote the client's."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, remote, *_, inode = line.split()[1:10]  # addresses like "0100007F:1F90"
            if [int(address.split(":")[1], 16) for address in (local, remote)] == [server_port, client_port]:
                return int(inode)
    raise AssertionError(f"no connection from port {client_port} to port {server_port}")


@contextmanager
def workers_server(backend: str, directory: Path) -> Iterator[tuple[Server, list[int]]]:
    """`serve --workers 2` on a fresh database, and its worker pids; no worker may outlive it."""
    with database(backend, directory) as url:
        server = Server(url, directory / "server.log", extra_args=("--workers", "2")).start()
        assert server.process is not None
        workers = worker_pids(server.process.pid, count=2)
        try:
            yield server, workers
        finally:
            server.stop()
            left = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
            for pid in left:  # never leave them holding the port or the database
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            assert left == [], "worker processes outlived `graphtasks serve`"


def pin(server: Server, workers: list[int], token: str, per_worker: int) -> dict[int, list[httpx.Client]]:
    """Open connections until each worker process holds `per_worker` of them: worker pid -> clients,
    each client one open connection that its first request showed the token is good on."""
    pinned: dict[int, list[httpx.Client]] = {pid: [] for pid in workers}
    deadline = time.monotonic() + 30.0
    while any(len(clients) < per_worker for clients in pinned.values()):
        assert time.monotonic() < deadline, f"connections never reached every worker: {pinned}"
        client = client_for(server.url, token)
        response = client.get(COUNT)
        assert response.status_code == 200, response.text
        owner = connection_owner(server.port, response, workers)
        if len(pinned[owner]) < per_worker:
            pinned[owner].append(client)
        else:
            client.close()
    return pinned


def create_batch(client: httpx.Client, label: str) -> list[dict[str, Any]]:
    created = []
    for number in range(CREATES_PER_WRITER):
        response = client.post(TASKS_PATH, json=task(f"{label} {number}"))
        assert response.status_code == 201, response.text
        created.append(response.json() | {"ETag": response.headers["ETag"]})
    return created


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_workers_serve_one_database(backend: str, tmp_path: Path) -> None:
    with workers_server(backend, tmp_path) as (server, workers):
        token = cli_token(server.database_url)
        pinned = pin(server, workers, token, per_worker=WRITERS // 2)
        (first, first_clients), (second, second_clients) = pinned.items()
        try:
            # Writers on both workers at once: on SQLite, two processes contend for one write lock.
            writers = [(pid, client) for pid, clients in pinned.items() for client in clients]
            with ThreadPoolExecutor(len(writers)) as pool:
                batches = list(pool.map(lambda w: (w[0], create_batch(w[1], f"w{id(w[1])}")), writers))
            assert len({t["id"] for _, batch in batches for t in batch}) == WRITERS * CREATES_PER_WRITER
            # Still on the worker each was pinned to: no connection was dropped and made again meanwhile.
            moved = [pid for pid, c in writers if connection_owner(server.port, c.get(COUNT), workers) != pid]
            assert moved == []
            # Each task is read back through the other worker than the one that created it.
            other = {first: second_clients[0], second: first_clients[0]}
            for creator, batch in batches:
                for created in batch:
                    response = other[creator].get(f"{TASKS_PATH}/{created['id']}")
                    assert response.status_code == 200, response.text
                    assert response.headers["ETag"] == created.pop("ETag")
                    assert response.json() == created
            # A nextLink made by one worker is followed on the other (one skiptoken secret).
            page = first_clients[0].get(f"{TASKS_PATH}?$top=50").json()
            walked = [t["id"] for t in page["value"]]
            walked += [t["id"] for t in listed(second_clients[0], page["@odata.nextLink"])]
            assert sorted(walked) == sorted(t["id"] for _, batch in batches for t in batch)
        finally:
            for client in (*first_clients, *second_clients):
                client.close()


# --- several instances behind nginx -----------------------------------------------------------------


@dataclass
class Cluster:
    database_url: str
    instances: list[Server]
    nginx: Nginx
    token: str


@contextmanager
def cluster(directory: Path, *, size: int = 2) -> Iterator[Cluster]:
    """`size` separate `graphtasks serve` processes on one fresh PostgreSQL database, started at the same
    moment (so they race to migrate it and to make its signing key), with nginx in front."""
    try:
        nginx_binary()
    except NginxUnavailable as error:
        (pytest.fail if in_ci() else pytest.skip)(str(error))
    with postgres_database() as url:
        instances = [
            Server(url, directory / f"instance-{n}.log", extra_args=INSTANCE_ARGS) for n in range(size)
        ]
        try:
            with ThreadPoolExecutor(size) as pool:
                list(pool.map(Server.start, instances))
            upstreams = [f"127.0.0.1:{instance.port}" for instance in instances]
            with running_nginx(directory / "nginx", upstreams) as nginx:
                yield Cluster(url, instances, nginx, cli_token(url))
        finally:
            for instance in instances:
                instance.stop()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.mark.postgres
def test_instances_started_together_share_one_key_set(shared_cluster: Cluster) -> None:
    key_sets = [httpx.get(f"{s.url}/common/discovery/v2.0/keys").json() for s in shared_cluster.instances]
    assert len(key_sets[0]["keys"]) == 1
    assert all(keys == key_sets[0] for keys in key_sets)


@pytest.mark.postgres
def test_any_instance_serves_any_request(shared_cluster: Cluster) -> None:
    token = cli_token(shared_cluster.database_url, own_tenant=True)  # good on every instance
    with client_for(shared_cluster.nginx.url, token) as via_nginx:
        responses = [via_nginx.post(TASKS_PATH, json=task(f"spread {n}")) for n in range(4)]
    assert [r.status_code for r in responses] == [201] * 4
    ports = {r.headers[UPSTREAM_HEADER].split(", ")[-1] for r in responses}
    assert ports == {f"127.0.0.1:{s.port}" for s in shared_cluster.instances}  # round robin
    for instance in shared_cluster.instances:
        with client_for(instance.url, token) as direct:
            for created in responses:
                response = direct.get(f"{TASKS_PATH}/{created.json()['id']}")
                assert response.status_code == 200, response.text
                assert response.headers["ETag"] == created.headers["ETag"]
                assert response.json() == created.json()


@pytest.mark.postgres
def test_a_next_link_from_one_instance_is_followed_on_another(shared_cluster: Cluster) -> None:
    token = cli_token(shared_cluster.database_url, own_tenant=True)
    first, second = shared_cluster.instances[:2]
    with client_for(shared_cluster.nginx.url, token) as client:
        ids = [client.post(TASKS_PATH, json=task(f"page {n}")).json()["id"] for n in range(5)]
        page = client.get(f"{first.url}{TASKS_PATH}?$top=2").json()
        assert page["@odata.nextLink"].startswith(first.url)
        walked = [t["id"] for t in page["value"]]
        second_page = client.get(on_host(page["@odata.nextLink"], second.url))
        assert second_page.status_code == 200, second_page.text
        walked += [t["id"] for t in second_page.json()["value"]]
        walked += [t["id"] for t in listed(client, on_host(second_page.json()["@odata.nextLink"], first.url))]
    assert walked == ids  # oldest first, each once


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_starting_at_once_on_an_empty_database_make_one_key(backend: str, tmp_path: Path) -> None:
    with database(backend, tmp_path) as url:
        assert len(set(keys_made_at_once(url, processes=4))) == 1


def keys_made_at_once(url: str, *, processes: int) -> list[str]:
    """Migrate `url`, then let `processes` processes load (and so make) the signing key at one moment;
    returns the kid each signs with, after checking the store holds just one key."""
    migrated = open_database(url)
    try:
        upgrade_to_head(migrated)
        context = multiprocessing.get_context("spawn")  # separate interpreters, as separate servers
        barrier, kids = context.Barrier(processes), context.Queue()
        running = [context.Process(target=_load_keys, args=(url, barrier, kids)) for _ in range(processes)]
        for process in running:
            process.start()
        signing = [kids.get(timeout=60) for _ in running]
        for process in running:
            process.join(timeout=60)
        assert [process.exitcode for process in running] == [0] * processes
        assert len(load_key_ring(SqlKeyStore(migrated)).keys) == 1
        return signing
    finally:
        migrated.dispose()


def _load_keys(url: str, barrier: Barrier, kids: Queue[str]) -> None:
    database = open_database(url)
    with database.read():  # connected
        pass
    barrier.wait()  # every process reads the empty table at one moment
    kids.put(load_key_ring(SqlKeyStore(database)).signing.kid)


# --- an instance killed under load ------------------------------------------------------------------


@dataclass
class Writer:
    """POSTs tasks through nginx until told to stop, recording every answer."""

    url: str
    token: str
    number: int
    stop: threading.Event
    attempted: list[str] = field(default_factory=list)
    # (id, name, sent at, instance): appended by the writer's thread, counted by the test's meanwhile
    acknowledged: list[tuple[str, str, float, str]] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)  # (sent at, what happened)

    def run(self) -> None:
        with client_for(self.url, self.token) as client:
            while not self.stop.is_set():
                name = f"crash writer {self.number} task {len(self.attempted)}"
                self.attempted.append(name)
                sent = time.monotonic()
                try:
                    response = client.post(TASKS_PATH, json=task(name))
                except httpx.TransportError as error:
                    self.failures.append((sent, type(error).__name__))
                    continue
                if response.status_code == 201:
                    via = response.headers[UPSTREAM_HEADER].split(", ")[-1]
                    self.acknowledged.append((response.json()["id"], name, sent, via))
                else:
                    self.failures.append((sent, f"{response.status_code} {response.text[:200]}"))

    def acknowledged_via(self, upstream: str, *, sent_after: float = 0.0) -> int:
        # A slice copies the list in one step, safe while the writer's thread appends.
        return sum(1 for _, _, sent, via in self.acknowledged[:] if via == upstream and sent > sent_after)


def kill_under_load(cluster: Cluster, victim: Server) -> tuple[list[Writer], float]:
    """Writers through nginx; SIGKILL `victim` once both instances acknowledged creates; 1.5 s more."""
    stop = threading.Event()
    writers = [Writer(cluster.nginx.url, cluster.token, n, stop) for n in range(WRITERS)]
    upstreams = [f"127.0.0.1:{instance.port}" for instance in cluster.instances]
    with ThreadPoolExecutor(WRITERS) as pool:
        running = [pool.submit(writer.run) for writer in writers]
        try:
            started = time.monotonic()
            while time.monotonic() - started < 1.0 or any(
                sum(w.acknowledged_via(up) for w in writers) < 20 for up in upstreams
            ):
                assert time.monotonic() - started < 30.0, "the instances did not both take creates"
                time.sleep(0.05)
            killed_at = time.monotonic()
            victim.stop(signal.SIGKILL)
            time.sleep(1.5)
        finally:
            stop.set()  # else leaving the pool would wait for the writers for ever
    for future in running:
        future.result()  # a writer's own exception fails the test here
    return writers, killed_at


@pytest.mark.postgres
def test_killing_an_instance_under_load_loses_no_acknowledged_create(tmp_path: Path) -> None:
    with cluster(tmp_path) as running:
        survivor, victim = running.instances
        writers, killed_at = kill_under_load(running, victim)
        with client_for(survivor.url, running.token) as client:
            stored = {t["id"]: t["displayName"] for t in listed(client, TASKS_PATH)}

    acknowledged = {task_id: name for w in writers for task_id, name, _, _ in w.acknowledged}
    failures = [failure for w in writers for failure in w.failures]
    # Only requests in flight when the instance died may fail (nginx does not resend a POST it sent):
    # one per writer at most, each a 502 from nginx or a broken connection, and none once nginx has
    # taken the dead instance out (its first failure does that).
    assert len(failures) <= WRITERS, failures
    assert all(what.startswith("502") or not what[:1].isdigit() for _, what in failures), failures
    assert [sent for sent, _ in failures if sent > killed_at + 0.5] == [], failures
    assert sum(w.acknowledged_via(f"127.0.0.1:{survivor.port}", sent_after=killed_at) for w in writers) > 0
    lost = set(acknowledged) - set(stored)
    assert lost == set(), f"{len(lost)} of {len(acknowledged)} acknowledged creates are gone"
    assert all(stored[task_id] == name for task_id, name in acknowledged.items())
    # Unacknowledged creates may or may not have committed, but nothing appears that nobody sent.
    assert set(stored.values()) <= {name for w in writers for name in w.attempted}
