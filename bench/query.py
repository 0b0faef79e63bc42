"""Query benchmark: OData list queries of graphtasks over a large seeded collection, next to get by id.

    python bench/query.py [--tasks 1000000] [--backend sqlite|postgres|both] [--duration 10] [--concurrency 8]

Per backend: a fresh database (a temp SQLite file, or a uniquely named PostgreSQL database dropped at
the end), `graphtasks seed` with --tasks tasks for one tenant, `graphtasks serve` as a subprocess and a
token from `graphtasks token`. Before any load, the answers are checked against the database (task count,
/$count) and the nextLink walk to the deep page is timed and checked page by page (100 pending tasks,
createdDateTime descending, no id twice). Then one wrk run per query (bench/load.py's Lua, which checks
that every status is 200): get by id (the reference), the first filtered and ordered page, the deep page
reached through nextLink, /$count with the filter, and a $select page.

Prints a Markdown table (requests/s, p50, p99, errors, p50 / get-by-id p50 of the same pass) and a
per-backend summary (seed rows/s, walk time, deep-page p50 / first-page p50, the project's goals next to
the measured figures, which are reported, never asserted), and writes bench/results/query-latest.json.
Exits 1 when a request failed or an answer was wrong; the tables are printed either way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import create_engine, func, select, text

if __package__ in {None, ""}:  # run as `python bench/query.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import source_version
from bench.query_model import (
    COUNT,
    COUNT_PATH,
    FIRST_PAGE,
    GET_BY_ID,
    SELECT,
    SELECT_PATH,
    BackendRun,
    PageChecker,
    Walk,
)
from bench.query_report import RESULTS_PATH, goals, header, results_table, summary_table, write_results
from bench.servers import (
    POSTGRES_ADMIN_URL,
    REPO_DIR,
    BenchError,
    Server,
    fresh_database,
    graphtasks_server,
    issue_token,
    running,
    seed_database,
)
from bench.tasks import FIRST_PAGE_PATH, PAGE_SIZE, STATUS, fetch
from bench.wrk import TASKS_PATH, Load, Target, get_lua, measure, path_lua, wrk_missing
from graphtasks.config import DEFAULT_TENANT
from graphtasks.storage.tables import row_values, tasks

# servers.issue_token asks `graphtasks token` for the default tenant, so the tasks are seeded for that one.
TENANT = DEFAULT_TENANT
GET_IDS = 200
SERIAL_REQUESTS = 25


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if wrk_missing("query.py"):
        return 2
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    load_before, source = os.getloadavg()[0], source_version()  # before the run: src/ may change
    runs: list[BackendRun] = []
    try:
        for backend in backends:
            runs.append(run_backend(args, backend))
    except BenchError as error:
        print(f"query.py: {error}", file=sys.stderr)
        return 1
    print(header(args, load_before, runs, source))
    print(results_table(runs))
    print()
    print(summary_table(runs))
    print(goals(runs, args.concurrency))
    for run in runs:
        for note in run.notes:
            print(f"NOTE [{run.backend}]: {note}")
        for problem in run.problems:
            print(f"PROBLEM [{run.backend}]: {problem}")
    write_results(args, runs, load_before, source)
    print(f"\nwritten to {RESULTS_PATH.relative_to(REPO_DIR)}")
    failed = any(r.errors for run in runs for r in run.results) or any(run.problems for run in runs)
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=1_000_000, help="tasks to seed (one tenant)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    parser.add_argument("--concurrency", type=int, default=8, help="open connections (wrk -c)")
    parser.add_argument("--threads", type=int, choices=[1, 2], default=1, help="wrk threads (wrk -t)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load before each run")
    parser.add_argument("--page", type=int, default=500, help="the deep page, reached through nextLink")
    parser.add_argument("--seed", type=int, default=0, help="graphtasks seed --seed")
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL, help="creates/drops the db")
    args = parser.parse_args(argv)
    if args.concurrency < args.threads:
        parser.error("--concurrency must be at least --threads")
    if args.tasks < 1 or args.page < 2:
        parser.error("--tasks must be at least 1 and --page at least 2")
    return args


def run_backend(args: argparse.Namespace, backend: str) -> BackendRun:
    """Fresh database, seed, serve, check the answers, walk to the deep page, then the wrk runs."""
    run = BackendRun(backend, args.tasks)
    load = Load(args.concurrency, args.duration, args.warmup, args.threads)
    with (
        tempfile.TemporaryDirectory(prefix="graphtasks-query-bench-") as tmp,
        fresh_database(backend, Path(tmp), args.postgres_admin_url) as database_url,
    ):
        workdir = Path(tmp)
        print(f"[{backend}] seeding {args.tasks:,} tasks ...", file=sys.stderr, flush=True)
        run.seed_seconds, run.seed_rows_per_s = seed_database(database_url, args.tasks, args.seed)
        server = graphtasks_server(f"graphtasks ({backend})", database_url, workdir)
        with running(server):
            token = issue_token(database_url)
            print(f"[{backend}] checking answers, walking nextLinks ...", file=sys.stderr, flush=True)
            ids = check_and_walk(run, server, token, database_url, args.page)
            run.database = database_notes(database_url)
            run.load_average_before_wrk = os.getloadavg()[0]
            print(f"[{backend}] wrk runs ...", file=sys.stderr, flush=True)
            for target in targets(run, server, token, ids):
                run.results.append(measure(load, target, server, workdir))
    return run


def check_and_walk(run: BackendRun, server: Server, token: str, database_url: str, page: int) -> list[str]:
    """Checks the answers, walks to the deep page, times page 1 and the deep page one request at a
    time; returns the ids for get by id."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60.0) as client:
        check_answers(run, client, database_url)
        run.walk = walk(client, page, run)
        run.serial_first_page_ms = serial_p50(client, FIRST_PAGE_PATH)
        run.serial_deep_page_ms = serial_p50(client, run.walk.path)
        return sample_ids(client)


def check_answers(run: BackendRun, client: httpx.Client, database_url: str) -> None:
    """The seeded count and /$count against the database itself, and the size of the $select page."""
    stored, pending = database_counts(database_url)
    if stored != run.tasks:
        run.problems.append(f"the database holds {stored} tasks of the tenant, seeded {run.tasks}")
    run.matching = int(fetch(client, COUNT_PATH).text)
    if run.matching != pending:
        run.problems.append(f"/$count answered {run.matching}, the database holds {pending} {STATUS}")
    selected: list[dict[str, Any]] = fetch(client, SELECT_PATH).json()["value"]
    if len(selected) != min(PAGE_SIZE, run.tasks):
        run.problems.append(f"$select page: {len(selected)} tasks, expected {PAGE_SIZE}")
    # annotations (@odata.type, @odata.etag) are not properties: $select leaves them in
    extra = {key for item in selected for key in item if not key.startswith("@")} - {"displayName", "status"}
    if extra:
        run.problems.append(f"$select=displayName,status answered other properties too: {sorted(extra)}")


def database_counts(database_url: str) -> tuple[int, int]:
    """The tenant's tasks, and its pending ones, read from the database directly (not through OData)."""
    status = row_values({"status": STATUS})[tasks.c.status.name]
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            total = select(func.count()).select_from(tasks).where(tasks.c.tenant_id == TENANT.lower())
            stored = int(conn.execute(total).scalar_one())
            pending = int(conn.execute(total.where(tasks.c.status == status)).scalar_one())
    finally:
        engine.dispose()
    return stored, pending


def walk(client: httpx.Client, page: int, run: BackendRun) -> Walk:
    """Page 1, then nextLink after nextLink up to `page`. If the query has fewer pages, the deep page
    is the last full one (the last page holds the remainder, which would flatter its latency)."""
    result, checker = Walk(requested_page=page), PageChecker()
    body: dict[str, Any] = fetch(client, FIRST_PAGE_PATH).json()
    checker.check(1, body, run.problems)
    while result.links_followed + 1 < page and "@odata.nextLink" in body:
        link = urlsplit(body["@odata.nextLink"])
        path = f"{link.path}?{link.query}"
        started = time.perf_counter()
        response = fetch(client, path)
        result.seconds += time.perf_counter() - started
        result.links_followed += 1
        body = response.json()
        checker.check(result.links_followed + 1, body, run.problems)
        if "@odata.nextLink" in body or result.links_followed + 1 == page:
            result.reached_page, result.path = result.links_followed + 1, path
    if result.reached_page < page:
        run.notes.append(
            f"the filtered query has only {result.links_followed + 1} pages of up to {PAGE_SIZE} at "
            f"{run.tasks:,} tasks: measured page {result.reached_page} (the last full one), not {page}"
        )
    return result


def serial_p50(client: httpx.Client, path: str, count: int = SERIAL_REQUESTS) -> float:
    """The median latency of `count` requests one after another (no queueing), in ms, httpx included."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        fetch(client, path)
        latencies.append((time.perf_counter() - started) * 1000)
    return statistics.median(latencies)


def sample_ids(client: httpx.Client) -> list[str]:
    """About 200 ids, every fifth of the first 1000 tasks in the default order (oldest first)."""
    found = [item["id"] for item in fetch(client, f"{TASKS_PATH}?$select=id&$top=1000").json()["value"]]
    if not found:
        raise BenchError("no tasks to get by id")
    return found[:: max(1, len(found) // GET_IDS)][:GET_IDS]


def targets(run: BackendRun, server: Server, token: str, ids: list[str]) -> list[Target]:
    deep = run.walk or Walk(requested_page=1)
    paths = [
        (FIRST_PAGE, FIRST_PAGE_PATH),
        (deep.label, deep.path),
        (COUNT, COUNT_PATH),
        (SELECT, SELECT_PATH),
    ]
    return [
        Target(GET_BY_ID, run.backend, server.url, get_lua(ids, token), 200),
        *(Target(name, run.backend, server.url, path_lua(path, token), 200) for name, path in paths),
    ]


def database_notes(database_url: str) -> dict[str, Any]:
    """Size and planner statistics of the database at measuring time (they explain plans and speed)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                pages = conn.execute(text("PRAGMA page_count")).scalar_one()
                size = int(pages) * int(conn.execute(text("PRAGMA page_size")).scalar_one())
                stat = conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
                return {"size_mb": round(size / 2**20), "analyzed": bool(stat.scalar_one())}
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            stats = conn.execute(
                text(
                    "SELECT coalesce(last_analyze, last_autoanalyze) IS NOT NULL, "
                    "coalesce(last_vacuum, last_autovacuum) IS NOT NULL, current_setting('autovacuum') "
                    "FROM pg_stat_user_tables WHERE relname = 'tasks'"
                )
            ).one()
            return {
                "size_mb": round(int(size) / 2**20),
                "analyzed": bool(stats[0]),
                "vacuumed": bool(stats[1]),
                "autovacuum": str(stats[2]),
            }
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
