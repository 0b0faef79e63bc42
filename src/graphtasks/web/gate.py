"""TrafficGate: throttling and fault injection applied to a request after its token and permission
checks and before its handler, so a 429, 503 or 504 never follows a change of state.

The fault plan in force lives in the database (storage/traffic_stores.py). Each process keeps the plan it
last read and checks its version at most once a second, so a change made through any instance's admin
endpoint reaches every worker and instance within about a second, without a read per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Collection
from typing import Protocol

from graphtasks.errors import BadRequest, ServiceUnavailable
from graphtasks.traffic.faults import FaultInjector, FaultPlan, parse_plan
from graphtasks.traffic.throttling import WRITE_METHODS, CounterStore, Throttle, ThrottleLimits
from graphtasks.web.blocking import BlockingCalls

_PLAN_CHECK_INTERVAL_S = 1.0
# Tenants with a throttling profile of their own, at most (the admin API sets them; memory stays bounded).
_MAX_TENANT_PROFILES = 100_000

logger = logging.getLogger("graphtasks")


class StoredPlanLike(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def document(self) -> str: ...


class PlanStore(Protocol):
    def current(self) -> StoredPlanLike | None: ...
    def version(self) -> int: ...
    def replace(self, document: str) -> StoredPlanLike: ...


class FaultPlans:
    """The plan in force in this process, kept in step with the stored one."""

    def __init__(self, store: PlanStore, operations: Collection[str]) -> None:
        self.operations = frozenset(operations)
        self._store = store
        self.version = 0
        self.injector = FaultInjector(FaultPlan())
        self._checked_at = float("-inf")
        # load and replace run on pool threads: one at a time, so a slow read never puts an older
        # version back, nor rebuilds the injector of the same version (which would reset `times`).
        self._lock = threading.Lock()

    def load(self) -> None:
        """Read the stored plan (blocking I/O)."""
        with self._lock:
            stored = self._store.current()
            if stored is None or stored.version <= self.version:
                return
            try:
                plan = self.parse(stored.document)
            except ValueError as error:
                # Written by an instance of another build (a rolling upgrade): keep the plan in force
                # rather than fail a request a second for it.
                logger.warning("fault plan version %d ignored: %s", stored.version, error)
                self.version = stored.version
                return
            self._use(stored.version, plan)

    def replace(self, plan: FaultPlan) -> int:
        """Store `plan` as the one in force everywhere, and use it here at once (blocking I/O)."""
        with self._lock:
            stored = self._store.replace(json.dumps(plan.to_json()))
            self._use(stored.version, plan)
            return stored.version

    def replace_tenant(self, tenant: str, plan: FaultPlan) -> int:
        """Put `plan`'s rules, for `tenant` alone, in place of that tenant's in the stored plan (blocking
        I/O). Two processes changing the plan at once may lose one change: the admin API is for tests and
        operators, not for traffic."""
        with self._lock:
            stored = self._store.current()
            current = self.parse(stored.document) if stored is not None else FaultPlan()
            merged = current.with_tenant_rules(tenant, plan.for_tenant(tenant).rules)
            stored = self._store.replace(json.dumps(merged.to_json()))
            self._use(stored.version, merged)
            return stored.version

    def parse(self, text: str) -> FaultPlan:
        return parse_plan(json.loads(text), operations=self.operations)

    def claim_check(self) -> bool:
        """True once a second at most: the caller is then the one that refreshes (on the loop, so
        concurrent requests never read the version twice)."""
        now = time.monotonic()
        if now - self._checked_at < _PLAN_CHECK_INTERVAL_S:
            return False
        self._checked_at = now
        return True

    def refresh(self) -> None:
        """Reload if another process changed the plan (blocking I/O: one small read)."""
        if self._store.version() != self.version:
            self.load()

    def _use(self, version: int, plan: FaultPlan) -> None:
        self.version = version
        self.injector = FaultInjector(plan)


class TrafficGate:
    """Throttling and faults, for every Graph request. The throttle is the server's profile, or the one
    the admin API set for a tenant (kept in this process's memory: under --workers, in the worker that
    took the call)."""

    def __init__(
        self,
        limits: ThrottleLimits | None,
        counters: CounterStore,
        plans: FaultPlans,
        *,
        calls: BlockingCalls,
    ) -> None:
        self._counters = counters
        self._throttle = None if limits is None else Throttle(limits, counters)
        self._tenant_throttles: dict[str, Throttle | None] = {}
        self.plans = plans
        self._calls = calls

    def throttle_tenant(self, tenant_id: str, limits: ThrottleLimits | None, *, own: bool = True) -> None:
        """Give a tenant its own profile (`limits`, None for no throttling), or, `own` False, the
        server's again."""
        if not own:
            self._tenant_throttles.pop(tenant_id, None)
            return
        if len(self._tenant_throttles) >= _MAX_TENANT_PROFILES and tenant_id not in self._tenant_throttles:
            raise BadRequest(f"At most {_MAX_TENANT_PROFILES} tenants may have a profile of their own.")
        self._tenant_throttles[tenant_id] = None if limits is None else Throttle(limits, self._counters)

    async def admit(self, tenant_id: str, client_id: str, *, method: str, operation: str) -> None:
        """Return when the request may go on; raise the Graph error it gets instead."""
        throttle = self._throttle
        if self._tenant_throttles:
            throttle = self._tenant_throttles.get(tenant_id, throttle)
        if throttle is not None:
            write = method in WRITE_METHODS
            if throttle.in_process:
                throttle.admit(tenant_id, client_id, write=write)
            else:
                await self._calls.run(throttle.admit, tenant_id, client_id, write=write)
        if self.plans.claim_check():
            # The database away: keep the plan already in force rather than fail the request for it; the
            # request meets the outage itself soon enough if it needs the database.
            with contextlib.suppress(ServiceUnavailable):
                await self._calls.run(self.plans.refresh)
        injection = self.plans.injector.decide(tenant_id, client_id, operation)
        if injection.delay_s:
            await asyncio.sleep(injection.delay_s)
        if injection.error is not None:
            raise injection.error
