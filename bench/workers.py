"""Reads across worker processes: get by id against graphtasks and against the bare app, each served by
one and by two uvicorn worker processes, graphtasks on one fresh SQLite file that every worker opens.

    python bench/workers.py [--duration 5] [--concurrency 32] [--warmup 1]

`measure_workers` is what bench/suite.py calls; run as a script it prints the same figures as a
Markdown table. The database is seeded with `graphtasks seed` before any server starts, the servers
are bench/servers.py's (`graphtasks serve --workers N`, bench/bare_app.py under uvicorn's --workers),
and the load is wrk rotating over 200 task ids with bench/wrk.py's get-by-id script (every status
checked). Owns the four cases and their comparison; never edits how a server or wrk is started.

Each worker is a process of its own with its own connection pool to the one SQLite file, so a second
worker adds a core's worth of Python, not a second database. On a small machine wrk and the workers
share the cores: the speed-up of two workers over one is bounded by what wrk leaves free, and by how
wrk's connections, opened at once and kept, split between the workers (the worker CPU split column).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in {None, ""}:  # run as `python bench/workers.py`: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ratio_lines, render_table, rounded_ratio
from bench.servers import (
    BenchError,
    Server,
    bare_server,
    fresh_database,
    graphtasks_server,
    issue_token,
    running,
    seed_database,
    worker_cpu_ticks,
)
from bench.tasks import sample_ids
from bench.wrk import Load, Result, Target, get_lua, measure, wrk_missing

SEED_COUNT = 300
GRAPHTASKS, BARE = "graphtasks", "bare app"
WORKER_COUNTS = (1, 2)
# The bare app answers every request 201; the get-by-id script expects 200. A later assignment of the
# script's EXPECTED global wins, so both servers get the same requests and the same Lua work per answer.
BARE_EXPECTED = "EXPECTED = 201\n"
RATIO_PREFIXES = ("graphtasks_to_bare", "speedup")


@dataclass(frozen=True)
class Case:
    """Which server answers, with how many worker processes."""

    server: str
    workers: int

    @property
    def name(self) -> str:
        return f"{self.server}, {self.workers} worker{'s' if self.workers > 1 else ''}"


# Each bare run right after graphtasks' run with as many workers, so each ratio compares neighbours.
# graphtasks comes first: the ids the load rotates over are read through it.
CASES = tuple(Case(server, workers) for workers in WORKER_COUNTS for server in (GRAPHTASKS, BARE))


@dataclass(frozen=True)
class Session:
    """What every case shares: the load, the seeded database, the token and the files' place."""

    load: Load
    database_url: str
    token: str
    workdir: Path


@dataclass(frozen=True)
class Measured:
    """One case's wrk run, and each worker's share of the CPU its workers used (warm-up included)."""

    case: Case
    result: Result
    cpu_split: tuple[float, ...]


def measure_workers(
    *, duration_s: float, concurrency: int, workdir: Path, warmup_s: int = 1
) -> dict[str, object]:
    """Get by id at `concurrency` connections for `duration_s` (whole seconds, at least 1; wrk takes
    no fractions) per case, on a fresh SQLite file seeded with SEED_COUNT tasks, deleted afterwards."""
    load = Load(concurrency, max(1, round(duration_s)), warmup_s)
    workdir.mkdir(parents=True, exist_ok=True)
    with fresh_database("sqlite", workdir, admin_url="") as database_url:
        seed_database(database_url, SEED_COUNT)
        session = Session(load, database_url, issue_token(database_url), workdir)
        measured: list[Measured] = []
        ids: list[str] = []
        for case in CASES:
            with running(server_of(case, session)) as server:
                ids = ids or sample_ids(server, session.token)
                measured.append(measure_case(case, server, session, ids))
    return summary(load, measured)


def measure_case(case: Case, server: Server, session: Session, ids: list[str]) -> Measured:
    """One measured wrk run after the warm-up, on a server whose workers have all started."""
    lua, expected = get_lua(ids, session.token), 200
    if case.server == BARE:
        lua, expected = lua + BARE_EXPECTED, 201
    before = worker_cpu_ticks(server.pid)
    target = Target("get by id", case.name, server.url, lua, expected)
    result = measure(session.load, target, server, session.workdir)
    return Measured(case, result, cpu_split(before, worker_cpu_ticks(server.pid)))


def server_of(case: Case, session: Session) -> Server:
    if case.server == BARE:
        return bare_server(session.workdir, workers=case.workers)
    return graphtasks_server(case.name, session.database_url, session.workdir, workers=case.workers)


def cpu_split(before: dict[int, int], after: dict[int, int]) -> tuple[float, ...]:
    """Each worker's share of the CPU time its server's workers used between the two readings, largest
    first; empty for one worker, which serves in the server's own process."""
    used = sorted((after[pid] - before[pid] for pid in after if pid in before), reverse=True)
    total = sum(used)
    return tuple(round(ticks / total, 3) for ticks in used) if total else ()


def summary(load: Load, measured: list[Measured]) -> dict[str, object]:
    """The figures per case, graphtasks over the bare app at each worker count, and two workers over
    one for each server."""
    rows: list[dict[str, object]] = [
        {
            "case": m.case.name,
            "server": m.case.server,
            "workers": m.case.workers,
            "requests_per_s": round(m.result.requests_per_s, 1),
            "p50_ms": m.result.p50_ms,
            "p99_ms": m.result.p99_ms,
            "errors": m.result.errors,
            "worker_cpu_split": " / ".join(f"{share:.0%}" for share in m.cpu_split) or "-",
        }
        for m in measured
    ]
    rps = {(m.case.server, m.case.workers): m.result.requests_per_s for m in measured}
    to_bare = {
        f"graphtasks_to_bare_{n}_workers": rounded_ratio(rps[GRAPHTASKS, n], rps[BARE, n])
        for n in WORKER_COUNTS
    }
    speedup = {
        f"speedup_{server.replace(' ', '_')}": rounded_ratio(rps[server, 2], rps[server, 1])
        for server in (GRAPHTASKS, BARE)
    }
    return {
        "cases": rows,
        **to_bare,
        **speedup,
        "seeded_tasks": SEED_COUNT,
        "concurrency": load.concurrency,
        "duration_s": load.duration_s,
        "cpu_count": os.cpu_count(),
    }


def markdown(figures: dict[str, object]) -> str:
    """The cases as a table, then the ratios, as `python bench/workers.py` prints them."""
    rows = figures["cases"]
    if not isinstance(rows, list):
        raise TypeError("figures without a list of cases")
    columns = ["case", "requests/s", "p50 ms", "p99 ms", "errors", "worker CPU split"]
    cells = [
        [
            str(row["case"]), f"{row['requests_per_s']:,.0f}", f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}", str(row["errors"]), str(row["worker_cpu_split"]),
        ]
        for row in rows
    ]  # fmt: skip
    table = render_table(columns, cells, numeric=[False, True, True, True, True, False])
    ratios = ratio_lines(figures, RATIO_PREFIXES)
    return "\n".join([table, "", "requests/s ratios:", *ratios])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured wrk run")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections (wrk -c)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each run")
    args = parser.parse_args(argv)
    if wrk_missing("workers.py"):
        return 2
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="graphtasks-workers-") as tmp:
        try:
            figures = measure_workers(
                duration_s=args.duration,
                concurrency=args.concurrency,
                workdir=Path(tmp),
                warmup_s=args.warmup,
            )
        except BenchError as error:
            print(f"workers.py: {error}", file=sys.stderr)
            return 1
    print(
        f"\n## graphtasks reads across worker processes (SQLite, {args.concurrency} connections, "
        f"{args.duration:g} s, {os.cpu_count()} cores, 1-min load average before: {load_before:.2f})\n"
    )
    print(markdown(figures))
    rows = figures["cases"]
    return 1 if isinstance(rows, list) and any(row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
