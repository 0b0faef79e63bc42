"""SQLite's writers take turns: one write transaction at a time per database file, across every thread
and every process that serves it (`graphtasks serve --workers N`).

SQLite has one write lock, and a writer that finds it taken waits in its busy handler, which sleeps
and tries again (up to 100 ms between tries). Under a steady stream of writes from two processes, the
one that holds the lock takes it again within microseconds of its COMMIT, while the other is still
asleep, so a process can lose the lock many times over and its writes wait for seconds. Here a writer
first queues for this process's lock, then for an advisory lock on a file beside the database
(flock(2)), on which the kernel blocks it and wakes it when the lock is let go: no sleeping, no
polling. BEGIN IMMEDIATE then finds SQLite's own lock free.

The file lock is released when its holder's process ends, however it ends, so a killed server never
leaves it held. Writers that do not take it (another program on the same file) still meet SQLite's own
lock and busy timeout, as before.
"""

from __future__ import annotations

import fcntl
import os
import threading
from types import TracebackType


class WriterTurns:
    """One writer at a time: the threads of this process, then (with a lock file) the processes."""

    def __init__(self, lock_file: str | None) -> None:
        self._thread_lock = threading.Lock()
        self._lock_file = lock_file
        self._descriptor: int | None = None  # opened at the first write, by whichever thread makes it

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self._lock_file is None:
            return
        try:
            if self._descriptor is None:
                self._descriptor = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            # flock(2) is held by the open file description: this process's writers, queued behind the
            # thread lock, share it one at a time.
            fcntl.flock(self._descriptor, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        try:
            if self._descriptor is not None:
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        """Close the lock file (the database is being disposed of); a later write opens it again."""
        with self._thread_lock:
            descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)


def lock_file_of(database_path: str | None) -> str | None:
    """The lock file beside a SQLite database file; None for a database that is not a file."""
    if not database_path or database_path == ":memory:" or database_path.startswith("file:"):
        return None
    return f"{database_path}-writers"
