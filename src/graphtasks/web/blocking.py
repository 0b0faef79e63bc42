"""How async handlers call the blocking store and registry: BlockingCalls, one per application.

Calls run on a fixed pool of threads through asyncio's executor. Starlette's run_in_threadpool (anyio)
does the same with a capacity limiter, cancel scopes and context copying around every call, which
profiling showed costing several times the query itself on a point read; nothing here needs those.

Point reads (get by key) may run inline, on the event loop itself, when the database is an in-process
SQLite file: such a read is a B-tree lookup that never waits on the network, so the hop to a thread and
back (two GIL hand-offs and a loop wake-up) costs more than it saves. Everything that may take long (lists,
counts, writes, which wait for the write lock or the group commit) always goes to the pool.

Bounded (docs/resilience.md, "Storage threads per tenant"). The guard (web/guard.py) names the Caller
of each request: its tenant, and the client's side of its connection. A tenant holds at most
`tenant_concurrency` of the threads at once; its further calls wait their turn, so other tenants still
find threads. Calls no tenant is known for (the token endpoint, the admin endpoint, a key set fetched
before a token is judged) share one such allowance. And once a call other than a point read has run
for WATCH_AFTER_S, a watcher waits for the client to go: when it does, the call's reads are
interrupted (storage/outages.py, Interruption), its thread is back in the pool within moments, and the
handler gets ClientDisconnect, which the middleware answers with nothing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive

from graphtasks.storage.outages import Interruption, run_interruptibly

P = ParamSpec("P")
T = TypeVar("T")

# The allowance of the calls made for no known tenant.
UNATTRIBUTED = ""
# A call still running after this long gets a watcher for its client's leaving. A watcher costs a task
# and several turns of the event loop (about 40 µs a call, measured), so the many calls that end sooner
# go without; a client that leaves a slow query is noticed this much later.
WATCH_AFTER_S = 0.05


class ClientLink:
    """The client's side of one request, as its handler and a watcher share it. The watcher waits on
    the ASGI receive for `http.disconnect`, but only once the handler has read the whole body (or when
    the request has none): the watcher must never take a body message the handler still needs. The
    empty message of a request without a body, should the watcher get it first, is kept for the
    handler."""

    __slots__ = ("_body_unread", "_kept", "_receive", "gone")

    def __init__(self, receive: Receive, *, has_body: bool) -> None:
        self._receive = receive
        self._body_unread = has_body
        self._kept: list[Message] = []
        self.gone = False

    @property
    def watchable(self) -> bool:
        return not self._body_unread

    async def receive(self) -> Message:
        """The handler's ASGI receive."""
        if self._kept:
            return self._kept.pop(0)
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._body_unread = False
        elif message["type"] == "http.disconnect":
            self.gone = True
        return message

    async def wait_gone(self) -> None:
        """Return once the client has gone (a watcher's task; cancelled when the call ends first)."""
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.gone = True
                return
            # The body is read or was never sent, so all that can come is its empty last message. Should
            # anything more come, it is the handler's: kept, and the watch given up.
            self._kept.append(message)
            if len(self._kept) > 1 or message.get("body") or message.get("more_body"):
                return


@dataclass(slots=True)
class Caller:
    """Who the storage calls of the current request are made for (set by the guard for each request
    from outside; the requests inside a $batch are their batch's)."""

    tenant: str
    client: ClientLink | None = None


_CALLER: ContextVar[Caller | None] = ContextVar("graphtasks_caller", default=None)


def current_caller() -> Caller | None:
    return _CALLER.get()


def set_caller(caller: Caller) -> Token[Caller | None]:
    """Make `caller` the current request's; reset_caller(token) undoes it."""
    return _CALLER.set(caller)


def reset_caller(token: Token[Caller | None]) -> None:
    _CALLER.reset(token)


class _Allowance:
    """One tenant's share of the threads: a semaphore, and how many calls hold or await it (at zero
    the entry is dropped, so the table holds only tenants with calls in flight)."""

    __slots__ = ("semaphore", "users")

    def __init__(self, limit: int) -> None:
        self.semaphore = asyncio.Semaphore(limit)
        self.users = 0


class TenantAllowances:
    """At most `limit` calls in the pool per tenant; the rest wait, first come first served. Used on
    the event loop only."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._by_tenant: dict[str, _Allowance] = {}

    def __len__(self) -> int:
        return len(self._by_tenant)

    async def acquire(self, tenant: str) -> None:
        allowance = self._by_tenant.get(tenant)
        if allowance is None:
            allowance = self._by_tenant[tenant] = _Allowance(self._limit)
        allowance.users += 1
        try:
            await allowance.semaphore.acquire()
        except BaseException:
            self._leave(tenant, allowance)
            raise

    def release(self, tenant: str) -> None:
        allowance = self._by_tenant[tenant]
        allowance.semaphore.release()
        self._leave(tenant, allowance)

    def _leave(self, tenant: str, allowance: _Allowance) -> None:
        allowance.users -= 1
        if allowance.users == 0:
            del self._by_tenant[tenant]


class BlockingCalls:
    def __init__(self, *, threads: int, inline_point_reads: bool, tenant_concurrency: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="graphtasks-store")
        self._inline_point_reads = inline_point_reads
        self.allowances = TenantAllowances(tenant_concurrency)

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`call(*args, **kwargs)` on the pool; the handler resumes when it returns or raises."""
        return await self._in_pool(functools.partial(call, *args, **kwargs), watch=True)

    async def point_read(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read of one row by its key: inline where that is cheaper (see the module docstring), and
        never watched: it is over long before a watcher could matter."""
        if self._inline_point_reads:
            return call(*args, **kwargs)
        return await self._in_pool(functools.partial(call, *args, **kwargs), watch=False)

    async def _in_pool(self, work: Callable[[], T], *, watch: bool) -> T:
        caller = _CALLER.get()
        tenant = UNATTRIBUTED if caller is None else caller.tenant
        client = None if caller is None or not watch else caller.client
        if client is not None and client.gone:
            raise ClientDisconnect()
        await self.allowances.acquire(tenant)
        try:
            if client is None or not client.watchable:
                return await asyncio.get_running_loop().run_in_executor(self._executor, work)
            return await self._watched(work, client)
        finally:
            self.allowances.release(tenant)

    async def _watched(self, work: Callable[[], T], client: ClientLink) -> T:
        loop = asyncio.get_running_loop()
        interruption = Interruption()
        done = loop.run_in_executor(self._executor, run_interruptibly, interruption, work)
        watcher: asyncio.Task[None] | None = None

        def on_watch_ended(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is None and client.gone:
                # Off the loop, as PostgreSQL's cancel request is a connection of its own; and not on
                # the pool, which may be full.
                loop.run_in_executor(None, interruption.request)

        def watch() -> None:
            nonlocal watcher
            watcher = loop.create_task(client.wait_gone())
            watcher.add_done_callback(on_watch_ended)

        # Most calls are over before the watcher would start: they pay for a timer, not for a task.
        timer = loop.call_later(WATCH_AFTER_S, watch)
        try:
            return await done
        except Exception as error:
            if client.gone:
                raise ClientDisconnect() from error
            raise
        finally:
            timer.cancel()
            if watcher is not None:
                watcher.cancel()

    def close(self) -> None:
        """Let the threads end once their current call returns (at the application's shutdown)."""
        self._executor.shutdown(wait=False)
