"""Export and import through the admin API, in process (graphtasks.testing), on the memory database and
on PostgreSQL: after a tenant's export is imported into an empty tenant, every GET answers the same bytes
apart from `@odata.context`, ETags included (docs/testing.md, "The export format"); an import that meets
an id already there, or a wrong body, writes nothing; resets of one tenant and of all (docs/testing.md,
"State control")."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphtasks.testing import Graphtasks, GraphtasksError
from tests.integration.test_query_differential import ENUMS, task_bodies
from tests.support.databases import postgres_database
from tests.unit.test_fixtures import NOTES, device_bodies, mobile_app_bodies

TASKS = "deviceAppManagement/deviceAppManagementTasks"
ADMIN = "/graphtasks/admin"
NOTE = "@graphtasks.statusNote"
SCT = "#microsoft.graph.securityConfigurationTask"
AVT = "#microsoft.graph.appVulnerabilityTask"
NAVIGATIONS = {SCT: ("managedDevices",), AVT: ("managedDevices", "mobileApps")}
CHILD_BODIES = {"managedDevices": device_bodies(), "mobileApps": mobile_app_bodies()}
CONTEXT = re.compile(rb'^\{"@odata\.context":"[^"]*",?')


@pytest.fixture(
    scope="module",
    params=[pytest.param("memory", id="sqlite-memory"), pytest.param("postgres", marks=pytest.mark.postgres)],
)
def graph(request: pytest.FixtureRequest) -> Iterator[Graphtasks]:
    """One in-process server per backend for the module; each test takes fresh tenants of it."""
    if request.param == "memory":
        with Graphtasks() as handle:
            yield handle
        return
    with postgres_database() as url, Graphtasks(database_url=url) as handle:
        yield handle


def admin(graph: Graphtasks, method: str, path: str, **options: Any) -> httpx.Response:
    """An admin request without a key, as a loopback client may send it."""
    with graph.http() as client:
        del client.headers["Authorization"]
        return client.request(method, graph.url.removesuffix("/beta") + ADMIN + path, **options)


def create(graph: Graphtasks, body: dict[str, Any], path: str = TASKS) -> dict[str, Any]:
    with graph.http() as client:
        answer = client.post(path, json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def update_status(graph: Graphtasks, task_id: str, action: str, status: str, note: str | None) -> None:
    with graph.http() as client:
        answer = client.post(f"{TASKS}/{task_id}/{action}", json={"status": status, "note": note})
    assert answer.status_code == 204, answer.text


def entity_paths(document: dict[str, Any]) -> list[str]:
    """The GET of each of the export's tasks and of each of their children."""
    paths = []
    for task in document["tasks"]:
        path = f"{TASKS}/{task['id']}"
        paths.append(path)
        for navigation in NAVIGATIONS.get(task["@odata.type"], ()):
            paths += [f"{path}/{navigation}/{child['id']}" for child in task[navigation]]
    return paths


def collection_paths(document: dict[str, Any]) -> list[str]:
    """The list (plain, expanded and counted), each task expanded, and each navigation collection."""
    paths = [TASKS, f"{TASKS}?$expand=*", f"{TASKS}/$count"]
    for task in document["tasks"]:
        path = f"{TASKS}/{task['id']}"
        paths.append(f"{path}?$expand=*")
        for navigation in NAVIGATIONS.get(task["@odata.type"], ()):
            paths += [f"{path}/{navigation}", f"{path}/{navigation}/$count"]
    return paths


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    etag: str | None


def answers(graph: Graphtasks, paths: list[str]) -> dict[str, Answer]:
    """Each path's answer, the body without its `@odata.context`."""
    with graph.http() as client:
        responses = {path: client.get(path) for path in paths}
    return {
        path: Answer(r.status_code, CONTEXT.sub(b"{", r.content), r.headers.get("etag"))
        for path, r in responses.items()
    }


def kept_in_export(document: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name not in ("tenant", "exportedDateTime")}


def assert_reads_the_same(source: Graphtasks, target: Graphtasks) -> None:
    document = source.export()
    entities = entity_paths(document)
    paths = entities + collection_paths(document)
    expected, got = answers(source, paths), answers(target, paths)
    assert {path: expected[path].status for path in paths} == dict.fromkeys(paths, 200)
    assert all(expected[path].etag for path in entities)
    for path in paths:
        assert got[path] == expected[path], path
    assert kept_in_export(target.export()) == kept_in_export(document)


# --- the round trip ---


@dataclass(frozen=True)
class Plan:
    """A task to make through the Graph API: its create body, its children and its last updateStatus."""

    body: dict[str, Any]
    children: dict[str, list[dict[str, Any]]]
    status_update: tuple[str, str, str | None] | None


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    body = draw(task_bodies())
    children = {
        navigation: draw(st.lists(CHILD_BODIES[navigation], max_size=2))
        for navigation in NAVIGATIONS.get(str(body.get("@odata.type")), ())
    }
    update = st.tuples(
        st.sampled_from(("updateStatus", "microsoft.graph.updateStatus")),
        st.sampled_from(ENUMS["status"][1]),
        st.none() | NOTES,
    )
    return Plan(body, children, draw(st.none() | update))


def make(graph: Graphtasks, plan: Plan) -> None:
    task = create(graph, plan.body)
    for navigation, bodies in plan.children.items():
        for body in bodies:
            create(graph, body, f"{TASKS}/{task['id']}/{navigation}")
    if plan.status_update is not None:
        update_status(graph, task["id"], *plan.status_update)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(plans(), min_size=1, max_size=3))
def test_an_imported_export_answers_every_get_as_the_original(graph: Graphtasks, made: list[Plan]) -> None:
    source, target = graph.new_tenant(), graph.new_tenant()
    for plan in made:
        make(source, plan)
    document = source.export()
    assert target.load(document) == len(made)
    assert_reads_the_same(source, target)


def test_the_status_note_is_part_of_what_an_etag_covers(graph: Graphtasks) -> None:
    source, with_note, without_note = graph.new_tenant(), graph.new_tenant(), graph.new_tenant()
    task = create(source, {"@odata.type": SCT, "displayName": "noted"})
    update_status(source, task["id"], "updateStatus", "active", "on it")
    document = source.export()
    assert document["tasks"][0][NOTE] == "on it"
    with_note.load(document)
    without_note.load([{name: v for name, v in document["tasks"][0].items() if name != NOTE}])
    path = [f"{TASKS}/{task['id']}"]
    assert answers(with_note, path) == answers(source, path)
    assert answers(without_note, path)[path[0]].etag != answers(source, path)[path[0]].etag


def test_a_pasted_collection_answer_imports_its_tasks_as_they_were(graph: Graphtasks) -> None:
    source, target = graph.new_tenant(), graph.new_tenant()
    for body in ({"@odata.type": AVT, "appName": "Edge"}, {"displayName": "plain"}):
        create(source, body)
    with source.http() as client:
        pasted = client.get(TASKS, params={"$expand": "*"}).json()
    assert target.load(pasted) == 2
    assert_reads_the_same(source, target)


def test_an_import_answers_its_tenant_and_count_and_keeps_the_document_s_order(graph: Graphtasks) -> None:
    target = graph.new_tenant()
    names = [str(n) for n in range(10)]
    document = [{"displayName": name} for name in names]
    answer = admin(graph, "POST", f"/tenants/{target.tenant_id.upper()}/import", json=document)
    assert (answer.status_code, answer.json()) == (200, {"tenant": target.tenant_id, "imported": 10})
    assert [task["displayName"] for task in target.tasks()] == names
    with target.http() as client:
        assert [task["displayName"] for task in client.get(TASKS).json()["value"]] == names


# --- imports that write nothing ---


def filled(graph: Graphtasks, count: int) -> Graphtasks:
    tenant = graph.new_tenant()
    tenant.load([{"id": str(uuid.uuid4()), "displayName": f"task {n}"} for n in range(count)])
    return tenant


@pytest.mark.parametrize(
    ("count", "taken"), [(3, 2), (3, 0), (201, 200)], ids=["last", "first", "second-chunk"]
)
def test_an_import_meeting_an_id_already_there_is_a_conflict_and_writes_nothing(
    graph: Graphtasks, count: int, taken: int
) -> None:
    source = filled(graph, count)
    tasks = source.tasks()
    target = graph.new_tenant()
    target.load([tasks[taken]])
    before = target.tasks()
    answer = admin(graph, "POST", f"/tenants/{target.tenant_id}/import", json=source.export())
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "Conflict"
    assert tasks[taken]["id"] in error["message"]
    assert target.tasks() == before


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param(
            {"colour": "red"}, "tasks[2]: The property 'colour' does not exist", id="unknown-property"
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDevices": [{}, {"id": "device"}]},
            "tasks[2]: managedDevices[1]: The id 'device' is not a GUID.",
            id="bad-child",
        ),
        pytest.param(
            {NOTE: "a\x00"}, "tasks[2]: '@graphtasks.statusNote' contains the character U+0000", id="nul"
        ),
    ],
)
def test_a_wrong_body_is_a_400_naming_its_place_and_writes_nothing(
    graph: Graphtasks, bad: dict[str, Any], message: str
) -> None:
    target = filled(graph, 1)
    before = target.tasks()
    document = {"value": [{"displayName": "fine"}, {"@odata.type": AVT}, bad]}
    answer = admin(graph, "POST", f"/tenants/{target.tenant_id}/import", json=document)
    assert answer.status_code == 400
    assert message in answer.json()["error"]["message"]
    with pytest.raises(GraphtasksError, match=re.escape(message)):
        target.load(document)
    assert target.tasks() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/tenants/not-a-tenant/import"), ("GET", "/tenants/x/export"), ("DELETE", "/tenants/1/tasks")],
)
def test_a_tenant_that_is_not_a_guid_is_a_400(graph: Graphtasks, method: str, path: str) -> None:
    answer = admin(graph, method, path, json=[])
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadRequest"


# --- resets ---


def test_resetting_a_tenant_leaves_another_s_tasks_and_journal(graph: Graphtasks) -> None:
    reset, kept = filled(graph, 2), filled(graph, 3)
    kept_tasks = kept.tasks()
    for tenant in (reset, kept):
        with tenant.http() as client:
            assert client.get(TASKS).status_code == 200
    assert reset.reset() == 2
    assert (reset.tasks(), reset.requests()) == ([], [])
    assert kept.tasks() == kept_tasks
    assert [entry["path"] for entry in kept.requests()] == [f"/beta/{TASKS}"]
    with reset.http() as client:
        assert client.get(TASKS).json()["value"] == []
    assert reset.reset() == 0


def test_resetting_all_tenants_deletes_every_task(graph: Graphtasks) -> None:
    first, second = filled(graph, 2), filled(graph, 3)
    answer = admin(graph, "DELETE", "/tasks")
    assert answer.status_code == 200
    assert answer.json()["deleted"] >= 5
    assert (first.tasks(), second.tasks()) == ([], [])
    assert admin(graph, "DELETE", "/tasks").json() == {"deleted": 0}
