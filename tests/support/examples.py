"""Request bodies the suites share, starting with the example of Graph's "Create
securityConfigurationTask" page."""

from __future__ import annotations

from typing import Any

# The example request of Graph's "Create securityConfigurationTask" (beta) page, verbatim.
FOUNDING_REQUEST: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.securityConfigurationTask",
    "displayName": "Display Name value",
    "description": "Description value",
    "dueDateTime": "2017-01-01T00:02:18.1994089-08:00",
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
        {"@odata.type": "microsoft.graph.keyValuePair", "name": "Name value", "value": "Value value"}
    ],
}
