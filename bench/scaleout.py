"""Scale-out benchmark: creates and gets by id against one graphtasks instance directly, one behind
nginx, and two behind nginx, all on one fresh PostgreSQL database.

    python bench/scaleout.py [--duration 5] [--concurrency 32] [--warmup 1]

`measure_scaleout` is what bench/suite.py calls; run as a script it prints the same figures as a
Markdown table. The instances are `graphtasks serve` processes (bench/servers.py), the load is wrk with
bench/wrk.py's scripts (every status checked), and nginx is tests/support/nginx.py's: one worker
process, round robin, keep-alive to the instances. Owns the three cases and their comparison; never
edits how a server, wrk or nginx is started.

The figure the scale-out goal reads (bench/goals.py) is `p99_ratio`: the p99 latency of two instances
behind nginx over one instance's direct p99, the worse of create and get. On a small machine wrk, nginx,
both instances and PostgreSQL share the cores, so a second instance adds contention as well as
capacity.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in {None, ""}:  # run as `python bench/scaleout.py`: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.nginx import INSTANCE_ARGS, running_nginx

from bench.common import ratio_lines, render_table, rounded_ratio
from bench.servers import (
    POSTGRES_ADMIN_URL,
    BenchError,
    Server,
    fresh_database,
    graphtasks_server,
    issue_token,
    running,
)
from bench.tasks import create_body, create_tasks
from bench.wrk import Load, Result, Target, get_lua, post_lua, run_wrk, wrk_missing

SEED_COUNT = 200
NGINX_WORKERS = 1
OPERATIONS = ("create", "get")
RATIO_PREFIXES = ("p99_ratio", "requests_per_s_ratio")


@dataclass(frozen=True)
class Case:
    """Where wrk sends its requests, and which instances must still be up afterwards."""

    name: str
    url: str
    instances: tuple[Server, ...]
    nginx: bool


def measure_scaleout(
    *,
    duration_s: float,
    concurrency: int,
    workdir: Path,
    admin_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    warmup_s: int = 1,
) -> dict[str, object]:
    """Creates and gets at `concurrency` connections for `duration_s` (whole seconds, at least 1; wrk
    takes no fractions) per case and operation, on a fresh PostgreSQL database dropped afterwards."""
    load = Load(concurrency, max(1, round(duration_s)), warmup_s)
    workdir.mkdir(parents=True, exist_ok=True)
    with fresh_database("postgres", workdir, admin_url) as database_url:
        first = graphtasks_server("graphtasks A", database_url, workdir, INSTANCE_ARGS)
        second = graphtasks_server("graphtasks B", database_url, workdir, INSTANCE_ARGS)
        with running(first), running(second):
            token = issue_token(database_url)
            ids = create_tasks(first, token, create_body(), SEED_COUNT)
            scripts = {"create": post_lua(create_body(), token, 201), "get": get_lua(ids, token)}
            with cases(first, second, workdir) as measured:
                results = [
                    (case, operation, run_case(load, case, operation, scripts[operation], workdir))
                    for case in measured
                    for operation in OPERATIONS
                ]
    return summary(load, results)


@contextlib.contextmanager
def cases(first: Server, second: Server, workdir: Path) -> Iterator[list[Case]]:
    """The three cases, with an nginx in front of one instance and another in front of both."""
    address = {server.name: f"127.0.0.1:{server.port}" for server in (first, second)}
    nginx_dir = workdir / f"nginx-{uuid.uuid4().hex[:8]}"
    with (
        running_nginx(nginx_dir / "one", [address[first.name]], worker_processes=NGINX_WORKERS) as one,
        running_nginx(nginx_dir / "two", list(address.values()), worker_processes=NGINX_WORKERS) as two,
    ):
        yield [
            Case("1 instance, direct", first.url, (first,), nginx=False),
            Case("1 instance behind nginx", one.url, (first,), nginx=True),
            Case("2 instances behind nginx", two.url, (first, second), nginx=True),
        ]


def run_case(load: Load, case: Case, operation: str, lua: str, workdir: Path) -> Result:
    """Warm up, then one measured wrk run; every instance of the case must still be up afterwards."""
    expected = 201 if operation == "create" else 200
    target = Target(operation, case.name, case.url, lua, expected)
    script = workdir / f"scaleout-{uuid.uuid4().hex[:8]}.lua"
    script.write_text(lua)
    if load.warmup_s > 0:
        run_wrk(load, target, script, load.warmup_s)
    result = run_wrk(load, target, script, load.duration_s)
    for instance in case.instances:
        instance.check_alive()
    if result.errors:
        print(
            f"{case.name} {operation}: {result.errors} errors {result.error_detail}; first unexpected "
            f"answer: {result.first_unexpected or '(none: socket errors only)'}",
            file=sys.stderr,
        )
    return result


def summary(load: Load, results: list[tuple[Case, str, Result]]) -> dict[str, object]:
    """The figures per case and operation, and the ratios of two instances behind nginx to one direct."""
    rows: list[dict[str, object]] = [
        {
            "case": case.name,
            "operation": operation,
            "instances": len(case.instances),
            "nginx": case.nginx,
            "requests_per_s": round(result.requests_per_s, 1),
            "p50_ms": result.p50_ms,
            "p99_ms": result.p99_ms,
            "errors": result.errors,
        }
        for case, operation, result in results
    ]
    by_key = {(case.name, operation): result for case, operation, result in results}
    direct, spread = "1 instance, direct", "2 instances behind nginx"
    p99 = {op: rounded_ratio(by_key[spread, op].p99_ms, by_key[direct, op].p99_ms) for op in OPERATIONS}
    rps = {
        op: rounded_ratio(by_key[spread, op].requests_per_s, by_key[direct, op].requests_per_s)
        for op in OPERATIONS
    }
    known = [value for value in p99.values() if value is not None]
    return {
        "cases": rows,
        "p99_ratio": max(known) if known else None,
        **{f"p99_ratio_{op}": value for op, value in p99.items()},
        **{f"requests_per_s_ratio_{op}": value for op, value in rps.items()},
        "concurrency": load.concurrency,
        "duration_s": load.duration_s,
        "nginx_worker_processes": NGINX_WORKERS,
        "cpu_count": os.cpu_count(),
    }


def markdown(figures: dict[str, object]) -> str:
    """The cases as a table, then the ratios, as `python bench/scaleout.py` prints them."""
    rows = figures["cases"]
    if not isinstance(rows, list):
        raise TypeError("figures without a list of cases")
    columns = ["case", "operation", "requests/s", "p50 ms", "p99 ms", "errors"]
    cells = [
        [
            str(row["case"]), str(row["operation"]), f"{row['requests_per_s']:,.0f}",
            f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}", str(row["errors"]),
        ]
        for row in rows
    ]  # fmt: skip
    table = render_table(columns, cells, numeric=[False, False, True, True, True, True])
    ratios = ratio_lines(figures, RATIO_PREFIXES)
    return "\n".join([table, "", "2 instances behind nginx / 1 instance direct:", *ratios])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured wrk run")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections (wrk -c)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each run")
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL, help="creates/drops the db")
    args = parser.parse_args(argv)
    if wrk_missing("scaleout.py"):
        return 2
    with tempfile.TemporaryDirectory(prefix="graphtasks-scaleout-") as tmp:
        try:
            figures = measure_scaleout(
                duration_s=args.duration,
                concurrency=args.concurrency,
                workdir=Path(tmp),
                admin_url=args.postgres_admin_url,
                warmup_s=args.warmup,
            )
        except BenchError as error:
            print(f"scaleout.py: {error}", file=sys.stderr)
            return 1
    print(f"\n## graphtasks scale-out (PostgreSQL, {args.concurrency} connections, {args.duration:g} s)\n")
    print(markdown(figures))
    rows = figures["cases"]
    return 1 if isinstance(rows, list) and any(row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
