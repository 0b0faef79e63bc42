"""The benchmark suite: one command that starts the servers itself and measures graphtasks on
SQLite and PostgreSQL against a bare ASGI app on the same server stack, in the same run.

    python bench/suite.py                      # full: both backends, c=1,32,128, 0/100k/1M tasks
    python bench/suite.py --quick              # CI's short version: ~1 s per run, c=32, 0/1000 tasks
    python bench/suite.py --publish            # and copy the table and plot into docs/

Per backend (phases.py): create, get by id, PATCH and a list page of 100 (indexed filter, orderby) at
each concurrency, each with its ratio to the bare app's requests/s; creates with flushing to disk on and
off, each with group commit on and off; the curve of creates/s and page latency against stored tasks;
the servers' resident memory. Then bench/scaleout.py on PostgreSQL and bench/workers.py (get by id
with 1 and 2 worker processes) on SQLite. Writes bench/results/suite.{json,md}
and suite-curve.png, prints the Markdown, and exits 1 when any request failed (2 without wrk); the goals
are reported next to the figures, never enforced.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

if __package__ in {None, ""}:  # run as `python bench/suite.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.artifacts import publish, write_all
from bench.budget import measure_budgets, rows
from bench.common import machine_info
from bench.goals import evaluate
from bench.phases import Pass, run_backend
from bench.records import GOAL_CONCURRENCY, SuiteConfig, SuiteReport
from bench.report import render
from bench.scaleout import measure_scaleout
from bench.servers import BENCH_DIR, POSTGRES_ADMIN_URL, REPO_DIR, BenchError, bare_server, running
from bench.tasks import create_body
from bench.workers import measure_workers
from bench.wrk import wrk_missing, wrk_version


@dataclass(frozen=True)
class Preset:
    """The defaults of a full run and of --quick; each option given on the command line wins."""

    duration: int
    warmup: int
    concurrency: str
    sizes: str


# --quick is CI's version: every phase runs, briefly, so the suite cannot rot; its figures mean little.
PRESETS = {
    "full": Preset(duration=10, warmup=2, concurrency="1,32,128", sizes="0,100k,1M"),
    "quick": Preset(duration=1, warmup=0, concurrency="32", sizes="0,1000"),
}
SUFFIXES = {"k": 1_000, "m": 1_000_000}
# Requests per operation of the in-process CPU measurement (a page of 100 takes a fiftieth of them).
BUDGET_REQUESTS, QUICK_BUDGET_REQUESTS = 3000, 300


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    if wrk_missing("suite.py"):
        return 2
    report = SuiteReport(
        config,
        started_at=f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        machine=machine_info(),
        wrk=wrk_version(),
    )
    try:
        run(config, report)
    except BenchError as error:
        print(f"suite.py: {error}", file=sys.stderr)
        return 1
    report.finished_at = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    report.load_average_after = os.getloadavg()[0]
    goals = evaluate(report)
    markdown = render(report, goals)
    paths = write_all(report, goals, markdown)
    if config.publish:
        publish(markdown, paths["plot"])
    print(markdown)
    print("written: " + ", ".join(str(shown(path)) for path in paths.values()), file=sys.stderr)
    return 1 if report.errors() else 0


def parse_args(argv: Sequence[str] | None) -> SuiteConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="CI's short version (see PRESETS)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=int, help="seconds per measured wrk run (full 10, quick 1)")
    parser.add_argument("--warmup", type=int, help="seconds of unmeasured load before each run (2, 0)")
    parser.add_argument("--concurrency", help="comma-separated connection counts (1,32,128; 1,32)")
    parser.add_argument("--sizes", help="stored tasks of the curve, e.g. 0,100k,1M (quick: 0,1000)")
    parser.add_argument("--threads", type=int, choices=[1, 2], default=1, help="wrk threads (wrk -t)")
    parser.add_argument("--workers", type=int, default=1, help="graphtasks serve --workers")
    parser.add_argument("--seed", type=int, default=0, help="graphtasks seed --seed")
    parser.add_argument("--out-dir", type=Path, default=BENCH_DIR / "results", help="where files go")
    parser.add_argument("--publish", action="store_true", help="copy the report and plot into docs/")
    parser.add_argument(
        "--scaleout",
        action=argparse.BooleanOptionalAction,
        help="run bench/scaleout.py (default: not with --quick)",
    )
    parser.add_argument(
        "--worker-reads",
        action=argparse.BooleanOptionalAction,
        help="run bench/workers.py: get by id with 1 and 2 worker processes (default: not with --quick)",
    )
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL, help="creates/drops the dbs")
    args = parser.parse_args(argv)
    try:
        return to_config(args)
    except ValueError as error:
        parser.error(str(error))


def to_config(args: argparse.Namespace) -> SuiteConfig:
    preset = PRESETS["quick" if args.quick else "full"]
    concurrencies = numbers(args.concurrency or preset.concurrency)
    sizes = numbers(args.sizes or preset.sizes)
    duration = preset.duration if args.duration is None else args.duration
    if min(concurrencies) < 1 or duration < 1:
        raise ValueError("--concurrency and --duration must be at least 1")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    return SuiteConfig(
        backends=("sqlite", "postgres") if args.backend == "both" else (args.backend,),
        concurrencies=concurrencies,
        sizes=sizes,
        duration_s=duration,
        warmup_s=preset.warmup if args.warmup is None else args.warmup,
        out_dir=args.out_dir.resolve(),
        postgres_admin_url=args.postgres_admin_url,
        threads=args.threads,
        workers=args.workers,
        seed=args.seed,
        quick=args.quick,
        publish=args.publish,
        scaleout=not args.quick if args.scaleout is None else args.scaleout,
        worker_reads=not args.quick if args.worker_reads is None else args.worker_reads,
    )


def numbers(text: str) -> tuple[int, ...]:
    """'0,100k,1M' -> (0, 100000, 1000000): distinct, ascending, none negative."""
    values = set()
    for item in filter(None, (part.strip().lower() for part in text.split(","))):
        scale = SUFFIXES.get(item[-1], 1)
        values.add(int(float(item[:-1] if scale > 1 else item) * scale))
    if not values or min(values) < 0:
        raise ValueError(f"not a list of counts: {text!r}")
    return tuple(sorted(values))


def run(config: SuiteConfig, report: SuiteReport) -> None:
    """The bare app for the whole run; per backend, its three phases; then scale-out and the reads
    across worker processes."""
    flags = ("--workers", str(config.workers)) if config.workers > 1 else ()
    if "postgres" in config.backends:
        check_postgres(config.postgres_admin_url)
    print("[sqlite] CPU per request, in process (bench/budget.py)", file=sys.stderr, flush=True)
    report.budgets = rows(measure_budgets(QUICK_BUDGET_REQUESTS if config.quick else BUDGET_REQUESTS))
    with tempfile.TemporaryDirectory(prefix="graphtasks-suite-") as tmp:
        workdir = Path(tmp)
        with running(bare_server(workdir)) as bare:
            for backend in config.backends:
                run_pass = Pass(config, backend, workdir, bare, create_body(), flags)
                report.backends.append(run_backend(run_pass))
        report.scaleout = run_scaleout(config, workdir, report.notes)
        report.worker_reads = run_worker_reads(config, workdir, report.notes)


def check_postgres(admin_url: str) -> None:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        raise BenchError(f"PostgreSQL unreachable ({error}); run with --backend sqlite") from error
    finally:
        engine.dispose()


def run_scaleout(config: SuiteConfig, workdir: Path, notes: list[str]) -> dict[str, object] | None:
    """bench/scaleout.py's measure_scaleout on PostgreSQL (a note when --no-scaleout skips it); its
    rows' request errors count in SuiteReport.errors()."""
    if "postgres" not in config.backends:
        return None
    if not config.scaleout:
        notes.append("scale-out not run (--no-scaleout, the default with --quick)")
        return None
    (workdir / "scaleout").mkdir()
    print("[postgres] scale-out (bench/scaleout.py)", file=sys.stderr, flush=True)
    return measure_scaleout(
        duration_s=float(config.duration_s),
        concurrency=GOAL_CONCURRENCY,
        workdir=workdir / "scaleout",
        admin_url=config.postgres_admin_url,
    )


def run_worker_reads(config: SuiteConfig, workdir: Path, notes: list[str]) -> dict[str, object] | None:
    """bench/workers.py's measure_workers on SQLite (a note when it is skipped); its rows' request
    errors count in SuiteReport.errors()."""
    if "sqlite" not in config.backends:
        notes.append("reads across worker processes not run (SQLite is not among the backends)")
        return None
    if not config.worker_reads:
        notes.append("reads across worker processes not run (--no-worker-reads, the default with --quick)")
        return None
    (workdir / "workers").mkdir()
    print("[sqlite] reads across worker processes (bench/workers.py)", file=sys.stderr, flush=True)
    return measure_workers(
        duration_s=float(config.duration_s),
        concurrency=GOAL_CONCURRENCY,
        workdir=workdir / "workers",
        warmup_s=config.warmup_s,
    )


def shown(path: Path) -> Path:
    return path.relative_to(REPO_DIR) if path.is_relative_to(REPO_DIR) else path


if __name__ == "__main__":
    sys.exit(main())
