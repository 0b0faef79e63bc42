"""The benchmark suite's settings and records: what one run is asked to do (SuiteConfig) and what it
measured (BackendReport, SuiteReport), as phases.py fills them and report.py, goals.py and
artifacts.py read them. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.servers import Memory
from bench.wrk import Load, Result

# Operation keys (JSON) and their labels (Markdown), in the order they run at each concurrency.
OPERATIONS = {
    "bare": "bare ASGI app (POST)",
    "create": "create (POST)",
    "get": "get by id (GET)",
    "patch": "update (PATCH)",
    "list": "list page of 100 (GET)",
}
# Creates (curve, durability) run at this concurrency, the one the create and get goals are set at.
GOAL_CONCURRENCY = 32
# The page of the curve is timed one request at a time: its p50 is the service time, not queueing.
PAGE_CONCURRENCY = 1


@dataclass(frozen=True)
class SuiteConfig:
    """One run of the suite, from the command line (bench/suite.py's options)."""

    backends: tuple[str, ...]
    concurrencies: tuple[int, ...]
    sizes: tuple[int, ...]
    duration_s: int
    warmup_s: int
    out_dir: Path
    postgres_admin_url: str
    threads: int = 1
    workers: int = 1
    seed: int = 0
    quick: bool = False
    publish: bool = False
    scaleout: bool = True
    worker_reads: bool = True

    def load(self, concurrency: int) -> Load:
        return Load(concurrency, self.duration_s, self.warmup_s, self.threads)


@dataclass
class MemoryRecord:
    """The resident memory of one server process (and its workers), sampled after each phase."""

    server: str
    samples: list[tuple[str, Memory]] = field(default_factory=list)

    def sample(self, phase: str, memory: Memory) -> None:
        self.samples.append((phase, memory))

    @property
    def peak_kib(self) -> int:
        return max((memory.hwm_kib for _, memory in self.samples), default=0)

    @property
    def final_kib(self) -> int:
        return self.samples[-1][1].rss_kib if self.samples else 0


@dataclass(frozen=True)
class DurabilityRun:
    """Creates at GOAL_CONCURRENCY under one setting of --flush-to-disk and --group-commit."""

    flush_to_disk: bool
    group_commit: bool
    result: Result


@dataclass(frozen=True)
class CurvePoint:
    """Creates at GOAL_CONCURRENCY, then the list page at PAGE_CONCURRENCY, on a database seeded with
    `seeded` tasks; `stored_at_page` also counts the tasks the creates added."""

    seeded: int
    seed_rows_per_s: float | None
    stored_at_page: int
    create: Result
    page: Result


@dataclass
class BackendReport:
    """Everything measured on one backend."""

    backend: str
    operations: list[Result] = field(default_factory=list)
    memory: list[MemoryRecord] = field(default_factory=list)
    durability: list[DurabilityRun] = field(default_factory=list)
    curve: list[CurvePoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def operation(self, name: str, concurrency: int) -> Result | None:
        label = OPERATIONS[name]
        found = (r for r in self.operations if r.target == label and r.concurrency == concurrency)
        return next(found, None)

    def results(self) -> list[Result]:
        """Every wrk run of this backend, for the error count."""
        runs = [*self.operations, *(run.result for run in self.durability)]
        return runs + [result for point in self.curve for result in (point.create, point.page)]


@dataclass
class SuiteReport:
    """One run of the suite: the settings, the machine, each backend's figures, scale-out, reads across
    worker processes, notes."""

    config: SuiteConfig
    started_at: str
    machine: dict[str, object]
    wrk: str
    backends: list[BackendReport] = field(default_factory=list)
    # CPU per request in process (bench/budget.py's rows), measured before any server starts.
    budgets: list[dict[str, object]] = field(default_factory=list)
    scaleout: dict[str, object] | None = None
    # bench/workers.py's figures: get by id with 1 and 2 worker processes on SQLite.
    worker_reads: dict[str, object] | None = None
    notes: list[str] = field(default_factory=list)
    finished_at: str = ""
    load_average_after: float = 0.0

    def errors(self) -> int:
        """Failed requests of every wrk run, scale-out's and the worker reads' included (their rows'
        `errors`)."""
        own = sum(result.errors for backend in self.backends for result in backend.results())
        sections = (self.scaleout or {}, self.worker_reads or {})
        return own + sum(row_errors(value) for section in sections for value in section.values())


def row_errors(value: object) -> int:
    """The sum of the integer `errors` of a list of rows (dicts); 0 for anything else."""
    rows = value if isinstance(value, list) else []
    counts = (row.get("errors") for row in rows if isinstance(row, dict))
    return sum(count for count in counts if isinstance(count, int))
