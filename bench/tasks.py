"""The requests the benchmarks send to graphtasks, and the few they make with httpx outside wrk.

Owns the request bodies (Graph's example create body, the PATCH body), the list-page query and the
ways to get task ids and counts from a running server; never starts a server or runs wrk.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx

from bench.servers import BENCH_DIR, BenchError, Server
from bench.wrk import TASKS_PATH

# The request body of the example on Graph's "Create securityConfigurationTask" (beta) page, verbatim.
CREATE_BODY_PATH = BENCH_DIR / "securityConfigurationTask.json"
# A PATCH changes what it names and keeps the rest; @odata.type names the task's own type.
PATCH_BODY = json.dumps(
    {"@odata.type": "#microsoft.graph.securityConfigurationTask", "displayName": "Patched by bench"},
    separators=(",", ":"),
).encode()
PAGE_SIZE = 100
STATUS = "pending"
# Graph clients send these characters as they are; everything else in an option value is %-encoded.
QUERY_SAFE = "$,'()"


def query_path(path: str, options: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(options, quote_via=quote, safe=QUERY_SAFE)}"


PAGE_OPTIONS = [
    ("$filter", f"status eq '{STATUS}'"),
    ("$orderby", "createdDateTime desc"),
    ("$top", str(PAGE_SIZE)),
]
# A page of 100 with an indexed filter and an order: the list request of every benchmark.
FIRST_PAGE_PATH = query_path(TASKS_PATH, PAGE_OPTIONS)
COUNT_PATH = f"{TASKS_PATH}/$count"


def create_body() -> bytes:
    return Path(CREATE_BODY_PATH).read_bytes()


def client(server: Server, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60.0)


def fetch(http: httpx.Client, path: str) -> httpx.Response:
    response = http.get(path)
    if response.status_code != 200:
        raise BenchError(f"GET {path} -> {response.status_code} {response.text[:400]}")
    return response


def create_tasks(server: Server, token: str, body: bytes, count: int) -> list[str]:
    """Create `count` tasks one by one; every one must be answered 201. Returns their ids."""
    ids: list[str] = []
    with client(server, token) as http:
        for _ in range(count):
            response = http.post(TASKS_PATH, content=body, headers={"Content-Type": "application/json"})
            if response.status_code != 201:
                raise BenchError(f"POST {TASKS_PATH} -> {response.status_code} {response.text[:400]}")
            ids.append(str(response.json()["id"]))
    return ids


def sample_ids(server: Server, token: str, count: int = 200) -> list[str]:
    """Up to `count` ids of stored tasks, the oldest first (the default order)."""
    with client(server, token) as http:
        items = fetch(http, f"{TASKS_PATH}?$select=id&$top={count}").json()["value"]
    if not items:
        raise BenchError("no stored tasks to get or patch by id")
    return [str(item["id"]) for item in items]


def stored_count(server: Server, token: str) -> int:
    """The tenant's stored tasks, from /$count."""
    with client(server, token) as http:
        return int(fetch(http, COUNT_PATH).text)
