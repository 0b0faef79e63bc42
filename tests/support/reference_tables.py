"""The data model of Graph's deviceAppManagementTask family, transcribed as test data.

Copied by hand from the public sources docs/graph-behaviour.md names for it (the Graph beta resource
pages, the SDK's models, msgraph-metadata's type mappings; that page's "Resource family" and the
sections after it), not derived from graphtasks, so a test comparing the two compares two sources. Types
are spelled as the CSDL spells them: `Edm.*`, `graph.<name>` and `Collection(...)`. The tests read this
file, never the sources themselves, so they need no network.
"""

from __future__ import annotations

# (JSON name, EDM type, nullable)
Row = tuple[str, str, bool]

S, DTO, I32 = "Edm.String", "Edm.DateTimeOffset", "Edm.Int32"

# The root of every entity type.
ENTITY: list[Row] = [("id", S, False)]
# The base task type; properties in the docs' order, as in every list here.
DEVICE_APP_MANAGEMENT_TASK: list[Row] = [
    ("id", S, False),
    ("displayName", S, True),
    ("description", S, True),
    ("createdDateTime", DTO, False),
    ("dueDateTime", DTO, False),
    ("category", "graph.deviceAppManagementTaskCategory", False),
    ("priority", "graph.deviceAppManagementTaskPriority", False),
    ("creator", S, True),
    ("creatorNotes", S, True),
    ("assignedTo", S, True),
    ("status", "graph.deviceAppManagementTaskStatus", False),
]
# The derived task types: the base's properties, then their own.
SECURITY_CONFIGURATION_TASK: list[Row] = [
    *DEVICE_APP_MANAGEMENT_TASK,
    ("endpointSecurityPolicy", "graph.endpointSecurityConfigurationType", False),
    ("applicablePlatform", "graph.endpointSecurityConfigurationApplicablePlatform", False),
    ("endpointSecurityPolicyProfile", "graph.endpointSecurityConfigurationProfileType", False),
    ("insights", S, True),
    ("managedDeviceCount", I32, False),
    ("intendedSettings", "Collection(graph.keyValuePair)", True),
]
APP_VULNERABILITY_TASK: list[Row] = [
    *DEVICE_APP_MANAGEMENT_TASK,
    ("appName", S, True),
    ("appPublisher", S, True),
    ("appVersion", S, True),
    ("mitigationType", "graph.appVulnerabilityTaskMitigationType", False),
    ("insights", S, True),
    ("managedDeviceCount", I32, False),
    ("mobileAppCount", I32, False),
    ("remediation", S, True),
]
UNMANAGED_DEVICE_DISCOVERY_TASK: list[Row] = [
    *DEVICE_APP_MANAGEMENT_TASK,
    ("unmanagedDevices", "Collection(graph.unmanagedDevice)", True),
]
# The navigation targets (docs/graph-behaviour.md, "Navigation collections").
MANAGED_DEVICE: list[Row] = [
    ("id", S, False),
    ("managedDeviceId", S, True),
    ("displayName", S, True),
    ("lastSyncDateTime", DTO, False),
]
APP_VULNERABILITY_MOBILE_APP: list[Row] = [
    ("id", S, False),
    ("mobileAppId", S, True),
    ("displayName", S, True),
    ("createdDateTime", DTO, False),
    ("lastModifiedDateTime", DTO, False),
    ("mobileAppType", S, True),
    ("version", S, True),
]

# Every property of each entity type of the family, inherited ones first.
ENTITY_PROPERTIES: dict[str, list[Row]] = {
    "deviceAppManagementTask": DEVICE_APP_MANAGEMENT_TASK,
    "securityConfigurationTask": SECURITY_CONFIGURATION_TASK,
    "appVulnerabilityTask": APP_VULNERABILITY_TASK,
    "unmanagedDeviceDiscoveryTask": UNMANAGED_DEVICE_DISCOVERY_TASK,
    "vulnerableManagedDevice": MANAGED_DEVICE,
    "appVulnerabilityManagedDevice": MANAGED_DEVICE,
    "appVulnerabilityMobileApp": APP_VULNERABILITY_MOBILE_APP,
}

# The type hierarchy.
BASE_TYPES: dict[str, str] = {
    "deviceAppManagementTask": "graph.entity",
    "securityConfigurationTask": "graph.deviceAppManagementTask",
    "appVulnerabilityTask": "graph.deviceAppManagementTask",
    "unmanagedDeviceDiscoveryTask": "graph.deviceAppManagementTask",
    "vulnerableManagedDevice": "graph.entity",
    "appVulnerabilityManagedDevice": "graph.entity",
    "appVulnerabilityMobileApp": "graph.entity",
}

# Navigation properties: (name, type).
NAVIGATIONS: dict[str, list[tuple[str, str]]] = {
    "deviceAppManagementTask": [],
    "securityConfigurationTask": [("managedDevices", "Collection(graph.vulnerableManagedDevice)")],
    "appVulnerabilityTask": [
        ("managedDevices", "Collection(graph.appVulnerabilityManagedDevice)"),
        ("mobileApps", "Collection(graph.appVulnerabilityMobileApp)"),
    ],
    "unmanagedDeviceDiscoveryTask": [],
    "vulnerableManagedDevice": [],
    "appVulnerabilityManagedDevice": [],
    "appVulnerabilityMobileApp": [],
}

# docs/graph-behaviour.md, "Complex types".
COMPLEX_PROPERTIES: dict[str, list[Row]] = {
    "keyValuePair": [("name", S, False), ("value", S, True)],
    "unmanagedDevice": [
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
    ],
}

# docs/graph-behaviour.md, "Enumerations": members in declared order with their values (the guessed
# ones included).
ENUM_MEMBERS: dict[str, list[tuple[str, int]]] = {
    "deviceAppManagementTaskCategory": [("unknown", 0), ("advancedThreatProtection", 1)],
    "deviceAppManagementTaskPriority": [("none", 0), ("high", 1), ("low", 2)],
    "deviceAppManagementTaskStatus": [
        ("unknown", 0),
        ("pending", 1),
        ("active", 2),
        ("completed", 3),
        ("rejected", 4),
    ],
    "appVulnerabilityTaskMitigationType": [
        ("unknown", 0),
        ("update", 1),
        ("uninstall", 2),
        ("securityConfiguration", 3),
    ],
    "endpointSecurityConfigurationApplicablePlatform": [
        ("unknown", 0),
        ("macOS", 1),
        ("windows10AndLater", 2),
        ("windows10AndWindowsServer", 3),
    ],
    "endpointSecurityConfigurationType": [
        ("unknown", 0),
        ("antivirus", 1),
        ("diskEncryption", 2),
        ("firewall", 3),
        ("endpointDetectionAndResponse", 4),
        ("attackSurfaceReduction", 5),
        ("accountProtection", 6),
    ],
    "endpointSecurityConfigurationProfileType": [
        ("unknown", 0),
        ("antivirus", 1),
        ("windowsSecurity", 2),
        ("bitLocker", 3),
        ("fileVault", 4),
        ("firewall", 5),
        ("firewallRules", 6),
        ("endpointDetectionAndResponse", 7),
        ("deviceControl", 8),
        ("appAndBrowserIsolation", 9),
        ("exploitProtection", 10),
        ("webProtection", 11),
        ("applicationControl", 12),
        ("attackSurfaceReductionRules", 13),
        ("accountProtection", 14),
    ],
}

# docs/graph-behaviour.md, "updateStatus": bound to deviceAppManagementTask, parameters (name, type).
UPDATE_STATUS_BINDING = "graph.deviceAppManagementTask"
UPDATE_STATUS_PARAMETERS: list[tuple[str, str]] = [
    ("status", "graph.deviceAppManagementTaskStatus"),
    ("note", S),
]

# The singleton and its navigation to the tasks.
SINGLETON = "deviceAppManagement"
TASKS_NAVIGATION = ("deviceAppManagementTasks", "Collection(graph.deviceAppManagementTask)")
