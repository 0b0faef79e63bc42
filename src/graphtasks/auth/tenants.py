"""Whether a tenant can use Intune: a tenant in the registry as its licence says, any other as licensed.

Graph refuses every deviceAppManagement request of a tenant without a usable Intune (no licence, or no
MDM authority) with `400 BadRequest "Request not applicable to target tenant."`, whatever the token's
permissions (docs/graph-behaviour.md, "Unlicensed tenants"). Answers are cached for a few seconds per
instance, so a change made with `graphtasks tenants` reaches every instance within that time without a
lookup per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from graphtasks.errors import BadRequest
from graphtasks.storage.base import Tenant

_TTL_S = 5.0


def not_applicable() -> BadRequest:
    return BadRequest("Request not applicable to target tenant.")


class TenantLicences:
    def __init__(self, find: Callable[[str], Tenant | None], *, ttl_s: float = _TTL_S) -> None:
        self._find = find
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, bool]] = {}

    def cached(self, tenant_id: str) -> bool | None:
        """The licence if it was looked up less than the TTL ago, else None."""
        entry = self._known.get(tenant_id)
        return entry[1] if entry and time.monotonic() - entry[0] < self._ttl_s else None

    def forget(self, tenant_id: str) -> None:
        """Drop the cached answer: the tenant was just registered or changed here."""
        self._known.pop(tenant_id, None)

    def look_up(self, tenant_id: str) -> bool:
        """Reads the registry (blocking I/O: call it off the event loop) and caches the answer."""
        tenant = self._find(tenant_id)
        licensed = tenant is None or tenant.intune_license
        if len(self._known) > 10_000:  # bounded: a flood of tenant ids cannot grow it without end
            self._known.clear()
        self._known[tenant_id] = (time.monotonic(), licensed)
        return licensed
