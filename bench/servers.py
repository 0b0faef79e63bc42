"""Servers and databases of the benchmarks: subprocesses on free ports, throwaway databases, tokens,
seeding, and the memory a server process holds.

Knows how to start `graphtasks serve` and bench/bare_app.py as subprocesses, how to run `graphtasks
seed` and `graphtasks token` (in this process), and how to make and drop a database; never loads a
server (wrk.py does that) and never prints a table.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from tests.support.server import free_port

from graphtasks.app import open_backend
from graphtasks.cli import main as graphtasks_cli
from graphtasks.config import DEFAULT_TENANT, Settings

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "GRAPHTASKS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
GRAPHTASKS = [sys.executable, "-m", "graphtasks"]
READY_PATH = "/common/discovery/v2.0/keys"
LOG_TAIL_LINES = 40
SEED_LINE = re.compile(r"seeded (\d+) tasks .* in ([\d.]+) s \(([\d,]+)/s\)")
# A worker process counts as started once its CPU time moves by at most this many clock ticks (10 ms
# each, usually) over a second: importing and starting the app keeps a core busy, waiting for
# connections (and answering the supervisor's health checks) does not.
IDLE_TICKS, IDLE_WINDOW_S = 2, 1.0


class BenchError(Exception):
    """The benchmark cannot go on: a server died, wrk failed, seeding failed."""


@dataclass
class Server:
    """A server subprocess on a local port, with its combined stdout/stderr in a log file."""

    name: str
    command: list[str]
    log_path: Path
    ready_path: str = "/"
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BenchError(f"{self.name} is not running")
        return self.process.pid

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise BenchError(f"{self.name} exited (code {code}); log tail:\n{self.log_tail()}")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:]) or "(empty log)"


def bare_server(workdir: Path, *, workers: int = 1) -> Server:
    """bench/bare_app.py: a constant 201 under the same uvicorn.run arguments as graphtasks serve. With
    more than one worker, uvicorn's command line with those arguments and --workers: uvicorn runs
    worker processes only of an app it can import by name."""
    if workers == 1:
        return Server("bare app", [sys.executable, str(BENCH_DIR / "bare_app.py")], workdir / "bare.log")
    command = [
        sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--workers", str(workers),
        "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning", "--no-server-header",
    ]  # fmt: skip
    log_path = workdir / f"bare-{workers}-workers.log"
    return Server(f"bare app ({workers} workers)", command, log_path, workers=workers)


def graphtasks_server(
    name: str, database_url: str, workdir: Path, flags: tuple[str, ...] = (), *, workers: int = 1
) -> Server:
    """`graphtasks serve` on `database_url` with extra serve flags (e.g. --no-flush-to-disk), its request
    log off (--quiet) as the bare app has none: the figures compare the request path alone. With more
    than one worker, `--workers N`, and `running` waits for every worker process."""
    worker_flags = ("--workers", str(workers)) if workers > 1 else ()
    command = [*GRAPHTASKS, "serve", "--database", database_url, "--quiet", *worker_flags, *flags]
    log_path = workdir / f"{re.sub(r'[^A-Za-z0-9]+', '-', name).strip('-')}.log"
    return Server(name, command, log_path, ready_path=READY_PATH, workers=workers)


@contextlib.contextmanager
def running(server: Server, *, ready_path: str | None = None) -> Iterator[Server]:
    """Start the server with --port, wait until it answers HTTP (and, with several workers, until every
    worker has started), and stop it (SIGTERM) afterwards."""
    command = [*server.command, "--port", str(server.port)]
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_DIR)
    try:
        wait_ready(server, server.ready_path if ready_path is None else ready_path)
        if server.workers > 1:
            wait_for_workers(server)
        yield server
    finally:
        if server.process.poll() is None:
            server.process.terminate()
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def wait_ready(server: Server, path: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            httpx.get(server.url + path, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise BenchError(f"{server.name} did not start in {timeout_s:.0f} s; log tail:\n{server.log_tail()}")


def wait_for_workers(server: Server, timeout_s: float = 60.0) -> None:
    """Wait until `server.workers` uvicorn worker processes run and are idle. The port answers as soon
    as the first worker serves; one still starting would be missing from the first seconds of load."""
    deadline = time.monotonic() + timeout_s
    before = worker_cpu_ticks(server.pid)
    while time.monotonic() < deadline:
        time.sleep(IDLE_WINDOW_S)
        server.check_alive()
        now = worker_cpu_ticks(server.pid)
        moved = [now[pid] - before[pid] for pid in now if pid in before]
        if len(now) >= server.workers and len(moved) == len(now) and max(moved) <= IDLE_TICKS:
            return
        before = now
    raise BenchError(
        f"{server.name}: {server.workers} workers not idle in {timeout_s:.0f} s; "
        f"log tail:\n{server.log_tail()}"
    )


def worker_cpu_ticks(pid: int) -> dict[int, int]:
    """CPU time (user + system, in clock ticks) of each uvicorn worker under `pid`: the processes that
    multiprocessing spawned (their command line runs spawn_main), not its resource tracker."""
    ticks = {}
    for member in process_tree(pid)[1:]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            if b"spawn_main" in (Path("/proc") / str(member) / "cmdline").read_bytes():
                ticks[member] = _cpu_ticks((Path("/proc") / str(member) / "stat").read_text())
    return ticks


@contextlib.contextmanager
def fresh_database(backend: str, workdir: Path, admin_url: str) -> Iterator[str]:
    """A new SQLite file in the temp dir, or a uniquely named PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        path = workdir / f"graphtasks-bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:  # a million tasks take most of a GiB: do not keep them until the whole run ends
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                leftover.unlink(missing_ok=True)
        return
    name = f"graphtasks_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def graphtasks_command(*args: str) -> tuple[int, str]:
    """Run a `graphtasks` sub-command (token, seed) in this process: the same code as `python -m
    graphtasks`, without importing graphtasks again for each call. Returns the exit code and output."""
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            code = graphtasks_cli(list(args))
    except Exception as error:  # a database error, say: reported as the command's failure
        return 1, f"{output.getvalue()}{type(error).__name__}: {error}"
    return code, output.getvalue()


def make_database(database_url: str) -> None:
    """Create and migrate the database as `graphtasks serve` does: the other commands use only an
    existing one, and the benchmarks mint tokens and seed before any server starts."""
    open_backend(Settings(database_url=database_url)).database.dispose()


def issue_token(database_url: str) -> str:
    """An application token of the default tenant with all four permissions, valid for a day."""
    make_database(database_url)
    code, output = graphtasks_command("token", "--database", database_url, "--expires", "1d")
    if code != 0:
        raise BenchError(f"graphtasks token failed ({code}): {output}")
    return output.strip()


def seed_database(database_url: str, count: int, seed_value: int = 0) -> tuple[float, float]:
    """`graphtasks seed` for the default tenant, before the server starts; returns seconds and rows/s."""
    make_database(database_url)
    code, output = graphtasks_command(
        "seed", "--database", database_url, "--count", str(count),
        "--tenant", DEFAULT_TENANT, "--seed", str(seed_value),
    )  # fmt: skip
    match = SEED_LINE.search(output)
    if code != 0 or match is None:
        raise BenchError(f"graphtasks seed failed ({code}):\n{output}")
    print(f"  {output.strip()}", file=sys.stderr, flush=True)
    return float(match.group(2)), float(match.group(3).replace(",", ""))


# --- memory -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """Resident memory of a process and its descendants (uvicorn workers), in KiB: now and at peak."""

    rss_kib: int
    hwm_kib: int


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descending from it, from each /proc/<n>/stat's parent pid."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                # the command name (2nd field) may hold spaces: the fields after its ')' are fixed
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def memory_of(pid: int) -> Memory:
    """VmRSS and VmHWM of /proc/<pid>/status, summed over the process tree (0 where unreadable)."""
    rss = hwm = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            status = (Path("/proc") / str(member) / "status").read_text()
            rss += _status_kib(status, "VmRSS")
            hwm += _status_kib(status, "VmHWM")
    return Memory(rss, hwm)


def _cpu_ticks(stat: str) -> int:
    """utime + stime of a /proc/<pid>/stat line: fields 14 and 15, the 12th and 13th after the ')'
    that ends the command name (which may hold spaces)."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _status_kib(status: str, key: str) -> int:
    match = re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0
