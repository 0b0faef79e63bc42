"""How async handlers call the blocking store and registry: BlockingCalls, one per application.

Calls run on a fixed pool of threads through asyncio's executor. Starlette's run_in_threadpool (anyio)
does the same with a capacity limiter, cancel scopes and context copying around every call, which
profiling showed costing several times the query itself on a point read; nothing here needs those.

Point reads (get by key) may run inline, on the event loop itself, when the database is an in-process
SQLite file: such a read is a B-tree lookup that never waits on the network, so the hop to a thread and
back (two GIL hand-offs and a loop wake-up) costs more than it saves. Everything that may take long (lists,
counts, writes, which wait for the write lock or the group commit) always goes to the pool.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class BlockingCalls:
    def __init__(self, *, threads: int, inline_point_reads: bool) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="graphtasks-store")
        self._inline_point_reads = inline_point_reads

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`call(*args, **kwargs)` on the pool; the handler resumes when it returns or raises."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(call, *args, **kwargs))

    async def point_read(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read of one row by its key: inline where that is cheaper (see the module docstring)."""
        if self._inline_point_reads:
            return call(*args, **kwargs)
        return await self.run(call, *args, **kwargs)

    def close(self) -> None:
        """Let the threads end once their current call returns (at the application's shutdown)."""
        self._executor.shutdown(wait=False)
