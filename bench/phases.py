"""The suite's measuring phases for one backend, each on its own fresh database:

1. operations: the bare app, create, get by id, PATCH and the list page at each concurrency, one
   graphtasks server for all of them; the bare app is measured again at each concurrency, just before
   graphtasks, so each ratio compares two runs a few seconds apart;
2. durability: creates under --flush-to-disk / --no-flush-to-disk, each with --group-commit and
   --no-group-commit, one server per setting on one database;
3. curve: per size, a database seeded with that many tasks before the server starts, then creates
   and the list page.

Resident memory is sampled after each phase. Runs servers and wrk; prints progress to stderr only.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ratio
from bench.records import (
    GOAL_CONCURRENCY,
    OPERATIONS,
    PAGE_CONCURRENCY,
    BackendReport,
    CurvePoint,
    DurabilityRun,
    MemoryRecord,
    SuiteConfig,
)
from bench.servers import (
    Server,
    fresh_database,
    graphtasks_server,
    issue_token,
    memory_of,
    running,
    seed_database,
)
from bench.tasks import FIRST_PAGE_PATH, PATCH_BODY, sample_ids, stored_count
from bench.wrk import Result, Target, measure, path_lua, post_lua, rotating_lua

# (flush to disk, group commit): both flush settings, each with group commit on and off.
DURABILITY_SETTINGS = [(flush, group) for flush in (False, True) for group in (True, False)]


@dataclass(frozen=True)
class Pass:
    """One backend's pass: the settings, where files go, the bare app, the create body and the flags
    every graphtasks server of the pass gets (e.g. --workers)."""

    config: SuiteConfig
    backend: str
    workdir: Path
    bare: Server
    body: bytes
    serve_flags: tuple[str, ...] = ()
    started: float = field(default_factory=time.monotonic)

    def target(self, operation: str, url: str, lua: str, expected: int) -> Target:
        return Target(OPERATIONS[operation], self.backend, url, lua, expected)

    def create(self, server: Server, token: str) -> Target:
        return self.target("create", server.url, post_lua(self.body, token, 201), 201)

    def page(self, server: Server, token: str) -> Target:
        return self.target("list", server.url, path_lua(FIRST_PAGE_PATH, token), 200)

    def progress(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{self.backend} {elapsed:5.0f} s] {message}", file=sys.stderr, flush=True)


def run_backend(run: Pass) -> BackendReport:
    report = BackendReport(run.backend)
    run_operations(run, report)
    run_durability(run, report)
    run_curve(run, report)
    return report


@contextlib.contextmanager
def serving(run: Pass, name: str, database_url: str, flags: tuple[str, ...] = ()) -> Iterator[Server]:
    server = graphtasks_server(
        f"graphtasks {name} ({run.backend})", database_url, run.workdir, (*run.serve_flags, *flags)
    )
    with running(server):
        yield server


# --- 1. operations ----------------------------------------------------------------------------------


def run_operations(run: Pass, report: BackendReport) -> None:
    graphtasks, bare = MemoryRecord("graphtasks (operations)"), MemoryRecord("bare app")
    with fresh_database(run.backend, run.workdir, run.config.postgres_admin_url) as database_url:
        token = issue_token(database_url)
        with serving(run, "operations", database_url) as server:
            ids: list[str] = []
            for concurrency in run.config.concurrencies:
                run.progress(f"operations at concurrency {concurrency}")
                results, ids = operations_at(run, server, token, concurrency, ids)
                report.operations += results
                graphtasks.sample(f"after concurrency {concurrency}", memory_of(server.pid))
                bare.sample(f"after concurrency {concurrency}", memory_of(run.bare.pid))
    report.memory += [graphtasks, bare]


def operations_at(
    run: Pass, server: Server, token: str, concurrency: int, ids: list[str]
) -> tuple[list[Result], list[str]]:
    """bare, create, get, patch, list at one concurrency; get and patch rotate over the first 200
    tasks stored (the first create run made them). Returns the results and those ids."""
    load = run.config.load(concurrency)
    bare_target = run.target("bare", run.bare.url, post_lua(run.body, token, 201), 201)
    bare = measure(load, bare_target, run.bare, run.workdir)
    create = measure(load, run.create(server, token), server, run.workdir)
    ids = ids or sample_ids(server, token)
    by_id = [
        run.target("get", server.url, rotating_lua(ids, token), 200),
        run.target("patch", server.url, rotating_lua(ids, token, method="PATCH", body=PATCH_BODY), 204),
        run.page(server, token),
    ]
    results = [bare, create, *(measure(load, target, server, run.workdir) for target in by_id)]
    for result in results:
        result.ratio_to_bare = ratio(result.requests_per_s, bare.requests_per_s)
    return results, ids


# --- 2. durability ----------------------------------------------------------------------------------


def durability_flags(flush_to_disk: bool, group_commit: bool) -> tuple[str, ...]:
    return (
        "--flush-to-disk" if flush_to_disk else "--no-flush-to-disk",
        "--group-commit" if group_commit else "--no-group-commit",
    )


def run_durability(run: Pass, report: BackendReport) -> None:
    load = run.config.load(GOAL_CONCURRENCY)
    with fresh_database(run.backend, run.workdir, run.config.postgres_admin_url) as database_url:
        token = issue_token(database_url)
        for flush, group in DURABILITY_SETTINGS:
            flags = durability_flags(flush, group)
            run.progress(f"creates with {' '.join(flags)}")
            memory = MemoryRecord(f"graphtasks ({' '.join(flags)})")
            with serving(run, " ".join(flags), database_url, flags) as server:
                result = measure(load, run.create(server, token), server, run.workdir)
                memory.sample("after creates", memory_of(server.pid))
            report.durability.append(DurabilityRun(flush, group, result))
            report.memory.append(memory)


# --- 3. curve ---------------------------------------------------------------------------------------


def run_curve(run: Pass, report: BackendReport) -> None:
    for size in run.config.sizes:
        point, memory = curve_point(run, size)
        report.curve.append(point)
        report.memory.append(memory)


def curve_point(run: Pass, size: int) -> tuple[CurvePoint, MemoryRecord]:
    """Seed `size` tasks, serve, creates at GOAL_CONCURRENCY, then the page at PAGE_CONCURRENCY."""
    memory = MemoryRecord(f"graphtasks (curve, {size:,} seeded)")
    with fresh_database(run.backend, run.workdir, run.config.postgres_admin_url) as database_url:
        rows_per_s = None
        if size:
            run.progress(f"seeding {size:,} tasks")
            rows_per_s = seed_database(database_url, size, run.config.seed)[1]
        token = issue_token(database_url)
        with serving(run, f"curve {size}", database_url) as server:
            run.progress(f"curve at {size:,} stored tasks")
            create = measure(
                run.config.load(GOAL_CONCURRENCY), run.create(server, token), server, run.workdir
            )
            stored = stored_count(server, token)
            page = measure(run.config.load(PAGE_CONCURRENCY), run.page(server, token), server, run.workdir)
            memory.sample("after curve", memory_of(server.pid))
    return CurvePoint(size, rows_per_s, stored, create, page), memory
