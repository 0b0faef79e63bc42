"""What the console's browser tests share: tasks to show, and ways to make them and open the console.

Not a conftest: plain helpers, imported by the test modules beside it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.sync_api import Locator, Page
from tests.integration.test_crud import create
from tests.support.examples import FOUNDING_REQUEST
from tests.support.server import TASKS_PATH

# Tasks as an admin meets them, for the pictures in docs/console.md.
SHOWCASE: list[dict[str, Any]] = [
    {
        "@odata.type": "#microsoft.graph.securityConfigurationTask",
        "displayName": "Turn on tamper protection",
        "description": "Tamper protection is off on devices in the Finance group.",
        "priority": "high",
        "status": "pending",
        "assignedTo": "secops@contoso.com",
        "dueDateTime": "2027-01-15T17:00:00Z",
        "category": "advancedThreatProtection",
        "creator": "mdatp@contoso.com",
        "creatorNotes": "Raised by Defender Vulnerability Management.",
        "endpointSecurityPolicy": "antivirus",
        "applicablePlatform": "windows10AndLater",
        "endpointSecurityPolicyProfile": "windowsSecurity",
        "insights": "Devices without tamper protection can have Defender turned off by malware.",
        "managedDeviceCount": 42,
        "intendedSettings": [
            {"name": "TamperProtection", "value": "On"},
            {"name": "RealTimeProtection", "value": "On"},
            {"name": "CloudBlockLevel", "value": "High"},
        ],
    },
    {
        "@odata.type": "#microsoft.graph.appVulnerabilityTask",
        "displayName": "Update Tailspin Chat to 5.2",
        "priority": "high",
        "status": "active",
        "assignedTo": "it-admin@contoso.com",
        "dueDateTime": "2027-01-08T17:00:00Z",
        "category": "advancedThreatProtection",
        "appName": "Tailspin Chat",
        "appPublisher": "Tailspin Toys",
        "appVersion": "5.1.3",
        "mitigationType": "update",
        "managedDeviceCount": 120,
        "mobileAppCount": 1,
    },
    {
        "@odata.type": "#microsoft.graph.securityConfigurationTask",
        "displayName": "Encrypt the disks of macOS laptops",
        "priority": "low",
        "status": "completed",
        "assignedTo": "endpoint@contoso.com",
        "dueDateTime": "2026-12-01T17:00:00Z",
        "endpointSecurityPolicy": "diskEncryption",
        "applicablePlatform": "macOS",
        "endpointSecurityPolicyProfile": "fileVault",
        "managedDeviceCount": 7,
    },
    {
        "@odata.type": "#microsoft.graph.unmanagedDeviceDiscoveryTask",
        "displayName": "Enrol three unmanaged devices",
        "priority": "none",
        "status": "pending",
        "unmanagedDevices": [
            {"deviceName": "LAB-PC-07", "os": "Windows", "osVersion": "10.0.19045", "ipAddress": "10.0.4.17"}
        ],
    },
    {
        "@odata.type": "#microsoft.graph.appVulnerabilityTask",
        "displayName": "Remove Adatum Backup 2.0",
        "priority": "low",
        "status": "rejected",
        "assignedTo": "it-admin@contoso.com",
        "appName": "Adatum Backup",
        "mitigationType": "uninstall",
    },
]


def create_task(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    """A securityConfigurationTask: the create example of Graph's docs with `fields` changed."""
    return create(api, {**FOUNDING_REQUEST, **fields})


def create_showcase(api: httpx.Client) -> list[dict[str, Any]]:
    """SHOWCASE's tasks, the first made last (so it leads the list), with three managed devices."""
    tasks = [create(api, body) for body in SHOWCASE[1:]]
    first = create(api, SHOWCASE[0])
    for name in ("FIN-LT-0113", "FIN-LT-0127", "FIN-DT-0042"):
        device = {
            "displayName": name,
            "managedDeviceId": str(uuid.uuid4()),
            "lastSyncDateTime": "2026-12-06T09:30:00Z",
        }
        assert api.post(f"{TASKS_PATH}/{first['id']}/managedDevices", json=device).status_code == 201
    return [first, *tasks]


def open_console(page: Page, tenant: str, view: str = "tasks") -> None:
    page.goto(f"/console?tenant={tenant}#/{view}")


def rows(page: Page) -> Locator:
    return page.locator("table.grid tbody tr")


def watch(page: Page) -> list[str]:
    """The script errors and Content-Security-Policy violations `page` logs from now on. Answers with
    an error status log "Failed to load resource": those are the tests' own business."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    return problems
