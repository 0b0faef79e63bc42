"""The concurrency model (docs/concurrency.md), proven on one task hammered by many clients at once:

- without If-Match, last writer wins per property: a PATCH writes only the properties it sends and
  updateStatus only status and its note, so writers of different properties never undo each other, and
  a property several clients write ends with an acknowledged value no later acknowledged write replaced;
- with If-Match, optimistic concurrency: of racing writers holding the same ETag exactly one lands and
  the rest get 412, so read-modify-write loops that retry on 412 lose no update.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from bench.soak_model import Register, Write

from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server

NOTE_PREFER = {"Prefer": 'odata.include-annotations="graphtasks.statusNote"'}
TASK = {"@odata.type": "#microsoft.graph.securityConfigurationTask", "displayName": "contended"}
STATUSES = ("pending", "active", "completed", "rejected")
OWNED = ("displayName", "description", "assignedTo", "creatorNotes", "insights", "managedDeviceCount")
ROUNDS = 25


def together(workers: list[Callable[[httpx.Client, threading.Barrier], Any]], server: Server) -> list[Any]:
    """Run each worker in its own thread with its own connection, all released at the same instant."""
    barrier = threading.Barrier(len(workers))

    def run(worker: Callable[[httpx.Client, threading.Barrier], Any]) -> Any:
        with server.client() as client:
            client.get(f"{TASKS_PATH}/$count")  # connect before the race starts
            barrier.wait()
            return worker(client, barrier)

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        return list(pool.map(run, workers))


def new_task(server: Server) -> tuple[str, str]:
    with server.client() as client:
        created = client.post(TASKS_PATH, json=TASK)
        assert created.status_code == 201, created.text
        return f"{TASKS_PATH}/{created.json()['id']}", created.json()["@odata.etag"]


def final_state(server: Server, url: str) -> dict[str, Any]:
    with server.client() as client:
        answer = client.get(url, headers=NOTE_PREFER)
        assert answer.status_code == 200, answer.text
        state: dict[str, Any] = answer.json()
        return state


def test_writers_of_different_properties_never_undo_each_other(server: Server) -> None:
    """Six PATCH writers, each owning one property, and one updateStatus writer, all on one task at once:
    every property ends with its own writer's last acknowledged value."""
    url, _ = new_task(server)

    def patcher(name: str) -> Callable[[httpx.Client, threading.Barrier], Any]:
        def work(client: httpx.Client, _: threading.Barrier) -> Any:
            value: Any = None
            for round_ in range(ROUNDS):
                value = round_ + 1 if name == "managedDeviceCount" else f"{name} {round_}"
                assert client.patch(url, json={name: value}).status_code == 204
            return value

        return work

    def status_writer(client: httpx.Client, _: threading.Barrier) -> Any:
        for round_ in range(ROUNDS):
            body = {"status": STATUSES[round_ % len(STATUSES)], "note": f"note {round_}"}
            assert client.post(f"{url}/updateStatus", json=body).status_code == 204
        return body

    *owned, last_status = together([*map(patcher, OWNED), status_writer], server)
    state = final_state(server, url)
    assert {name: state[name] for name in OWNED} == dict(zip(OWNED, owned, strict=True))
    assert (state["status"], state["@graphtasks.statusNote"]) == (last_status["status"], last_status["note"])


def test_patch_and_update_status_racing_on_status_keep_an_acknowledged_last_write(server: Server) -> None:
    """Two PATCH writers and two updateStatus writers all write status: the final status is one no later
    acknowledged write replaced (soak_model's register check), and so is the note, which only
    updateStatus writes (a PATCH of status leaves it alone)."""
    url, _ = new_task(server)
    status, note = Register([Write("unknown", 0.0, 0.0)]), Register([Write(None, 0.0, 0.0)])
    values = itertools.count()
    lock = threading.Lock()

    def writer(by_patch: bool) -> Callable[[httpx.Client, threading.Barrier], None]:
        def work(client: httpx.Client, _: threading.Barrier) -> None:
            for _round in range(ROUNDS):
                with lock:
                    number = next(values)
                chosen, text = STATUSES[number % len(STATUSES)], f"note {number}"
                sent = time.monotonic()
                if by_patch:
                    answer = client.patch(url, json={"status": chosen})
                else:
                    answer = client.post(f"{url}/updateStatus", json={"status": chosen, "note": text})
                acked = time.monotonic()
                assert answer.status_code == 204, answer.text
                with lock:
                    status.writes.append(Write(chosen, sent, acked))
                    if not by_patch:
                        note.writes.append(Write(text, sent, acked))

        return work

    together([writer(True), writer(True), writer(False), writer(False)], server)
    state = final_state(server, url)
    assert state["status"] in status.allowed(math.inf, math.inf)
    allowed_notes = note.allowed(math.inf, math.inf)
    assert state["@graphtasks.statusNote"] in allowed_notes
    # Only the writes that overlapped the last one remain possible: at most one per writer.
    assert 1 <= len(allowed_notes) <= 2


def sender(method: str, url: str, *, body: dict[str, str], etag: str) -> Callable[..., httpx.Response]:
    """A worker for together(): one request with If-Match."""
    return lambda client, _: client.request(method, url, json=body, headers={"If-Match": etag})


def test_racing_if_match_writers_of_both_kinds_exactly_one_lands(server: Server) -> None:
    """PATCHes and updateStatus calls sent at once with the same ETag: one lands, the rest get 412 and
    write nothing, round after round."""
    url, etag = new_task(server)
    previous_status = "unknown"  # the default of a task created without one
    for round_ in range(8):
        names = [f"round {round_} writer {n}" for n in range(3)]
        status = {"status": STATUSES[round_ % len(STATUSES)], "note": f"round {round_}"}
        workers = [sender("PATCH", url, body={"displayName": name}, etag=etag) for name in names]
        answers = together([*workers, sender("POST", f"{url}/updateStatus", body=status, etag=etag)], server)
        assert sorted(a.status_code for a in answers) == [204, 412, 412, 412]
        for answer in answers:
            if answer.status_code == 412:
                assert_graph_error(answer, 412, "PreconditionFailed")
        winner = next(n for n, a in enumerate(answers) if a.status_code == 204)
        state = final_state(server, url)
        if winner < len(names):
            assert (state["displayName"], state["status"]) == (names[winner], previous_status)
        else:
            assert (state["status"], state["@graphtasks.statusNote"]) == (status["status"], status["note"])
        etag, previous_status = state["@odata.etag"], state["status"]


def test_read_modify_write_with_if_match_loses_no_increment(server: Server) -> None:
    """Four clients each add one to managedDeviceCount ten times: GET (ETag), PATCH with If-Match, and
    on 412 read again. Without If-Match these would overwrite each other (last writer wins); with it
    the count is exact."""
    url, _ = new_task(server)

    def incrementer(client: httpx.Client, _: threading.Barrier) -> int:
        conflicts = 0
        for _round in range(10):
            while True:
                current = client.get(url)
                count = current.json()["managedDeviceCount"]
                answer = client.patch(
                    url, json={"managedDeviceCount": count + 1}, headers={"If-Match": current.headers["etag"]}
                )
                if answer.status_code == 204:
                    break
                assert_graph_error(answer, 412, "PreconditionFailed")
                conflicts += 1
        return conflicts

    together([incrementer] * 4, server)
    assert final_state(server, url)["managedDeviceCount"] == 40
