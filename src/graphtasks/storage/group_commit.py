"""Group commit: concurrent writes share one transaction and one COMMIT (so one fsync when flushing to
disk is on), and each write returns only after the COMMIT that contains it succeeded. Knows nothing of
tasks: engine.py hands it a way to open a write transaction and a way to send a statement on it.

Leader/follower. A thread with a write (a *unit*: a callable taking the transaction's Connection) runs
it at once as the leader if no thread is leading, so a lone write waits for nothing: no timer, no sleep,
and a group of one is the plain transaction it always was (no savepoint). Otherwise it
queues the unit and waits. When the leader's transaction has committed, it takes up to MAX_GROUP queued
units as the next group and hands them, with the lead, to the thread of the first (it does not serve the
queue itself, so its own request is answered), then wakes the threads of its own group. The new leader
opens one transaction, runs each unit inside its own SAVEPOINT and commits once. Writes that arrive
while a transaction runs are what the next one shares: the more concurrent writers, the larger groups.

- A unit that raises (NotFound, a failed precondition, an IntegrityError) is rolled back to its
  savepoint alone; its caller gets its exception and the others still commit.
- If the transaction as a whole fails (BEGIN, a savepoint, COMMIT: a full disk, an I/O error),
  nothing of it is acknowledged: every unit that had not failed on its own raises
  GroupCommitFailed, a fresh one per caller (one exception object raised in many threads would collect
  all their tracebacks), chained to the transaction's error. engine.py's transaction has already said
  what that error means (storage/outages.py): failed before COMMIT was sent, or refused by it, nothing
  was written and every caller may be told to retry (503); lost while COMMIT was in flight, the outcome
  is unknown for every unit alike (500). Database.run_write gives each caller its copy of that answer.
  When a unit's error took the transaction with it (SQLite rolls back by itself on a full disk), its
  savepoint cannot be rolled back: the group fails with that rollback's error chained
  to the unit's, so the real cause decides the answer.
- Units run in the leader's thread one after the other, so within a group they are serialised exactly
  as separate transactions would be: a later unit sees an earlier one's write (a second If-Match on the
  same task fails). A unit must be re-runnable (no effect outside the connection) and must not start
  another write: it would wait for its own group, so that raises RuntimeError instead.

Locks. Followers hold no connection and no lock while they wait; only the leader does. Its BEGIN
IMMEDIATE takes SQLite's one database write lock before any unit runs (another process waits for it),
so a group can neither deadlock nor wait halfway. MAX_GROUP bounds how long one transaction holds it.

Where it pays. SQLite takes one writer at a time anyway, so a group's units cost what they did and the
commits (with synchronous=FULL, an fsync each) are shared. engine.py uses it for SQLite only:
PostgreSQL already shares one WAL flush among commits that arrive together, and a group there would
hold every unit's row locks until its commit, for no measured gain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import Enum, auto
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")

# Opens a write transaction; commits when the block ends.
Transaction = Callable[[], AbstractContextManager[Connection]]

# Units per transaction, at most. Under the web layer a group is smaller anyway (each of its worker
# threads has one write pending at most); this bounds the locks' hold time for callers with more threads.
MAX_GROUP = 256
# One name serves every unit: a unit's savepoint is released (or rolled back to and released) before
# the next one is set.
_SAVEPOINT = "graphtasks_unit"


class GroupCommitFailed(Exception):
    """The transaction this write was grouped into failed as a whole; its cause says how (nothing was
    written, or a COMMIT lost in flight left the outcome unknown)."""


class _State(Enum):
    QUEUED = auto()  # waiting for a leader
    RUNNING = auto()  # in a group, not settled yet
    DONE = auto()  # value or error is final


class _Pending(Generic[T]):
    """One queued unit and what became of it. Written by a leader, read by its own thread after wake."""

    value: T

    def __init__(self, unit: Callable[[Connection], T]) -> None:
        self.unit = unit
        self.state = _State.QUEUED
        self.error: BaseException | None = None
        # Set when its thread is made leader: the group it is to run, itself first.
        self.group: list[_Pending[Any]] | None = None
        # Only a thread that waits needs one (a lone writer never does); made under the queue's lock.
        self.wake: threading.Event | None = None

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.state = _State.DONE

    def wake_up(self) -> None:
        if self.wake is not None:
            self.wake.set()


class GroupCommitter:
    """Runs write units from many threads, as few transactions as concurrency allows (module docstring)."""

    def __init__(
        self,
        transaction: Transaction,
        *,
        execute: Callable[[Connection, str], object],
        max_group: int = MAX_GROUP,
    ) -> None:
        self._transaction = transaction
        # How a savepoint statement is sent on the transaction's connection (engine.py: to the driver
        # directly, as the units' own hot statements are).
        self._execute = execute
        self._max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Pending[Any]] = []
        self._leading = False
        self._local = threading.local()
        # Committed transactions and the units that succeeded in them (tests, metrics).
        self.transactions = 0
        self.units = 0

    @property
    def queued(self) -> int:
        """Units waiting for a leader (tests, metrics)."""
        with self._lock:
            return len(self._queue)

    def run(self, unit: Callable[[Connection], T]) -> T:
        """Run `unit` in a write transaction; return its value (or raise its error) once committed."""
        if getattr(self._local, "leading", False):
            raise RuntimeError("a write unit must not start another write: it would wait for itself")
        pending = _Pending(unit)
        with self._lock:
            # The queue is empty whenever no one leads (a leader leaves only an empty queue).
            if not self._leading:
                self._leading = True
                pending.group = [pending]
            else:
                pending.wake = wake = threading.Event()
                self._queue.append(pending)
        if pending.group is None:
            # Woken when its group has committed (or failed), or with a group of its own to lead.
            wake.wait()
        if pending.group is not None:
            self._lead(pending.group)
        if pending.error is not None:
            raise pending.error
        return pending.value

    def _lead(self, group: list[_Pending[Any]]) -> None:
        """Run `group` (this thread's unit first), pass the lead on, then wake the group's threads."""
        self._local.leading = True
        for pending in group:
            pending.state = _State.RUNNING
        try:
            self._run_group(group)
        finally:
            self._local.leading = False
            for pending in group:
                if pending.state is _State.RUNNING:  # only if the leader itself was interrupted
                    stopped = GroupCommitFailed("the group's leader stopped before this write committed")
                    pending.fail(pending.error or stopped)
            self._hand_off()
            for pending in group:
                pending.wake_up()

    def _hand_off(self) -> None:
        """Give the lead, with the next group, to the first queued thread; or leave it if none waits."""
        with self._lock:
            if not self._queue:
                self._leading = False
                return
            group = self._queue[: self._max_group]
            del self._queue[: self._max_group]
        group[0].group = group
        group[0].wake_up()

    def _run_group(self, group: list[_Pending[Any]]) -> None:
        """Run `group` in one transaction."""
        if len(group) == 1:
            self._run_single(group[0])
            return
        try:
            with self._transaction() as conn:
                for pending in group:
                    self._run_unit(conn, pending)
        except Exception as error:
            # Nothing of the transaction stands: a unit that failed on its own keeps its own error.
            for pending in group:
                if pending.state is _State.RUNNING:
                    pending.fail(pending.error or _group_failed(error))
            return
        self._committed(group)

    def _run_single(self, pending: _Pending[Any]) -> None:
        """A group of one is a plain transaction: its error, commit's included, is its caller's own."""
        try:
            with self._transaction() as conn:
                pending.value = pending.unit(conn)
        except Exception as error:
            pending.fail(error)
            return
        self._committed([pending])

    def _run_unit(self, conn: Connection, pending: _Pending[Any]) -> None:
        """Run one unit inside its savepoint."""
        self._execute(conn, f"SAVEPOINT {_SAVEPOINT}")
        try:
            pending.value = pending.unit(conn)
        except Exception as error:
            # Recorded first: should the rollback fail with the whole transaction, the caller still
            # gets its own error.
            pending.error = error
            try:
                self._execute(conn, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                self._execute(conn, f"RELEASE SAVEPOINT {_SAVEPOINT}")
            except Exception as lost:
                # The transaction went with the unit's error (module docstring): chained, so that
                # error, not "no such savepoint", says what became of the group.
                raise lost from error
            return
        self._execute(conn, f"RELEASE SAVEPOINT {_SAVEPOINT}")

    def _committed(self, ran: list[_Pending[Any]]) -> None:
        for pending in ran:
            pending.state = _State.DONE
        succeeded = sum(1 for pending in ran if pending.error is None)
        with self._lock:  # read by other threads
            self.transactions += 1
            self.units += succeeded


def _group_failed(error: Exception) -> GroupCommitFailed:
    failed = GroupCommitFailed(f"the write's shared transaction failed: {error}")
    failed.__cause__ = error
    return failed
