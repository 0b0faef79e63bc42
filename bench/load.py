"""Load benchmark: graphtasks creates/s and gets/s next to a bare ASGI app on the same server stack.

    python bench/load.py [--duration 10] [--concurrency 32] [--backend sqlite|postgres|both] [--threads 1]

Starts bench/bare_app.py and `python -m graphtasks serve` (on a fresh SQLite file or a fresh, uniquely
named PostgreSQL database) as subprocesses on free ports, both under the uvicorn.run arguments of
cli/serve.py.
The load generator is wrk (Debian's `wrk` package), driven by a Lua script written to a temp file per
target; the script's `response` checks every status (201 for the bare app and create, 200 for get) and
its `done` prints one JSON line with requests, duration, latency p50/p99 and errors.

Prints a Markdown table (requests/s, p50, p99, errors, ratio to the bare app's requests/s measured in
the same run and pass) and writes the same figures to bench/results/latest.json. Exits 1 when any
request failed or was answered with an unexpected status; the table is printed either way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

if __package__ in {None, ""}:  # run as `python bench/load.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import render_table
from bench.servers import (
    BENCH_DIR,
    POSTGRES_ADMIN_URL,
    REPO_DIR,
    BenchError,
    Server,
    bare_server,
    fresh_database,
    graphtasks_server,
    issue_token,
    running,
)
from bench.tasks import CREATE_BODY_PATH, create_tasks
from bench.wrk import Load, Result, Target, get_lua, measure, post_lua, wrk_missing, wrk_version

RESULTS_PATH = BENCH_DIR / "results" / "latest.json"
SEED_COUNT = 200


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if wrk_missing("load.py"):
        return 2
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    load_before = os.getloadavg()[0]
    try:
        results = run(args, backends)
    except BenchError as error:
        print(f"load.py: {error}", file=sys.stderr)
        return 1
    print(header(args, load_before))
    print(markdown_table(results))
    write_results(args, results, load_before)
    print(f"\nwritten to {RESULTS_PATH.relative_to(REPO_DIR)}")
    return 1 if any(result.errors for result in results) else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections (wrk -c)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--threads", type=int, choices=[1, 2], default=1, help="wrk threads (wrk -t)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load before each run")
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL, help="creates/drops the db")
    args = parser.parse_args(argv)
    if args.concurrency < args.threads:
        parser.error("--concurrency must be at least --threads")
    return args


def run(args: argparse.Namespace, backends: list[str]) -> list[Result]:
    """Start the bare app once, then per backend: a fresh graphtasks, bare + create + get runs."""
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="graphtasks-bench-") as tmp:
        workdir = Path(tmp)
        with running(bare_server(workdir)) as bare:
            for backend in backends:
                results.extend(run_backend(args, backend, bare, workdir))
    return results


def run_backend(args: argparse.Namespace, backend: str, bare: Server, workdir: Path) -> list[Result]:
    load = Load(args.concurrency, args.duration, args.warmup, args.threads)
    with fresh_database(backend, workdir, args.postgres_admin_url) as database_url:
        graphtasks = graphtasks_server(f"graphtasks ({backend})", database_url, workdir)
        with running(graphtasks):
            token = issue_token(database_url)
            body = CREATE_BODY_PATH.read_bytes()
            ids = create_tasks(graphtasks, token, body, SEED_COUNT)
            runs = [
                (Target("bare ASGI app (POST)", backend, bare.url, post_lua(body, token, 201), 201), bare),
                (Target("graphtasks create (POST)", backend, graphtasks.url, post_lua(body, token, 201), 201),
                 graphtasks),
                (Target("graphtasks get by id (GET)", backend, graphtasks.url, get_lua(ids, token), 200),
                 graphtasks),
            ]  # fmt: skip
            results = [measure(load, target, server, workdir) for target, server in runs]
    baseline = results[0].requests_per_s
    for result in results:
        result.ratio_to_bare = result.requests_per_s / baseline if baseline else None
    return results


# --- output -----------------------------------------------------------------------------------------


def header(args: argparse.Namespace, load_before: float) -> str:
    cores = os.cpu_count() or 0
    return (
        f"\n## graphtasks load benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"- load generator: {wrk_version()}, {args.threads} thread(s), {args.concurrency} connections, "
        f"{args.duration} s per run after {args.warmup} s warm-up\n"
        f"- servers: uvicorn, 1 worker, request log off (--quiet), log level warning "
        f"(cli/serve.py's uvicorn.run); "
        f"Python {platform.python_version()}\n"
        f"- machine: {cores} cores, shared by wrk, the servers and PostgreSQL: compare ratios, "
        f"not absolute figures (1-min load average before the run: {load_before:.2f})\n"
        "- ratio = requests/s / the bare app's requests/s in the same pass; errors = socket errors, "
        "timeouts and any status other than 201 (POST) / 200 (GET)\n"
    )


def markdown_table(results: list[Result]) -> str:
    columns = [
        "target",
        "backend",
        "concurrency",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "ratio to bare",
    ]
    rows = [
        [
            r.target, r.backend, str(r.concurrency), f"{r.requests_per_s:,.0f}", f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}", str(r.errors), "-" if r.ratio_to_bare is None else f"{r.ratio_to_bare:.3f}",
        ]
        for r in results
    ]  # fmt: skip
    return render_table(columns, rows, numeric=[False, False, True, True, True, True, True, True])


def write_results(args: argparse.Namespace, results: list[Result], load_before: float) -> None:
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": wrk_version(),
        "wrk_threads": args.threads,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "python": platform.python_version(),
        "results": [asdict(result) for result in results],
    }
    RESULTS_PATH.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
