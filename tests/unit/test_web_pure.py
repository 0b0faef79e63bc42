"""Pure functions of the web layer, no server: unmatched paths, Prefer, error bodies, task JSON.

Facts, all in docs/graph-behaviour.md: "Errors" (error envelope, Intune's JSON-in-string message,
gateway messages), "URL space" (the /v1.0 answer), "Resource family" and "Operations and status codes"
(the docs' property order, and the response of the "Create securityConfigurationTask" example).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from starlette.datastructures import Headers

from graphtasks.errors import (
    BadRequest,
    Forbidden,
    GraphError,
    InvalidVersion,
    ModelValidationFailure,
    NoRouteMatch,
    NotFound,
    Unauthorized,
)
from graphtasks.model import edm
from graphtasks.model.documents import COLLECTION_CHUNK, etag_of
from graphtasks.model.records import TaskRecord
from graphtasks.model.schema import (
    APP_VULNERABILITY_TASK,
    DEVICE_APP_MANAGEMENT_TASK,
    SECURITY_CONFIGURATION_TASK,
    TASK_TYPES,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
)
from graphtasks.model.types import EntityType
from graphtasks.model.validation import defaults_for, validate_create
from graphtasks.odata.selection import Selection, resolve_select
from graphtasks.web.error_bodies import error_body
from graphtasks.web.preferences import read_preferences
from graphtasks.web.routes import unmatched_path_error
from graphtasks.web.serialization import (
    Shape,
    collection_context,
    collection_json,
    entity_context,
    entity_json,
    navigation_context,
    task_json,
)
from tests.support.examples import FOUNDING_REQUEST

TASKS = "/beta/deviceAppManagement/deviceAppManagementTasks"
# Six segments below the version: a task, a cast, a navigation and a key in it.
CHILD = f"{TASKS}/abc/microsoft.graph.appVulnerabilityTask/managedDevices/d1"

# --- routes.unmatched_path_error ---


@pytest.mark.parametrize(
    ("path", "error_type", "status", "code", "message"),
    [
        (
            "/v1.0/deviceAppManagement/deviceAppManagementTasks",
            BadRequest,
            400,
            "BadRequest",
            "Resource not found for the segment 'deviceAppManagementTasks'.",
        ),
        (
            "/v1.0/deviceAppManagement/deviceAppManagementTasks/abc",
            BadRequest,
            400,
            "BadRequest",
            "Resource not found for the segment 'deviceAppManagementTasks'.",
        ),
        ("/foo/x", InvalidVersion, 404, "ResourceNotFound", "Invalid version: foo"),
        (
            "/devicemanagement/managedDevices",
            InvalidVersion,
            404,
            "ResourceNotFound",
            "Invalid version: devicemanagement",
        ),
        ("/v2.0/deviceAppManagement", InvalidVersion, 404, "ResourceNotFound", "Invalid version: v2.0"),
        ("/beta/nope", BadRequest, 400, "BadRequest", "Resource not found for the segment 'nope'."),
        (
            "/beta/deviceManagement/deviceAppManagementTasks",
            BadRequest,
            400,
            "BadRequest",
            "Resource not found for the segment 'deviceManagement'.",
        ),
        (
            "/beta/deviceAppManagement/mobileApps",
            BadRequest,
            400,
            "BadRequest",
            "Resource not found for the segment 'mobileApps'.",
        ),
        # Up to six segments below the version, a path of the served prefix is one the route table
        # would have answered if it had a served shape, so what is left is the gateway's NoRouteMatch.
        (
            f"{TASKS}/abc/foo",
            NoRouteMatch,
            400,
            "No method match route template",
            f"No OData route exists that match the request {TASKS}/abc/foo.",
        ),
        (
            f"{TASKS}/abc/updateStatus/x",
            NoRouteMatch,
            400,
            "No method match route template",
            f"No OData route exists that match the request {TASKS}/abc/updateStatus/x.",
        ),
        (
            CHILD,
            NoRouteMatch,
            400,
            "No method match route template",
            f"No OData route exists that match the request {CHILD}.",
        ),
        # No served path has a seventh segment: the first one beyond the sixth is the one not found.
        (
            f"{CHILD}/foo",
            BadRequest,
            400,
            "BadRequest",
            "Resource not found for the segment 'foo'.",
        ),
        (
            f"{CHILD}/foo/bar",
            BadRequest,
            400,
            "BadRequest",
            "Resource not found for the segment 'foo'.",
        ),
        (
            "/beta/deviceAppManagement",
            NoRouteMatch,
            400,
            "No method match route template",
            "No OData route exists that match the request /beta/deviceAppManagement.",
        ),
        (
            "/v1.0/deviceAppManagement",
            NoRouteMatch,
            400,
            "No method match route template",
            "No OData route exists that match the request /v1.0/deviceAppManagement.",
        ),
    ],
)
def test_unmatched_path_error(
    path: str, error_type: type[GraphError], status: int, code: str, message: str
) -> None:
    error = unmatched_path_error(path)
    assert type(error) is error_type
    assert (error.status, error.code, error.message) == (status, code, message)


# --- preferences.read_preferences ---


def _prefer(*values: str) -> Headers:
    return Headers(raw=[(b"prefer", value.encode()) for value in values])


@pytest.mark.parametrize(
    ("headers", "values"),
    [
        ((), {}),
        (("return=minimal",), {"return": "minimal"}),
        (("return=representation",), {"return": "representation"}),
        (("RETURN=minimal",), {"return": "minimal"}),
        (("return = minimal",), {"return": "minimal"}),
        (('return="minimal"',), {"return": "minimal"}),
        (("respond-async, return=minimal",), {"respond-async": "", "return": "minimal"}),
        (("return=minimal; foo=bar, wait=10",), {"return": "minimal", "wait": "10"}),
        (
            ('odata.include-annotations="graphtasks.*,-graphtasks.statusNote", return=representation',),
            {"odata.include-annotations": "graphtasks.*,-graphtasks.statusNote", "return": "representation"},
        ),
        (("odata.include-annotations=*",), {"odata.include-annotations": "*"}),
        (("return=minimal", "return=representation"), {"return": "minimal"}),
        (
            ("return=minimal", 'odata.include-annotations="*"'),
            {"return": "minimal", "odata.include-annotations": "*"},
        ),
    ],
)
def test_read_preferences_values(headers: tuple[str, ...], values: dict[str, str]) -> None:
    assert read_preferences(_prefer(*headers)).values == values


@pytest.mark.parametrize(
    ("header", "minimal", "representation"),
    [
        ("return=minimal", True, False),
        ("return=representation", False, True),
        ("return=something", False, False),
        ("respond-async", False, False),
    ],
)
def test_return_preference(header: str, minimal: bool, representation: bool) -> None:
    preferences = read_preferences(_prefer(header))
    assert (preferences.return_minimal, preferences.return_representation) == (minimal, representation)


@pytest.mark.parametrize(
    ("header", "annotation", "included"),
    [
        ("odata.include-annotations=*", "graphtasks.statusNote", True),
        ('odata.include-annotations="*"', "odata.nextLink", True),
        ('odata.include-annotations="graphtasks.statusNote"', "graphtasks.statusNote", True),
        ('odata.include-annotations="graphtasks.statusNote"', "graphtasks.other", False),
        ('odata.include-annotations="graphtasks.*"', "graphtasks.statusNote", True),
        ('odata.include-annotations="graphtasks.*"', "contoso.statusNote", False),
        ('odata.include-annotations="contoso.a,graphtasks.statusNote"', "graphtasks.statusNote", True),
        ('odata.include-annotations="contoso.a, graphtasks.statusNote"', "graphtasks.statusNote", True),
        ('odata.include-annotations="contoso.a,graphtasks.statusNote"', "contoso.a", True),
        ('odata.include-annotations="contoso.a,graphtasks.statusNote"', "contoso.b", False),
        ('odata.include-annotations="*,-graphtasks.*"', "graphtasks.statusNote", False),
        ('odata.include-annotations="*,-graphtasks.*"', "contoso.a", True),
        ('odata.include-annotations="graphtasks.*,-graphtasks.statusNote"', "graphtasks.statusNote", False),
        ('odata.include-annotations="graphtasks.*,-graphtasks.statusNote"', "graphtasks.other", True),
        ('odata.include-annotations="-graphtasks.*"', "contoso.a", False),
        ("return=minimal", "graphtasks.statusNote", False),
        ('odata.include-annotations=""', "graphtasks.statusNote", False),
        ('return=minimal, odata.include-annotations="graphtasks.*"', "graphtasks.statusNote", True),
    ],
)
def test_includes_annotation(header: str, annotation: str, included: bool) -> None:
    assert read_preferences(_prefer(header)).includes_annotation(annotation) is included


# --- error_bodies.error_body ---

REQUEST_ID = "05daac7e-495a-4050-b377-3c20ddfc7849"
CLIENT_REQUEST_ID = "d8d4fea4-bac5-3a83-88fd-0e43cd5b0505"
URL = "https://graph.example.test/beta/deviceAppManagement/deviceAppManagementTasks/abc"
INNER_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def _body(error: GraphError) -> dict[str, Any]:
    return error_body(error, request_id=REQUEST_ID, client_request_id=CLIENT_REQUEST_ID, url=URL)


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            BadRequest("Resource not found for the segment 'x'."),
            "BadRequest",
            "Resource not found for the segment 'x'.",
        ),
        (InvalidVersion("foo"), "ResourceNotFound", "Invalid version: foo"),
        (Unauthorized("Access token is empty."), "InvalidAuthenticationToken", "Access token is empty."),
        (
            GraphError("An internal server error has occurred."),
            "InternalServerError",
            "An internal server error has occurred.",
        ),
    ],
)
def test_error_body_shape(error: GraphError, code: str, message: str) -> None:
    body = _body(error)
    date = body["error"]["innerError"]["date"]
    assert body == {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": date, "request-id": REQUEST_ID, "client-request-id": CLIENT_REQUEST_ID},
        }
    }
    assert list(body["error"]) == ["code", "message", "innerError"]


@pytest.mark.parametrize("error", [BadRequest("x"), Forbidden("x"), ModelValidationFailure("x")])
def test_inner_error_date_is_utc_now_without_fraction_or_z(error: GraphError) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    date = _body(error)["error"]["innerError"]["date"]
    after = datetime.now(UTC)
    assert INNER_DATE.fullmatch(date), date
    assert before <= datetime.fromisoformat(date).replace(tzinfo=UTC) <= after + timedelta(seconds=1)


def test_model_validation_failure_repeats_message_in_inner_error() -> None:
    message = "Requested value 'urgent' was not found."
    body = _body(ModelValidationFailure(message))
    assert (body["error"]["code"], body["error"]["message"]) == ("ModelValidationFailure", message)
    assert body["error"]["innerError"]["message"] == message


@pytest.mark.parametrize(
    "error", [BadRequest("x"), Unauthorized("x"), InvalidVersion("x"), NoRouteMatch("x")]
)
def test_other_errors_keep_message_out_of_inner_error(error: GraphError) -> None:
    assert "message" not in _body(error)["error"]["innerError"]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (Forbidden("Application is not authorized to perform this operation."), "Forbidden"),
        (NotFound("An error has occurred"), "ResourceNotFound"),
    ],
)
def test_intune_errors_carry_json_document_in_message(error: GraphError, code: str) -> None:
    body = _body(error)
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert message.startswith('{\r\n  "_version": 3,\r\n')
    assert json.loads(message) == {
        "_version": 3,
        "Message": f"{error.message} - Operation ID (for customer support): "
        f"00000000-0000-0000-0000-000000000000 - Activity ID: {CLIENT_REQUEST_ID} - Url: {URL}",
        "CustomApiErrorPhrase": "",
        "RetryAfter": None,
        "ErrorSourceService": "",
        "HttpHeaders": "{}",
    }
    assert "message" not in body["error"]["innerError"]


# --- serialization.task_json ---

BASE_ORDER = [
    "@odata.type",
    "@odata.etag",
    "id",
    "displayName",
    "description",
    "createdDateTime",
    "dueDateTime",
    "category",
    "priority",
    "creator",
    "creatorNotes",
    "assignedTo",
    "status",
]


def _founding_record(status_note: str | None = None) -> TaskRecord:
    entity_type, values = validate_create(FOUNDING_REQUEST)
    values["createdDateTime"] = edm.parse_datetime_offset("2017-01-01T00:02:43.5775965-08:00")
    return TaskRecord("5d630f12-0f12-5d63-120f-635d120f635d", entity_type, values, status_note)


# The "Create securityConfigurationTask" page's 201 body, with instants in UTC and the complex type's
# '#', as OData JSON wants, and graphtasks' @odata.etag.
FOUNDING_RESPONSE: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.securityConfigurationTask",
    "@odata.etag": etag_of(_founding_record()),
    "id": "5d630f12-0f12-5d63-120f-635d120f635d",
    "displayName": "Display Name value",
    "description": "Description value",
    "createdDateTime": "2017-01-01T08:02:43.5775965Z",
    "dueDateTime": "2017-01-01T08:02:18.1994089Z",
    "category": "advancedThreatProtection",
    "priority": "high",
    "creator": "Creator value",
    "creatorNotes": "Creator Notes value",
    "assignedTo": "Assigned To value",
    "status": "pending",
    "endpointSecurityPolicy": "antivirus",
    "applicablePlatform": "macOS",
    "endpointSecurityPolicyProfile": "antivirus",
    "insights": "Insights value",
    "managedDeviceCount": 2,
    "intendedSettings": [
        {"@odata.type": "#microsoft.graph.keyValuePair", "name": "Name value", "value": "Value value"}
    ],
}


def test_task_json_of_founding_example() -> None:
    assert task_json(_founding_record()) == FOUNDING_RESPONSE


@pytest.mark.parametrize("count", [COLLECTION_CHUNK, COLLECTION_CHUNK + 1, 3 * COLLECTION_CHUNK + 7])
def test_a_long_collection_renders_as_its_items_in_order(count: int) -> None:
    """Past COLLECTION_CHUNK items the collection is written a chunk at a time: same JSON text."""
    record = _founding_record()
    record.values["intendedSettings"] = [
        None if n % 5 == 0 else {"name": f"n{n}", "value": "v"} for n in range(count)
    ]
    settings = orjson.loads(orjson.dumps(task_json(record)))["intendedSettings"]
    assert settings == [
        None
        if n % 5 == 0
        else {"@odata.type": "#microsoft.graph.keyValuePair", "name": f"n{n}", "value": "v"}
        for n in range(count)
    ]


def test_task_json_property_order_is_docs_order() -> None:
    assert list(task_json(_founding_record())) == list(FOUNDING_RESPONSE)


@pytest.mark.parametrize(
    ("entity_type", "order"),
    [
        (DEVICE_APP_MANAGEMENT_TASK, BASE_ORDER),
        (
            APP_VULNERABILITY_TASK,
            [
                *BASE_ORDER,
                "appName",
                "appPublisher",
                "appVersion",
                "mitigationType",
                "insights",
                "managedDeviceCount",
                "mobileAppCount",
                "remediation",
            ],
        ),
        (UNMANAGED_DEVICE_DISCOVERY_TASK, [*BASE_ORDER, "unmanagedDevices"]),
    ],
)
def test_task_json_order_per_type(entity_type: EntityType, order: list[str]) -> None:
    record = TaskRecord("x", entity_type, {**defaults_for(entity_type), "createdDateTime": 0})
    assert list(task_json(record)) == order


def test_task_json_of_defaults() -> None:
    record = TaskRecord(
        "x", DEVICE_APP_MANAGEMENT_TASK, {**defaults_for(DEVICE_APP_MANAGEMENT_TASK), "createdDateTime": 0}
    )
    assert task_json(record) == {
        "@odata.type": "#microsoft.graph.deviceAppManagementTask",
        "@odata.etag": etag_of(record),
        "id": "x",
        "displayName": None,
        "description": None,
        "createdDateTime": "0001-01-01T00:00:00Z",
        "dueDateTime": "0001-01-01T00:00:00Z",
        "category": "unknown",
        "priority": "none",
        "creator": None,
        "creatorNotes": None,
        "assignedTo": None,
        "status": "unknown",
    }


def test_task_json_unmanaged_devices_are_complete_and_typed() -> None:
    entity_type, values = validate_create(
        {
            "@odata.type": "#microsoft.graph.unmanagedDeviceDiscoveryTask",
            "unmanagedDevices": [{"os": "Os value", "lastSeenDateTime": "2017-01-01T00:02:00.1006212-08:00"}],
        }
    )
    record = TaskRecord("x", entity_type, {**values, "createdDateTime": 0})
    assert task_json(record)["unmanagedDevices"] == [
        {
            "@odata.type": "#microsoft.graph.unmanagedDevice",
            "os": "Os value",
            "osVersion": None,
            "ipAddress": None,
            "deviceName": None,
            "macAddress": None,
            "domain": None,
            "manufacturer": None,
            "model": None,
            "location": None,
            "lastLoggedOnUser": None,
            "lastSeenDateTime": "2017-01-01T08:02:00.1006212Z",
        }
    ]


BASE_URL = "https://graph.example.test"
METADATA = f"{BASE_URL}/beta/$metadata#deviceAppManagement/deviceAppManagementTasks"
SECURITY = "microsoft.graph.securityConfigurationTask"


def _selection(*paths: str) -> Selection:
    """A $select on the tasks collection, resolved as the handlers resolve it."""
    selection = resolve_select(
        tuple(tuple(p.split("/")) for p in paths), DEVICE_APP_MANAGEMENT_TASK, TASK_TYPES
    )
    assert selection is not None
    return selection


@pytest.mark.parametrize("note", [None, "Note value"])
def test_task_json_status_note_annotation_comes_last(note: str | None) -> None:
    body = task_json(_founding_record(status_note=note), Shape(status_note=True))
    assert list(body) == [*FOUNDING_RESPONSE, "@graphtasks.statusNote"]
    assert body["@graphtasks.statusNote"] == note


def test_task_json_leaves_status_note_out_by_default() -> None:
    assert "@graphtasks.statusNote" not in task_json(_founding_record(status_note="n"))
    assert "@graphtasks.statusNote" not in task_json(_founding_record(status_note="n"), Shape())


def test_task_json_under_select_keeps_type_first_and_docs_order() -> None:
    selection = _selection("status", f"{SECURITY}/insights", "displayName")
    body = task_json(_founding_record(status_note="n"), Shape(selection=selection, status_note=True))
    assert list(body) == [
        "@odata.type",
        "@odata.etag",
        "displayName",
        "status",
        "insights",
        "@graphtasks.statusNote",
    ]
    assert body["@odata.type"] == "#microsoft.graph.securityConfigurationTask"


@pytest.mark.parametrize(
    ("cast", "select", "context"),
    [
        (None, (), METADATA),
        (SECURITY_CONFIGURATION_TASK, (), f"{METADATA}/{SECURITY}"),
        (None, ("status", f"{SECURITY}/insights"), f"{METADATA}(status,{SECURITY}/insights)"),
        (SECURITY_CONFIGURATION_TASK, ("displayName",), f"{METADATA}/{SECURITY}(displayName)"),
    ],
)
def test_collection_and_entity_context(
    cast: EntityType | None, select: tuple[str, ...], context: str
) -> None:
    selection = _selection(*select) if select else None
    assert collection_context(BASE_URL, cast=cast, selection=selection) == context
    assert entity_context(BASE_URL, cast=cast, selection=selection) == f"{context}/$entity"


def test_navigation_context_doubles_quotes_in_the_key() -> None:
    assert navigation_context(BASE_URL, "a'b", APP_VULNERABILITY_TASK, "managedDevices") == (
        f"{METADATA}('a''b')/microsoft.graph.appVulnerabilityTask/managedDevices"
    )


def test_entity_json_puts_context_first() -> None:
    context = entity_context(BASE_URL)
    body = entity_json(context, task_json(_founding_record()))
    assert list(body) == ["@odata.context", *FOUNDING_RESPONSE]
    assert body == {"@odata.context": f"{METADATA}/$entity", **FOUNDING_RESPONSE}


@pytest.mark.parametrize("count", [None, 0, 7])
@pytest.mark.parametrize("next_link", [None, "https://graph.example.test/beta/x?$skiptoken=abc"])
def test_collection_json(next_link: str | None, count: int | None) -> None:
    bodies = [task_json(_founding_record())]
    body = collection_json(bodies, collection_context(BASE_URL), next_link=next_link, count=count)
    expected: dict[str, Any] = {"@odata.context": METADATA}
    if count is not None:
        expected["@odata.count"] = count
    if next_link is not None:
        expected["@odata.nextLink"] = next_link
    expected["value"] = [FOUNDING_RESPONSE]
    assert body == expected
    assert list(body) == list(expected)


def test_security_configuration_task_type_is_the_one_serialized() -> None:
    record = TaskRecord(
        "x", SECURITY_CONFIGURATION_TASK, {**defaults_for(SECURITY_CONFIGURATION_TASK), "createdDateTime": 0}
    )
    body = task_json(record)
    assert (body["@odata.type"], body["intendedSettings"], body["managedDeviceCount"]) == (
        "#microsoft.graph.securityConfigurationTask",
        [],
        0,
    )
