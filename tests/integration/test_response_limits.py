"""Answers within their byte budget, over HTTP on a real server (docs/resilience.md, "Response size"
and "$expand"): a page of tasks or of navigation entities ends after the entity that passes
--max-response-bytes, with a nextLink that continues right after it, so a walk still sees every
entity once and in order; an expanded collection shows its first 20 entities and links to the rest;
and listing large tasks leaves the server's memory where it was."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from graphtasks.odata.selection import EXPANDED_PAGE_SIZE
from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server, backend_server

BUDGET = 64 * 1024  # the smallest budget Settings takes
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SECURITY = "#microsoft.graph.securityConfigurationTask"
APP_VULNERABILITY = "#microsoft.graph.appVulnerabilityTask"
SKIPTOKEN_REFUSED = "The $skiptoken value is not valid for this request."


@pytest.fixture(scope="module", params=BACKENDS)
def small_budget(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp(f"response-limits-{request.param}")
    with backend_server(request.param, directory, "--max-response-bytes", str(BUDGET)) as running:
        yield running


@pytest.fixture
def client(small_budget: Server) -> Iterator[httpx.Client]:
    with small_budget.client(small_budget.token(tenant=str(uuid.uuid4()))) as tenant_client:
        yield tenant_client


def settings_task(name: str, settings: int) -> dict[str, Any]:
    """A task whose JSON grows by about 117 bytes a setting."""
    intended = [{"name": f"setting-{i:05d}", "value": "v" * 40} for i in range(settings)]
    return {"@odata.type": SECURITY, "displayName": name, "intendedSettings": intended}


def create(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def walk(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every page from `url` on, following nextLinks."""
    pages, next_url = [], url
    response = client.get(next_url, params=params)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        next_url = pages[-1].get("@odata.nextLink")
        if next_url is None:
            return pages
        response = client.get(next_url)


def assert_within_budget(page: dict[str, Any], *, page_size: int) -> None:
    """A page ends after the entity that passes the budget, and never before: before its last entity
    it is within the budget, and a page that continues is full, by size or by count."""
    assert page["value"], "a page with a nextLink must not be empty"
    sizes = [len(orjson.dumps(entity)) + 1 for entity in page["value"]]
    assert sum(sizes[:-1]) <= BUDGET
    if "@odata.nextLink" in page:
        assert sum(sizes) > BUDGET or len(sizes) == page_size


def ids(pages: list[dict[str, Any]]) -> list[str]:
    return [entity["id"] for page in pages for entity in page["value"]]


def make_tasks(client: httpx.Client) -> list[dict[str, Any]]:
    """Tasks of 23 KB and of a few hundred bytes, mixed, so that pages of 3 tasks or more pass 64 KiB."""
    sizes = [200, 200, 0, 200, 200, 200, 0, 0, 200, 200, 200, 200, 0, 200]
    return [create(client, TASKS_PATH, settings_task(f"walk-{i:02d}", n)) for i, n in enumerate(sizes)]


@pytest.mark.parametrize(
    ("params", "order", "page_size"),
    [
        pytest.param({}, "created", 1000, id="default order"),
        pytest.param({"$orderby": "displayName desc"}, "name desc", 1000, id="orderby"),
        pytest.param({"$filter": "startswith(displayName, 'walk-')", "$count": "true"}, "created", 1000),
        pytest.param({"$top": "2"}, "created", 2, id="top smaller than what fits"),
        pytest.param(
            {
                "$skip": "3",
                "$select": "id,microsoft.graph.securityConfigurationTask/intendedSettings",
            },
            "skip 3",
            1000,
            id="skip and select",
        ),
    ],
)
def test_pages_end_past_the_budget_and_a_walk_sees_every_task_once_in_order(
    client: httpx.Client, params: dict[str, str], order: str, page_size: int
) -> None:
    tasks = make_tasks(client)
    pages = walk(client, TASKS_PATH, params)
    for page in pages:
        assert_within_budget(page, page_size=page_size)
        if "$count" in params:
            assert page["@odata.count"] == len(tasks)  # the total, on every page
    expected = {
        "created": [task["id"] for task in tasks],
        "name desc": [task["id"] for task in sorted(tasks, key=lambda t: t["displayName"], reverse=True)],
        "skip 3": [task["id"] for task in tasks[3:]],
    }[order]
    assert ids(pages) == expected
    assert len(pages) >= 3  # several pages, each ended by the budget or by $top


def test_a_task_larger_than_the_budget_comes_alone_and_whole(client: httpx.Client) -> None:
    large = create(client, TASKS_PATH, settings_task("large", 900))  # about 105 KB
    small = [create(client, TASKS_PATH, settings_task(f"small-{i}", 0)) for i in range(2)]
    first, second = walk(client, TASKS_PATH)
    assert [task["id"] for task in first["value"]] == [large["id"]]
    assert first["value"][0]["intendedSettings"] == large["intendedSettings"]
    assert [task["id"] for task in second["value"]] == [task["id"] for task in small]


def test_a_page_that_ends_on_the_last_task_has_no_next_link(client: httpx.Client) -> None:
    tasks = [create(client, TASKS_PATH, settings_task(f"t-{i}", 300)) for i in range(2)]  # 35 KB each
    (page,) = walk(client, TASKS_PATH)
    assert [task["id"] for task in page["value"]] == [task["id"] for task in tasks]


def test_navigation_entity_pages_end_past_the_budget(client: httpx.Client) -> None:
    task = create(client, TASKS_PATH, {"@odata.type": APP_VULNERABILITY})
    devices = f"{TASKS_PATH}/{task['id']}/managedDevices"
    created = [create(client, devices, {"displayName": f"{i:02d}" + "d" * 5000}) for i in range(30)]
    pages = walk(client, devices, {"$count": "true"})
    for page in pages:
        assert_within_budget(page, page_size=1000)
        assert page["@odata.count"] == len(created)
    assert ids(pages) == sorted(device["id"] for device in created)  # by id, their default order
    assert len(pages) >= 3


def make_children(
    client: httpx.Client, task_id: str, navigation: str, count: int, size: int = 10
) -> list[str]:
    path = f"{TASKS_PATH}/{task_id}/{navigation}"
    return sorted(create(client, path, {"displayName": "n" * size})["id"] for _ in range(count))


def test_expand_shows_the_first_twenty_and_links_to_the_rest(
    small_budget: Server, client: httpx.Client
) -> None:
    task = create(client, TASKS_PATH, {"@odata.type": APP_VULNERABILITY})
    devices = make_children(client, task["id"], "managedDevices", 45)
    apps = make_children(client, task["id"], "mobileApps", EXPANDED_PAGE_SIZE)
    fetched = client.get(f"{TASKS_PATH}/{task['id']}", params={"$expand": "managedDevices,mobileApps"})
    body = fetched.json()
    assert [device["id"] for device in body["managedDevices"]] == devices[:EXPANDED_PAGE_SIZE]
    # Exactly a page's worth: nothing more to link to.
    assert [app["id"] for app in body["mobileApps"]] == apps
    assert "mobileApps@odata.nextLink" not in body
    link = body["managedDevices@odata.nextLink"]
    assert link.startswith(f"{small_budget.url}{TASKS_PATH}/{task['id']}/managedDevices?$skiptoken=")
    rest = walk(client, link)
    assert ids(rest) == devices[EXPANDED_PAGE_SIZE:]
    # Another tenant finds no such task; the token, signed for this collection, fails on any other.
    with small_budget.client(small_budget.token(tenant=str(uuid.uuid4()))) as stranger:
        assert_graph_error(stranger.get(link), 404, "ResourceNotFound")
    elsewhere = link.replace("/managedDevices?", "/mobileApps?")
    assert_graph_error(client.get(elsewhere), 400, "BadRequest", SKIPTOKEN_REFUSED)


def test_expand_on_a_list_shows_twenty_per_task(client: httpx.Client) -> None:
    tasks = [create(client, TASKS_PATH, {"@odata.type": APP_VULNERABILITY}) for _ in range(3)]
    counts = [25, 0, 3]
    children = {
        t["id"]: make_children(client, t["id"], "managedDevices", n)
        for t, n in zip(tasks, counts, strict=True)
    }
    create(client, TASKS_PATH, {"@odata.type": SECURITY})  # has managedDevices too, none of them
    (page,) = walk(client, TASKS_PATH, {"$expand": "managedDevices"})
    shown = {
        t["id"]: ([d["id"] for d in t["managedDevices"]], t.get("managedDevices@odata.nextLink"))
        for t in page["value"]
    }
    for task_id, expected in children.items():
        listed, link = shown[task_id]
        assert listed == expected[:EXPANDED_PAGE_SIZE]
        assert (link is None) == (len(expected) <= EXPANDED_PAGE_SIZE)
        if link is not None:
            assert ids(walk(client, link)) == expected[EXPANDED_PAGE_SIZE:]


def test_expanded_collections_count_against_the_budget(client: httpx.Client) -> None:
    """Each task is small, but with its 20 devices of 1 KB it is 22 KB: a page holds three."""
    tasks = [create(client, TASKS_PATH, {"@odata.type": APP_VULNERABILITY}) for _ in range(7)]
    for task in tasks:
        make_children(client, task["id"], "managedDevices", EXPANDED_PAGE_SIZE, size=1000)
    pages = walk(client, TASKS_PATH, {"$expand": "managedDevices"})
    for page in pages:
        assert_within_budget(page, page_size=1000)
        assert all(len(task["managedDevices"]) == EXPANDED_PAGE_SIZE for task in page["value"])
    assert [len(page["value"]) for page in pages] == [3, 3, 1]
    assert ids(pages) == [task["id"] for task in tasks]


def test_a_list_inside_a_batch_is_within_the_budget(client: httpx.Client) -> None:
    tasks = make_tasks(client)
    request = {"id": "1", "method": "GET", "url": TASKS_PATH.removeprefix("/beta")}
    (answer,) = client.post("/beta/$batch", json={"requests": [request]}).json()["responses"]
    assert answer["status"] == 200
    assert_within_budget(answer["body"], page_size=1000)
    rest = walk(client, answer["body"]["@odata.nextLink"])
    assert [task["id"] for task in answer["body"]["value"]] + ids(rest) == [task["id"] for task in tasks]


def peak_kib(server: Server) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1])


def test_listing_large_tasks_leaves_the_servers_memory_where_it_was(
    small_budget: Server, client: httpx.Client
) -> None:
    """24 tasks of about 1 MB each: read and rendered whole, a page of them raised the server's peak
    by 150 MB over the creates'; read until one passes the budget, by 1 MB (SQLite) or 11 MB (the
    first chunk, on PostgreSQL)."""
    tasks = [create(client, TASKS_PATH, settings_task(f"big-{i:02d}", 8000))["id"] for i in range(24)]
    before = peak_kib(small_budget)
    page = client.get(TASKS_PATH, params={"$top": "1000"}).json()
    grown = peak_kib(small_budget) - before
    assert [task["id"] for task in page["value"]] == tasks[:1]
    assert grown < 48 * 1024, f"the server's peak memory grew by {grown} KiB"
