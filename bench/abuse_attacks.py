"""The attacks bench/abuse.py replays: each one request shape that once held the server's memory, its event
loop or its storage threads, sent by one tenant (or by nobody, where no token is needed), and the data
the attacking tenant first makes for it.

Knows the requests; never starts a server and never measures (abuse.py does both).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

TASKS = "/beta/deviceAppManagement/deviceAppManagementTasks"
BATCH_TASKS = TASKS.removeprefix("/beta")  # $batch item URLs are relative to the version
SECURITY_TASK = "#microsoft.graph.securityConfigurationTask"
APP_TASK = "#microsoft.graph.appVulnerabilityTask"
# The sizes of the original probes, and of --quick (CI's short run).
FULL = {"upload_mib": 1024, "uploads": 3, "settings": 100_000, "children": 1200, "filters": 44}
QUICK = {"upload_mib": 64, "uploads": 2, "settings": 20_000, "children": 150, "filters": 8}


@dataclass(frozen=True)
class Target:
    """Where an attack goes: the server's URL, the attacker's tenant, token and prepared data."""

    url: str
    tenant: str
    token: str
    large_task_ids: tuple[str, ...]
    parent_id: str
    sizes: dict[str, int]

    def client(self, *, timeout: float = 120.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"}
        # Plain HTTP on loopback: no CA bundle to load. Loading it costs 26 ms of CPU per client, which
        # 45 clients opened at once would take from the server's cores, as a remote attacker cannot.
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout, verify=False)  # noqa: S501


Attack = Callable[[Target], list[int]]


def prepare(url: str, tenant: str, token: str, sizes: dict[str, int]) -> Target:
    """Two security tasks with `settings` intendedSettings each, and an app task with `children`
    managedDevices, for the attacking tenant."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120.0) as client:
        settings = [{"name": f"s{i}", "value": f"v{i}"} for i in range(sizes["settings"])]
        large = tuple(
            _created(
                client, {"@odata.type": SECURITY_TASK, "displayName": "large", "intendedSettings": settings}
            )
            for _ in range(2)
        )
        parent = _created(client, {"@odata.type": APP_TASK, "displayName": "parent"})
        for i in range(sizes["children"]):
            child = {"displayName": f"device{i}", "managedDeviceId": str(uuid.UUID(int=i))}
            answer = client.post(f"{TASKS}/{parent}/managedDevices", json=child)
            answer.raise_for_status()
    return Target(url, tenant, token, large, parent, sizes)


def _created(client: httpx.Client, body: dict[str, object]) -> str:
    answer = client.post(TASKS, json=body)
    answer.raise_for_status()
    task_id: str = answer.json()["id"]
    return task_id


def _chunks(total: int, size: int = 1024 * 1024) -> Iterator[bytes]:
    block = b"a" * size
    for _ in range(total // size):
        yield block


def upload_to_token_endpoint(target: Target) -> list[int]:
    """Concurrent uploads of `upload_mib` MiB each to the token endpoint, with no token at all."""
    statuses: list[int] = []

    def upload() -> None:
        url = f"{target.url}/{target.tenant}/oauth2/v2.0/token"
        content = _chunks(target.sizes["upload_mib"] * 1024 * 1024)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            statuses.append(httpx.post(url, content=content, headers=headers, timeout=120.0).status_code)
        except httpx.HTTPError:
            statuses.append(0)  # cut off mid-upload: the server refused to read on

    _in_threads(upload, target.sizes["uploads"])
    return statuses


def prefer_patterns(target: Target) -> list[int]:
    """A $batch of one GET whose Prefer lists 270,000 annotation patterns, then one 1 MB `*a*a…` one."""
    many = ",".join(f"ns{i}.*" for i in range(270_000))
    statuses = []
    with target.client() as client:
        for preference in (
            f'odata.include-annotations="{many}"',
            f'odata.include-annotations="{"*a" * 500_000}"',
        ):
            url = f"{BATCH_TASKS}?$top=1&$select=displayName"
            item = {"id": "1", "method": "GET", "url": url, "headers": {"Prefer": preference}}
            answer = client.post("/beta/$batch", json={"requests": [item]})
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                statuses += [response["status"] for response in answer.json()["responses"]]
    return statuses


def lambda_filters(target: Target) -> list[int]:
    """`filters` concurrent any() filters with contains(tolower()) over the large tasks' settings, whose
    clients give up after two seconds."""
    condition = "contains(tolower(s/name),'zz') or contains(tolower(s/value),'zz')"
    query = {"$filter": f"microsoft.graph.securityConfigurationTask/intendedSettings/any(s: {condition})"}
    statuses: list[int] = []

    def one() -> None:
        with target.client(timeout=2.0) as client:
            try:
                statuses.append(client.get(TASKS, params=query).status_code)
            except httpx.TimeoutException:
                statuses.append(0)  # the client left; its query should stop too

    _in_threads(one, target.sizes["filters"])
    return statuses


def batch_of_large_pages(target: Target) -> list[int]:
    """A $batch of 20 GETs of `$top=1000` over the large tasks."""
    items = [{"id": str(i), "method": "GET", "url": f"{BATCH_TASKS}?$top=1000"} for i in range(1, 21)]
    with target.client() as client:
        answer = client.post("/beta/$batch", json={"requests": items})
    if answer.status_code != 200:
        return [answer.status_code]
    return [answer.status_code, *(item["status"] for item in answer.json()["responses"])]


def expand_children(target: Target) -> list[int]:
    """The parent task with its `children` managedDevices expanded inline."""
    with target.client() as client:
        answer = client.get(f"{TASKS}/{target.parent_id}", params={"$expand": "managedDevices"})
    return [answer.status_code]


def long_depends_on(target: Target) -> list[int]:
    """A 3 MB $batch of 20 items, each depending on every earlier one, named over and over."""
    ids = [str(i) for i in range(1, 21)]
    items: list[dict[str, object]] = [{"id": ids[0], "method": "GET", "url": f"{BATCH_TASKS}/$count"}]
    for n, item in enumerate(ids[1:], start=1):
        repeated = (ids[:n] * (35_000 // n + 1))[:35_000]
        items.append({"id": item, "method": "GET", "url": f"{BATCH_TASKS}/$count", "dependsOn": repeated})
    body = json.dumps({"requests": items}).encode()
    with target.client() as client:
        answer = client.post("/beta/$batch", content=body, headers={"Content-Type": "application/json"})
    return [answer.status_code]


def nul_in_filter(target: Target) -> list[int]:
    with target.client() as client:
        return [client.get(TASKS, params={"$filter": "displayName eq '\x00'"}).status_code]


def _in_threads(work: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


ATTACKS: dict[str, Attack] = {
    "1 GiB uploads to the token endpoint, no token": upload_to_token_endpoint,
    "Prefer: 270,000 patterns, and a 1 MB pattern, in $batch": prefer_patterns,
    "lambda filters over 2 x 100k settings, clients leave": lambda_filters,
    "$batch of 20 x $top=1000 over large tasks": batch_of_large_pages,
    "$expand of a task's 1,200 children": expand_children,
    "$batch with 3 MB of dependsOn": long_depends_on,
    "NUL in a $filter literal": nul_in_filter,
}
