"""Replays the attacks that once took the server down for everyone (bench/abuse_attacks.py) and reports,
for each: the server's peak resident memory above its level before the attack, another tenant's latency
(p99 and worst) while it ran, and what the attacker got back.

    python bench/abuse.py                         # both backends, the original sizes
    python bench/abuse.py --backend sqlite --quick --out-dir bench/results/abuse

Starts `graphtasks serve` on a fresh database per backend (bench/servers.py), makes the attacking
tenant's data through the API, then runs each attack while a victim tenant sends `GET .../$count` in a
loop and the server's memory is sampled every 20 ms. Writes abuse.json and abuse.md to --out-dir and
prints the table. Goals (docs/resilience.md, "Bounded work per request"): peak growth under 100 MB and
the victim's p99 under 500 ms for every attack.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

if __package__ in {None, ""}:  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.abuse_attacks import ATTACKS, FULL, QUICK, TASKS, Attack, Target, prepare
from bench.common import render_table
from bench.servers import (
    POSTGRES_ADMIN_URL,
    fresh_database,
    graphtasks_command,
    graphtasks_server,
    make_database,
    memory_of,
    running,
)

GOAL_RSS_MIB, GOAL_P99_MS = 100.0, 500.0
SAMPLE_EVERY_S = 0.02
QUIET_MS, QUIET_WAIT_S = 100.0, 600.0  # before an attack, the server answers the victim this fast again
VICTIM_INTERVAL_S = 0.02
VICTIM_START_S = 60.0


@dataclass(frozen=True)
class Pace:
    # After an attack, before the next one's baseline: lets freed memory return.
    settle_s: float
    # The victim goes on this long after the attacker is done: work left running counts too.
    linger_s: float


FULL_PACE, QUICK_PACE = Pace(1.0, 3.0), Pace(0.2, 0.5)


@dataclass(frozen=True)
class Outcome:
    backend: str
    attack: str
    statuses: dict[str, int]
    peak_growth_mib: float
    victim_p99_ms: float
    victim_max_ms: float
    victim_requests: int
    victim_failures: int
    seconds: float
    busy_after_s: float  # after the attack and the linger, until the server answered promptly again

    @property
    def within_goals(self) -> bool:
        return (
            self.peak_growth_mib < GOAL_RSS_MIB
            and self.victim_p99_ms < GOAL_P99_MS
            and not self.victim_failures
        )


class Sampler(threading.Thread):
    """The server's resident memory (process tree), sampled until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self._halt = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_kib = max(self.peak_kib, memory_of(self.pid).rss_kib)
            self._halt.wait(SAMPLE_EVERY_S)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak_kib


class Victim:
    """Another tenant counting its tasks, one request every VICTIM_INTERVAL_S, timing each answer. It
    runs in a process of its own, as another tenant's program would: in this one, the attacker's
    client threads would keep it waiting on the GIL and its latency would be theirs. A request that
    takes longer also stands for the ones it kept from being sent (as wrk2 and HdrHistogram correct for
    coordinated omission), so a 30 s freeze weighs as 30 s of slow answers, not as one."""

    def __init__(self, url: str, token: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._ready, self._halt = context.Event(), context.Event()
        self._results, sender = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_count_tasks, args=(url, token, self._ready, self._halt, sender), daemon=True
        )

    def start(self) -> None:
        """Once the victim's first answer came back."""
        self._process.start()
        if not self._ready.wait(VICTIM_START_S):
            raise RuntimeError("the victim did not get its first answer")

    def stop(self) -> tuple[list[float], int]:
        """The latencies, in ms, and how many answers were not 200 (a 429 or 503 would be the server
        shedding the victim)."""
        self._halt.set()
        latencies, failures = self._results.recv()
        self._process.join()
        return latencies, failures


def _count_tasks(url: str, token: str, ready: Event, halt: Event, results: Connection) -> None:
    latencies_ms: list[float] = []
    failures = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120.0) as client:
        client.get(f"{TASKS}/$count")
        ready.set()
        while not halt.is_set():
            started = time.perf_counter()
            failures += client.get(f"{TASKS}/$count").status_code != 200
            latency_s = time.perf_counter() - started
            while True:
                latencies_ms.append(latency_s * 1000)
                latency_s -= VICTIM_INTERVAL_S
                if latency_s < VICTIM_INTERVAL_S:
                    break
            halt.wait(max(0.0, VICTIM_INTERVAL_S - (time.perf_counter() - started)))
    results.send((latencies_ms, failures))


def token_for(database_url: str, tenant: str) -> str:
    make_database(database_url)
    code, output = graphtasks_command(
        "token", "--database", database_url, "--tenant", tenant, "--expires", "1d"
    )
    if code != 0:
        raise RuntimeError(f"graphtasks token failed: {output}")
    return output.strip()


def wait_until_quiet(url: str, token: str, pace: Pace) -> float:
    """Seconds until a count answers within QUIET_MS: work an attack left running (a query nobody
    waits for) is measured here, and not charged to the next attack."""
    started_waiting = time.monotonic()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120.0) as client:
        while time.monotonic() - started_waiting < QUIET_WAIT_S:
            started = time.perf_counter()
            client.get(f"{TASKS}/$count")
            if (time.perf_counter() - started) * 1000 < QUIET_MS:
                break
            time.sleep(pace.settle_s)
    return time.monotonic() - started_waiting


@dataclass(frozen=True)
class Stage:
    """Where the attacks of one backend run: the server's process, the victim's token, the pace."""

    backend: str
    pid: int
    victim_token: str
    pace: Pace


def measure(stage: Stage, name: str, attack: Attack, target: Target) -> Outcome:
    backend, pid, victim_token, pace = stage.backend, stage.pid, stage.victim_token, stage.pace
    time.sleep(pace.settle_s)
    baseline = memory_of(pid).rss_kib
    sampler, victim = Sampler(pid), Victim(target.url, victim_token)
    sampler.start()
    victim.start()
    started = time.perf_counter()
    statuses = attack(target)
    seconds = time.perf_counter() - started
    time.sleep(pace.linger_s)
    (latencies, failures), peak = victim.stop(), sampler.stop()
    busy_after = wait_until_quiet(target.url, victim_token, pace)
    return Outcome(
        backend,
        name,
        dict(Counter(str(status) for status in statuses)),
        round(max(0, peak - baseline) / 1024, 1),
        round(_p99(latencies), 1),
        round(max(latencies, default=0.0), 1),
        len(latencies),
        failures,
        round(seconds, 2),
        round(busy_after, 1),
    )


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return max(values, default=0.0)
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def run_backend(
    backend: str,
    sizes: dict[str, int],
    workdir: Path,
    attacks: dict[str, Attack],
    flags: tuple[str, ...],
    pace: Pace = FULL_PACE,
) -> list[Outcome]:
    attacker, victim = str(uuid.uuid4()), str(uuid.uuid4())
    with fresh_database(backend, workdir, POSTGRES_ADMIN_URL) as database_url:
        server = graphtasks_server(f"abuse-{backend}", database_url, workdir, flags)
        with running(server):
            attacker_token, victim_token = token_for(database_url, attacker), token_for(database_url, victim)
            print(f"{backend}: preparing the attacker's data", file=sys.stderr, flush=True)
            target = prepare(server.url, attacker, attacker_token, sizes)
            outcomes = []
            stage = Stage(backend, server.pid, victim_token, pace)
            for name, attack in attacks.items():
                outcome = measure(stage, name, attack, target)
                print(f"  {name}: {outcome}", file=sys.stderr, flush=True)
                outcomes.append(outcome)
                server.check_alive()
    return outcomes


def report(outcomes: list[Outcome]) -> str:
    columns = [
        "backend",
        "attack",
        "answers",
        "peak RSS growth (MiB)",
        "victim p99 (ms)",
        "victim max (ms)",
        "s",
        "busy after (s)",
    ]
    rows = [
        [
            o.backend,
            o.attack,
            " ".join(f"{status}x{count}" for status, count in sorted(o.statuses.items())),
            f"{o.peak_growth_mib:.1f}",
            f"{o.victim_p99_ms:.1f}",
            f"{o.victim_max_ms:.1f}",
            f"{o.seconds:.1f}",
            f"{o.busy_after_s:.1f}",
        ]
        for o in outcomes
    ]
    return render_table(columns, rows, [False, False, False, True, True, True, True, True])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="smaller attacks, for CI")
    parser.add_argument("--out-dir", type=Path, default=Path("bench/results/abuse"))
    parser.add_argument("--attack", default="", help="only the attacks whose name contains this text")
    parser.add_argument(
        "--serve-flag", action="append", default=[], help="a flag for graphtasks serve (repeatable)"
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    sizes, pace = (QUICK, QUICK_PACE) if args.quick else (FULL, FULL_PACE)
    attacks = {name: attack for name, attack in ATTACKS.items() if args.attack in name}
    flags = tuple(args.serve_flag)
    with tempfile.TemporaryDirectory(prefix="graphtasks-abuse-") as workdir:
        outcomes = [
            o
            for backend in backends
            for o in run_backend(backend, sizes, Path(workdir), attacks, flags, pace)
        ]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    table = report(outcomes)
    (args.out_dir / "abuse.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    (args.out_dir / "abuse.md").write_text(table + "\n")
    print(table)
    missed = [o for o in outcomes if not o.within_goals]
    for outcome in missed:
        print(f"missed a goal: {outcome.backend}, {outcome.attack}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
