"""CPU per request, in process: what graphtasks itself spends on each hot operation, with no socket,
no HTTP parser and no load generator taking the same cores.

    python bench/budget.py [--requests 3000] [--profile OPERATION]

The application is made by create_app on a fresh SQLite file, as `graphtasks serve` makes it (journal
on, throttling off), and called directly as an ASGI app, one request at a time, on this process's
event loop (uvloop when installed, as uvicorn runs it). The token cache is warmed first. For each
operation, after a warm-up, CPU time (time.process_time: every thread of the process, so the storage
threads count) is read over `--requests` requests and divided by their number, and so is the event
loop thread's own (time.thread_time): the difference ran on the storage threads, which cProfile does
not see. Each figure is compared with its budget. `--profile OPERATION` prints cProfile's view of that
operation instead.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import render_table
from bench.tasks import CREATE_BODY_PATH
from graphtasks.app import create_app, open_backend
from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import TokenRequest, issue_token
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT, Settings

ORIGIN = "http://graphtasks.bench"
TASKS = "/beta/deviceAppManagement/deviceAppManagementTasks"
PAGE_QUERY = b"$filter=status eq 'pending'&$orderby=createdDateTime desc&$top=100"
PATCH_BODY = b'{"@odata.type": "#microsoft.graph.securityConfigurationTask", "displayName": "Renamed"}'
STATUS_BODY = b'{"status": "active", "note": "picked up"}'
# Requests a page of 100 is measured over: each costs about a hundred of the others.
PAGE_SHARE = 50


@dataclass(frozen=True)
class Operation:
    name: str
    budget_us: float
    method: str
    path: Callable[[str], str]  # from a task id
    body: bytes = b""
    query: bytes = b""
    status: int = 200


OPERATIONS = (
    Operation("get by id", 60, "GET", lambda i: f"{TASKS}/{i}"),
    Operation("create", 120, "POST", lambda _: TASKS, CREATE_BODY_PATH.read_bytes(), status=201),
    Operation("PATCH", 150, "PATCH", lambda i: f"{TASKS}/{i}", PATCH_BODY, status=204),
    Operation("updateStatus", 100, "POST", lambda i: f"{TASKS}/{i}/updateStatus", STATUS_BODY, status=204),
    Operation("page of 100", 1500, "GET", lambda _: TASKS, query=PAGE_QUERY),
)


@dataclass(frozen=True)
class Figure:
    operation: Operation
    cpu_us: float
    wall_us: float
    # Of cpu_us, what the event loop's thread spent; the rest ran on the storage threads.
    loop_us: float


class Caller:
    """Calls the ASGI app as uvicorn would, with a whole body, and checks each answer's status."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        host = ORIGIN.split("://", 1)[1].encode()
        self.headers = [
            (b"host", host),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
        ]

    async def call(self, operation: Operation, task_id: str) -> bytes:
        body, path = operation.body, operation.path(task_id)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": operation.method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": operation.query,
            "root_path": "",
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("graphtasks.bench", 80),
            "state": {},
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # as a client that stays connected
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        answer = b"".join(chunks)
        if status != operation.status:
            raise RuntimeError(f"{operation.name}: {status} {answer[:300]!r}")
        return answer


async def measure(caller: Caller, operation: Operation, ids: list[str], requests: int) -> Figure:
    count = max(requests // PAGE_SHARE, 20) if operation.name == "page of 100" else requests
    for n in range(min(count, 200)):  # warm-up: caches, statements, the allocator
        await caller.call(operation, ids[n % len(ids)])
    cpu, loop, wall = time.process_time(), time.thread_time(), time.perf_counter()
    for n in range(count):
        await caller.call(operation, ids[n % len(ids)])
    cpu, loop = time.process_time() - cpu, time.thread_time() - loop
    wall = time.perf_counter() - wall
    return Figure(operation, cpu / count * 1e6, wall / count * 1e6, loop / count * 1e6)


async def created_ids(caller: Caller, count: int) -> list[str]:
    create = next(o for o in OPERATIONS if o.name == "create")
    return [json.loads(await caller.call(create, ""))["id"] for _ in range(count)]


async def run(requests: int, profile: str | None, workdir: Path) -> list[Figure]:
    settings = Settings(database_url=f"sqlite:///{workdir / 'budget.db'}", base_url=ORIGIN, request_log=False)
    backend = open_backend(settings)
    app = create_app(settings, backend=backend)
    try:
        token = issue_token(
            backend.keys,
            TokenRequest(tenant_id=DEFAULT_TENANT, roles=ALL_PERMISSIONS),
            issuer_base=DEFAULT_ISSUER,
        )
        caller = Caller(app, token)
        ids = await created_ids(caller, 200)
        if profile is not None:
            operation = next(o for o in OPERATIONS if o.name == profile)
            await measure(caller, operation, ids, 200)
            profiler = cProfile.Profile()
            profiler.enable()
            await measure(caller, operation, ids, requests)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            return []
        return [await measure(caller, operation, ids, requests) for operation in OPERATIONS]
    finally:
        app.close()


def measure_budgets(requests: int = 3000, profile: str | None = None) -> list[Figure]:
    """Each operation's CPU per request, on a fresh database made here and removed after."""
    with tempfile.TemporaryDirectory(prefix="graphtasks-budget-") as tmp:
        runner = _event_loop_runner()
        return runner(run(requests, profile, Path(tmp)))


def _event_loop_runner() -> Callable[[Any], list[Figure]]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run
    return lambda coroutine: uvloop.run(coroutine)


def rows(figures: Sequence[Figure]) -> list[dict[str, object]]:
    """The figures as the suite's JSON records them."""
    return [
        {"operation": f.operation.name, "cpu_us": round(f.cpu_us, 1), "wall_us": round(f.wall_us, 1),
         "loop_us": round(f.loop_us, 1), "budget_us": f.operation.budget_us}
        for f in figures
    ]  # fmt: skip


def render(records: Sequence[dict[str, Any]]) -> str:
    """The Markdown table of `rows(...)`: each operation's CPU time per request beside its budget."""
    table = [
        [
            str(r["operation"]),
            f"{r['cpu_us']:,.0f}",
            f"{r['budget_us']:,.0f}",
            f"{r['cpu_us'] / r['budget_us']:.2f}",
            _split(r),
            f"{r['wall_us']:,.0f}",
            "met" if r["cpu_us"] <= r["budget_us"] else "not met",
        ]
        for r in records
    ]
    columns = [
        "operation", "CPU µs/request", "budget µs", "to budget", "event loop / storage threads µs",
        "wall µs/request", "status",
    ]  # fmt: skip
    return render_table(columns, table, numeric=[False, True, True, True, True, True, False])


def _split(record: dict[str, Any]) -> str:
    """Where the CPU went: the event loop's thread and the storage threads (older records: unknown)."""
    loop = record.get("loop_us")
    if loop is None:
        return "-"
    return f"{loop:,.0f} / {max(record['cpu_us'] - loop, 0):,.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per operation")
    parser.add_argument("--profile", choices=[o.name for o in OPERATIONS], help="cProfile one operation")
    args = parser.parse_args(argv)
    figures = measure_budgets(args.requests, args.profile)
    if figures:
        print(render(rows(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
