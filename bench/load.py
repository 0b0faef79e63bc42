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
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

if __package__ in {None, ""}:  # run as `python bench/load.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import render_table

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_PATH = BENCH_DIR / "results" / "latest.json"
# The request body of the example on Graph's "Create securityConfigurationTask" (beta) page, verbatim.
CREATE_BODY_PATH = BENCH_DIR / "securityConfigurationTask.json"
TASKS_PATH = "/beta/deviceAppManagement/deviceAppManagementTasks"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESULT_MARKER = "BENCH_RESULT "
WRK_TIMEOUT = "5s"
SEED_COUNT = 200
LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class Target:
    """One wrk run: what to call, how, and the only status that counts as success."""

    name: str
    backend: str
    url: str
    lua: str
    expected_status: int


@dataclass
class Result:
    """The figures of one wrk run, as printed in the table and written to latest.json."""

    target: str
    backend: str
    concurrency: int
    threads: int
    duration_s: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_detail: dict[str, int]
    first_unexpected: str
    ratio_to_bare: float | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server subprocess on a local port, with its combined stdout/stderr in a log file."""

    name: str
    command: list[str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise BenchError(f"{self.name} exited (code {code}); log tail:\n{self.log_tail()}")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:]) or "(empty log)"


class BenchError(Exception):
    """The benchmark cannot go on: a server died, wrk failed, seeding failed."""


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("load.py: wrk is not on PATH; install it with: apt-get install -y wrk", file=sys.stderr)
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
        bare = Server("bare app", [sys.executable, str(BENCH_DIR / "bare_app.py")], workdir / "bare.log")
        with running(bare, ready_path="/"):
            for backend in backends:
                results.extend(run_backend(args, backend, bare, workdir))
    return results


def run_backend(args: argparse.Namespace, backend: str, bare: Server, workdir: Path) -> list[Result]:
    with fresh_database(backend, workdir, args.postgres_admin_url) as database_url:
        log_path = workdir / f"graphtasks-{backend}.log"
        command = [sys.executable, "-m", "graphtasks", "serve", "--database", database_url]
        graphtasks = Server(f"graphtasks ({backend})", command, log_path)
        with running(graphtasks, ready_path="/common/discovery/v2.0/keys"):
            token = issue_token(database_url)
            body = CREATE_BODY_PATH.read_bytes()
            ids = seed_tasks(graphtasks, token, body)
            runs = [
                (Target("bare ASGI app (POST)", backend, bare.url, post_lua(body, token, 201), 201), bare),
                (Target("graphtasks create (POST)", backend, graphtasks.url, post_lua(body, token, 201), 201),
                 graphtasks),
                (Target("graphtasks get by id (GET)", backend, graphtasks.url, get_lua(ids, token), 200),
                 graphtasks),
            ]  # fmt: skip
            results = [measure(args, target, server, workdir) for target, server in runs]
    baseline = results[0].requests_per_s
    for result in results:
        result.ratio_to_bare = result.requests_per_s / baseline if baseline else None
    return results


def measure(args: argparse.Namespace, target: Target, server: Server, workdir: Path) -> Result:
    """Warm up, then one measured wrk run; the server must still be up afterwards."""
    script = workdir / f"{uuid.uuid4().hex[:8]}.lua"
    script.write_text(target.lua)
    if args.warmup > 0:
        run_wrk(args, target, script, args.warmup)
    server.check_alive()
    result = run_wrk(args, target, script, args.duration)
    server.check_alive()
    if result.errors:
        print(
            f"\n{target.name} [{target.backend}]: {result.errors} errors {result.error_detail}; "
            f"first unexpected response: {result.first_unexpected or '(none: socket errors only)'}\n"
            f"{server.name} log tail:\n{server.log_tail()}\n",
            file=sys.stderr,
        )
    return result


def run_wrk(args: argparse.Namespace, target: Target, script: Path, duration: int) -> Result:
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.concurrency}", f"-d{duration}s",
        f"--timeout={WRK_TIMEOUT}", "-s", str(script), target.url,
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith(RESULT_MARKER)), None)
    if completed.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    return to_result(args, target, json.loads(line[len(RESULT_MARKER) :]))


def to_result(args: argparse.Namespace, target: Target, raw: dict[str, Any]) -> Result:
    detail = {key: int(raw[key]) for key in ("connect", "read", "write", "timeout", "unexpected_status")}
    duration_s = raw["duration_us"] / 1e6
    return Result(
        target=target.name,
        backend=target.backend,
        concurrency=args.concurrency,
        threads=args.threads,
        duration_s=round(duration_s, 3),
        requests=int(raw["requests"]),
        requests_per_s=raw["requests"] / duration_s if duration_s else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=sum(detail.values()),
        error_detail=detail,
        first_unexpected=str(raw["first_unexpected"]),
    )


# --- wrk Lua scripts -------------------------------------------------------------------------------

# Shared by every script: count responses whose status is not the expected one (wrk itself only counts
# status >= 400 in errors.status, so a 200 for a create would pass unnoticed), remember the first one,
# and print one JSON line from `done` with the figures of all threads.
LUA_COMMON = r"""
local threads = {}
unexpected = 0
first_unexpected = ""

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

function response(status, headers, body)
  if status ~= EXPECTED then
    unexpected = unexpected + 1
    if first_unexpected == "" then
      first_unexpected = status .. " " .. string.sub(body or "", 1, 400)
    end
  end
end

local function json_escape(c)
  return string.format("\\u%04x", string.byte(c))
end

local function json_string(s)
  return '"' .. string.gsub(s, '[%c"\\]', json_escape) .. '"'
end

function done(summary, latency, requests)
  local bad, sample = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    if sample == "" then sample = thread:get("first_unexpected") or "" end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "connect": %d, '
    .. '"read": %d, "write": %d, "timeout": %d, "unexpected_status": %d, "first_unexpected": %s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, bad, json_string(sample)))
end
"""


def lua_string(value: str | bytes) -> str:
    """A Lua string literal for any bytes: printable ASCII as is, everything else as a \\ddd escape."""
    data = value.encode() if isinstance(value, str) else value
    plain = set(range(0x20, 0x7F)) - {ord('"'), ord("\\")}
    return '"' + "".join(chr(b) if b in plain else f"\\{b:03d}" for b in data) + '"'


def lua_prelude(method: str, token: str, expected: int) -> str:
    return (
        f"-- generated by bench/load.py\nEXPECTED = {expected}\nwrk.method = {lua_string(method)}\n"
        f'wrk.headers["Authorization"] = {lua_string("Bearer " + token)}\n'
        'wrk.headers["Accept"] = "application/json"\n'
    )


def post_lua(body: bytes, token: str, expected: int) -> str:
    """POST the same JSON body on every request (to the tasks collection; the bare app ignores paths)."""
    return (
        lua_prelude("POST", token, expected)
        + f'wrk.headers["Content-Type"] = "application/json"\nwrk.body = {lua_string(body)}\n'
        + f"wrk.path = {lua_string(TASKS_PATH)}\n"
        + LUA_COMMON
    )


def get_lua(ids: list[str], token: str) -> str:
    """GET one seeded task per request, rotating through the ids (each thread from its own offset)."""
    paths = ",\n".join(f"  {lua_string(f'{TASKS_PATH}/{task_id}')}" for task_id in ids)
    rotation = r"""
local requests, next_index = {}, 1
function init(args)
  for i, path in ipairs(PATHS) do requests[i] = wrk.format(nil, path) end
  -- threads start at different ids (setup gives each its index; 1 or 2 threads)
  next_index = ((thread_index or 1) - 1) * math.floor(#requests / 2)
end
function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
"""
    return lua_prelude("GET", token, 200) + f"PATHS = {{\n{paths}\n}}\n" + rotation + LUA_COMMON


# --- servers, databases, seeding --------------------------------------------------------------------


@contextlib.contextmanager
def running(server: Server, *, ready_path: str) -> Iterator[Server]:
    """Start the server with --port, wait until it answers HTTP, and stop it (SIGTERM) afterwards."""
    command = [*server.command, "--port", str(server.port)]
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_DIR)
    try:
        wait_ready(server, ready_path)
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


@contextlib.contextmanager
def fresh_database(backend: str, workdir: Path, admin_url: str) -> Iterator[str]:
    """A SQLite file in the temp dir, or a uniquely named PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'graphtasks-bench.db'}"
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


def issue_token(database_url: str) -> str:
    command = [sys.executable, "-m", "graphtasks", "token", "--database", database_url]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO_DIR)
    if completed.returncode != 0:
        raise BenchError(f"graphtasks token failed ({completed.returncode}): {completed.stderr}")
    return completed.stdout.strip()


def seed_tasks(server: Server, token: str, body: bytes, count: int = SEED_COUNT) -> list[str]:
    """Create `count` tasks for the get benchmark; every one must be answered 201."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    ids: list[str] = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=30.0) as client:
        for _ in range(count):
            response = client.post(TASKS_PATH, content=body)
            if response.status_code != 201:
                raise BenchError(
                    f"seeding: POST {TASKS_PATH} -> {response.status_code} {response.text[:400]}"
                )
            ids.append(str(response.json()["id"]))
    return ids


# --- output -----------------------------------------------------------------------------------------


def wrk_version() -> str:
    completed = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk \S+", completed.stdout + completed.stderr)
    return match.group(0) if match else "wrk (unknown version)"


def header(args: argparse.Namespace, load_before: float) -> str:
    cores = os.cpu_count() or 0
    return (
        f"\n## graphtasks load benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"- load generator: {wrk_version()}, {args.threads} thread(s), {args.concurrency} connections, "
        f"{args.duration} s per run after {args.warmup} s warm-up\n"
        f"- servers: uvicorn, 1 worker, access log off, log level warning (cli/serve.py's uvicorn.run); "
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
