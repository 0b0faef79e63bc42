"""web/blocking.py: a tenant's calls beyond its allowance wait while other tenants' run, the allowance
table keeps only tenants with calls in flight, the watcher never takes a body the handler has yet to
read, and a call whose client leaves has its reads interrupted (a real SQLite query here), its thread
freed, and its caller told ClientDisconnect."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from starlette.requests import ClientDisconnect
from starlette.types import Message

from graphtasks.storage.engine import Database, open_database
from graphtasks.web.blocking import (
    BlockingCalls,
    Caller,
    ClientLink,
    TenantAllowances,
    reset_caller,
    set_caller,
)

T = TypeVar("T")
WAIT_S = 10.0
# A recursive count to 10^9: minutes, unless interrupted.
ENDLESS = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
    "SELECT count(*) FROM n"
)


def run(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(main(), WAIT_S))


class FakeClient:
    """An ASGI receive: the request's body messages, then nothing until `leave()`."""

    def __init__(self, *bodies: bytes) -> None:
        self.messages: list[Message] = [
            {"type": "http.request", "body": body, "more_body": i < len(bodies) - 1}
            for i, body in enumerate(bodies)
        ] or [{"type": "http.request", "body": b"", "more_body": False}]
        self.left = asyncio.Event()

    async def receive(self) -> Message:
        if self.messages:
            return self.messages.pop(0)
        await self.left.wait()
        return {"type": "http.disconnect"}

    def leave(self) -> None:
        self.left.set()


class Gate:
    """A blocking call that says when it starts and ends only when let go."""

    def __init__(self) -> None:
        self.started, self.go = threading.Event(), threading.Event()

    def __call__(self) -> str:
        self.started.set()
        assert self.go.wait(WAIT_S)
        return "done"


async def as_caller(caller: Caller, call: Awaitable[T]) -> T:
    token = set_caller(caller)
    try:
        return await call
    finally:
        reset_caller(token)


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)


# --- the allowance table ---


def test_a_tenant_past_its_allowance_waits_and_another_tenant_does_not() -> None:
    async def main() -> tuple[list[str], int]:
        allowances, entered = TenantAllowances(2), []
        release = {name: asyncio.Event() for name in ("a0", "a1", "a2", "b0")}

        async def call(name: str) -> None:
            await allowances.acquire(name[0])
            entered.append(name)
            await release[name].wait()
            allowances.release(name[0])

        tasks = [asyncio.create_task(call(name)) for name in release]
        await until(lambda: len(entered) == 3)
        await asyncio.sleep(0.01)
        assert entered == ["a0", "a1", "b0"]  # a2 waits for one of a's two; b0 does not
        release["a0"].set()
        await until(lambda: len(entered) == 4)
        for event in release.values():
            event.set()
        await asyncio.gather(*tasks)
        return entered, len(allowances)

    assert run(main) == (["a0", "a1", "b0", "a2"], 0)


def test_the_table_drops_a_tenant_with_nothing_in_flight_even_after_a_cancelled_wait() -> None:
    async def main() -> int:
        allowances = TenantAllowances(1)
        await allowances.acquire("a")
        waiting = asyncio.create_task(allowances.acquire("a"))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        allowances.release("a")
        return len(allowances)

    assert run(main) == 0


# --- the client's side of a request ---


def test_the_watcher_waits_until_the_handler_has_read_the_body() -> None:
    async def main() -> None:
        client = FakeClient(b'{"a":', b"1}")
        link = ClientLink(client.receive, has_body=True)
        assert not link.watchable
        assert (await link.receive())["body"] == b'{"a":'
        assert not link.watchable
        assert (await link.receive())["body"] == b"1}"
        assert link.watchable

    run(main)


def test_the_empty_message_of_a_bodiless_request_is_kept_for_the_handler() -> None:
    async def main() -> None:
        client = FakeClient()
        link = ClientLink(client.receive, has_body=False)
        watcher = asyncio.create_task(link.wait_gone())
        await until(lambda: not client.messages)
        assert not watcher.done() and not link.gone
        client.leave()
        await watcher
        assert link.gone
        assert await link.receive() == {"type": "http.request", "body": b"", "more_body": False}

    run(main)


# --- calls ---


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'calls.db'}")
    yield database
    database.dispose()


def endless_read(db: Database) -> int:
    with db.read() as conn:
        return int(conn.exec_driver_sql(ENDLESS).scalar_one())


def test_a_call_whose_client_leaves_is_interrupted_and_its_thread_freed(db: Database) -> None:
    async def main() -> tuple[str, float]:
        calls = BlockingCalls(threads=1, inline_point_reads=False, tenant_concurrency=1)
        client = FakeClient()
        caller = Caller("a", ClientLink(client.receive, has_body=False))
        query = asyncio.create_task(as_caller(caller, calls.run(endless_read, db)))
        await asyncio.sleep(0.2)  # the query is under way
        client.leave()
        left = time.monotonic()
        with pytest.raises(ClientDisconnect):
            await query
        # The pool's only thread and the tenant's only slot are free again.
        after = await as_caller(Caller("a"), calls.run(lambda: "next"))
        calls.close()
        return after, time.monotonic() - left

    after, elapsed = run(main)
    assert after == "next"
    assert elapsed < 1.0


def test_a_call_for_a_client_already_gone_is_not_run() -> None:
    async def main() -> None:
        calls = BlockingCalls(threads=1, inline_point_reads=False, tenant_concurrency=1)
        link = ClientLink(FakeClient().receive, has_body=False)
        link.gone = True
        ran: list[bool] = []
        with pytest.raises(ClientDisconnect):
            await as_caller(Caller("a", link), calls.run(lambda: ran.append(True)))
        # A point read is over before a watcher could matter: it runs, unwatched.
        assert await as_caller(Caller("a", link), calls.point_read(lambda: "read")) == "read"
        calls.close()
        assert ran == []

    run(main)


@pytest.mark.parametrize(
    ("second", "runs_at_once"),
    [
        (Caller("b"), True),  # another tenant
        (Caller("a"), False),  # the same tenant, at its allowance of one
        (None, True),  # no tenant known: the unattributed allowance
    ],
    ids=["other tenant", "same tenant", "unattributed"],
)
def test_whose_calls_wait_for_a_tenant_at_its_allowance(second: Caller | None, runs_at_once: bool) -> None:
    async def main() -> bool:
        calls = BlockingCalls(threads=4, inline_point_reads=False, tenant_concurrency=1)
        first, then = Gate(), Gate()
        holding = asyncio.create_task(as_caller(Caller("a"), calls.run(first)))
        await until(first.started.is_set)
        waiting = asyncio.create_task(
            calls.run(then) if second is None else as_caller(second, calls.run(then))
        )
        started = await asyncio.to_thread(then.started.wait, 0.3)
        first.go.set()
        then.go.set()
        assert list(await asyncio.gather(holding, waiting)) == ["done", "done"]
        assert len(calls.allowances) == 0
        calls.close()
        return started

    assert run(main) is runs_at_once


def test_calls_without_a_tenant_share_one_allowance() -> None:
    async def main() -> bool:
        calls = BlockingCalls(threads=4, inline_point_reads=False, tenant_concurrency=1)
        first, then = Gate(), Gate()
        holding = asyncio.create_task(calls.run(first))
        await until(first.started.is_set)
        waiting = asyncio.create_task(calls.run(then))
        started = await asyncio.to_thread(then.started.wait, 0.3)
        first.go.set()
        then.go.set()
        await asyncio.gather(holding, waiting)
        calls.close()
        return started

    assert run(main) is False
