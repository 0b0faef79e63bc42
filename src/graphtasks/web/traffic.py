"""TrafficGate: throttling and fault injection applied to a request after its token and permission
checks and before its handler, so a 429, 503 or 504 never follows a change of state.

The fault plan in force lives in the database (storage/traffic.py). Each process keeps the plan it
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

from graphtasks.errors import ServiceUnavailable
from graphtasks.traffic.faults import FaultInjector, FaultPlan, parse_plan
from graphtasks.traffic.throttling import WRITE_METHODS, Throttle
from graphtasks.web.blocking import BlockingCalls

_PLAN_CHECK_INTERVAL_S = 1.0

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
    def __init__(self, throttle: Throttle | None, plans: FaultPlans, *, calls: BlockingCalls) -> None:
        self._throttle = throttle
        self._plans = plans
        self._calls = calls

    async def admit(self, tenant_id: str, client_id: str, *, method: str, operation: str) -> None:
        """Return when the request may go on; raise the Graph error it gets instead."""
        throttle = self._throttle
        if throttle is not None:
            write = method in WRITE_METHODS
            if throttle.in_process:
                throttle.admit(tenant_id, client_id, write=write)
            else:
                await self._calls.run(throttle.admit, tenant_id, client_id, write=write)
        if self._plans.claim_check():
            # The database away: keep the plan already in force rather than fail the request for it; the
            # request meets the outage itself soon enough if it needs the database.
            with contextlib.suppress(ServiceUnavailable):
                await self._calls.run(self._plans.refresh)
        injection = self._plans.injector.decide(tenant_id, client_id, operation)
        if injection.delay_s:
            await asyncio.sleep(injection.delay_s)
        if injection.error is not None:
            raise injection.error
