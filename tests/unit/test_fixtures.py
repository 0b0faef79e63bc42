"""Reading tasks to import (model/fixtures.py, read_tasks): the three shapes a document may take, what
a task body keeps that a create would make (ids, createdDateTime, the status note, navigation children),
and the errors, each naming the place of the body that is wrong (docs/testing.md, "The export format")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphtasks.errors import BadRequest
from graphtasks.model import edm
from graphtasks.model.fixtures import read_tasks
from graphtasks.model.records import ChildRecord, StoredTask
from graphtasks.model.schema import (
    APP_VULNERABILITY_MANAGED_DEVICE,
    APP_VULNERABILITY_MOBILE_APP,
    DEVICE_APP_MANAGEMENT_TASK,
    SECURITY_CONFIGURATION_TASK,
    VULNERABLE_MANAGED_DEVICE,
)
from graphtasks.model.types import EntityType
from graphtasks.model.validation import validate_create, validate_entity_create
from tests.integration.test_query_differential import INSTANTS, NULLABLE_TEXT, task_bodies

SCT = "#microsoft.graph.securityConfigurationTask"
AVT = "#microsoft.graph.appVulnerabilityTask"
UDDT = "#microsoft.graph.unmanagedDeviceDiscoveryTask"
BASE = "#microsoft.graph.deviceAppManagementTask"
CREATED = edm.parse_datetime_offset("2026-01-02T03:04:05.0000006Z")
ID = "5d630f12-0f12-5d63-120f-635d120f635d"
OTHER_ID = "0e0f7a3c-4b1d-4e57-9b8a-2c5f6d7e8f90"
NOTE = "@graphtasks.statusNote"

Document = Callable[[list[Any]], object]


def export(bodies: list[Any]) -> object:
    tenant = "8f1c7e5a-3b2d-4c6e-9a1f-0d2b4c6e8a10"
    return {
        "@graphtasks.export": 1,
        "tenant": tenant,
        "exportedDateTime": "2026-12-07T11:37:11Z",
        "tasks": bodies,
    }


def collection(bodies: list[Any]) -> object:
    return {"@odata.context": "https://graph.microsoft.com/beta/$metadata#x", "value": bodies}


def bare(bodies: list[Any]) -> object:
    return bodies


SHAPES = [
    pytest.param(export, id="export"),
    pytest.param(collection, id="value"),
    pytest.param(bare, id="list"),
]


def read_one(body: dict[str, Any]) -> StoredTask:
    [task] = read_tasks([body], created=CREATED)
    return task


def refusal(document: object) -> str:
    with pytest.raises(BadRequest) as caught:
        read_tasks(document, created=CREATED)
    assert caught.value.status == 400
    return caught.value.message


def child(target: EntityType, body: dict[str, Any]) -> ChildRecord:
    return ChildRecord(body["id"], target, validate_entity_create(body, target))


# --- shapes and what a body keeps ---


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_of_document_gives_its_tasks_in_order(shape: Document) -> None:
    bodies = [{"id": ID, "displayName": "one"}, {"@odata.type": SCT, "id": OTHER_ID, "displayName": "two"}]
    tasks = read_tasks(shape(bodies), created=CREATED)
    assert [(t.record.id, t.record.type, t.record.values["displayName"]) for t in tasks] == [
        (ID, DEVICE_APP_MANAGEMENT_TASK, "one"),
        (OTHER_ID, SECURITY_CONFIGURATION_TASK, "two"),
    ]


@pytest.mark.parametrize("shape", SHAPES)
def test_an_empty_document_has_no_tasks(shape: Document) -> None:
    assert read_tasks(shape([]), created=CREATED) == []


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        pytest.param(ID, ID, id="canonical"),
        pytest.param(ID.upper(), ID, id="upper-case"),
        pytest.param(ID.replace("-", ""), ID, id="without-dashes"),
        pytest.param("{" + ID.upper() + "}", ID, id="braces"),
    ],
)
def test_a_given_id_is_kept_in_canonical_lower_case(given: str, kept: str) -> None:
    assert read_one({"id": given}).record.id == kept


def test_a_task_without_an_id_gets_a_new_guid_each_time() -> None:
    first, second = (read_one({"displayName": "x"}).record.id for _ in range(2))
    assert uuid.UUID(first).version == 4
    assert str(uuid.UUID(first)) == first
    assert first != second


@pytest.mark.parametrize(
    ("body", "created"),
    [
        pytest.param({}, CREATED, id="absent-is-the-given-default"),
        pytest.param({"createdDateTime": None}, CREATED, id="null-is-the-given-default"),
        pytest.param(
            {"createdDateTime": "2024-01-01T01:00:00+01:00"},
            edm.parse_datetime_offset("2024-01-01T00:00:00Z"),
            id="kept-as-the-instant",
        ),
        pytest.param(
            {"createdDateTime": "2017-01-01T00:02:18.1994089-08:00"},
            edm.parse_datetime_offset("2017-01-01T08:02:18.1994089Z"),
            id="kept-to-the-tick",
        ),
    ],
)
def test_created_date_time_is_kept_or_defaulted(body: dict[str, Any], created: int) -> None:
    assert read_one(body).record.values["createdDateTime"] == created


def test_tasks_without_created_date_time_are_dated_in_the_order_of_the_document() -> None:
    given = "2024-01-01T00:00:00Z"
    bodies = [{}, {"createdDateTime": given}, {"createdDateTime": None}, {}]
    created = [task.record.values["createdDateTime"] for task in read_tasks(bodies, created=CREATED)]
    assert created == [CREATED, edm.parse_datetime_offset(given), CREATED + 2, CREATED + 3]


@pytest.mark.parametrize(
    ("body", "note"),
    [
        pytest.param({}, None, id="absent"),
        pytest.param({NOTE: None}, None, id="null"),
        pytest.param({NOTE: ""}, "", id="empty"),
        pytest.param({NOTE: "Patched on Tuesday, é ✓"}, "Patched on Tuesday, é ✓", id="text"),
    ],
)
def test_the_status_note_is_read_from_its_annotation(body: dict[str, Any], note: str | None) -> None:
    assert read_one(body).record.status_note == note


def test_other_annotations_are_ignored_on_tasks_and_children() -> None:
    device = {"id": ID, "displayName": "d"}
    plain = read_one({"@odata.type": SCT, "id": ID, "managedDevices": [device]})
    annotated = read_one(
        {
            "@odata.type": SCT,
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#x/$entity",
            "@odata.etag": 'W/"abc"',
            "id": ID,
            "managedDevices": [{**device, "@odata.etag": 'W/"def"'}],
        }
    )
    assert annotated == plain


@pytest.mark.parametrize(
    ("body", "children"),
    [
        pytest.param({"@odata.type": BASE}, {}, id="base-type-has-none"),
        pytest.param({"@odata.type": UDDT}, {}, id="unmanaged-device-discovery-has-none"),
        pytest.param(
            {"@odata.type": SCT}, {"managedDevices": []}, id="security-configuration-absent-is-empty"
        ),
        pytest.param(
            {"@odata.type": AVT},
            {"managedDevices": [], "mobileApps": []},
            id="app-vulnerability-absent-is-empty",
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDevices": [{"id": ID.upper(), "displayName": "laptop"}]},
            {"managedDevices": [child(VULNERABLE_MANAGED_DEVICE, {"id": ID, "displayName": "laptop"})]},
            id="security-configuration-managed-devices",
        ),
        pytest.param(
            {
                "@odata.type": AVT,
                "managedDevices": [
                    {"id": ID, "managedDeviceId": "m1", "lastSyncDateTime": "2024-01-01T00:00:00Z"},
                    {"@odata.type": "#microsoft.graph.appVulnerabilityManagedDevice", "id": OTHER_ID},
                ],
                "mobileApps": [{"id": ID, "mobileAppId": "app", "version": "1.2"}],
            },
            {
                "managedDevices": [
                    child(
                        APP_VULNERABILITY_MANAGED_DEVICE,
                        {"id": ID, "managedDeviceId": "m1", "lastSyncDateTime": "2024-01-01T00:00:00Z"},
                    ),
                    child(APP_VULNERABILITY_MANAGED_DEVICE, {"id": OTHER_ID}),
                ],
                "mobileApps": [
                    child(APP_VULNERABILITY_MOBILE_APP, {"id": ID, "mobileAppId": "app", "version": "1.2"})
                ],
            },
            id="app-vulnerability-both-collections-in-order",
        ),
    ],
)
def test_navigation_children_are_read_with_their_ids_and_types(
    body: dict[str, Any], children: dict[str, list[ChildRecord]]
) -> None:
    assert read_one(body).children == children


def test_a_child_without_an_id_gets_a_new_guid() -> None:
    [device] = read_one({"@odata.type": SCT, "managedDevices": [{"displayName": "d"}]}).children[
        "managedDevices"
    ]
    assert uuid.UUID(device.id).version == 4


def test_the_same_child_id_may_appear_under_two_tasks_and_two_collections() -> None:
    bodies = [
        {"@odata.type": AVT, "id": ID, "managedDevices": [{"id": ID}], "mobileApps": [{"id": ID}]},
        {"@odata.type": SCT, "id": OTHER_ID, "managedDevices": [{"id": ID}]},
    ]
    tasks = read_tasks(bodies, created=CREATED)
    assert [c.id for t in tasks for children in t.children.values() for c in children] == [ID, ID, ID]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"displayName": "patch", "priority": "high", "dueDateTime": "2024-01-01T00:00:00Z"}, id="base"
        ),
        pytest.param({"@odata.type": UDDT, "unmanagedDevices": [{"os": "Windows"}]}, id="unmanaged-devices"),
        pytest.param({"@odata.type": SCT, "intendedSettings": [{"name": "a", "value": None}]}, id="settings"),
        pytest.param({"@odata.type": AVT, "appName": "Edge", "mobileAppCount": 2}, id="app-vulnerability"),
    ],
)
def test_the_type_and_values_are_what_a_create_makes_with_created_date_time(body: dict[str, Any]) -> None:
    entity_type, values = validate_create(body)
    record = read_one(body).record
    assert (record.type, record.values) == (entity_type, {**values, "createdDateTime": CREATED})


# --- errors ---


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            {"tasks": []},
            'Tasks are given as a list of task bodies, a collection answer ({"value": [...]}) or an export.',
            id="object-neither-export-nor-collection",
        ),
        pytest.param(
            "tasks",
            'Tasks are given as a list of task bodies, a collection answer ({"value": [...]}) or an export.',
            id="string",
        ),
        pytest.param(
            None,
            'Tasks are given as a list of task bodies, a collection answer ({"value": [...]}) or an export.',
            id="null",
        ),
        pytest.param(
            {"@graphtasks.export": 2, "tasks": []},
            "This server reads exports of version 1 only.",
            id="export-v2",
        ),
        pytest.param(
            {"@graphtasks.export": "1", "tasks": []},
            "This server reads exports of version 1 only.",
            id="export-v-text",
        ),
        pytest.param(
            {"@graphtasks.export": 1, "tasks": {"0": {}}},
            "The document's 'tasks' must be a list of task bodies.",
            id="export-tasks-object",
        ),
        pytest.param(
            {"value": None}, "The document's 'value' must be a list of task bodies.", id="value-null"
        ),
        pytest.param(
            {"value": "[]"}, "The document's 'value' must be a list of task bodies.", id="value-string"
        ),
    ],
)
def test_a_document_of_the_wrong_shape_is_refused(document: object, message: str) -> None:
    assert refusal(document) == message


def test_an_export_without_its_tasks_member_is_refused() -> None:
    assert refusal({"@graphtasks.export": 1}) == "The document's 'tasks' must be a list of task bodies."


def test_an_export_whose_version_is_true_is_refused() -> None:
    assert (
        refusal({"@graphtasks.export": True, "tasks": []}) == "This server reads exports of version 1 only."
    )


NOT_AN_OBJECT = (
    "An unexpected '{}' node was found when reading from the JSON reader. A 'StartObject' node was expected."
)


def unknown(name: str, type_name: str) -> str:
    return (
        f"The property '{name}' does not exist on type 'microsoft.management.services.api.{type_name}'. "
        "Make sure to only use property names that are defined by the type."
    )


@pytest.mark.parametrize(
    ("bodies", "message"),
    [
        pytest.param([{}, 5], "tasks[1]: " + NOT_AN_OBJECT.format("PrimitiveValue"), id="task-number"),
        pytest.param([[]], "tasks[0]: " + NOT_AN_OBJECT.format("StartArray"), id="task-list"),
        pytest.param(
            [{}, {}, {"colour": "red"}],
            "tasks[2]: " + unknown("colour", "deviceAppManagementTask"),
            id="unknown",
        ),
        pytest.param(
            [{"managedDevices": []}],
            "tasks[0]: " + unknown("managedDevices", "deviceAppManagementTask"),
            id="base-type-has-no-managedDevices",
        ),
        pytest.param(
            [{"@odata.type": UDDT, "managedDevices": []}],
            "tasks[0]: " + unknown("managedDevices", "unmanagedDeviceDiscoveryTask"),
            id="unmanaged-device-discovery-has-no-managedDevices",
        ),
        pytest.param(
            [{"@odata.type": SCT, "mobileApps": []}],
            "tasks[0]: " + unknown("mobileApps", "securityConfigurationTask"),
            id="security-configuration-has-no-mobileApps",
        ),
        pytest.param(
            [{"@odata.type": SCT, "managedDevices": {}}],
            "tasks[0]: 'managedDevices' must be a list of entity bodies.",
            id="navigation-object",
        ),
        pytest.param(
            [{"@odata.type": AVT, "mobileApps": None}],
            "tasks[0]: 'mobileApps' must be a list of entity bodies.",
            id="navigation-null",
        ),
        pytest.param(
            [{"@odata.type": AVT, "managedDevices": [{}, {"colour": "red"}]}],
            "tasks[0]: managedDevices[1]: " + unknown("colour", "appVulnerabilityManagedDevice"),
            id="child-unknown-property",
        ),
        pytest.param(
            [{"@odata.type": SCT, "managedDevices": [{}, 7]}],
            "tasks[0]: managedDevices[1]: " + NOT_AN_OBJECT.format("PrimitiveValue"),
            id="child-number",
        ),
        pytest.param(
            [{}, {"@odata.type": AVT, "mobileApps": [{"id": "app-1"}]}],
            "tasks[1]: mobileApps[0]: The id 'app-1' is not a GUID.",
            id="child-id-not-a-guid",
        ),
        pytest.param(
            [
                {
                    "@odata.type": AVT,
                    "managedDevices": [{"@odata.type": "#microsoft.graph.vulnerableManagedDevice"}],
                }
            ],
            "tasks[0]: managedDevices[0]: The type 'microsoft.graph.vulnerableManagedDevice' is not the type "
            "of this collection, 'microsoft.graph.appVulnerabilityManagedDevice'.",
            id="child-of-another-collection-type",
        ),
        pytest.param(
            [{"@odata.type": SCT, "managedDevices": [{"id": ID}, {"id": OTHER_ID}, {"id": ID.upper()}]}],
            f"tasks[0]: managedDevices[2]: the id {ID} is given twice.",
            id="child-id-twice",
        ),
        pytest.param([{"id": "task-1"}], "tasks[0]: The id 'task-1' is not a GUID.", id="id-not-a-guid"),
        pytest.param([{"id": 5}], "tasks[0]: The id 5 is not a GUID.", id="id-number"),
        pytest.param(
            [{"id": ID}, {"id": OTHER_ID}, {"id": ID.upper()}],
            f"tasks[2]: the id {ID} is given twice.",
            id="task-id-twice",
        ),
        pytest.param(
            [{"createdDateTime": "yesterday"}],
            "tasks[0]: The createdDateTime 'yesterday' is not an Edm.DateTimeOffset.",
            id="created-not-a-date",
        ),
        pytest.param(
            [{"createdDateTime": 20240101}],
            "tasks[0]: The createdDateTime 20240101 is not an Edm.DateTimeOffset.",
            id="created-number",
        ),
        pytest.param([{NOTE: 1}], f"tasks[0]: '{NOTE}' must be a string.", id="note-number"),
        pytest.param(
            [{}, {NOTE: "a\x00b"}],
            f"tasks[1]: '{NOTE}' contains the character U+0000, which cannot be stored.",
            id="note-nul",
        ),
        pytest.param(
            [{NOTE: "a\ud800"}],
            f"tasks[0]: '{NOTE}' contains the character U+D800, which cannot be stored.",
            id="note-lone-surrogate",
        ),
    ],
)
@pytest.mark.parametrize("shape", SHAPES)
def test_a_wrong_body_is_refused_by_its_place(shape: Document, bodies: list[Any], message: str) -> None:
    assert refusal(shape(bodies)) == message


def test_the_first_wrong_body_is_the_one_named() -> None:
    assert refusal([{}, {"id": "x"}, {"colour": "red"}]).startswith("tasks[1]: ")


# --- every shape reads the same ---

GUIDS = st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())


def device_bodies() -> st.SearchStrategy[dict[str, object]]:
    """Create bodies of a managed device (either navigation's type: they have the same properties)."""
    return st.fixed_dictionaries(
        {},
        optional={
            "managedDeviceId": NULLABLE_TEXT,
            "displayName": NULLABLE_TEXT,
            "lastSyncDateTime": st.sampled_from(INSTANTS),
        },
    )


def mobile_app_bodies() -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "mobileAppId": NULLABLE_TEXT,
            "displayName": NULLABLE_TEXT,
            "createdDateTime": st.sampled_from(INSTANTS),
            "lastModifiedDateTime": st.sampled_from(INSTANTS),
            "mobileAppType": NULLABLE_TEXT,
            "version": NULLABLE_TEXT,
        },
    )


NOTES = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


def with_ids(draw: st.DrawFn, bodies: st.SearchStrategy[dict[str, object]]) -> list[dict[str, object]]:
    drawn = draw(st.lists(st.tuples(GUIDS, bodies), max_size=3, unique_by=lambda pair: pair[0].lower()))
    return [{"id": guid, **body} for guid, body in drawn]


@st.composite
def stored_bodies(draw: st.DrawFn) -> dict[str, object]:
    """A task body as an export holds it: a valid create body plus what a create would make."""
    body = draw(task_bodies())
    body["id"] = draw(GUIDS)
    if draw(st.booleans()):
        body["createdDateTime"] = draw(st.sampled_from(INSTANTS))
    if draw(st.booleans()):
        body[NOTE] = draw(NOTES)
    type_name = str(body.get("@odata.type", BASE))
    if type_name in (SCT, AVT):
        body["managedDevices"] = with_ids(draw, device_bodies())
    if type_name == AVT:
        body["mobileApps"] = with_ids(draw, mobile_app_bodies())
    return body


@settings(max_examples=60, deadline=None)
@given(st.lists(stored_bodies(), max_size=5, unique_by=lambda body: str(body["id"]).lower()))
def test_every_shape_of_a_document_reads_the_same(bodies: list[dict[str, object]]) -> None:
    as_list = read_tasks(bare(bodies), created=CREATED)
    assert read_tasks(export(bodies), created=CREATED) == as_list
    assert read_tasks(collection(bodies), created=CREATED) == as_list
    assert [task.record.id for task in as_list] == [str(body["id"]).lower() for body in bodies]
