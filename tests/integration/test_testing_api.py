"""graphtasks.testing.Graphtasks, the Python API of docs/testing.md ("The Python API", "State control",
"The request journal"): a handle in this process, its clients (httpx, sync and async, and the official
SDK) from any event loop, tokens, tenants that never see each other, load/export/reset, the request
journal, fault rules for one tenant, and the errors of the admin API; then a few of the same on
`Graphtasks.serve()`, a real `graphtasks serve` on a port."""

from __future__ import annotations

import asyncio
import gc
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from graphtasks.auth.permissions import APPS_READ, APPS_READ_WRITE, CONFIGURATION_READ
from graphtasks.testing import Graphtasks, GraphtasksError
from graphtasks.web.journal import BODY_LIMIT

TASKS = "deviceAppManagement/deviceAppManagementTasks"
SECURITY = "#microsoft.graph.securityConfigurationTask"
VULNERABILITY = "#microsoft.graph.appVulnerabilityTask"
JOURNAL_KEYS = {
    "time",
    "method",
    "path",
    "query",
    "status",
    "durationMs",
    "tenant",
    "appId",
    "requestId",
    "inBatch",
    "requestBody",
    "responseBody",
    "truncated",
}
# The SDK's own request builders warn from their class bodies on first import (as in tests/e2e/test_sdk.py).
SDK_QUERY_PARAMETERS_WARNING = (
    r"ignore:GetQueryParameters is deprecated\. Use QueryParameters instead\.:DeprecationWarning"
)
SDK_REQUEST_CONFIGURATION_WARNING = (
    r"ignore:This class is deprecated\. Please use the generic RequestConfiguration class generated "
    r"by the generator\.:DeprecationWarning"
)


def task(name: str, **more: Any) -> dict[str, Any]:
    return {"@odata.type": SECURITY, "displayName": name, **more}


def names(handle: Graphtasks) -> list[str]:
    return [stored["displayName"] for stored in handle.tasks()]


def create(handle: Graphtasks, *titles: str) -> list[str]:
    with handle.http() as http:
        answers = [http.post(TASKS, json=task(title)) for title in titles]
    assert [answer.status_code for answer in answers] == [201] * len(titles)
    return [str(answer.json()["id"]) for answer in answers]


def listed(handle: Graphtasks, *, token: str | None = None) -> httpx.Response:
    with handle.http(token=token) as http:
        return http.get(TASKS)


@pytest.fixture(scope="module")
def graph() -> Iterator[Graphtasks]:
    with Graphtasks() as handle:
        yield handle


@pytest.fixture
def tenant(graph: Graphtasks) -> Iterator[Graphtasks]:
    with graph.new_tenant() as handle:
        yield handle


# --- where, and who ---


def test_a_handle_names_a_fresh_tenant_and_the_graph_base_url(graph: Graphtasks) -> None:
    assert str(uuid.UUID(graph.tenant_id)) == graph.tenant_id
    assert urlsplit(graph.url).path == "/beta"
    with graph.http() as http:
        assert http.base_url == graph.url + "/"
    other = graph.new_tenant()
    assert other.tenant_id != graph.tenant_id
    assert other.url == graph.url


def test_a_tenant_id_given_is_the_tenant_its_tokens_and_requests_belong_to(graph: Graphtasks) -> None:
    chosen = str(uuid.uuid4())
    with graph.new_tenant(tenant_id=chosen.upper()) as handle:
        assert handle.tenant_id == chosen
        assert jwt.decode(handle.token(), options={"verify_signature": False})["tid"] == chosen
        create(handle, "Chosen")
        assert {entry["tenant"] for entry in handle.requests()} == {chosen}


@pytest.mark.parametrize(
    ("grant", "method", "status", "says"),
    [
        pytest.param({}, "POST", 201, None, id="every-permission-by-default"),
        pytest.param({"roles": [APPS_READ]}, "GET", 200, None, id="read-role-reads"),
        pytest.param(
            {"roles": [APPS_READ, CONFIGURATION_READ]},
            "POST",
            403,
            "Application is not authorized",
            id="read-roles-cannot-write",
        ),
        pytest.param(
            {"scopes": [APPS_READ_WRITE], "user": "ada@contoso.com"}, "POST", 201, None, id="delegated-writes"
        ),
        pytest.param(
            {"scopes": [APPS_READ], "user": "ada@contoso.com"},
            "POST",
            403,
            "User is not authorized",
            id="delegated-read-scope-cannot-write",
        ),
        pytest.param({"expires": -60}, "GET", 401, "expired", id="expired"),
    ],
)
def test_a_token_carries_what_it_was_asked_for(
    tenant: Graphtasks, grant: dict[str, Any], method: str, status: int, says: str | None
) -> None:
    with tenant.http(token=tenant.token(**grant)) as http:
        answer = http.post(TASKS, json=task("Guarded")) if method == "POST" else http.get(TASKS)
    assert answer.status_code == status, answer.text
    if says is not None:
        assert says in answer.json()["error"]["message"]
    assert names(tenant) == (["Guarded"] if status == 201 else [])


def test_a_delegated_token_names_its_user_and_scopes(tenant: Graphtasks) -> None:
    claims = jwt.decode(
        tenant.token(scopes=[APPS_READ_WRITE], user="ada@contoso.com"), options={"verify_signature": False}
    )
    assert (claims["tid"], claims["upn"], claims["scp"]) == (
        tenant.tenant_id,
        "ada@contoso.com",
        APPS_READ_WRITE,
    )
    assert "roles" not in claims


# --- clients ---


def test_http_creates_reads_updates_and_deletes_and_tasks_follow_oldest_first(tenant: Graphtasks) -> None:
    first, second = create(tenant, "First", "Second")
    with tenant.http() as http:
        assert http.get(f"{TASKS}/{first}").json()["displayName"] == "First"
        assert (
            http.patch(f"{TASKS}/{second}", json={"@odata.type": SECURITY, "status": "active"}).status_code
            == 204
        )
        assert [(t["id"], t["status"]) for t in tenant.tasks()] == [(first, "unknown"), (second, "active")]
        assert tenant.tasks()[0]["managedDevices"] == []
        assert http.delete(f"{TASKS}/{first}").status_code == 204
        assert http.get(f"{TASKS}/{first}").status_code == 404
    assert names(tenant) == ["Second"]


def test_two_tenants_never_see_each_others_tasks(tenant: Graphtasks) -> None:
    other = tenant.new_tenant()
    [mine] = create(tenant, "Mine")
    [theirs] = create(other, "Theirs")
    assert (names(tenant), names(other)) == (["Mine"], ["Theirs"])
    assert [t["id"] for t in listed(tenant).json()["value"]] == [mine]
    assert [t["id"] for t in listed(other).json()["value"]] == [theirs]
    with tenant.http() as http:
        assert http.get(f"{TASKS}/{theirs}").status_code == 404
    assert [entry["path"] for entry in other.requests()] == [f"/beta/{TASKS}"] * 2


def titles_from_two_event_loops(handle: Graphtasks) -> list[str]:
    """What one ahttp() client, used by two asyncio.run calls in turn, posted and then listed."""
    client = handle.ahttp()

    async def post(title: str) -> int:
        return (await client.post(TASKS, json=task(title))).status_code

    async def titles() -> list[str]:
        return [t["displayName"] for t in (await client.get(TASKS)).json()["value"]]

    try:
        assert [asyncio.run(post(title)) for title in ("From loop one", "From loop two")] == [201, 201]
        return asyncio.run(titles())
    finally:
        asyncio.run(client.aclose())


def test_one_async_client_works_in_two_event_loops_in_turn(tenant: Graphtasks) -> None:
    assert titles_from_two_event_loops(tenant) == ["From loop one", "From loop two"]


@pytest.mark.slow
@pytest.mark.filterwarnings(SDK_QUERY_PARAMETERS_WARNING)
@pytest.mark.filterwarnings(SDK_REQUEST_CONFIGURATION_WARNING)
def test_the_sdk_client_creates_and_lists_across_two_event_loops(tenant: Graphtasks) -> None:
    from msgraph_beta.generated.models.security_configuration_task import SecurityConfigurationTask

    client = tenant.graph_client()
    tasks = client.device_app_management.device_app_management_tasks

    async def post(title: str) -> str:
        created = await tasks.post(SecurityConfigurationTask(display_name=title))
        assert created is not None
        return str(created.id)

    async def titles() -> list[str | None]:
        page = await tasks.get()
        assert page is not None
        return [item.display_name for item in page.value or []]

    created = asyncio.run(post("Through the SDK"))
    assert asyncio.run(titles()) == ["Through the SDK"]
    assert [t["id"] for t in tenant.tasks()] == [created]
    assert [(e["method"], e["status"]) for e in tenant.requests()] == [("POST", 201), ("GET", 200)]


# --- state ---

BODIES = [
    {
        "@odata.type": SECURITY,
        "id": "5d630f12-0f12-5d63-120f-635d120f635d",
        "displayName": "Newer",
        "createdDateTime": "2026-12-02T09:00:00Z",
    },
    {
        "@odata.type": VULNERABILITY,
        "id": "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "displayName": "Older",
        "createdDateTime": "2026-12-01T09:00:00.1234567Z",
    },
]


def as_list(directory: Path) -> Any:
    return BODIES


def as_collection_file(directory: Path) -> Any:
    path = directory / "collection.json"
    path.write_text(json.dumps({"value": BODIES}), "utf-8")
    return path


def as_list_file_named_by_a_string(directory: Path) -> Any:
    path = directory / "tasks.json"
    path.write_text(json.dumps(BODIES), "utf-8")
    return str(path)


@pytest.mark.parametrize("source", [as_list, as_collection_file, as_list_file_named_by_a_string])
def test_load_keeps_ids_and_created_times(tenant: Graphtasks, tmp_path: Path, source: Any) -> None:
    assert tenant.load(source(tmp_path)) == 2
    assert [(t["id"], t["createdDateTime"], t["@odata.type"]) for t in tenant.tasks()] == [
        ("0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "2026-12-01T09:00:00.1234567Z", VULNERABILITY),
        ("5d630f12-0f12-5d63-120f-635d120f635d", "2026-12-02T09:00:00Z", SECURITY),
    ]
    assert tenant.tasks()[0]["mobileApps"] == []
    with tenant.http() as http:
        assert http.get(f"{TASKS}/{BODIES[0]['id']}").json()["displayName"] == "Newer"


def test_an_export_loads_into_another_tenant_as_it_was(tenant: Graphtasks) -> None:
    create(tenant, "Exported first", "Exported second")
    document = tenant.export()
    assert document["@graphtasks.export"] == 1
    assert document["tenant"] == tenant.tenant_id
    copy = tenant.new_tenant()
    assert copy.load(document) == 2
    assert copy.tasks() == tenant.tasks()


def test_reset_deletes_the_tenants_tasks_and_empties_its_journal(tenant: Graphtasks) -> None:
    other = tenant.new_tenant()
    create(tenant, "One", "Two")
    create(other, "Kept")
    assert tenant.reset() == 2
    assert (tenant.tasks(), tenant.requests()) == ([], [])
    assert tenant.reset() == 0
    assert names(other) == ["Kept"]
    assert len(other.requests()) == 1


@pytest.mark.parametrize(
    ("source", "says"),
    [
        pytest.param([{"displayName": 5}], "400 tasks[0]: ", id="bad-body"),
        pytest.param([task("Fine"), {"@odata.type": SECURITY, "id": "nope"}], "400 tasks[1]: ", id="bad-id"),
        pytest.param({"tasks": "not a list"}, "400 ", id="not-tasks"),
    ],
)
def test_a_bad_load_raises_graphtasks_error_and_writes_nothing(
    tenant: Graphtasks, source: Any, says: str
) -> None:
    with pytest.raises(GraphtasksError, match=r"^POST /tenants/[-0-9a-f]+/import: ") as raised:
        tenant.load(source)
    assert says in str(raised.value)
    assert tenant.tasks() == []


def test_loading_an_id_the_tenant_has_is_a_conflict(tenant: Graphtasks) -> None:
    tenant.load(BODIES[:1])
    with pytest.raises(GraphtasksError, match=f"409 .*{BODIES[0]['id']}"):
        tenant.load([BODIES[1], BODIES[0]])
    assert names(tenant) == ["Newer"]


# --- the request journal ---


def test_the_journal_keeps_method_path_query_status_and_bodies_but_no_headers(tenant: Graphtasks) -> None:
    token = tenant.token()
    with tenant.http(token=token) as http:
        created = http.post(TASKS, json=task("Journalled")).json()
        http.get(TASKS + "?$select=displayName&$top=1")
    post, get = tenant.requests()
    assert set(post) == JOURNAL_KEYS
    assert (post["method"], post["path"], post["query"], post["status"]) == (
        "POST",
        f"/beta/{TASKS}",
        "",
        201,
    )
    assert post["requestBody"] == task("Journalled")
    assert post["responseBody"] == created
    assert (post["tenant"], post["inBatch"], post["truncated"]) == (tenant.tenant_id, False, False)
    assert (get["method"], get["status"], get["requestBody"]) == ("GET", 200, None)
    assert parse_qs(get["query"]) == {"$select": ["displayName"], "$top": ["1"]}
    assert get["responseBody"]["value"] == [
        {"@odata.type": SECURITY, "@odata.etag": created["@odata.etag"], "displayName": "Journalled"}
    ]
    kept = json.dumps(tenant.requests())
    assert token not in kept
    assert "Bearer" not in kept


def test_a_body_over_64_kib_is_kept_cut_and_flagged(tenant: Graphtasks) -> None:
    with tenant.http() as http:
        assert http.post(TASKS, json=task("Long", description="x" * 70_000)).status_code == 201
    [entry] = tenant.requests()
    assert entry["truncated"] is True
    assert isinstance(entry["requestBody"], str)
    assert len(entry["requestBody"]) == BODY_LIMIT
    assert entry["requestBody"].startswith('{"@odata.type"')
    assert entry["requestBody"].endswith("x" * 100)
    assert isinstance(entry["responseBody"], str)
    assert len(entry["responseBody"]) == BODY_LIMIT


def test_requests_inside_a_batch_are_kept_and_marked(tenant: Graphtasks) -> None:
    batch = {
        "requests": [
            {
                "id": "1",
                "method": "POST",
                "url": f"/{TASKS}",
                "body": task("Batched"),
                "headers": {"Content-Type": "application/json"},
            },
            {"id": "2", "method": "GET", "url": f"/{TASKS}", "dependsOn": ["1"]},
        ]
    }
    with tenant.http() as http:
        answer = http.post("$batch", json=batch)
    assert answer.status_code == 200, answer.text
    entries = tenant.requests()
    assert [(e["method"], e["path"], e["inBatch"]) for e in entries] == [
        ("POST", f"/beta/{TASKS}", True),
        ("GET", f"/beta/{TASKS}", True),
        ("POST", "/beta/$batch", False),
    ]
    assert entries[0]["requestBody"] == task("Batched")
    assert names(tenant) == ["Batched"]


def test_clear_requests_empties_the_journal_and_keeps_the_tasks(tenant: Graphtasks) -> None:
    create(tenant, "Stays")
    tenant.clear_requests()
    assert tenant.requests() == []
    assert names(tenant) == ["Stays"]


# --- faults and tenants without a licence ---

UNAVAILABLE = {"operation": "*", "status": 503, "retryAfter": 1}


@pytest.mark.parametrize(
    "plan",
    [
        pytest.param([UNAVAILABLE], id="rules"),
        pytest.param({"seed": 3, "rules": [UNAVAILABLE]}, id="plan"),
    ],
)
def test_faults_hit_this_tenant_alone_until_cleared(tenant: Graphtasks, plan: Any) -> None:
    other = tenant.new_tenant()
    tenant.faults(plan)
    try:
        failed = listed(tenant)
        assert failed.status_code == 503
        assert failed.headers["Retry-After"] == "1"
        assert failed.json()["error"]["code"] == "ServiceUnavailable"
        assert listed(other).status_code == 200
        assert tenant.requests()[-1]["status"] == 503
    finally:
        tenant.faults(None)
    assert listed(tenant).status_code == 200


def test_a_throttling_profile_holds_this_tenant_alone_until_given_back(tenant: Graphtasks) -> None:
    other = tenant.new_tenant()
    tenant.throttle("window=600,tenant_requests=2,app_requests=2")
    try:
        assert [listed(tenant).status_code for _ in range(3)] == [200, 200, 429]
        assert int(listed(tenant).headers["Retry-After"]) >= 1
        assert [listed(other).status_code for _ in range(3)] == [200, 200, 200]
    finally:
        tenant.throttle(None)
    assert listed(tenant).status_code == 200


@pytest.mark.parametrize("profile", ["sometimes", "window=0"])
def test_a_profile_the_server_cannot_read_is_refused(tenant: Graphtasks, profile: str) -> None:
    with pytest.raises(GraphtasksError, match="400 throttle"):
        tenant.throttle(profile)


def test_a_tenant_without_a_licence_is_refused_every_request(graph: Graphtasks) -> None:
    unlicensed = graph.new_tenant(licensed=False)
    answer = listed(unlicensed)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadRequest"
    assert answer.json()["error"]["message"] == "Request not applicable to target tenant."
    assert listed(graph).status_code == 200


# --- a served instance ---


@pytest.fixture(scope="module")
def served() -> Iterator[Graphtasks]:
    with Graphtasks.serve(journal_size=3) as handle:
        yield handle


@pytest.fixture
def served_tenant(served: Graphtasks) -> Iterator[Graphtasks]:
    with served.new_tenant() as handle:
        yield handle


class TestServe:
    def test_it_is_graphtasks_serve_on_a_loopback_port(self, served: Graphtasks) -> None:
        address = urlsplit(served.url)
        assert (address.scheme, address.hostname, address.path) == ("http", "127.0.0.1", "/beta")
        assert httpx.get(served.url + "/$metadata").status_code == 200
        assert httpx.get(served.url + f"/{TASKS}").status_code == 401

    def test_http_round_trip_and_a_journal_as_long_as_its_flag_says(self, served_tenant: Graphtasks) -> None:
        ids = create(served_tenant, "A", "B", "C")
        with served_tenant.http() as http:
            assert http.delete(f"{TASKS}/{ids[0]}").status_code == 204
            assert http.get(TASKS).json()["value"][0]["id"] == ids[1]
        assert names(served_tenant) == ["B", "C"]
        assert [(e["method"], e["status"]) for e in served_tenant.requests()] == [
            ("POST", 201),
            ("DELETE", 204),
            ("GET", 200),
        ]
        assert served_tenant.requests()[0]["requestBody"] == task("C")
        assert served_tenant.reset() == 2

    def test_tenants_tokens_and_faults_behave_as_in_process(
        self, served: Graphtasks, served_tenant: Graphtasks
    ) -> None:
        with served.new_tenant() as other, served.new_tenant(licensed=False) as unlicensed:
            create(other, "Theirs")
            assert listed(served_tenant, token=served_tenant.token(roles=[APPS_READ])).json()["value"] == []
            assert listed(served_tenant, token=served_tenant.token(expires=-60)).status_code == 401
            served_tenant.faults([UNAVAILABLE])
            try:
                assert listed(served_tenant).status_code == 503
                assert listed(other).status_code == 200
            finally:
                served_tenant.faults(None)
            assert listed(unlicensed).status_code == 400

    def test_one_async_client_works_in_two_event_loops_in_turn(self, served_tenant: Graphtasks) -> None:
        try:
            seen = titles_from_two_event_loops(served_tenant)
        except RuntimeError as error:
            seen = [str(error)]
        gc.collect()  # the sockets the dead loop left, collected while their ResourceWarning is ignored
        assert seen == ["From loop one", "From loop two"]
