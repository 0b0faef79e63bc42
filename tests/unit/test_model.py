"""graphtasks.model.schema against graph-surface.md §1, and graphtasks.storage.tables against the model.

The tables below are copied from the reference (§1.3-§1.9), not derived from the code under test.
"""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Integer, SmallInteger

from graphtasks.model.schema import (
    APP_VULNERABILITY_MANAGED_DEVICE,
    APP_VULNERABILITY_MOBILE_APP,
    APP_VULNERABILITY_TASK,
    APPLICABLE_PLATFORM,
    COMPLEX_TYPES,
    DEVICE_APP_MANAGEMENT_TASK,
    ENUM_TYPES,
    KEY_VALUE_PAIR,
    MITIGATION_TYPE,
    SECURITY_CONFIGURATION_TASK,
    SECURITY_CONFIGURATION_TYPE,
    SECURITY_PROFILE_TYPE,
    TASK_CATEGORY,
    TASK_PRIORITY,
    TASK_STATUS,
    TASK_TYPES,
    TASK_TYPES_BY_NAME,
    UNMANAGED_DEVICE,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
    UPDATE_STATUS,
    VULNERABLE_MANAGED_DEVICE,
    ComplexType,
    EntityType,
    EnumType,
)
from graphtasks.storage.tables import COLUMNS, column_name, row_values, tasks

Row = tuple[str, str, bool]
S, DTO, I32 = "Edm.String", "Edm.DateTimeOffset", "Edm.Int32"
G = "microsoft.graph."

# §1.3
BASE: list[Row] = [
    ("id", S, False),
    ("displayName", S, True),
    ("description", S, True),
    ("createdDateTime", DTO, False),
    ("dueDateTime", DTO, False),
    ("category", G + "deviceAppManagementTaskCategory", False),
    ("priority", G + "deviceAppManagementTaskPriority", False),
    ("creator", S, True),
    ("creatorNotes", S, True),
    ("assignedTo", S, True),
    ("status", G + "deviceAppManagementTaskStatus", False),
]
# §1.4
SECURITY_CONFIGURATION: list[Row] = [
    *BASE,
    ("endpointSecurityPolicy", G + "endpointSecurityConfigurationType", False),
    ("applicablePlatform", G + "endpointSecurityConfigurationApplicablePlatform", False),
    ("endpointSecurityPolicyProfile", G + "endpointSecurityConfigurationProfileType", False),
    ("insights", S, True),
    ("managedDeviceCount", I32, False),
    ("intendedSettings", "Collection(microsoft.graph.keyValuePair)", True),
]
# §1.5
APP_VULNERABILITY: list[Row] = [
    *BASE,
    ("appName", S, True),
    ("appPublisher", S, True),
    ("appVersion", S, True),
    ("mitigationType", G + "appVulnerabilityTaskMitigationType", False),
    ("insights", S, True),
    ("managedDeviceCount", I32, False),
    ("mobileAppCount", I32, False),
    ("remediation", S, True),
]
# §1.6
UNMANAGED_DISCOVERY: list[Row] = [
    *BASE,
    ("unmanagedDevices", "Collection(microsoft.graph.unmanagedDevice)", True),
]
# §1.8
KEY_VALUE: list[Row] = [("name", S, False), ("value", S, True)]
UNMANAGED: list[Row] = [
    ("os", S, True),
    ("osVersion", S, True),
    ("ipAddress", S, True),
    ("deviceName", S, True),
    ("macAddress", S, True),
    ("domain", S, True),
    ("manufacturer", S, True),
    ("model", S, True),
    ("location", S, True),
    ("lastLoggedOnUser", S, True),
    ("lastSeenDateTime", DTO, False),
]
# §1.7
MANAGED_DEVICE: list[Row] = [
    ("id", S, False),
    ("managedDeviceId", S, True),
    ("displayName", S, True),
    ("lastSyncDateTime", DTO, False),
]
MOBILE_APP: list[Row] = [
    ("id", S, False),
    ("mobileAppId", S, True),
    ("displayName", S, True),
    ("createdDateTime", DTO, False),
    ("lastModifiedDateTime", DTO, False),
    ("mobileAppType", S, True),
    ("version", S, True),
]


@pytest.mark.parametrize(
    ("entity_type", "rows"),
    [
        (DEVICE_APP_MANAGEMENT_TASK, BASE),
        (SECURITY_CONFIGURATION_TASK, SECURITY_CONFIGURATION),
        (APP_VULNERABILITY_TASK, APP_VULNERABILITY),
        (UNMANAGED_DEVICE_DISCOVERY_TASK, UNMANAGED_DISCOVERY),
        (VULNERABLE_MANAGED_DEVICE, MANAGED_DEVICE),
        (APP_VULNERABILITY_MANAGED_DEVICE, MANAGED_DEVICE),
        (APP_VULNERABILITY_MOBILE_APP, MOBILE_APP),
    ],
    ids=lambda value: value.name if isinstance(value, EntityType) else "",
)
def test_entity_properties_match_reference(entity_type: EntityType, rows: list[Row]) -> None:
    assert [(p.name, p.type_name, p.nullable) for p in entity_type.properties] == rows


@pytest.mark.parametrize(
    ("complex_type", "rows"),
    [(KEY_VALUE_PAIR, KEY_VALUE), (UNMANAGED_DEVICE, UNMANAGED)],
    ids=["keyValuePair", "unmanagedDevice"],
)
def test_complex_properties_match_reference(complex_type: ComplexType, rows: list[Row]) -> None:
    assert [(p.name, p.type_name, p.nullable) for p in complex_type.properties] == rows


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


# §1.3-§1.6, the [D] description column.
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


# §1.9, members in declared order.
@pytest.mark.parametrize(
    ("enum_type", "name", "members"),
    [
        (TASK_CATEGORY, "deviceAppManagementTaskCategory", ["unknown", "advancedThreatProtection"]),
        (TASK_PRIORITY, "deviceAppManagementTaskPriority", ["none", "high", "low"]),
        (
            TASK_STATUS,
            "deviceAppManagementTaskStatus",
            ["unknown", "pending", "active", "completed", "rejected"],
        ),
        (
            MITIGATION_TYPE,
            "appVulnerabilityTaskMitigationType",
            ["unknown", "update", "uninstall", "securityConfiguration"],
        ),
        (
            APPLICABLE_PLATFORM,
            "endpointSecurityConfigurationApplicablePlatform",
            ["unknown", "macOS", "windows10AndLater", "windows10AndWindowsServer"],
        ),
        (
            SECURITY_CONFIGURATION_TYPE,
            "endpointSecurityConfigurationType",
            [
                "unknown",
                "antivirus",
                "diskEncryption",
                "firewall",
                "endpointDetectionAndResponse",
                "attackSurfaceReduction",
                "accountProtection",
            ],
        ),
        (
            SECURITY_PROFILE_TYPE,
            "endpointSecurityConfigurationProfileType",
            [
                "unknown",
                "antivirus",
                "windowsSecurity",
                "bitLocker",
                "fileVault",
                "firewall",
                "firewallRules",
                "endpointDetectionAndResponse",
                "deviceControl",
                "appAndBrowserIsolation",
                "exploitProtection",
                "webProtection",
                "applicationControl",
                "attackSurfaceReductionRules",
                "accountProtection",
            ],
        ),
    ],
    ids=lambda value: value.name if isinstance(value, EnumType) else "",
)
def test_enum_members_in_order(enum_type: EnumType, name: str, members: list[str]) -> None:
    assert (enum_type.name, list(enum_type.members)) == (name, members)


def test_enum_types_are_the_seven_of_the_reference() -> None:
    assert len(ENUM_TYPES) == 7
    assert all("unknownFutureValue" not in e.members for e in ENUM_TYPES)


@pytest.mark.parametrize(
    ("enum_type", "member", "value"),
    [
        (TASK_PRIORITY, "none", 0),
        (TASK_PRIORITY, "low", 2),
        (TASK_STATUS, "rejected", 4),
        (MITIGATION_TYPE, "securityConfiguration", 3),
        (APPLICABLE_PLATFORM, "windows10AndWindowsServer", 3),
        (SECURITY_PROFILE_TYPE, "webProtection", 11),
        (SECURITY_PROFILE_TYPE, "accountProtection", 14),
    ],
)
def test_enum_value_is_documented_number(enum_type: EnumType, member: str, value: int) -> None:
    assert enum_type.value_of(member) == value


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
