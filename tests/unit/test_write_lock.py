"""WriterTurns (storage/write_lock.py): one SQLite writer at a time across processes, a lock that a
process holding it gives up when it ends, however it ends; and none for a database that is no file."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from graphtasks.storage.write_lock import WriterTurns, lock_file_of

WAIT_S = 10.0


def _hold(lock_file: str, holding: Event, release: Event) -> None:
    turns = WriterTurns(lock_file)
    with turns:
        holding.set()
        release.wait(WAIT_S)


def _holder(lock_file: str) -> tuple[multiprocessing.Process, Event]:
    context = multiprocessing.get_context("spawn")
    holding, release = context.Event(), context.Event()
    process = context.Process(target=_hold, args=(lock_file, holding, release))
    process.start()
    assert holding.wait(WAIT_S)
    return process, release  # type: ignore[return-value]


def _taken_within(turns: WriterTurns, seconds: float) -> bool:
    """Whether `turns` is had within `seconds`, tried from a thread (flock blocks it)."""
    taken = threading.Event()

    def take() -> None:
        with turns:
            taken.set()

    threading.Thread(target=take, daemon=True).start()
    return taken.wait(seconds)


def test_a_writer_in_another_process_waits_for_the_turn(tmp_path: Path) -> None:
    lock_file = str(tmp_path / "db.sqlite-writers")
    process, release = _holder(lock_file)
    try:
        turns = WriterTurns(lock_file)
        assert not _taken_within(turns, 0.3)
        release.set()
        assert _taken_within(turns, WAIT_S)
    finally:
        release.set()
        process.join(WAIT_S)


def test_a_killed_holder_gives_the_turn_up(tmp_path: Path) -> None:
    lock_file = str(tmp_path / "db.sqlite-writers")
    # Its release event is never set: a process killed while waiting on it leaves it unusable.
    process, _release = _holder(lock_file)
    turns = WriterTurns(lock_file)
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    process.join(WAIT_S)
    started = time.monotonic()
    assert _taken_within(turns, WAIT_S)
    assert time.monotonic() - started < WAIT_S


@pytest.mark.parametrize("path", [None, "", ":memory:", "file:/graphtasks-1?vfs=memdb"])
def test_no_lock_file_for_a_database_that_is_not_a_file(path: str | None) -> None:
    assert lock_file_of(path) is None


def test_the_lock_file_sits_beside_the_database() -> None:
    assert lock_file_of("/data/graphtasks.db") == "/data/graphtasks.db-writers"
