"""The Graph types of the deviceAppManagementTask family: the one source of truth.

Every wire name, EDM type, nullability, enum member (in declared order, so its index is its value) and
description lives here, written in model/types.py's classes: the enum, complex and task entity types,
the targets of the navigation collections, the updateStatus action and the entity set path.
Validation, serialization, the storage columns and $metadata all read these definitions; nothing else
spells a property name. Facts come from docs/graph-behaviour.md, "Resource family" and the sections
after it.

Must not import from web/, auth/ or storage/.
"""

from __future__ import annotations

from graphtasks.model.types import (
    DATETIME_OFFSET,
    INT32,
    PRIMITIVE_TYPES,
    STRING,
    Action,
    ActionParameter,
    ComplexType,
    EntityType,
    EnumType,
    ModelType,
    NavigationProperty,
    Property,
)

# --- enumerations (docs/graph-behaviour.md, "Enumerations"; declared order, index = value) ---

TASK_CATEGORY = EnumType("deviceAppManagementTaskCategory", ("unknown", "advancedThreatProtection"))
TASK_PRIORITY = EnumType("deviceAppManagementTaskPriority", ("none", "high", "low"))
TASK_STATUS = EnumType(
    "deviceAppManagementTaskStatus", ("unknown", "pending", "active", "completed", "rejected")
)
MITIGATION_TYPE = EnumType(
    "appVulnerabilityTaskMitigationType", ("unknown", "update", "uninstall", "securityConfiguration")
)
APPLICABLE_PLATFORM = EnumType(
    "endpointSecurityConfigurationApplicablePlatform",
    ("unknown", "macOS", "windows10AndLater", "windows10AndWindowsServer"),
)
SECURITY_CONFIGURATION_TYPE = EnumType(
    "endpointSecurityConfigurationType",
    (
        "unknown",
        "antivirus",
        "diskEncryption",
        "firewall",
        "endpointDetectionAndResponse",
        "attackSurfaceReduction",
        "accountProtection",
    ),
)
SECURITY_PROFILE_TYPE = EnumType(
    "endpointSecurityConfigurationProfileType",
    (
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
    ),
)
ENUM_TYPES = (
    TASK_CATEGORY,
    TASK_PRIORITY,
    TASK_STATUS,
    MITIGATION_TYPE,
    APPLICABLE_PLATFORM,
    SECURITY_CONFIGURATION_TYPE,
    SECURITY_PROFILE_TYPE,
)

# --- complex types (docs/graph-behaviour.md, "Complex types") ---

KEY_VALUE_PAIR = ComplexType(
    "keyValuePair",
    "Key value pair for storing custom settings",
    (
        Property("name", STRING, False, "Name for this key-value pair"),
        Property("value", STRING, True, "Value for this key-value pair"),
    ),
)


def _text(name: str, description: str) -> Property:
    return Property(name, STRING, True, description)


UNMANAGED_DEVICE = ComplexType(
    "unmanagedDevice",
    "Unmanaged device discovered in the network.",
    (
        _text("os", "Operating system."),
        _text("osVersion", "Operating system version."),
        _text("ipAddress", "IP address."),
        _text("deviceName", "Device name."),
        _text("macAddress", "MAC address."),
        _text("domain", "Domain."),
        _text("manufacturer", "Manufacturer."),
        _text("model", "Model."),
        _text("location", "Location."),
        _text("lastLoggedOnUser", "Last logged on user."),
        Property("lastSeenDateTime", DATETIME_OFFSET, False, "Last seen date and time."),
    ),
)
COMPLEX_TYPES = (KEY_VALUE_PAIR, UNMANAGED_DEVICE)

# --- entity types (docs/graph-behaviour.md, "Resource family") ---

# The "Valid values 0 to 65536" of Graph's "Create securityConfigurationTask" page.
DEVICE_COUNT_RANGE = (0, 65536)
_MANAGED_DEVICE_COUNT = Property(
    "managedDeviceCount", INT32, False, "The number of vulnerable devices.", value_range=DEVICE_COUNT_RANGE
)
_INSIGHTS = _text("insights", "Information about the mitigation.")

DEVICE_APP_MANAGEMENT_TASK = EntityType(
    "deviceAppManagementTask",
    "A device app management task.",
    (
        Property("id", STRING, False, "The entity key.", read_only=True),
        _text("displayName", "The name."),
        _text("description", "The description."),
        Property("createdDateTime", DATETIME_OFFSET, False, "The created date.", read_only=True),
        Property("dueDateTime", DATETIME_OFFSET, False, "The due date."),
        Property("category", TASK_CATEGORY, False, "The category."),
        Property("priority", TASK_PRIORITY, False, "The priority."),
        _text("creator", "The email address of the creator."),
        _text("creatorNotes", "Notes from the creator."),
        _text("assignedTo", "The name or email of the admin this task is assigned to."),
        Property("status", TASK_STATUS, False, "The status."),
    ),
)

SECURITY_CONFIGURATION_TASK = EntityType(
    "securityConfigurationTask",
    "A security configuration task.",
    (
        Property(
            "endpointSecurityPolicy", SECURITY_CONFIGURATION_TYPE, False, "The endpoint security policy type."
        ),
        Property("applicablePlatform", APPLICABLE_PLATFORM, False, "The applicable platform."),
        Property(
            "endpointSecurityPolicyProfile",
            SECURITY_PROFILE_TYPE,
            False,
            "The endpoint security policy profile.",
        ),
        _INSIGHTS,
        _MANAGED_DEVICE_COUNT,
        Property(
            "intendedSettings",
            KEY_VALUE_PAIR,
            True,
            "The intended settings and their values.",
            collection=True,
        ),
    ),
    base=DEVICE_APP_MANAGEMENT_TASK,
    navigation=(
        NavigationProperty("managedDevices", "vulnerableManagedDevice", "The vulnerable managed devices."),
    ),
)

APP_VULNERABILITY_TASK = EntityType(
    "appVulnerabilityTask",
    "An app vulnerability task.",
    (
        _text("appName", "The app name."),
        _text("appPublisher", "The app publisher."),
        _text("appVersion", "The app version."),
        Property("mitigationType", MITIGATION_TYPE, False, "The mitigation type."),
        _INSIGHTS,
        _MANAGED_DEVICE_COUNT,
        Property(
            "mobileAppCount",
            INT32,
            False,
            "The number of vulnerable mobile apps.",
            value_range=DEVICE_COUNT_RANGE,
        ),
        _text("remediation", "The remediation steps."),
    ),
    base=DEVICE_APP_MANAGEMENT_TASK,
    navigation=(
        NavigationProperty(
            "managedDevices", "appVulnerabilityManagedDevice", "The vulnerable managed devices."
        ),
        NavigationProperty("mobileApps", "appVulnerabilityMobileApp", "The vulnerable mobile apps."),
    ),
)

UNMANAGED_DEVICE_DISCOVERY_TASK = EntityType(
    "unmanagedDeviceDiscoveryTask",
    "This task derived type represents a list of unmanaged devices discovered in the network.",
    (
        Property(
            "unmanagedDevices",
            UNMANAGED_DEVICE,
            True,
            "Unmanaged devices discovered in the network.",
            collection=True,
        ),
    ),
    base=DEVICE_APP_MANAGEMENT_TASK,
)

TASK_TYPES: tuple[EntityType, ...] = (
    DEVICE_APP_MANAGEMENT_TASK,
    SECURITY_CONFIGURATION_TASK,
    APP_VULNERABILITY_TASK,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
)
TASK_TYPES_BY_NAME = {t.qualified_name: t for t in TASK_TYPES}


def _managed_device(name: str, description: str, sync_description: str) -> EntityType:
    return EntityType(
        name,
        description,
        (
            Property("id", STRING, False, "The entity key, and AAD device ID.", read_only=True),
            _text("managedDeviceId", "The Intune managed device ID."),
            _text("displayName", "The device name."),
            Property("lastSyncDateTime", DATETIME_OFFSET, False, sync_description),
        ),
    )


# Targets of the derived types' navigation collections (docs/graph-behaviour.md,
# "Navigation collections"); the copy errors in their descriptions
# ("The created date.", "The device name.") are the sources' own and kept on purpose.
VULNERABLE_MANAGED_DEVICE = _managed_device(
    "vulnerableManagedDevice",
    "This entity represents a device associated with a task.",
    "The last sync date.",
)
APP_VULNERABILITY_MANAGED_DEVICE = _managed_device(
    "appVulnerabilityManagedDevice", "An app vulnerability managed device.", "The created date."
)
APP_VULNERABILITY_MOBILE_APP = EntityType(
    "appVulnerabilityMobileApp",
    "An app vulnerability mobile app.",
    (
        Property("id", STRING, False, "The entity key.", read_only=True),
        _text("mobileAppId", "The Intune mobile app ID."),
        _text("displayName", "The device name."),
        Property("createdDateTime", DATETIME_OFFSET, False, "The created date."),
        Property("lastModifiedDateTime", DATETIME_OFFSET, False, "The last modified date."),
        _text("mobileAppType", "The app type."),
        _text("version", "The app version."),
    ),
)
NAVIGATION_TARGETS = (
    VULNERABLE_MANAGED_DEVICE,
    APP_VULNERABILITY_MANAGED_DEVICE,
    APP_VULNERABILITY_MOBILE_APP,
)
_TARGETS_BY_NAME = {t.name: t for t in NAVIGATION_TARGETS}
_NAMED_TYPES: tuple[EnumType | ComplexType | EntityType, ...] = (
    *ENUM_TYPES,
    *COMPLEX_TYPES,
    *TASK_TYPES,
    *NAVIGATION_TARGETS,
)
_TYPES_BY_QUALIFIED_NAME: dict[str, ModelType] = {
    **{t.name: t for t in PRIMITIVE_TYPES},
    **{t.qualified_name: t for t in _NAMED_TYPES},
}
# Every navigation name some task type has: managedDevices, mobileApps.
NAVIGATION_NAMES = frozenset(n.name for t in TASK_TYPES for n in t.navigation)


def resolve_type(qualified_name: str) -> ModelType | None:
    """The type a qualified name (`microsoft.graph.keyValuePair`, `Edm.String`) names, if any."""
    return _TYPES_BY_QUALIFIED_NAME.get(qualified_name)


def navigation_target(entity_type: EntityType, name: str) -> EntityType | None:
    """The entity type behind `entity_type`'s navigation collection `name`, if it has one."""
    navigation = entity_type.navigation_property(name)
    return None if navigation is None else _TARGETS_BY_NAME[navigation.target]


UPDATE_STATUS = Action(
    "updateStatus",
    DEVICE_APP_MANAGEMENT_TASK,
    (ActionParameter("status", TASK_STATUS, False), ActionParameter("note", STRING, True, unicode=False)),
)

# The entity set path: the deviceAppManagement singleton's containment collection
# (docs/graph-behaviour.md, "Resource family").
SINGLETON = "deviceAppManagement"
TASKS_SEGMENT = "deviceAppManagementTasks"
TASKS_PATH = f"{SINGLETON}/{TASKS_SEGMENT}"
