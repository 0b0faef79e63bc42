"""Faults of the database said as Graph says them: a `503` with Retry-After when the database is away or
full and the request surely changed nothing, never when a write may have happened.

Graph's SDKs retry 429, 503 and 504 on every method, POST included (errors.Retryable), so a 503 is a
promise that nothing was written. The rule, by where the error struck (engine.py's Database says where):

- connecting (no connection could be made, or none was free in the pool): 503, nothing was sent;
- a statement, before COMMIT was sent (a read, a write's BEGIN, INSERT, SAVEPOINT...): 503 if the
  connection was lost (the server rolls back a transaction whose client is gone) or the server had no
  room (PostgreSQL's class 53, "could not extend file" is 53100; SQLite's "database or disk is full",
  which undoes the statement or the whole transaction) or SQLite's lock stayed taken past busy_timeout;
- COMMIT itself: the server's own refusal (disk full: SQLite's WAL append, PostgreSQL's class 53 ERROR)
  means the transaction was rolled back, so 503; but a connection lost while COMMIT was in flight leaves
  the outcome unknown (the commit may be durable with its acknowledgement lost), so CommitOutcomeUnknown:
  a 500, which the SDK does not retry.

Not outages, and said here too: a statement stopped at its time limit (PostgreSQL's statement_timeout,
SQLite's progress handler past the deadline) is GatewayTimeout, a 504, since its transaction was rolled
back (PostgreSQL disarms statement_timeout before it commits, so COMMIT itself is never cut off), and
text PostgreSQL cannot store (U+0000) is a 400, never a 500, should validation have let it through.

Anything else (a constraint, a bug) is left as it was: a 500 through the web layer's catch-all. Knows
SQLAlchemy's and the drivers' errors, so that web/ never has to; knows nothing of HTTP.

Also here: what stops a statement (the deadline of the transaction a thread is in, and the
Interruption of the call it runs: engine.py applies both), the check that keeps a restarted PostgreSQL
from costing a failed request per pooled connection (pg_liveness_check), and the driver options that
make an unreachable server fail fast.
"""

from __future__ import annotations

import logging
import math
import select
import threading
import time
from collections.abc import Callable
from enum import Enum, auto
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from graphtasks.errors import BadRequest, GatewayTimeout, GraphError, ServiceUnavailable

logger = logging.getLogger("graphtasks")

T = TypeVar("T")

# Whole seconds (Graph sends integers). A PostgreSQL restart or crash recovery accepts connections again
# within a second or two, and the SDK retries three times (kiota's RetryHandler, DEFAULT_MAX_RETRIES), so
# 2 s bridges about 6 s of outage without making a client wait longer than a restart takes; the same
# wait as the answer when the throttle's Redis is away (docs/resilience.md).
RETRY_AFTER_S = 2

# PostgreSQL SQLSTATEs (Appendix A): class 08 connection_exception; 57P01 admin_shutdown (pg_ctl stop
# -m fast, pg_terminate_backend), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting or stopping).
_PG_LOST = ("08", "57P01", "57P02", "57P03")
# Class 53 insufficient_resources: disk_full (53100), out_of_memory, too_many_connections...
_PG_NO_ROOM = ("53",)
# SQLite primary result codes (sqlite.org/rescode.html); extended codes keep them in the low byte.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_FULL, _SQLITE_CANTOPEN = 5, 6, 13, 14
_SQLITE_NO_ROOM = frozenset({_SQLITE_FULL})
_SQLITE_AWAY = frozenset({_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_CANTOPEN})
# A statement stopped: PostgreSQL's query_canceled (statement_timeout, a cancel request), SQLite's
# SQLITE_INTERRUPT (the progress handler, interrupt()).
_PG_STOPPED, _SQLITE_INTERRUPT = "57014", 9
# Text PostgreSQL refuses: character_not_in_repertoire, untranslatable_character (a \u0000 escape in
# JSONB); psycopg refuses a NUL in a text parameter itself, before sending anything.
_PG_UNSTORABLE = frozenset({"22021", "22P05"})
_NUL_REFUSED = "cannot contain NUL"
# SQLite calls the progress handler every this many virtual machine steps: about every 0.1 ms of a
# long query here, so a statement stops within a millisecond of its deadline, while a point read (a
# few dozen steps) never calls it at all.
PROGRESS_STEPS = 1000

# libpq fails an unreachable host after this many seconds (its default is to wait for ever, so a
# black-holed server would hold a worker thread); keepalives end a connection whose peer vanished
# mid-statement within about 5 + 3 x 2 s. Only set where the URL says nothing.
PG_CONNECT_ARGS = {
    "connect_timeout": 3,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}
# How often an outage is logged at most (each failed request is not worth a line).
_LOG_EVERY_S = 5.0


class CommitOutcomeUnknown(Exception):
    """The connection was lost while COMMIT was in flight: the write may or may not have happened. Not a
    GraphError on purpose: the web layer answers it with a logged 500, which no SDK retries."""


class Interrupted(Exception):
    """A read stopped by its Interruption: whoever called it has gone. Not a GraphError: the caller
    that asked for the interruption knows there is nobody to answer (web/blocking.py)."""


# After an interruption, how often and for how long the read still running is interrupted again: a
# PostgreSQL statement sent just after the check made before each one (pg_refuse_if_interrupted) and
# before the cancel request reached the server would otherwise run its course.
REPEAT_S = 0.1
REPEAT_FOR_S = 3.0


class Interruption:
    """Stops the reads of one storage call from another thread. While a read runs, it lends this the
    means to interrupt its connection (sqlite3's interrupt(), psycopg's cancel request); a read that
    starts after the request raises Interrupted at once, and SQLite's progress handler also stops a
    statement begun just after it. For PostgreSQL, which has no such handler, the interrupt is sent
    again every REPEAT_S while the read is still lent, for up to REPEAT_FOR_S."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._interrupt: Callable[[], object] | None = None
        self.requested = False

    def request(self, *, repeat_s: float = REPEAT_S, repeat_for_s: float = REPEAT_FOR_S) -> None:
        """Stop the read running now and any later one. Blocks for PostgreSQL's cancel request, and
        then while it repeats it, so call it off the event loop; the read's connection goes back to the
        pool only once a cancel is done (the lock), so a late cancel cannot strike the connection's
        next statement."""
        with self._lock:
            self.requested = True
            self._send()
        deadline = time.monotonic() + repeat_for_s
        while time.monotonic() < deadline:
            time.sleep(repeat_s)
            with self._lock:
                if self._interrupt is None:  # the read has ended
                    return
                self._send()

    def _send(self) -> None:
        if self._interrupt is not None:
            try:
                self._interrupt()
            except Exception:  # noqa: S110 - the read then runs to its end or its time limit
                pass

    def lend(self, interrupt: Callable[[], object]) -> None:
        with self._lock:
            if self.requested:
                raise Interrupted("the read was interrupted before it started")
            self._interrupt = interrupt

    def take_back(self) -> None:
        with self._lock:
            self._interrupt = None


class _ThreadBounds(threading.local):
    """What bounds the storage work running on this thread: the monotonic time past which its SQLite
    statements stop (set by engine.py for each transaction), and the Interruption of its call."""

    deadline = math.inf
    interruption: Interruption | None = None


thread_bounds = _ThreadBounds()


def run_interruptibly(interruption: Interruption, call: Callable[[], T]) -> T:
    """Run `call` on this thread, its reads stoppable by `interruption.request()`."""
    thread_bounds.interruption = interruption
    try:
        return call()
    finally:
        thread_bounds.interruption = None


def past_deadline() -> bool:
    """SQLite's progress handler: a true value stops the statement (SQLITE_INTERRUPT)."""
    bounds = thread_bounds
    if time.monotonic() > bounds.deadline:
        return True
    return bounds.interruption is not None and bounds.interruption.requested


def pg_refuse_if_interrupted(*_event: Any) -> None:
    """PostgreSQL's counterpart of the progress handler's check, before each statement is sent: a
    cancel request stops only the statement the server is running when it arrives, so one that came
    between two statements of a read (a page read in chunks) would leave the next to run its course."""
    interruption = thread_bounds.interruption
    if interruption is not None and interruption.requested:
        raise Interrupted("the read was interrupted: its caller has gone")


def timed_out() -> GatewayTimeout:
    # Graph's 504: no timely answer from the upstream the request needed (here, the database). The SDK
    # retries it with its own backoff, which a Retry-After would replace: none is given.
    return GatewayTimeout(
        "The request took longer than the service allows and was stopped; nothing was changed.",
        retry_after_s=None,
    )


class Fault(Enum):
    LOST = auto()  # the connection went away, could not be made, or the database is locked or missing
    NO_ROOM = auto()  # the server answered: no disk (or memory) for this


def fault_of(error: BaseException) -> Fault | None:
    """Which outage `error` is, if any; a database error chained explicitly (`raise ... from`) counts,
    as when a savepoint rollback fails because the unit's statement lost the transaction."""
    for candidate in (error, error.__cause__):
        fault = _fault_of_dbapi(candidate) if isinstance(candidate, DBAPIError) else None
        if fault is not None:
            return fault
    return None


def _fault_of_dbapi(error: DBAPIError) -> Fault | None:
    if error.connection_invalidated:  # SQLAlchemy's dialect saw a disconnect (psycopg: broken)
        return Fault.LOST
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate.startswith(_PG_LOST):
            return Fault.LOST
        return Fault.NO_ROOM if sqlstate.startswith(_PG_NO_ROOM) else None
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        if code & 0xFF in _SQLITE_NO_ROOM:
            return Fault.NO_ROOM
        return Fault.LOST if code & 0xFF in _SQLITE_AWAY else None
    return None


def _code_of(error: BaseException) -> str | int | None:
    """The SQLSTATE (PostgreSQL) or primary result code (SQLite) of a database error, if it is one."""
    orig = error.orig if isinstance(error, DBAPIError) else None
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate
    code = getattr(orig, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _stopped(error: BaseException) -> bool:
    """A statement stopped at its time limit (or interrupted), itself or as the cause of `error` (a
    savepoint that could not be rolled back because SQLite undid the whole transaction)."""
    return any(_code_of(e) in (_PG_STOPPED, _SQLITE_INTERRUPT) for e in (error, error.__cause__) if e)


def _unstorable(error: BaseException) -> bool:
    orig = error.orig if isinstance(error, DBAPIError) else None
    return _code_of(error) in _PG_UNSTORABLE or _NUL_REFUSED in str(orig or "")


def _unavailable(fault: Fault) -> ServiceUnavailable:
    # No detail of the database in the message: a client has no use for host names or file paths.
    reason = "is out of space" if fault is Fault.NO_ROOM else "cannot be reached"
    return ServiceUnavailable(
        f"The service's database {reason}; nothing was changed. Please retry later.",
        retry_after_s=RETRY_AFTER_S,
    )


def _refused_text() -> BadRequest:
    return BadRequest("The request holds text the service cannot store, such as the character U+0000.")


class Outages:
    """Turns the database errors of one Database into what its callers raise, and logs outages (at
    most once every few seconds). Each method returns the error to raise in place of `error`, which is
    `error` itself when it is no outage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logged_at = -_LOG_EVERY_S

    def on_connect(self, error: BaseException) -> BaseException:
        """No connection could be had, so nothing was sent: any driver or pool error is a 503."""
        if isinstance(error, DBAPIError | PoolTimeout):
            self._log(error)
            return _unavailable(fault_of(error) or Fault.LOST)
        return error

    def on_statement(self, error: BaseException) -> BaseException:
        """A statement failed before any COMMIT was sent, so no write of its transaction stands."""
        if isinstance(error, GraphError | CommitOutcomeUnknown):
            return error
        if _stopped(error):
            return timed_out()
        fault = fault_of(error)
        if fault is None:
            return _refused_text() if _unstorable(error) else error
        self._log(error)
        return _unavailable(fault)

    def on_commit(self, error: BaseException) -> BaseException:
        """COMMIT failed: refused by the server (rolled back, 503) or lost in flight (unknown, 500)."""
        if _stopped(error):
            return timed_out()
        fault = fault_of(error)
        if fault is None:
            return error
        self._log(error)
        if fault is Fault.NO_ROOM:
            return _unavailable(fault)
        unknown = CommitOutcomeUnknown(f"the connection was lost while COMMIT was in flight: {error}")
        unknown.__cause__ = error
        return unknown

    def for_caller(self, failed: BaseException) -> BaseException:
        """What one caller of a shared transaction that failed raises: a fresh copy of the outage that
        failed it (one exception object raised in many threads would collect all their tracebacks), or
        `failed` itself (group_commit.GroupCommitFailed) when the cause was no outage."""
        cause = failed.__cause__
        if isinstance(cause, ServiceUnavailable | GatewayTimeout):
            return type(cause)(cause.message, retry_after_s=cause.retry_after_s)
        if isinstance(cause, CommitOutcomeUnknown):
            return CommitOutcomeUnknown(*cause.args)
        return failed

    def _log(self, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._logged_at < _LOG_EVERY_S:
                return
            self._logged_at = now
        # The error chained to it is the cause when there is one (a savepoint lost to a full disk).
        cause = error.__cause__ if isinstance(error.__cause__, DBAPIError) else error
        logger.warning(
            "database unavailable: %s", (str(cause).strip() or type(cause).__name__).splitlines()[0]
        )


def pg_liveness_check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """The pool's checkout hook on PostgreSQL: an idle connection has nothing to read, so a socket with
    input means the server closed it (a restart, pg_terminate_backend: its notice, then EOF). Reading
    that input through libpq tells a dead connection from stray input (a notice, TLS records);
    DisconnectionError makes the pool open a fresh one, so no request fails on a connection that died
    while it was idle. One poll(2) per checkout (about 1 µs), where pool_pre_ping would cost a round
    trip to the server."""
    pgconn = dbapi_connection.pgconn
    for _ in range(3):
        # poll, not select: select(2) refuses descriptors above 1023, which a busy server reaches.
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN)
        if not poller.poll(0):
            return
        try:
            pgconn.consume_input()
        except Exception as error:
            raise DisconnectionError(f"pooled connection closed by the server: {error}") from error
    raise DisconnectionError("pooled connection keeps receiving input while idle")
