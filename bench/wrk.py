"""wrk, the load generator of every benchmark in bench/: the Lua scripts, one run, and its figures.

Each script's `response` checks the status of every answer against the one expected status (wrk alone
only counts status >= 400), and its `done` prints one JSON line (requests, duration, p50, p99, errors
by kind, the first unexpected answer) that `run_wrk` turns into a `Result`. Knows nothing of databases
or of which server it loads; servers.py starts those.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import BenchError, Server

TASKS_PATH = "/beta/deviceAppManagement/deviceAppManagementTasks"
RESULT_MARKER = "BENCH_RESULT "
# Closed-loop queueing at 128 connections against the slowest operation (a page of 100, a few dozen
# per second) alone takes seconds; a shorter timeout would count waiting in line as failures.
WRK_TIMEOUT = "30s"
ERROR_KINDS = ("connect", "read", "write", "timeout", "unexpected_status")


@dataclass(frozen=True)
class Load:
    """How hard and how long wrk loads a target: connections, seconds measured, seconds of warm-up."""

    concurrency: int
    duration_s: int
    warmup_s: int = 0
    threads: int = 1

    @property
    def wrk_threads(self) -> int:
        """wrk needs at least one connection per thread."""
        return max(1, min(self.threads, self.concurrency))


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
    """The figures of one wrk run."""

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


def measure(load: Load, target: Target, server: Server, workdir: Path) -> Result:
    """Warm up, then one measured wrk run; the server must still be up afterwards."""
    script = workdir / f"{uuid.uuid4().hex[:8]}.lua"
    script.write_text(target.lua)
    if load.warmup_s > 0:
        run_wrk(load, target, script, load.warmup_s)
    server.check_alive()
    result = run_wrk(load, target, script, load.duration_s)
    server.check_alive()
    if result.errors:
        print(
            f"\n{target.name} [{target.backend}]: {result.errors} errors {result.error_detail}; "
            f"first unexpected response: {result.first_unexpected or '(none: socket errors only)'}\n"
            f"{server.name} log tail:\n{server.log_tail()}\n",
            file=sys.stderr,
        )
    return result


def run_wrk(load: Load, target: Target, script: Path, duration_s: int) -> Result:
    command = [
        "wrk", f"-t{load.wrk_threads}", f"-c{load.concurrency}", f"-d{duration_s}s",
        f"--timeout={WRK_TIMEOUT}", "-s", str(script), target.url,
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith(RESULT_MARKER)), None)
    if completed.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    return to_result(load, target, json.loads(line[len(RESULT_MARKER) :]))


def to_result(load: Load, target: Target, raw: dict[str, Any]) -> Result:
    detail = {key: int(raw[key]) for key in ERROR_KINDS}
    duration_s = raw["duration_us"] / 1e6
    return Result(
        target=target.name,
        backend=target.backend,
        concurrency=load.concurrency,
        threads=load.wrk_threads,
        duration_s=round(duration_s, 3),
        requests=int(raw["requests"]),
        requests_per_s=raw["requests"] / duration_s if duration_s else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=sum(detail.values()),
        error_detail=detail,
        first_unexpected=str(raw["first_unexpected"]),
    )


def wrk_missing(script: str) -> bool:
    """Whether wrk is absent, saying so on stderr as `script` (a bench script's file name)."""
    if shutil.which("wrk") is not None:
        return False
    print(f"{script}: wrk is not on PATH; install it with: apt-get install -y wrk", file=sys.stderr)
    return True


def wrk_version() -> str:
    completed = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk \S+", completed.stdout + completed.stderr)
    return match.group(0) if match else "wrk (unknown version)"


# --- Lua scripts ------------------------------------------------------------------------------------

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

# Rotate over PATHS, one per request; threads start at different offsets (setup gives each its index).
LUA_ROTATION = r"""
local requests, next_index = {}, 1
function init(args)
  for i, path in ipairs(PATHS) do requests[i] = wrk.format(nil, path) end
  next_index = ((thread_index or 1) - 1) * math.floor(#requests / 2)
end
function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
"""


def lua_string(value: str | bytes) -> str:
    """A Lua string literal for any bytes: printable ASCII as is, everything else as a \\ddd escape."""
    data = value.encode() if isinstance(value, str) else value
    plain = set(range(0x20, 0x7F)) - {ord('"'), ord("\\")}
    return '"' + "".join(chr(b) if b in plain else f"\\{b:03d}" for b in data) + '"'


def lua_prelude(method: str, token: str, expected: int, body: bytes | None = None) -> str:
    """The request every script starts from: method, bearer token, JSON body if any, expected status."""
    lines = [
        "-- generated by bench/wrk.py",
        f"EXPECTED = {expected}",
        f"wrk.method = {lua_string(method)}",
        f'wrk.headers["Authorization"] = {lua_string("Bearer " + token)}',
        'wrk.headers["Accept"] = "application/json"',
    ]
    if body is not None:
        lines += ['wrk.headers["Content-Type"] = "application/json"', f"wrk.body = {lua_string(body)}"]
    return "\n".join(lines) + "\n"


def post_lua(body: bytes, token: str, expected: int) -> str:
    """POST the same JSON body on every request (to the tasks collection; the bare app ignores paths)."""
    return lua_prelude("POST", token, expected, body) + f"wrk.path = {lua_string(TASKS_PATH)}\n" + LUA_COMMON


def path_lua(path: str, token: str) -> str:
    """GET the same path and query on every request; every answer must be 200."""
    return lua_prelude("GET", token, 200) + f"wrk.path = {lua_string(path)}\n" + LUA_COMMON


def rotating_lua(ids: list[str], token: str, *, method: str = "GET", body: bytes | None = None) -> str:
    """One task per request, rotating through the ids: GET (200) or PATCH with `body` (204)."""
    paths = ",\n".join(f"  {lua_string(f'{TASKS_PATH}/{task_id}')}" for task_id in ids)
    expected = 200 if method == "GET" else 204
    prelude = lua_prelude(method, token, expected, body)
    return prelude + f"PATHS = {{\n{paths}\n}}\n" + LUA_ROTATION + LUA_COMMON


def get_lua(ids: list[str], token: str) -> str:
    """GET one task per request, rotating through the ids; every answer must be 200."""
    return rotating_lua(ids, token)
