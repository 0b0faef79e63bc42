"""graphtasks.model.validation: request bodies -> canonical values, or Intune's 400 errors.

Messages are Intune's and ODataLib's wording (docs/graph-behaviour.md, "Errors"); the founding example is
the request body of Graph's "Create securityConfigurationTask" page, copied verbatim.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphtasks.errors import BadRequest, GraphError, ModelValidationFailure
from graphtasks.model.schema import (
    APP_VULNERABILITY_TASK,
    DEVICE_APP_MANAGEMENT_TASK,
    ENUM_TYPES,
    SECURITY_CONFIGURATION_TASK,
    TASK_TYPES,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
)
from graphtasks.model.types import EntityType
from graphtasks.model.validation import (
    Values,
    defaults_for,
    validate_create,
    validate_update,
    validate_update_status,
)
from tests.support.examples import FOUNDING_REQUEST

SCT = "#microsoft.graph.securityConfigurationTask"
AVT = "#microsoft.graph.appVulnerabilityTask"
UDDT = "#microsoft.graph.unmanagedDeviceDiscoveryTask"
BASE = "#microsoft.graph.deviceAppManagementTask"

# .NET ticks of 2017-01-01T00:00:00Z, and of the "Create securityConfigurationTask" example's dueDateTime
# 2017-01-01T00:02:18.1994089-08:00 = 2017-01-01T08:02:18.1994089Z.
TICKS_2017 = 636_188_256_000_000_000
FOUNDING_DUE_TICKS = TICKS_2017 + (8 * 3600 + 2 * 60 + 18) * 10_000_000 + 1_994_089


FOUNDING_VALUES: Values = {
    "displayName": "Display Name value",
    "description": "Description value",
    "dueDateTime": FOUNDING_DUE_TICKS,
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
    "intendedSettings": [{"name": "Name value", "value": "Value value"}],
}

BASE_DEFAULTS: Values = {
    "displayName": None,
    "description": None,
    "dueDateTime": 0,
    "category": "unknown",
    "priority": "none",
    "creator": None,
    "creatorNotes": None,
    "assignedTo": None,
    "status": "unknown",
}


def _unknown_property(name: str, internal_type: str) -> str:
    return (
        f"The property '{name}' does not exist on type 'microsoft.management.services.api.{internal_type}'. "
        "Make sure to only use property names that are defined by the type."
    )


def _unresolved(name: str) -> str:
    return (
        f"A type named '{name}' could not be resolved by the model. "
        "When a model is available, each type name must resolve to a valid type."
    )


def _null(name: str, type_name: str) -> str:
    return (
        f"A null value was found for the property named '{name}', which has the expected type "
        f"'{type_name}[Nullable=False]'. The expected type '{type_name}[Nullable=False]' does not allow "
        "null values."
    )


def _literal(literal: str, type_name: str) -> str:
    return f"Cannot convert the literal '{literal}' to the expected type '{type_name}'."


# --- validate_create: accepted bodies ---


def test_founding_example_validates_to_security_configuration_task() -> None:
    assert validate_create(FOUNDING_REQUEST) == (SECURITY_CONFIGURATION_TASK, FOUNDING_VALUES)


@pytest.mark.parametrize(
    ("body", "entity_type"),
    [
        ({}, DEVICE_APP_MANAGEMENT_TASK),
        ({"displayName": "x"}, DEVICE_APP_MANAGEMENT_TASK),
        ({"@odata.type": BASE}, DEVICE_APP_MANAGEMENT_TASK),
        ({"@odata.type": SCT}, SECURITY_CONFIGURATION_TASK),
        ({"@odata.type": AVT}, APP_VULNERABILITY_TASK),
        ({"@odata.type": UDDT}, UNMANAGED_DEVICE_DISCOVERY_TASK),
        ({"@odata.type": "microsoft.graph.securityConfigurationTask"}, SECURITY_CONFIGURATION_TASK),
        ({"@odata.type": "microsoft.graph.appVulnerabilityTask"}, APP_VULNERABILITY_TASK),
        ({"@odata.type": "microsoft.graph.deviceAppManagementTask"}, DEVICE_APP_MANAGEMENT_TASK),
    ],
)
def test_create_resolves_type(body: dict[str, Any], entity_type: EntityType) -> None:
    assert validate_create(body)[0] == entity_type


@pytest.mark.parametrize(
    ("entity_type", "defaults"),
    [
        (DEVICE_APP_MANAGEMENT_TASK, BASE_DEFAULTS),
        (
            SECURITY_CONFIGURATION_TASK,
            {
                **BASE_DEFAULTS,
                "endpointSecurityPolicy": "unknown",
                "applicablePlatform": "unknown",
                "endpointSecurityPolicyProfile": "unknown",
                "insights": None,
                "managedDeviceCount": 0,
                "intendedSettings": [],
            },
        ),
        (
            APP_VULNERABILITY_TASK,
            {
                **BASE_DEFAULTS,
                "appName": None,
                "appPublisher": None,
                "appVersion": None,
                "mitigationType": "unknown",
                "insights": None,
                "managedDeviceCount": 0,
                "mobileAppCount": 0,
                "remediation": None,
            },
        ),
        (UNMANAGED_DEVICE_DISCOVERY_TASK, {**BASE_DEFAULTS, "unmanagedDevices": []}),
    ],
)
def test_defaults_for(entity_type: EntityType, defaults: Values) -> None:
    assert defaults_for(entity_type) == defaults


@pytest.mark.parametrize("entity_type", TASK_TYPES)
def test_empty_create_body_gives_defaults(entity_type: EntityType) -> None:
    assert validate_create({"@odata.type": entity_type.odata_type}) == (
        entity_type,
        defaults_for(entity_type),
    )


@pytest.mark.parametrize(
    ("body", "changed"),
    [
        pytest.param({"id": "5d630f12-0f12-5d63-120f-635d120f635d"}, {}, id="read-only-id"),
        pytest.param(
            {"createdDateTime": "2017-01-01T00:02:43.5775965-08:00"}, {}, id="read-only-createdDateTime"
        ),
        pytest.param({"createdDateTime": "not a date"}, {}, id="read-only-is-not-even-converted"),
        pytest.param(
            {"@odata.context": "https://graph.microsoft.com/beta/$metadata#x/$entity"}, {}, id="odata-context"
        ),
        pytest.param({"managedDevices": [{"id": "d"}]}, {}, id="navigation-managedDevices"),
        pytest.param(
            {"displayName@odata.type": "#String", "displayName": "x"},
            {"displayName": "x"},
            id="property-annotation",
        ),
        pytest.param({"@odata.etag": 'W/"1"', "@contoso.anything": [1, 2]}, {}, id="instance-annotations"),
    ],
)
def test_create_ignores_read_only_navigation_and_annotations(body: dict[str, Any], changed: Values) -> None:
    expected = {**defaults_for(SECURITY_CONFIGURATION_TASK), **changed}
    assert validate_create({"@odata.type": SCT, **body}) == (SECURITY_CONFIGURATION_TASK, expected)


@pytest.mark.parametrize("navigation", ["managedDevices", "mobileApps"])
def test_create_ignores_app_vulnerability_navigation(navigation: str) -> None:
    body = {"@odata.type": AVT, navigation: [{"id": "x"}], "appName": "a"}
    expected = {**defaults_for(APP_VULNERABILITY_TASK), "appName": "a"}
    assert validate_create(body) == (APP_VULNERABILITY_TASK, expected)


@pytest.mark.parametrize(
    ("body", "name", "value"),
    [
        ({"@odata.type": SCT, "managedDeviceCount": 0}, "managedDeviceCount", 0),
        ({"@odata.type": SCT, "managedDeviceCount": 65536}, "managedDeviceCount", 65536),
        ({"@odata.type": AVT, "mobileAppCount": 65536}, "mobileAppCount", 65536),
        (
            {"@odata.type": AVT, "mitigationType": "securityConfiguration"},
            "mitigationType",
            "securityConfiguration",
        ),
        (
            {"@odata.type": SCT, "endpointSecurityPolicyProfile": "accountProtection"},
            "endpointSecurityPolicyProfile",
            "accountProtection",
        ),
        (
            {"@odata.type": SCT, "applicablePlatform": "windows10AndWindowsServer"},
            "applicablePlatform",
            "windows10AndWindowsServer",
        ),
        ({"displayName": None}, "displayName", None),
        ({"displayName": ""}, "displayName", ""),
        ({"dueDateTime": "2017-01-01T00:00:00Z"}, "dueDateTime", TICKS_2017),
        ({"dueDateTime": "2017-01-01T00:00:00"}, "dueDateTime", TICKS_2017),
        ({"status": "rejected"}, "status", "rejected"),
        ({"@odata.type": SCT, "intendedSettings": []}, "intendedSettings", []),
        (
            {"@odata.type": SCT, "intendedSettings": [{"name": "n"}]},
            "intendedSettings",
            [{"name": "n", "value": None}],
        ),
        (
            {
                "@odata.type": SCT,
                "intendedSettings": [
                    {"@odata.type": "#microsoft.graph.keyValuePair", "name": "n", "value": "v"}
                ],
            },
            "intendedSettings",
            [{"name": "n", "value": "v"}],
        ),
        (
            {
                "@odata.type": UDDT,
                "unmanagedDevices": [{"os": "Windows", "lastSeenDateTime": "2017-01-01T00:00:00Z"}],
            },
            "unmanagedDevices",
            [
                {
                    "os": "Windows",
                    "osVersion": None,
                    "ipAddress": None,
                    "deviceName": None,
                    "macAddress": None,
                    "domain": None,
                    "manufacturer": None,
                    "model": None,
                    "location": None,
                    "lastLoggedOnUser": None,
                    "lastSeenDateTime": TICKS_2017,
                }
            ],
        ),
        (
            {"@odata.type": UDDT, "unmanagedDevices": [{}]},
            "unmanagedDevices",
            [
                {
                    "os": None,
                    "osVersion": None,
                    "ipAddress": None,
                    "deviceName": None,
                    "macAddress": None,
                    "domain": None,
                    "manufacturer": None,
                    "model": None,
                    "location": None,
                    "lastLoggedOnUser": None,
                    "lastSeenDateTime": 0,
                }
            ],
        ),
    ],
)
def test_create_canonical_value(body: dict[str, Any], name: str, value: object) -> None:
    assert validate_create(body)[1][name] == value


# --- validate_create: rejected bodies ---


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"@odata.type": SCT, "wifiBlocked": True},
            _unknown_property("wifiBlocked", "securityConfigurationTask"),
            id="unknown-property",
        ),
        pytest.param(
            {"appName": "x"},
            _unknown_property("appName", "deviceAppManagementTask"),
            id="derived-property-on-base",
        ),
        pytest.param(
            {"@odata.type": SCT, "mobileAppCount": 1},
            _unknown_property("mobileAppCount", "securityConfigurationTask"),
            id="sibling-property",
        ),
        pytest.param(
            {"managedDevices": []},
            _unknown_property("managedDevices", "deviceAppManagementTask"),
            id="navigation-the-base-lacks",
        ),
        pytest.param(
            {"DisplayName": "x"},
            _unknown_property("DisplayName", "deviceAppManagementTask"),
            id="names-are-case-sensitive",
        ),
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": [{"name": "n", "extra": "x"}]},
            _unknown_property("extra", "keyValuePair"),
            id="unknown-complex-member",
        ),
        pytest.param({"priority": "urgent"}, "Requested value 'urgent' was not found.", id="bad-enum"),
        pytest.param({"priority": "High"}, "Requested value 'High' was not found.", id="enum-case-sensitive"),
        pytest.param({"status": ""}, "Requested value '' was not found.", id="empty-enum"),
        pytest.param(
            {"@odata.type": AVT, "mitigationType": "patch"},
            "Requested value 'patch' was not found.",
            id="bad-derived-enum",
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDeviceCount": "<enabled/>"},
            _literal("<enabled/>", "Edm.Int32"),
            id="string-for-int32",
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDeviceCount": "2"},
            _literal("2", "Edm.Int32"),
            id="numeric-string-for-int32",
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDeviceCount": True},
            _literal("true", "Edm.Int32"),
            id="bool-for-int32",
        ),
        pytest.param(
            {"@odata.type": AVT, "mobileAppCount": False},
            _literal("false", "Edm.Int32"),
            id="false-for-int32",
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDeviceCount": 2.5},
            _literal("2.5", "Edm.Int32"),
            id="float-for-int32",
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDeviceCount": 2**31},
            _literal("2147483648", "Edm.Int32"),
            id="int32-overflow",
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDeviceCount": 65537},
            "The field managedDeviceCount must be between 0 and 65536.",
            id="managedDeviceCount-above",
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDeviceCount": -1},
            "The field managedDeviceCount must be between 0 and 65536.",
            id="managedDeviceCount-below",
        ),
        pytest.param(
            {"@odata.type": AVT, "mobileAppCount": 65537},
            "The field mobileAppCount must be between 0 and 65536.",
            id="mobileAppCount-above",
        ),
        pytest.param(
            {"@odata.type": AVT, "mobileAppCount": -1},
            "The field mobileAppCount must be between 0 and 65536.",
            id="mobileAppCount-below",
        ),
        pytest.param({"displayName": 5}, _literal("5", "Edm.String"), id="int-for-string"),
        pytest.param({"displayName": ["a"]}, _literal('["a"]', "Edm.String"), id="list-for-string"),
        pytest.param({"displayName": {"a": 1}}, _literal('{"a":1}', "Edm.String"), id="object-for-string"),
        pytest.param(
            {"priority": 1},
            _literal("1", "microsoft.graph.deviceAppManagementTaskPriority"),
            id="int-for-enum",
        ),
        pytest.param(
            {"dueDateTime": "2017-13-01T00:00:00Z"},
            _literal("2017-13-01T00:00:00Z", "Edm.DateTimeOffset"),
            id="bad-datetime",
        ),
        pytest.param(
            {"dueDateTime": "2017-01-01"},
            _literal("2017-01-01", "Edm.DateTimeOffset"),
            id="date-only-datetime",
        ),
        pytest.param({"dueDateTime": 0}, _literal("0", "Edm.DateTimeOffset"), id="number-for-datetime"),
        pytest.param(
            {"@odata.type": UDDT, "unmanagedDevices": [{"lastSeenDateTime": "yesterday"}]},
            _literal("yesterday", "Edm.DateTimeOffset"),
            id="bad-datetime-in-complex",
        ),
        pytest.param(
            {"dueDateTime": None},
            _null("dueDateTime", "Edm.DateTimeOffset"),
            id="null-datetime",
        ),
        pytest.param(
            {"priority": None},
            _null("priority", "microsoft.graph.deviceAppManagementTaskPriority"),
            id="null-enum",
        ),
        pytest.param(
            {"@odata.type": SCT, "managedDeviceCount": None},
            _null("managedDeviceCount", "Edm.Int32"),
            id="null-int32",
        ),
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": [{"name": None}]},
            _null("name", "Edm.String"),
            id="null-keyValuePair-name",
        ),
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": [{"value": "v"}]},
            _null("name", "Edm.String"),
            id="missing-keyValuePair-name",
        ),
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": ["x"]},
            _literal("x", "microsoft.graph.keyValuePair"),
            id="string-as-complex-item",
        ),
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": {"name": "n"}},
            _literal('{"name":"n"}', "Collection(microsoft.graph.keyValuePair)"),
            id="object-for-collection",
        ),
        pytest.param(
            {"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy"},
            _unresolved("microsoft.graph.deviceManagementConfigurationPolicy"),
            id="unknown-odata-type",
        ),
        pytest.param(
            {"@odata.type": "#microsoft.graph.vulnerableManagedDevice"},
            _unresolved("microsoft.graph.vulnerableManagedDevice"),
            id="entity-that-is-not-a-task",
        ),
        pytest.param(
            {"@odata.type": "#microsoft.graph.keyValuePair"},
            _unresolved("microsoft.graph.keyValuePair"),
            id="complex-type-as-entity",
        ),
        pytest.param(
            {"@odata.type": "#securityConfigurationTask"},
            _unresolved("securityConfigurationTask"),
            id="unqualified-odata-type",
        ),
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": [{"@odata.type": "#microsoft.graph.nope", "name": "n"}]},
            _unresolved("microsoft.graph.nope"),
            id="unknown-complex-odata-type",
        ),
    ],
)
def test_create_rejects(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelValidationFailure) as caught:
        validate_create(body)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "ModelValidationFailure", message)


@pytest.mark.parametrize(
    ("payload", "node"),
    [
        ([], "StartArray"),
        ([FOUNDING_REQUEST], "StartArray"),
        (42, "PrimitiveValue"),
        (4.2, "PrimitiveValue"),
        ("text", "PrimitiveValue"),
        (True, "PrimitiveValue"),
        (None, "PrimitiveValue"),
    ],
)
def test_create_rejects_non_object_body(payload: object, node: str) -> None:
    with pytest.raises(BadRequest) as caught:
        validate_create(payload)
    error = caught.value
    assert type(error) is BadRequest
    assert (error.status, error.code, error.message) == (
        400,
        "BadRequest",
        f"An unexpected '{node}' node was found when reading from the JSON reader. "
        "A 'StartObject' node was expected.",
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"@odata.type": SCT, "managedDeviceCount": 2**64}, id="int32-property"),
        pytest.param({"displayName": -(2**63) - 1}, id="string-property"),
    ],
)
def test_create_rejects_ints_beyond_64_bits_as_model_validation_failure(body: dict[str, Any]) -> None:
    with pytest.raises(
        ModelValidationFailure, match=r"^Cannot convert the literal '-?\d+' to the expected type"
    ):
        validate_create(body)


# --- validate_update ---


@pytest.mark.parametrize(
    ("body", "current", "changed"),
    [
        ({}, SECURITY_CONFIGURATION_TASK, {}),
        ({"displayName": "x"}, SECURITY_CONFIGURATION_TASK, {"displayName": "x"}),
        (
            {"@odata.type": SCT, "managedDeviceCount": 3},
            SECURITY_CONFIGURATION_TASK,
            {"managedDeviceCount": 3},
        ),
        (
            {"@odata.type": SCT.lstrip("#"), "status": "active"},
            SECURITY_CONFIGURATION_TASK,
            {"status": "active"},
        ),
        ({"@odata.type": BASE, "status": "active"}, SECURITY_CONFIGURATION_TASK, {"status": "active"}),
        ({"@odata.type": BASE, "priority": "low"}, APP_VULNERABILITY_TASK, {"priority": "low"}),
        ({"@odata.type": BASE}, DEVICE_APP_MANAGEMENT_TASK, {}),
        (
            {"@odata.type": UDDT, "unmanagedDevices": []},
            UNMANAGED_DEVICE_DISCOVERY_TASK,
            {"unmanagedDevices": []},
        ),
        (
            {
                "id": "5d630f12-0f12-5d63-120f-635d120f635d",
                "createdDateTime": "2017-01-01T00:00:00Z",
                "managedDevices": [],
                "@odata.context": "x",
                "displayName": "y",
            },
            SECURITY_CONFIGURATION_TASK,
            {"displayName": "y"},
        ),
        ({"dueDateTime": "2017-01-01T00:00:00Z"}, DEVICE_APP_MANAGEMENT_TASK, {"dueDateTime": TICKS_2017}),
    ],
)
def test_update_returns_only_changed_values(
    body: dict[str, Any], current: EntityType, changed: Values
) -> None:
    assert validate_update(body, current) == changed


@pytest.mark.parametrize(
    ("body", "current"),
    [
        ({"@odata.type": AVT}, SECURITY_CONFIGURATION_TASK),
        ({"@odata.type": SCT, "displayName": "x"}, APP_VULNERABILITY_TASK),
        ({"@odata.type": SCT}, DEVICE_APP_MANAGEMENT_TASK),
        ({"@odata.type": UDDT.lstrip("#")}, DEVICE_APP_MANAGEMENT_TASK),
    ],
)
def test_update_rejects_type_change(body: dict[str, Any], current: EntityType) -> None:
    with pytest.raises(BadRequest) as caught:
        validate_update(body, current)
    error = caught.value
    named = str(body["@odata.type"]).lstrip("#")
    assert type(error) is BadRequest
    assert (error.status, error.code, error.message) == (
        400,
        "BadRequest",
        f"The type of a task cannot be changed: the task is a '{current.qualified_name}' "
        f"and the request body names '{named}'.",
    )


@pytest.mark.parametrize(
    ("body", "current", "message"),
    [
        (
            {"@odata.type": BASE, "insights": "x"},
            SECURITY_CONFIGURATION_TASK,
            _unknown_property("insights", "deviceAppManagementTask"),
        ),
        (
            {"appName": "x"},
            SECURITY_CONFIGURATION_TASK,
            _unknown_property("appName", "securityConfigurationTask"),
        ),
        (
            {"@odata.type": "#microsoft.graph.nope"},
            SECURITY_CONFIGURATION_TASK,
            _unresolved("microsoft.graph.nope"),
        ),
        ({"status": "done"}, DEVICE_APP_MANAGEMENT_TASK, "Requested value 'done' was not found."),
        (
            {"status": None},
            DEVICE_APP_MANAGEMENT_TASK,
            _null("status", "microsoft.graph.deviceAppManagementTaskStatus"),
        ),
        (
            {"mobileAppCount": 70000},
            APP_VULNERABILITY_TASK,
            "The field mobileAppCount must be between 0 and 65536.",
        ),
    ],
)
def test_update_rejects_invalid_values(body: dict[str, Any], current: EntityType, message: str) -> None:
    with pytest.raises(ModelValidationFailure) as caught:
        validate_update(body, current)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        400,
        "ModelValidationFailure",
        message,
    )


@pytest.mark.parametrize("payload", [[], 1, "x", None])
def test_update_rejects_non_object_body(payload: object) -> None:
    with pytest.raises(BadRequest, match=r"A 'StartObject' node was expected\.$"):
        validate_update(payload, SECURITY_CONFIGURATION_TASK)


# --- validate_update_status ---


@pytest.mark.parametrize(
    ("body", "parameters"),
    [
        ({"status": "pending", "note": "Note value"}, ("pending", "Note value")),
        ({"status": "completed"}, ("completed", None)),
        ({"status": "rejected", "note": None}, ("rejected", None)),
        ({"status": "active", "note": "", "@odata.context": "x"}, ("active", "")),
    ],
)
def test_update_status_parameters(body: dict[str, Any], parameters: tuple[str, str | None]) -> None:
    assert validate_update_status(body) == parameters


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"status": "pending", "reason": "x"},
            "The parameter 'reason' in the request payload is not a valid parameter for the operation "
            "'microsoft.graph.updateStatus'.",
        ),
        ({"status": "finished"}, "Requested value 'finished' was not found."),
        ({}, _null("status", "microsoft.graph.deviceAppManagementTaskStatus")),
        ({"note": "n"}, _null("status", "microsoft.graph.deviceAppManagementTaskStatus")),
        ({"status": "pending", "note": 3}, _literal("3", "Edm.String")),
        ({"status": 1}, _literal("1", "microsoft.graph.deviceAppManagementTaskStatus")),
    ],
)
def test_update_status_rejects(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelValidationFailure) as caught:
        validate_update_status(body)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        400,
        "ModelValidationFailure",
        message,
    )


def test_update_status_rejects_array() -> None:
    with pytest.raises(BadRequest, match="An unexpected 'StartArray' node was found"):
        validate_update_status([{"status": "pending"}])


# --- properties ---

_ALL_NAMES = frozenset(
    {p.name for t in TASK_TYPES for p in t.properties} | {n.name for t in TASK_TYPES for n in t.navigation}
)

# Any int: orjson.loads (web/bodies.py) only yields 64-bit ones, but direct callers may pass more.
_JSON_INTS = st.integers()
# Values some property accepts, so that generated bodies also reach the success path.
_PLAUSIBLE = st.sampled_from(
    sorted({m for e in ENUM_TYPES for m in e.members} | {"2017-01-01T00:02:18.1994089-08:00", "2017-01-01"})
) | st.integers(min_value=0, max_value=65536)
_JSON_SCALARS = st.none() | st.booleans() | _JSON_INTS | st.floats() | st.text() | _PLAUSIBLE
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)
_KEYS = st.sampled_from(sorted(_ALL_NAMES | {"@odata.type", "@odata.context"})) | st.text(max_size=12)
_TYPE_NAMES = st.sampled_from([t.odata_type for t in TASK_TYPES] + [t.qualified_name for t in TASK_TYPES])


@given(st.dictionaries(st.text().filter(lambda k: "@" not in k and k not in _ALL_NAMES), _JSON, min_size=1))
def test_unknown_keys_are_model_validation_failures(body: dict[str, Any]) -> None:
    with pytest.raises(ModelValidationFailure) as caught:
        validate_create(body)
    first = next(iter(body))
    assert caught.value.message == _unknown_property(first, "deviceAppManagementTask")


@given(st.integers(min_value=0, max_value=65536))
def test_any_count_in_range_round_trips(count: int) -> None:
    assert (
        validate_create({"@odata.type": SCT, "managedDeviceCount": count})[1]["managedDeviceCount"] == count
    )
    assert validate_create({"@odata.type": AVT, "mobileAppCount": count})[1]["mobileAppCount"] == count


@given(_JSON_INTS.filter(lambda n: not 0 <= n <= 65536))
def test_any_count_out_of_range_is_rejected(count: int) -> None:
    with pytest.raises(ModelValidationFailure) as caught:
        validate_create({"@odata.type": SCT, "managedDeviceCount": count})
    in_int32 = -(2**31) <= count < 2**31
    expected = (
        "The field managedDeviceCount must be between 0 and 65536."
        if in_int32
        else _literal(str(count), "Edm.Int32")
    )
    assert caught.value.message == expected


@settings(deadline=None)
@given(_JSON | st.dictionaries(_KEYS, _JSON, max_size=6), st.none() | _TYPE_NAMES)
def test_create_raises_only_graph_errors(payload: Any, type_name: str | None) -> None:
    if type_name is not None and isinstance(payload, dict):
        payload = {**payload, "@odata.type": type_name}
    try:
        entity_type, values = validate_create(payload)
    except GraphError as error:
        assert error.status == 400
        return
    assert isinstance(payload, dict)
    assert set(values) == set(defaults_for(entity_type))
