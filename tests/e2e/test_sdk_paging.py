"""The official SDK's PageIterator walks a filtered, ordered list of many pages while another thread
creates and deletes other tasks: each task that exists for the whole walk is seen exactly once. It
also walks pages that end early because of their size.

Owns the proof that keyset paging (storage/query.py) holds under concurrent writes as the SDK drives it
(docs/graph-behaviour.md, "PageIterator"): the first page is the SDK's own request with $filter,
$orderby, $top and $count from its query parameters (the same page's "Requests the SDK sends");
PageIterator then GETs each @odata.nextLink verbatim and deserializes it with the first page's
class. Tasks are created and deleted over plain HTTP, which is not what is under test.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph_beta import GraphServiceClient
from msgraph_core import PageIterator

from tests.e2e.test_sdk import pytestmark as sdk_marks
from tests.e2e.test_sdk import run_sdk
from tests.support.server import TASKS_PATH, Server, backend_server

pytestmark = sdk_marks

TYPES = (
    "deviceAppManagementTask",
    "securityConfigurationTask",
    "appVulnerabilityTask",
    "unmanagedDeviceDiscoveryTask",
)
STABLE = 24  # tasks that exist for the whole walk: eight pages of three
PAGE = 3
FILTER = "startswith(displayName, 'walk-') and status eq 'pending'"


def stable_name(i: int) -> str:
    return f"walk-{i:02d}"


class Churn(threading.Thread):
    """Creates and deletes tasks until stopped, each named to sort next to a stable one (before or after
    the walk's position), half of them matching the filter; at most four live at a time."""

    def __init__(self, client: httpx.Client) -> None:
        super().__init__(name="churn", daemon=True)
        self.client = client
        self.created: list[str] = []
        self.operations = 0
        self.error: BaseException | None = None
        self.stopping = threading.Event()
        self._progress = threading.Condition()

    def run(self) -> None:
        live: list[str] = []
        try:
            for n in itertools.count():
                if self.stopping.is_set():
                    return
                # 7 is coprime to STABLE, so the names visit every gap between stable tasks.
                body = {"displayName": f"{stable_name(n * 7 % STABLE)}-churn-{n}"}
                body["status"] = "pending" if n % 2 else "active"
                response = self.client.post(TASKS_PATH, json=body)
                assert response.status_code == 201, response.text
                live.append(response.json()["id"])
                self.created.append(live[-1])
                if len(live) > 4:
                    assert self.client.delete(f"{TASKS_PATH}/{live.pop(0)}").status_code == 204
                with self._progress:
                    self.operations += 1
                    self._progress.notify_all()
        except BaseException as error:  # reported by the test, which owns the assertion
            self.error = error
            with self._progress:
                self._progress.notify_all()

    def wait_past(self, operations: int) -> int:
        """Block until the churn has done more than `operations` writes; the count now."""
        with self._progress:
            self._progress.wait_for(
                lambda: self.operations > operations or self.error is not None, timeout=10
            )
            return self.operations


def create_stable_tasks(client: httpx.Client) -> dict[str, str]:
    """id -> name, of every type in turn; one task that fails the filter sits among them."""
    names: dict[str, str] = {}
    for i in range(STABLE):
        body = {
            "@odata.type": f"#microsoft.graph.{TYPES[i % len(TYPES)]}",
            "displayName": stable_name(i),
            "status": "pending",
        }
        response = client.post(TASKS_PATH, json=body)
        assert response.status_code == 201, response.text
        names[response.json()["id"]] = stable_name(i)
    assert client.post(TASKS_PATH, json={"displayName": "walk-99", "status": "rejected"}).status_code == 201
    return names


def walk(server: Server, token: str, churn: Churn) -> tuple[list[Any], int]:
    """Every task PageIterator hands over, in order, and the first page's @odata.count. The churn
    starts once the first page is in, and writes at least once between any two tasks."""
    seen: list[Any] = []

    async def scenario(graph: GraphServiceClient) -> int:
        tasks = graph.device_app_management.device_app_management_tasks
        parameters = tasks.DeviceAppManagementTasksRequestBuilderGetQueryParameters(
            filter=FILTER, orderby=["displayName desc"], top=PAGE, count=True
        )
        first = await tasks.get(request_configuration=RequestConfiguration(query_parameters=parameters))
        churn.start()
        written = 0

        def on_task(task: Any) -> bool:
            nonlocal written
            seen.append(task)
            written = churn.wait_past(written)
            return True  # a falsy return stops the iteration (docs/graph-behaviour.md, "PageIterator")

        await PageIterator(first, graph.request_adapter).iterate(on_task)
        count: int = first.odata_count
        return count

    try:
        return seen, run_sdk(server, scenario, token=token)
    finally:
        churn.stopping.set()
        churn.join(timeout=30)


def test_page_iterator_sees_every_stable_task_once_under_concurrent_writes(server: Server) -> None:
    token = server.token(tenant=str(uuid.uuid4()))
    with server.client(token) as setup, server.client(token) as churn_client:
        stable = create_stable_tasks(setup)
        churn = Churn(churn_client)
        seen, first_count = walk(server, token, churn)
    assert churn.error is None, repr(churn.error)

    ids = [task.id for task in seen]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert {i: n for i, n in Counter(ids).items() if i in stable} == dict.fromkeys(stable, 1)
    assert set(ids) <= set(stable) | set(churn.created)
    # Ordered as asked, every page deserialized as its subtype, and the churn really overlapped.
    assert [stable[i] for i in ids if i in stable] == sorted(stable.values(), reverse=True)
    assert {type(task).__name__ for task in seen if task.id in stable} == {
        t[0].upper() + t[1:] for t in TYPES
    }
    assert all(task.display_name.startswith("walk-") and task.display_name != "walk-99" for task in seen)
    assert churn.operations >= len(ids)
    assert first_count == STABLE  # the churn starts after the first page


# --- pages cut by size (docs/resilience.md, "Response size") ---

BUDGET = 64 * 1024
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def small_budget(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"sdk-budget-{request.param}")
    with backend_server(request.param, directory, "--max-response-bytes", str(BUDGET)) as running:
        yield running


def test_page_iterator_follows_pages_cut_by_size(small_budget: Server) -> None:
    """Tasks of about 23 KB: a page of 64 KiB ends after the third, far short of the 1000 asked for."""
    token = small_budget.token(tenant=str(uuid.uuid4()))
    settings = [{"name": f"setting-{i:03d}", "value": "v" * 40} for i in range(200)]
    with small_budget.client(token) as client:
        created = [
            client.post(
                TASKS_PATH,
                json={
                    "@odata.type": "#microsoft.graph.securityConfigurationTask",
                    "displayName": f"large-{i}",
                    "intendedSettings": settings,
                },
            ).json()["id"]
            for i in range(8)
        ]
    seen: list[Any] = []

    def on_task(task: Any) -> bool:
        seen.append(task)
        return True

    async def scenario(graph: GraphServiceClient) -> int:
        first = await graph.device_app_management.device_app_management_tasks.get()
        await PageIterator(first, graph.request_adapter).iterate(on_task)
        return len(first.value)

    first_page = run_sdk(small_budget, scenario, token=token)
    assert first_page == 3
    assert [task.id for task in seen] == created
    assert all(len(task.intended_settings) == len(settings) for task in seen)
