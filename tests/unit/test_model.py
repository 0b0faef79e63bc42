"""graphtasks.model.schema against Graph's public sources, and graphtasks.storage.tables against the model.

The reference's tables are transcribed once, in tests/support/reference_tables.py, not derived from the
code under test.
"""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Integer, SmallInteger

from graphtasks.model.schema import (
    APP_VULNERABILITY_MANAGED_DEVICE,
    APP_VULNERABILITY_MOBILE_APP,
    APP_VULNERABILITY_TASK,
    COMPLEX_TYPES,
    DEVICE_APP_MANAGEMENT_TASK,
    ENUM_TYPES,
    KEY_VALUE_PAIR,
    SECURITY_CONFIGURATION_TASK,
    TASK_TYPES,
    TASK_TYPES_BY_NAME,
    UNMANAGED_DEVICE,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
    UPDATE_STATUS,
    VULNERABLE_MANAGED_DEVICE,
)
from graphtasks.model.types import ComplexType, EntityType, EnumType
from graphtasks.storage.tables import COLUMNS, column_name, row_values, tasks
from tests.support.reference_tables import COMPLEX_PROPERTIES, ENTITY_PROPERTIES, ENUM_MEMBERS, Row

G = "microsoft.graph."


def full_names(rows: list[Row]) -> list[Row]:
    """The reference spells the namespace by its alias `graph.`; the model by its name."""
    return [(name, type_name.replace("graph.", G), nullable) for name, type_name, nullable in rows]


ENTITY_TYPES_OF_THE_REFERENCE = (
    DEVICE_APP_MANAGEMENT_TASK,
    SECURITY_CONFIGURATION_TASK,
    APP_VULNERABILITY_TASK,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
    VULNERABLE_MANAGED_DEVICE,
    APP_VULNERABILITY_MANAGED_DEVICE,
    APP_VULNERABILITY_MOBILE_APP,
)


@pytest.mark.parametrize("entity_type", ENTITY_TYPES_OF_THE_REFERENCE, ids=lambda t: t.name)
def test_entity_properties_match_reference(entity_type: EntityType) -> None:
    rows = [(p.name, p.type_name, p.nullable) for p in entity_type.properties]
    assert rows == full_names(ENTITY_PROPERTIES[entity_type.name])


@pytest.mark.parametrize("complex_type", [KEY_VALUE_PAIR, UNMANAGED_DEVICE], ids=lambda t: t.name)
def test_complex_properties_match_reference(complex_type: ComplexType) -> None:
    rows = [(p.name, p.type_name, p.nullable) for p in complex_type.properties]
    assert rows == full_names(COMPLEX_PROPERTIES[complex_type.name])


def test_complex_types_are_the_two_of_the_reference() -> None:
    assert [c.qualified_name for c in COMPLEX_TYPES] == [G + "keyValuePair", G + "unmanagedDevice"]


@pytest.mark.parametrize(
    ("entity_type", "odata_type", "internal_name", "base"),
    [
        (
            DEVICE_APP_MANAGEMENT_TASK,
            "#microsoft.graph.deviceAppManagementTask",
            "microsoft.management.services.api.deviceAppManagementTask",
            None,
        ),
        (
            SECURITY_CONFIGURATION_TASK,
            "#microsoft.graph.securityConfigurationTask",
            "microsoft.management.services.api.securityConfigurationTask",
            DEVICE_APP_MANAGEMENT_TASK,
        ),
        (
            APP_VULNERABILITY_TASK,
            "#microsoft.graph.appVulnerabilityTask",
            "microsoft.management.services.api.appVulnerabilityTask",
            DEVICE_APP_MANAGEMENT_TASK,
        ),
        (
            UNMANAGED_DEVICE_DISCOVERY_TASK,
            "#microsoft.graph.unmanagedDeviceDiscoveryTask",
            "microsoft.management.services.api.unmanagedDeviceDiscoveryTask",
            DEVICE_APP_MANAGEMENT_TASK,
        ),
    ],
)
def test_task_type_names_and_hierarchy(
    entity_type: EntityType, odata_type: str, internal_name: str, base: EntityType | None
) -> None:
    assert (entity_type.odata_type, entity_type.internal_name, entity_type.base) == (
        odata_type,
        internal_name,
        base,
    )


def test_task_types_by_name() -> None:
    assert TASK_TYPES_BY_NAME == {
        "microsoft.graph.deviceAppManagementTask": DEVICE_APP_MANAGEMENT_TASK,
        "microsoft.graph.securityConfigurationTask": SECURITY_CONFIGURATION_TASK,
        "microsoft.graph.appVulnerabilityTask": APP_VULNERABILITY_TASK,
        "microsoft.graph.unmanagedDeviceDiscoveryTask": UNMANAGED_DEVICE_DISCOVERY_TASK,
    }


@pytest.mark.parametrize(
    ("entity_type", "navigation"),
    [
        (DEVICE_APP_MANAGEMENT_TASK, []),
        (SECURITY_CONFIGURATION_TASK, [("managedDevices", "vulnerableManagedDevice")]),
        (
            APP_VULNERABILITY_TASK,
            [
                ("managedDevices", "appVulnerabilityManagedDevice"),
                ("mobileApps", "appVulnerabilityMobileApp"),
            ],
        ),
        (UNMANAGED_DEVICE_DISCOVERY_TASK, []),
    ],
    ids=lambda value: value.name if isinstance(value, EntityType) else "",
)
def test_navigation_properties(entity_type: EntityType, navigation: list[tuple[str, str]]) -> None:
    assert [(n.name, n.target) for n in entity_type.navigation] == navigation


@pytest.mark.parametrize("entity_type", TASK_TYPES, ids=lambda t: t.name)
def test_only_id_and_created_date_time_are_read_only(entity_type: EntityType) -> None:
    assert [p.name for p in entity_type.properties if p.read_only] == ["id", "createdDateTime"]


@pytest.mark.parametrize(
    ("entity_type", "name"),
    [
        (SECURITY_CONFIGURATION_TASK, "managedDeviceCount"),
        (APP_VULNERABILITY_TASK, "managedDeviceCount"),
        (APP_VULNERABILITY_TASK, "mobileAppCount"),
    ],
)
def test_device_counts_are_bounded_0_to_65536(entity_type: EntityType, name: str) -> None:
    prop = entity_type.property(name)
    assert prop is not None
    assert prop.value_range == (0, 65536)


# The docs' descriptions (docs/graph-behaviour.md, "Resource family").
@pytest.mark.parametrize(
    ("entity_type", "descriptions"),
    [
        (
            DEVICE_APP_MANAGEMENT_TASK,
            {
                "id": "The entity key.",
                "displayName": "The name.",
                "description": "The description.",
                "createdDateTime": "The created date.",
                "dueDateTime": "The due date.",
                "category": "The category.",
                "priority": "The priority.",
                "creator": "The email address of the creator.",
                "creatorNotes": "Notes from the creator.",
                "assignedTo": "The name or email of the admin this task is assigned to.",
                "status": "The status.",
            },
        ),
        (
            SECURITY_CONFIGURATION_TASK,
            {
                "endpointSecurityPolicy": "The endpoint security policy type.",
                "applicablePlatform": "The applicable platform.",
                "endpointSecurityPolicyProfile": "The endpoint security policy profile.",
                "insights": "Information about the mitigation.",
                "managedDeviceCount": "The number of vulnerable devices.",
                "intendedSettings": "The intended settings and their values.",
            },
        ),
        (
            APP_VULNERABILITY_TASK,
            {
                "appName": "The app name.",
                "appPublisher": "The app publisher.",
                "appVersion": "The app version.",
                "mitigationType": "The mitigation type.",
                "insights": "Information about the mitigation.",
                "managedDeviceCount": "The number of vulnerable devices.",
                "mobileAppCount": "The number of vulnerable mobile apps.",
                "remediation": "The remediation steps.",
            },
        ),
        (
            UNMANAGED_DEVICE_DISCOVERY_TASK,
            {"unmanagedDevices": "Unmanaged devices discovered in the network."},
        ),
        (
            APP_VULNERABILITY_MANAGED_DEVICE,
            {"lastSyncDateTime": "The created date.", "displayName": "The device name."},
        ),
        (APP_VULNERABILITY_MOBILE_APP, {"displayName": "The device name."}),
    ],
    ids=lambda value: value.name if isinstance(value, EntityType) else "",
)
def test_property_descriptions(entity_type: EntityType, descriptions: dict[str, str]) -> None:
    actual = {name: prop.description for name in descriptions if (prop := entity_type.property(name))}
    assert actual == descriptions


# docs/graph-behaviour.md, "Enumerations": members in declared order.
@pytest.mark.parametrize("enum_type", ENUM_TYPES, ids=lambda e: e.name)
def test_enum_members_in_order(enum_type: EnumType) -> None:
    assert list(enum_type.members) == [member for member, _ in ENUM_MEMBERS[enum_type.name]]


def test_enum_types_are_the_seven_of_the_reference() -> None:
    assert len(ENUM_TYPES) == 7
    assert {e.name for e in ENUM_TYPES} == set(ENUM_MEMBERS)
    assert all("unknownFutureValue" not in e.members for e in ENUM_TYPES)


@pytest.mark.parametrize("enum_type", ENUM_TYPES, ids=lambda e: e.name)
def test_enum_values_are_the_documented_numbers(enum_type: EnumType) -> None:
    assert [(m, enum_type.value_of(m)) for m in enum_type.members] == ENUM_MEMBERS[enum_type.name]


def test_update_status_action() -> None:
    parameters = [(p.name, p.type.name, p.nullable) for p in UPDATE_STATUS.parameters]
    assert (UPDATE_STATUS.qualified_name, UPDATE_STATUS.binding, parameters) == (
        "microsoft.graph.updateStatus",
        DEVICE_APP_MANAGEMENT_TASK,
        [("status", "deviceAppManagementTaskStatus", False), ("note", "Edm.String", True)],
    )


# --- storage.tables ---


@pytest.mark.parametrize(
    ("wire_name", "column"),
    [
        ("displayName", "display_name"),
        ("id", "id"),
        ("os", "os"),
        ("createdDateTime", "created_date_time"),
        ("endpointSecurityPolicyProfile", "endpoint_security_policy_profile"),
        ("managedDeviceCount", "managed_device_count"),
        ("unmanagedDevices", "unmanaged_devices"),
    ],
)
def test_column_name(wire_name: str, column: str) -> None:
    assert column_name(wire_name) == column


@pytest.mark.parametrize("entity_type", TASK_TYPES, ids=lambda t: t.name)
def test_every_property_has_exactly_one_column(entity_type: EntityType) -> None:
    table_columns = [c.name for c in tasks.columns]
    for prop in entity_type.properties:
        assert table_columns.count(column_name(prop.name)) == 1, prop.name
        if prop.name != "id":
            assert COLUMNS[prop.name].name == column_name(prop.name)


def test_columns_cover_exactly_the_task_properties() -> None:
    names = {p.name for t in TASK_TYPES for p in t.properties} - {"id"}
    assert set(COLUMNS) == names
    assert len({c.name for c in COLUMNS.values()}) == len(COLUMNS)


@pytest.mark.parametrize(
    ("name", "nullable"),
    [
        ("displayName", True),
        ("dueDateTime", False),
        ("createdDateTime", False),
        ("status", False),
        ("category", False),
        ("endpointSecurityPolicy", True),
        ("managedDeviceCount", True),
        ("mitigationType", True),
    ],
)
def test_column_nullability(name: str, nullable: bool) -> None:
    assert COLUMNS[name].nullable is nullable


@pytest.mark.parametrize(
    ("name", "column_type"),
    [
        ("status", SmallInteger),
        ("endpointSecurityPolicyProfile", SmallInteger),
        ("managedDeviceCount", Integer),
        ("dueDateTime", BigInteger),
        ("createdDateTime", BigInteger),
    ],
)
def test_column_types(name: str, column_type: type[object]) -> None:
    assert type(COLUMNS[name].type) is column_type


def test_row_values_store_enum_numbers() -> None:
    values = row_values(
        {"status": "completed", "displayName": "x", "endpointSecurityPolicyProfile": "webProtection"}
    )
    assert values == {"status": 3, "display_name": "x", "endpoint_security_policy_profile": 11}
