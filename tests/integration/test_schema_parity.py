"""Over HTTP, on each backend: `isof` with an unquoted type name, updateStatus through a type-cast
segment, and null items in intendedSettings and unmanagedDevices, stored, returned and filtered
(tests/unit/test_schema_parity.py has the pure side and the sources).

Each test has a tenant of its own, so the collection holds only the tasks it made.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from graphtasks.model.schema import TASK_TYPES, UNMANAGED_DEVICE
from graphtasks.model.types import EntityType
from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server

SECURITY = "microsoft.graph.securityConfigurationTask"
VULNERABILITY = "microsoft.graph.appVulnerabilityTask"
DISCOVERY = "microsoft.graph.unmanagedDeviceDiscoveryTask"
BASE = "microsoft.graph.deviceAppManagementTask"
PAIR = "#microsoft.graph.keyValuePair"
ACTIONS = ["updateStatus", "microsoft.graph.updateStatus"]


@pytest.fixture
def tenant_client(server: Server) -> Iterator[httpx.Client]:
    with server.client(server.token(tenant=str(uuid.uuid4()))) as client:
        yield client


def create(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(TASKS_PATH, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def labels(client: httpx.Client, filter_: str, *, path: str = TASKS_PATH) -> set[str]:
    """The descriptions (the tests' labels) of the tasks at `path` that `filter_` keeps."""
    response = client.get(path, params={"$filter": filter_})
    assert response.status_code == 200, response.text
    return {task["description"] for task in response.json()["value"]}


# --- isof ---

TYPED_TASKS: dict[str, dict[str, Any]] = {
    "base": {"displayName": "base"},
    "security": {"@odata.type": f"#{SECURITY}", "displayName": "security", "managedDeviceCount": 3},
    "vulnerability": {"@odata.type": f"#{VULNERABILITY}"},  # no displayName: null
    "discovery": {"@odata.type": f"#{DISCOVERY}", "displayName": "discovery"},
}
EVERY = set(TYPED_TASKS)


@pytest.fixture
def typed_tasks(tenant_client: httpx.Client) -> httpx.Client:
    for label, body in TYPED_TASKS.items():
        create(tenant_client, {**body, "description": label})
    return tenant_client


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        (f"isof({SECURITY})", {"security"}),
        (f"isof('{SECURITY}')", {"security"}),
        (f"isof($it,{SECURITY})", {"security"}),
        (f"isof($it,'{SECURITY}')", {"security"}),
        (f"isof({BASE})", EVERY),
        (f"not isof({SECURITY})", EVERY - {"security"}),
        (f"isof({VULNERABILITY}) or isof({DISCOVERY})", {"vulnerability", "discovery"}),
        ("isof(displayName,Edm.String)", EVERY - {"vulnerability"}),
        ("isof(displayName,'Edm.String')", EVERY - {"vulnerability"}),
        ("not isof($it/displayName,Edm.String)", {"vulnerability"}),
        ("isof(displayName,Edm.Int32)", set()),
        (f"isof({SECURITY}/managedDeviceCount,Edm.Int32)", {"security"}),
        ("isof(status,microsoft.graph.deviceAppManagementTaskStatus)", EVERY),
    ],
)
def test_isof_filters_with_a_type_name_unquoted_or_quoted(
    typed_tasks: httpx.Client, filter_: str, expected: set[str]
) -> None:
    assert labels(typed_tasks, filter_) == expected
    count = typed_tasks.get(f"{TASKS_PATH}/$count", params={"$filter": filter_})
    assert (count.status_code, count.text) == (200, str(len(expected)))


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        (f"isof({SECURITY})", {"security"}),
        (f"isof($it,{BASE})", {"security"}),
        (f"isof({VULNERABILITY})", set()),
        ("isof(managedDeviceCount,Edm.Int32)", {"security"}),
    ],
)
def test_isof_on_a_type_cast_segment(typed_tasks: httpx.Client, filter_: str, expected: set[str]) -> None:
    assert labels(typed_tasks, filter_, path=f"{TASKS_PATH}/{SECURITY}") == expected


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ("isof(microsoft.graph.nope)", "The type 'microsoft.graph.nope' could not be resolved by the model."),
        (
            "isof('microsoft.graph.nope')",
            "The type 'microsoft.graph.nope' could not be resolved by the model.",
        ),
        (
            "isof($it,microsoft.graph.nope)",
            "The type 'microsoft.graph.nope' could not be resolved by the model.",
        ),
        ("isof(displayName,Edm.Nope)", "The type 'Edm.Nope' could not be resolved by the model."),
        (
            "isof(displayName)",
            "The last argument of isof must be a qualified type name, e.g. isof(microsoft.graph.x); "
            "'displayName' is not one.",
        ),
    ],
)
def test_isof_of_an_unknown_type_is_a_graph_400(
    tenant_client: httpx.Client, filter_: str, message: str
) -> None:
    assert_graph_error(tenant_client.get(TASKS_PATH, params={"$filter": filter_}), 400, "BadRequest", message)


# --- updateStatus through a type-cast segment ---

OWN_OR_ANCESTOR = [(t, cast) for t in TASK_TYPES for cast in t.ancestors()]
NOT_ITS_TYPE = [
    (TASK_TYPES[2], TASK_TYPES[1]),
    (TASK_TYPES[0], TASK_TYPES[1]),
    (TASK_TYPES[1], TASK_TYPES[3]),
]
NOTE_PREFERENCE = {"Prefer": 'odata.include-annotations="graphtasks.statusNote"'}


def _pair_id(pair: tuple[EntityType, EntityType]) -> str:
    return f"{pair[0].name}-as-{pair[1].name}"


def _task_of(client: httpx.Client, task_type: EntityType) -> str:
    task_id: str = create(client, {"@odata.type": task_type.odata_type})["id"]
    return task_id


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(("task_type", "cast"), OWN_OR_ANCESTOR, ids=[_pair_id(p) for p in OWN_OR_ANCESTOR])
def test_update_status_through_a_cast_to_the_type_or_an_ancestor(
    tenant_client: httpx.Client, task_type: EntityType, cast: EntityType, action: str
) -> None:
    task_id = _task_of(tenant_client, task_type)
    body = {"status": "completed", "note": "done"}
    response = tenant_client.post(f"{TASKS_PATH}/{task_id}/{cast.qualified_name}/{action}", json=body)
    assert (response.status_code, response.content) == (204, b"")
    task = tenant_client.get(f"{TASKS_PATH}/{task_id}", headers=NOTE_PREFERENCE).json()
    assert (task["status"], task["@graphtasks.statusNote"]) == ("completed", "done")


def _inner_message(response: httpx.Response) -> str:
    """The message inside Intune's JSON-in-string error, without its per-request ids."""
    message: str = json.loads(response.json()["error"]["message"])["Message"]
    return message.split(" - Operation ID")[0]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(("task_type", "cast"), NOT_ITS_TYPE, ids=[_pair_id(p) for p in NOT_ITS_TYPE])
def test_update_status_through_a_cast_the_task_does_not_have_answers_as_get(
    tenant_client: httpx.Client, task_type: EntityType, cast: EntityType, action: str
) -> None:
    task_id = _task_of(tenant_client, task_type)
    cast_path = f"{TASKS_PATH}/{task_id}/{cast.qualified_name}"
    get = tenant_client.get(cast_path)
    post = tenant_client.post(f"{cast_path}/{action}", json={"status": "completed"})
    assert_graph_error(post, 404, "ResourceNotFound")
    assert _inner_message(post) == _inner_message(get)
    assert (
        _inner_message(post) == f"An error has occurred - deviceAppManagementTask '{task_id}' was not found"
    )
    assert tenant_client.get(f"{TASKS_PATH}/{task_id}").json()["status"] == "unknown"  # nothing changed


@pytest.mark.parametrize("action", ACTIONS)
def test_update_status_through_an_unknown_cast_or_of_a_missing_task_answers_as_get(
    tenant_client: httpx.Client, action: str
) -> None:
    task_id = _task_of(tenant_client, TASK_TYPES[1])
    unknown = f"{TASKS_PATH}/{task_id}/microsoft.graph.nope"
    message = "Resource not found for the segment 'microsoft.graph.nope'."
    assert_graph_error(tenant_client.get(unknown), 400, "BadRequest", message)
    assert_graph_error(
        tenant_client.post(f"{unknown}/{action}", json={"status": "active"}), 400, "BadRequest", message
    )
    missing = f"{TASKS_PATH}/{uuid.uuid4()}/{SECURITY}"
    assert_graph_error(tenant_client.get(missing), 404, "ResourceNotFound")
    assert_graph_error(
        tenant_client.post(f"{missing}/{action}", json={"status": "active"}), 404, "ResourceNotFound"
    )


def test_update_status_through_a_cast_checks_if_match(tenant_client: httpx.Client) -> None:
    task_id = _task_of(tenant_client, TASK_TYPES[1])
    path = f"{TASKS_PATH}/{task_id}/{SECURITY}/updateStatus"
    stale = tenant_client.post(path, json={"status": "active"}, headers={"If-Match": 'W/"stale"'})
    assert_graph_error(stale, 412, "PreconditionFailed")
    etag = tenant_client.get(f"{TASKS_PATH}/{task_id}").headers["ETag"]
    assert tenant_client.post(path, json={"status": "active"}, headers={"If-Match": etag}).status_code == 204


# --- null items ---


def _device(**values: Any) -> dict[str, Any]:
    """An unmanagedDevice as the server writes it: every member, the unset ones null or their default."""
    device: dict[str, Any] = {"@odata.type": "#microsoft.graph.unmanagedDevice"}
    device |= {p.name: None for p in UNMANAGED_DEVICE.properties}
    return device | {"lastSeenDateTime": "0001-01-01T00:00:00Z"} | values


@pytest.mark.parametrize(
    ("task_type", "name", "created", "expected"),
    [
        pytest.param(
            SECURITY,
            "intendedSettings",
            [None, {"name": "a", "value": "1"}, None],
            [None, {"@odata.type": PAIR, "name": "a", "value": "1"}, None],
            id="intendedSettings",
        ),
        pytest.param(SECURITY, "intendedSettings", [None], [None], id="intendedSettings-only-null"),
        pytest.param(
            DISCOVERY,
            "unmanagedDevices",
            [{"os": "Windows"}, None],
            [_device(os="Windows"), None],
            id="unmanagedDevices",
        ),
    ],
)
def test_null_items_are_stored_and_returned_in_their_places(
    tenant_client: httpx.Client, task_type: str, name: str, created: list[Any], expected: list[Any]
) -> None:
    task = create(tenant_client, {"@odata.type": f"#{task_type}", name: created})
    assert task[name] == expected
    path = f"{TASKS_PATH}/{task['id']}"
    assert tenant_client.get(path).json()[name] == expected
    assert tenant_client.get(path, params={"$select": f"{task_type}/{name}"}).json()[name] == expected
    listed = tenant_client.get(f"{TASKS_PATH}/{task_type}").json()["value"]
    assert [t[name] for t in listed] == [expected]


@pytest.mark.parametrize(
    ("name", "changed", "expected"),
    [
        pytest.param(
            "intendedSettings",
            [{"name": "b"}, None],
            [{"@odata.type": PAIR, "name": "b", "value": None}, None],
            id="intendedSettings",
        ),
        pytest.param("intendedSettings", [None, None], [None, None], id="intendedSettings-nulls"),
        pytest.param("unmanagedDevices", [None, {"os": "macOS"}], [None, _device(os="macOS")], id="devices"),
    ],
)
def test_patch_stores_null_items(
    tenant_client: httpx.Client, name: str, changed: list[Any], expected: list[Any]
) -> None:
    task_type = SECURITY if name == "intendedSettings" else DISCOVERY
    task = create(tenant_client, {"@odata.type": f"#{task_type}"})
    path = f"{TASKS_PATH}/{task['id']}"
    assert tenant_client.patch(path, json={name: changed}).status_code == 204
    assert tenant_client.get(path).json()[name] == expected
    shown = tenant_client.patch(path, json={name: changed}, headers={"Prefer": "return=representation"})
    assert (shown.status_code, shown.json()[name]) == (200, expected)


def test_a_null_collection_is_still_refused(tenant_client: httpx.Client) -> None:
    response = tenant_client.post(TASKS_PATH, json={"@odata.type": f"#{SECURITY}", "intendedSettings": None})
    assert_graph_error(response, 400, "ModelValidationFailure")


SETTINGS_TASKS: dict[str, list[Any]] = {
    "nulls": [None],
    "mixed": [None, {"name": "a"}],
    "named": [{"name": "a", "value": "1"}],
    "other": [{"name": "b"}],
    "empty": [],
}
WITH_ITEMS = set(SETTINGS_TASKS) - {"empty"}


@pytest.fixture
def settings_tasks(tenant_client: httpx.Client) -> httpx.Client:
    for label, settings in SETTINGS_TASKS.items():
        create(
            tenant_client, {"@odata.type": f"#{SECURITY}", "description": label, "intendedSettings": settings}
        )
    # Tasks of other types have no intendedSettings: a cast path is null on them.
    create(
        tenant_client, {"@odata.type": f"#{DISCOVERY}", "description": "devices", "unmanagedDevices": [None]}
    )
    create(tenant_client, {"description": "base"})
    return tenant_client


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        ("any(s: s eq null)", {"nulls", "mixed"}),
        ("any(s: null eq s)", {"nulls", "mixed"}),
        ("any(s: s ne null)", {"mixed", "named", "other"}),
        ("all(s: s ne null)", {"named", "other", "empty"}),
        ("any(s: not isof(s, microsoft.graph.keyValuePair))", {"nulls", "mixed"}),
        ("all(s: isof(s, microsoft.graph.keyValuePair))", {"named", "other", "empty"}),
        ("any()", WITH_ITEMS),  # a null item is an item
        # A property of a null item is null: `null eq 'a'` is false, `null ne 'a'` and `null eq null` true.
        ("any(s: s/name eq 'a')", {"mixed", "named"}),
        ("all(s: s/name eq 'a')", {"named", "empty"}),
        ("any(s: s/name ne 'a')", {"nulls", "mixed", "other"}),
        ("all(s: s/value eq null)", {"nulls", "mixed", "other", "empty"}),
        ("any(s: s/name eq null)", {"nulls", "mixed"}),
        ("any(s: startswith(s/name, 'a'))", {"mixed", "named"}),
        ("all(s: not (s/name eq 'a'))", {"nulls", "other", "empty"}),
    ],
)
def test_any_and_all_over_null_items(
    settings_tasks: httpx.Client, predicate: str, expected: set[str]
) -> None:
    on_segment = labels(settings_tasks, f"intendedSettings/{predicate}", path=f"{TASKS_PATH}/{SECURITY}")
    assert on_segment == expected
    # On the base collection the cast path is null on the other types' rows, which any/all read as an
    # empty collection (README, "Querying"): all holds there, any does not.
    others = {"devices", "base"} if predicate.startswith("all") else set()
    assert labels(settings_tasks, f"{SECURITY}/intendedSettings/{predicate}") == expected | others
    count = settings_tasks.get(
        f"{TASKS_PATH}/{SECURITY}/$count", params={"$filter": f"intendedSettings/{predicate}"}
    )
    assert (count.status_code, count.text) == (200, str(len(expected)))


def test_any_and_all_over_null_unmanaged_devices(settings_tasks: httpx.Client) -> None:
    devices = f"{TASKS_PATH}/{DISCOVERY}"
    assert labels(settings_tasks, "unmanagedDevices/any(d: d eq null)", path=devices) == {"devices"}
    assert labels(settings_tasks, "unmanagedDevices/any(d: d/os eq null)", path=devices) == {"devices"}
    # A null item's lastSeenDateTime is null, not the default a missing member of a device gets.
    earliest = "unmanagedDevices/all(d: d/lastSeenDateTime ge 0001-01-01T00:00:00Z)"
    assert labels(settings_tasks, earliest, path=devices) == set()


def test_a_lambda_variable_compares_with_null_only(settings_tasks: httpx.Client) -> None:
    response = settings_tasks.get(
        TASKS_PATH, params={"$filter": f"{SECURITY}/intendedSettings/any(s: s eq 'a')"}
    )
    message = (
        "A binary operator with incompatible types was detected. Found operand types "
        "'microsoft.graph.keyValuePair' and 'Edm.String' for operator kind 'Equal'."
    )
    assert_graph_error(response, 400, "BadRequest", message)
