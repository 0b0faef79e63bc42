"""The data model of graph-surface.md §1 and §2.3, transcribed as test data.

Copied by hand from the reference, not derived from graphtasks, so a test comparing the two compares two
sources. Types are spelled as the reference spells them: `Edm.*`, `graph.<name>` and `Collection(...)`.
CI runs from a clean clone without the reference, which is why it is transcribed and not read.
"""

from __future__ import annotations

# (JSON name, EDM type, nullable)
Row = tuple[str, str, bool]

S, DTO, I32 = "Edm.String", "Edm.DateTimeOffset", "Edm.Int32"

# §1.2
ENTITY: list[Row] = [("id", S, False)]
# §1.3
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
# §1.4
SECURITY_CONFIGURATION_TASK: list[Row] = [
    *DEVICE_APP_MANAGEMENT_TASK,
    ("endpointSecurityPolicy", "graph.endpointSecurityConfigurationType", False),
    ("applicablePlatform", "graph.endpointSecurityConfigurationApplicablePlatform", False),
    ("endpointSecurityPolicyProfile", "graph.endpointSecurityConfigurationProfileType", False),
    ("insights", S, True),
    ("managedDeviceCount", I32, False),
    ("intendedSettings", "Collection(graph.keyValuePair)", True),
]
# §1.5
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
# §1.6
UNMANAGED_DEVICE_DISCOVERY_TASK: list[Row] = [
    *DEVICE_APP_MANAGEMENT_TASK,
    ("unmanagedDevices", "Collection(graph.unmanagedDevice)", True),
]
# §1.7
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

# Every property of each entity type of the family, inherited ones first (§1.2-§1.7).
ENTITY_PROPERTIES: dict[str, list[Row]] = {
    "deviceAppManagementTask": DEVICE_APP_MANAGEMENT_TASK,
    "securityConfigurationTask": SECURITY_CONFIGURATION_TASK,
    "appVulnerabilityTask": APP_VULNERABILITY_TASK,
    "unmanagedDeviceDiscoveryTask": UNMANAGED_DEVICE_DISCOVERY_TASK,
    "vulnerableManagedDevice": MANAGED_DEVICE,
    "appVulnerabilityManagedDevice": MANAGED_DEVICE,
    "appVulnerabilityMobileApp": APP_VULNERABILITY_MOBILE_APP,
}

# §1.1, the type hierarchy.
BASE_TYPES: dict[str, str] = {
    "deviceAppManagementTask": "graph.entity",
    "securityConfigurationTask": "graph.deviceAppManagementTask",
    "appVulnerabilityTask": "graph.deviceAppManagementTask",
    "unmanagedDeviceDiscoveryTask": "graph.deviceAppManagementTask",
    "vulnerableManagedDevice": "graph.entity",
    "appVulnerabilityManagedDevice": "graph.entity",
    "appVulnerabilityMobileApp": "graph.entity",
}

# §1.3-§1.7, navigation properties: (name, type).
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

# §1.8
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

# §1.9, members in declared order with their values (the "(inf)" ones included).
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

# §2.3: updateStatus, bound to deviceAppManagementTask, parameters (name, type).
UPDATE_STATUS_BINDING = "graph.deviceAppManagementTask"
UPDATE_STATUS_PARAMETERS: list[tuple[str, str]] = [
    ("status", "graph.deviceAppManagementTaskStatus"),
    ("note", S),
]

# §1: the singleton and its navigation to the tasks.
SINGLETON = "deviceAppManagement"
TASKS_NAVIGATION = ("deviceAppManagementTasks", "Collection(graph.deviceAppManagementTask)")
