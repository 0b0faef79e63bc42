"""Realistic tasks in bulk, for benchmarks and demos: `graphtasks seed --count N`.

Tasks of all four types with the value mix a Defender-to-Intune integration produces: mostly pending
and active, a spread of priorities, creation dates over the past year, due dates after them, some
unassigned, settings and discovered devices on the types that have them. Deterministic for a given
--seed. Builds canonical values (model/validation.py's shape) and hands them to the store in batches.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator

from graphtasks.model import edm
from graphtasks.model.records import TaskRecord
from graphtasks.model.schema import (
    APP_VULNERABILITY_TASK,
    APPLICABLE_PLATFORM,
    DEVICE_APP_MANAGEMENT_TASK,
    MITIGATION_TYPE,
    SECURITY_CONFIGURATION_TASK,
    SECURITY_CONFIGURATION_TYPE,
    SECURITY_PROFILE_TYPE,
    TASK_PRIORITY,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
    EntityType,
)
from graphtasks.model.validation import Values, defaults_for

_TYPES = (
    SECURITY_CONFIGURATION_TASK,
    APP_VULNERABILITY_TASK,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
    DEVICE_APP_MANAGEMENT_TASK,
)
_TYPE_WEIGHTS = (45, 40, 10, 5)
_STATUSES = ("pending", "active", "completed", "rejected", "unknown")
_STATUS_WEIGHTS = (40, 30, 20, 7, 3)
_APPS = (
    "Contoso Reader",
    "Fabrikam VPN",
    "Northwind CRM",
    "Tailspin Chat",
    "Litware Office",
    "Adatum Backup",
)
_ADMINS = ("secops@contoso.com", "it-admin@contoso.com", "endpoint@contoso.com", None)
_YEAR_TICKS = 365 * 24 * 3600 * edm.TICKS_PER_SECOND
# Weighted choices as plain pools: rng.choice on them is several times cheaper than rng.choices.
_TYPE_POOL = tuple(t for t, weight in zip(_TYPES, _TYPE_WEIGHTS, strict=True) for _ in range(weight))
_STATUS_POOL = tuple(s for s, weight in zip(_STATUSES, _STATUS_WEIGHTS, strict=True) for _ in range(weight))


def generate(count: int, *, seed: int = 0) -> Iterator[TaskRecord]:
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    now = edm.ticks_from_unix_ns(time.time_ns())
    defaults = {t: defaults_for(t) for t in _TYPES}
    for _ in range(count):
        entity_type = rng.choice(_TYPE_POOL)
        created = now - rng.randrange(_YEAR_TICKS)
        values = {**defaults[entity_type], **_base(rng, created), **_derived(rng, entity_type, created)}
        yield TaskRecord(str(uuid.UUID(int=rng.getrandbits(128), version=4)), entity_type, values)


def _base(rng: random.Random, created: int) -> Values:
    app = rng.choice(_APPS)
    return {
        "displayName": f"Remediate {app} on {rng.randrange(1, 500)} devices",
        "description": f"Vulnerabilities found in {app}.",
        "createdDateTime": created,
        "dueDateTime": created + rng.randrange(1, 60) * 86400 * edm.TICKS_PER_SECOND,
        "category": "advancedThreatProtection",
        "priority": rng.choice(TASK_PRIORITY.members),
        "creator": "mdatp@contoso.com",
        "creatorNotes": rng.choice((None, "Exploit seen in the wild.", "Raised by TVM.")),
        "assignedTo": rng.choice(_ADMINS),
        "status": rng.choice(_STATUS_POOL),
    }


def _derived(rng: random.Random, entity_type: EntityType, created: int) -> Values:
    if entity_type is SECURITY_CONFIGURATION_TASK:
        return {
            "endpointSecurityPolicy": rng.choice(SECURITY_CONFIGURATION_TYPE.members),
            "applicablePlatform": rng.choice(APPLICABLE_PLATFORM.members),
            "endpointSecurityPolicyProfile": rng.choice(SECURITY_PROFILE_TYPE.members),
            "insights": "Setting differs from the recommended baseline.",
            "managedDeviceCount": rng.randrange(0, 2000),
            "intendedSettings": [
                {"name": f"setting{i}", "value": str(rng.randrange(2))} for i in range(rng.randrange(3))
            ],
        }
    if entity_type is APP_VULNERABILITY_TASK:
        return {
            "appName": rng.choice(_APPS),
            "appPublisher": "Contoso",
            "appVersion": f"{rng.randrange(1, 10)}.{rng.randrange(10)}.{rng.randrange(10)}",
            "mitigationType": rng.choice(MITIGATION_TYPE.members),
            "insights": "Known exploit.",
            "managedDeviceCount": rng.randrange(0, 2000),
            "mobileAppCount": rng.randrange(0, 20),
            "remediation": "Update to the latest version.",
        }
    if entity_type is UNMANAGED_DEVICE_DISCOVERY_TASK:
        device = {
            "os": rng.choice(("Windows", "macOS", "Linux")),
            "deviceName": f"HOST-{rng.randrange(10_000)}",
            "lastSeenDateTime": created,
        }
        return {"unmanagedDevices": [{**dict.fromkeys(_DEVICE_FIELDS), **device}]}
    return {}


_DEVICE_FIELDS = (
    "os",
    "osVersion",
    "ipAddress",
    "deviceName",
    "macAddress",
    "domain",
    "manufacturer",
    "model",
    "location",
    "lastLoggedOnUser",
    "lastSeenDateTime",
)
