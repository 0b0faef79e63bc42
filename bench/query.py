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
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from sqlalchemy import create_engine, func, select, text

if __package__ in {None, ""}:  # run as `python bench/query.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import render_table
from bench.load import (
    LUA_COMMON,
    POSTGRES_ADMIN_URL,
    REPO_DIR,
    TASKS_PATH,
    BenchError,
    Result,
    Server,
    Target,
    fresh_database,
    get_lua,
    issue_token,
    lua_prelude,
    lua_string,
    measure,
    running,
    wrk_version,
)
from graphtasks.config import DEFAULT_TENANT
from graphtasks.storage.tables import row_values, tasks

RESULTS_PATH = REPO_DIR / "bench" / "results" / "query-latest.json"
# load.issue_token asks `graphtasks token` for the default tenant, so the tasks are seeded for that one.
TENANT = DEFAULT_TENANT
STATUS = "pending"
PAGE_SIZE = 100
GET_IDS = 200
SERIAL_REQUESTS = 25
ANALYZED = "graphtasks seed ends with ANALYZE (SQLite) / VACUUM ANALYZE (PostgreSQL)"
SEED_LINE = re.compile(r"seeded (\d+) tasks .* in ([\d.]+) s \(([\d,]+)/s\)")
# Graph clients send these characters as they are; everything else in an option value is %-encoded.
QUERY_SAFE = "$,'()"

GET_BY_ID = "get by id"
FIRST_PAGE = "page 1: $filter + $orderby, $top=100"
COUNT = "/$count with $filter"
SELECT = "$select=displayName,status, $top=100"


def query_path(path: str, options: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(options, quote_via=quote, safe=QUERY_SAFE)}"


PAGE_OPTIONS = [
    ("$filter", f"status eq '{STATUS}'"),
    ("$orderby", "createdDateTime desc"),
    ("$top", str(PAGE_SIZE)),
]
FIRST_PAGE_PATH = query_path(TASKS_PATH, PAGE_OPTIONS)
COUNT_PATH = query_path(f"{TASKS_PATH}/$count", PAGE_OPTIONS[:1])
SELECT_PATH = query_path(TASKS_PATH, [("$select", "displayName,status"), ("$top", str(PAGE_SIZE))])


@dataclass
class Walk:
    """Following @odata.nextLink from page 1 to the deep page; the time is the requests' alone."""

    requested_page: int
    reached_page: int = 1
    links_followed: int = 0
    seconds: float = 0.0
    path: str = FIRST_PAGE_PATH

    @property
    def per_page_ms(self) -> float:
        return self.seconds * 1000 / self.links_followed if self.links_followed else 0.0

    @property
    def label(self) -> str:
        return f"page {self.reached_page} via nextLink, $top=100"


def instant(value: str) -> str:
    """A UTC DateTimeOffset as text that sorts in time order: graphtasks writes up to 7 fractional
    digits with trailing zeros trimmed ('...:06.79Z'), so the fraction is padded back to 7."""
    seconds, _, fraction = value.removesuffix("Z").partition(".")
    return f"{seconds}.{fraction:0<7}"


@dataclass
class PageChecker:
    """Checks the pages of the filtered query in order: full (but the last), pending, createdDateTime
    descending, no id twice."""

    seen: set[str] = field(default_factory=set)
    last_created: str | None = None

    def check(self, number: int, body: dict[str, Any], problems: list[str]) -> None:
        items: list[dict[str, Any]] = body.get("value", [])
        if len(items) != PAGE_SIZE and "@odata.nextLink" in body:
            problems.append(f"page {number}: {len(items)} tasks and a nextLink, expected {PAGE_SIZE}")
        if not 0 < len(items) <= PAGE_SIZE:
            problems.append(f"page {number}: {len(items)} tasks, expected 1 to {PAGE_SIZE}")
        for item in items:
            if item.get("status") != STATUS:
                problems.append(f"page {number}: task {item.get('id')} has status {item.get('status')!r}")
            if item["id"] in self.seen:
                problems.append(f"page {number}: task {item['id']} was already on an earlier page")
            created = instant(str(item.get("createdDateTime")))
            if self.last_created is not None and created > self.last_created:
                problems.append(f"page {number}: createdDateTime {created} after {self.last_created}")
            self.seen.add(item["id"])
            self.last_created = created


@dataclass
class BackendRun:
    """Everything measured and checked on one backend, as printed and written to the JSON file."""

    backend: str
    tasks: int
    seed_seconds: float = 0.0
    seed_rows_per_s: float = 0.0
    matching: int | None = None
    walk: Walk | None = None
    database: dict[str, Any] = field(default_factory=dict)
    load_average_before_wrk: float = 0.0
    results: list[Result] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Not failures: e.g. too few tasks for the deep page asked for.
    notes: list[str] = field(default_factory=list)
    serial_first_page_ms: float | None = None
    serial_deep_page_ms: float | None = None

    def p50(self, query: str) -> float | None:
        return next((r.p50_ms for r in self.results if r.target == query), None)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("query.py: wrk is not on PATH; install it with: apt-get install -y wrk", file=sys.stderr)
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
    with (
        tempfile.TemporaryDirectory(prefix="graphtasks-query-bench-") as tmp,
        fresh_database(backend, Path(tmp), args.postgres_admin_url) as database_url,
    ):
        workdir = Path(tmp)
        print(f"[{backend}] seeding {args.tasks:,} tasks ...", file=sys.stderr, flush=True)
        run.seed_seconds, run.seed_rows_per_s = seed(database_url, args.tasks, args.seed)
        command = [sys.executable, "-m", "graphtasks", "serve", "--database", database_url]
        server = Server(f"graphtasks ({backend})", command, workdir / f"graphtasks-{backend}.log")
        with running(server, ready_path="/common/discovery/v2.0/keys"):
            token = issue_token(database_url)
            print(f"[{backend}] checking answers, walking nextLinks ...", file=sys.stderr, flush=True)
            ids = check_and_walk(run, server, token, database_url, args.page)
            run.database = database_notes(database_url)
            run.load_average_before_wrk = os.getloadavg()[0]
            print(f"[{backend}] wrk runs ...", file=sys.stderr, flush=True)
            for target in targets(run, server, token, ids):
                run.results.append(measure(args, target, server, workdir))
    return run


def seed(database_url: str, count: int, seed_value: int) -> tuple[float, float]:
    """`graphtasks seed`, before the server starts; returns the seconds and rows/s it printed."""
    command = [sys.executable, "-m", "graphtasks", "seed", "--database", database_url]
    command += ["--count", str(count), "--tenant", TENANT, "--seed", str(seed_value)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO_DIR)
    match = SEED_LINE.search(completed.stdout)
    if completed.returncode != 0 or match is None:
        raise BenchError(
            f"graphtasks seed failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )
    print(f"  {completed.stdout.strip()}", file=sys.stderr, flush=True)
    return float(match.group(2)), float(match.group(3).replace(",", ""))


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
    extra = {key for item in selected for key in item} - {"@odata.type", "displayName", "status"}
    if extra:
        run.problems.append(f"$select=displayName,status answered other properties too: {sorted(extra)}")


def fetch(client: httpx.Client, path: str) -> httpx.Response:
    response = client.get(path)
    if response.status_code != 200:
        raise BenchError(f"GET {path} -> {response.status_code} {response.text[:400]}")
    return response


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


def path_lua(path: str, token: str) -> str:
    """GET the same path and query on every request; every answer must be 200."""
    return lua_prelude("GET", token, 200) + f"wrk.path = {lua_string(path)}\n" + LUA_COMMON


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


# --- output -----------------------------------------------------------------------------------------


def ratio(value: float | None, reference: float | None) -> float | None:
    return value / reference if value is not None and reference else None


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def source_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes (others work in the same tree)."""
    git = ["git", "-C", str(REPO_DIR)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "src"], capture_output=True, text=True, check=False
    )
    commit = head.stdout.strip() or "unknown commit"
    return f"{commit} + uncommitted changes in src/" if dirty.stdout.strip() else commit


def header(args: argparse.Namespace, load_before: float, runs: list[BackendRun], source: str) -> str:
    loads = ", ".join(f"{run.backend} {run.load_average_before_wrk:.2f}" for run in runs)
    return (
        f"\n## graphtasks query benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"- data: {args.tasks:,} tasks of one tenant (graphtasks seed --seed {args.seed}), "
        f"{ANALYZED}\n"
        f"- load generator: {wrk_version()}, {args.threads} thread(s), {args.concurrency} connections, "
        f"{args.duration} s per run after {args.warmup} s warm-up; every status must be 200\n"
        f"- server: graphtasks serve (uvicorn, 1 worker, no access log) at {source}, "
        f"Python {platform.python_version()}\n"
        f"- machine: {os.cpu_count()} cores, shared by wrk, the server and the database; figures are "
        f"closed-loop, p50 includes queueing. 1-min load average before seeding {load_before:.2f}, "
        f"before the wrk runs: {loads}\n"
        "- ratio = p50 / get-by-id p50 of the same backend and run\n"
    )


def results_table(runs: list[BackendRun]) -> str:
    columns = ["query", "backend", "requests/s", "p50 ms", "p99 ms", "errors", "p50 / get-by-id p50"]
    rows = [
        [
            r.target, r.backend, f"{r.requests_per_s:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}",
            str(r.errors), fmt(ratio(r.p50_ms, run.p50(GET_BY_ID))),
        ]
        for run in runs
        for r in run.results
    ]  # fmt: skip
    return render_table(columns, rows, numeric=[False, False, True, True, True, True, True])


def summary_table(runs: list[BackendRun]) -> str:
    columns = [
        "backend", "tasks", "seed rows/s", f"{STATUS} (/$count)", "deep page", "walk total s",
        "walk ms/page", "serial p50 ms page 1 / deep", "deep / page-1 p50 (wrk)", "(serial)",
    ]  # fmt: skip
    rows = []
    for run in runs:
        walk = run.walk or Walk(requested_page=0)
        serial = f"{fmt(run.serial_first_page_ms)} / {fmt(run.serial_deep_page_ms)}"
        rows.append(
            [
                run.backend, f"{run.tasks:,}", f"{run.seed_rows_per_s:,.0f}", fmt(run.matching, ","),
                str(walk.reached_page), f"{walk.seconds:.2f}", f"{walk.per_page_ms:.2f}", serial,
                fmt(deep_ratio(run)), fmt(ratio(run.serial_deep_page_ms, run.serial_first_page_ms)),
            ]
        )  # fmt: skip
    return render_table(columns, rows, numeric=[False, *[True] * 9])


def deep_ratio(run: BackendRun) -> float | None:
    """The deep page's wrk p50 over page 1's, from the same backend and run."""
    return ratio(run.p50((run.walk or Walk(requested_page=0)).label), run.p50(FIRST_PAGE))


def verdict(value: float | None, limit: float, unit: str) -> str:
    met = "met" if value is not None and value <= limit else "not met"
    return f"{fmt(value)}{unit} ({met})"


def goals(runs: list[BackendRun], concurrency: int) -> str:
    """The project's goals next to this run's figures: reported, never asserted."""
    lines = ["", "Goals (reported, not asserted; wrk p50 at saturation includes queueing):"]
    for run in runs:
        page = (run.walk or Walk(requested_page=0)).reached_page
        if run.backend == "sqlite":
            scale = (
                ""
                if run.tasks == 1_000_000
                else f"; the goal is at 1,000,000 tasks, this run has {run.tasks:,}"
            )
            lines.append(
                f"- [sqlite] page of 100 with an indexed filter, p50 < 20 ms: "
                f"wrk at {concurrency} connections {verdict(run.p50(FIRST_PAGE), 20, ' ms')}, "
                f"one request at a time {verdict(run.serial_first_page_ms, 20, ' ms')}{scale}"
            )
        serial = ratio(run.serial_deep_page_ms, run.serial_first_page_ms)
        lines.append(
            f"- [{run.backend}] page {page} within 1.5x of page 1 (p50): "
            f"wrk {verdict(deep_ratio(run), 1.5, 'x')}, "
            f"one request at a time {verdict(serial, 1.5, 'x')}"
        )
    return "\n".join(lines)


def write_results(args: argparse.Namespace, runs: list[BackendRun], load_before: float, source: str) -> None:
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    backends = []
    for run in runs:
        document = asdict(run)
        document["walk"] = (
            None if run.walk is None else {**asdict(run.walk), "per_page_ms": run.walk.per_page_ms}
        )
        document["results"] = [
            {**{k: v for k, v in asdict(r).items() if k != "ratio_to_bare"},
             "p50_ratio_to_get_by_id": ratio(r.p50_ms, run.p50(GET_BY_ID))}
            for r in run.results
        ]  # fmt: skip
        backends.append(document)
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": wrk_version(),
        "arguments": {k: v for k, v in vars(args).items() if k != "postgres_admin_url"},
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "python": platform.python_version(),
        "source": source,
        "backends": backends,
    }
    RESULTS_PATH.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
