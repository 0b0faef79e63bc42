"""The query benchmark's output: header, the per-query and per-backend tables, the goals next to the
measured figures, and bench/results/query-latest.json. Reads the records of query_model.py; measures
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from dataclasses import asdict
from datetime import UTC, datetime

from bench.common import fmt, ratio, render_table
from bench.query_model import ANALYZED, FIRST_PAGE, GET_BY_ID, BackendRun, Walk
from bench.servers import BENCH_DIR
from bench.tasks import STATUS
from bench.wrk import wrk_version

RESULTS_PATH = BENCH_DIR / "results" / "query-latest.json"


def header(args: argparse.Namespace, load_before: float, runs: list[BackendRun], source: str) -> str:
    loads = ", ".join(f"{run.backend} {run.load_average_before_wrk:.2f}" for run in runs)
    return (
        f"\n## graphtasks query benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"- data: {args.tasks:,} tasks of one tenant (graphtasks seed --seed {args.seed}), "
        f"{ANALYZED}\n"
        f"- load generator: {wrk_version()}, {args.threads} thread(s), {args.concurrency} connections, "
        f"{args.duration} s per run after {args.warmup} s warm-up; every status must be 200\n"
        f"- server: graphtasks serve (uvicorn, 1 worker, request log off) at {source}, "
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
