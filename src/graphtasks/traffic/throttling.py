"""Throttling: Intune's documented limits for this family (docs/graph-behaviour.md, "Throttling"), or
custom numbers.

Every request draws on two budgets of its tenant (all apps together, and its own app) and, when it is
a write, on two more: per tenant and per app for POST, PUT, PATCH and DELETE. A budget holds a number
of requests per fixed window of `window_s` seconds, aligned to the epoch so that every process and
instance agrees on where a window starts. A request passes only if every budget it draws on has room,
and then takes one from each; a refused request takes nothing, so it is never counted as done, and its
429 says in Retry-After how long until the window ends (whole seconds, at least 1).

Fixed windows are a choice: Graph does not document its algorithm. They let a client burst up to twice
a limit across a window boundary, which the documented numbers read as "per 20 seconds" allow.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Protocol

from graphtasks.errors import TooManyRequests

ALL_APPS = ""
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class ThrottleLimits:
    """Requests per window; the defaults are Intune's partner-integration limits."""

    window_s: int = 20
    tenant_writes: int = 200
    app_writes: int = 100
    tenant_requests: int = 2000
    app_requests: int = 1000


INTUNE = ThrottleLimits()


def parse_throttle(text: str) -> ThrottleLimits | None:
    """`off` -> None, `intune` -> INTUNE, `name=value,...` -> INTUNE with those numbers changed."""
    text = text.strip()
    if text == "off":
        return None
    if text == "intune":
        return INTUNE
    # Written as the profile's numbers are named: window (seconds), then the four limits.
    names = {field.name.removesuffix("_s") for field in fields(ThrottleLimits)}
    values: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in names:
            raise ValueError(f"throttle: expected off, intune or name=value with a name of {sorted(names)}")
        if not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"throttle: {name} must be a whole number of at least 1, not {value!r}")
        values["window_s" if name == "window" else name] = int(value)
    if not values:
        raise ValueError("throttle: expected off, intune or name=value pairs")
    return replace(INTUNE, **values)


@dataclass(frozen=True)
class Budget:
    """One counter a request draws on: a tenant's (client_id ALL_APPS) or an app's, writes or all."""

    tenant_id: str
    client_id: str
    kind: str  # "write" or "any"
    limit: int


def budgets_for(limits: ThrottleLimits, tenant_id: str, client_id: str, *, write: bool) -> list[Budget]:
    budgets = [
        Budget(tenant_id, ALL_APPS, "any", limits.tenant_requests),
        Budget(tenant_id, client_id, "any", limits.app_requests),
    ]
    if write:
        budgets += [
            Budget(tenant_id, ALL_APPS, "write", limits.tenant_writes),
            Budget(tenant_id, client_id, "write", limits.app_writes),
        ]
    return budgets


class CounterStore(Protocol):
    """Where the counts live, shared by every process that serves the same tenants."""

    # True when take() does no I/O, so it may run on the event loop instead of a thread.
    in_process: bool

    def take(self, budgets: Sequence[Budget], *, window_start: int, window_s: int) -> bool:
        """Take one request from each budget's count in the window starting at `window_start`, if
        every one of them is under its limit; otherwise take nothing and return False. Atomic."""
        ...


class MemoryCounterStore:
    """Counters in this process's memory: right only when no other process serves the same tenants
    (SQLite with one worker), and then much cheaper than a write transaction per request."""

    in_process = True
    # Bounded memory: past this many budgets, those not used in the current window are forgotten.
    _MAX_BUDGETS = 100_000

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str], tuple[int, int]] = {}
        self._lock = threading.Lock()

    def take(self, budgets: Sequence[Budget], *, window_start: int, window_s: int) -> bool:
        keys = [(b.tenant_id, b.client_id, b.kind) for b in budgets]
        with self._lock:
            counts = [self._count(key, window_start) for key in keys]
            if any(count >= budget.limit for count, budget in zip(counts, budgets, strict=True)):
                return False
            if len(self._counts) > self._MAX_BUDGETS:
                self._forget_before(window_start)
            for key, count in zip(keys, counts, strict=True):
                self._counts[key] = (window_start, count + 1)
            return True

    def _count(self, key: tuple[str, str, str], window_start: int) -> int:
        started, hits = self._counts.get(key, (window_start, 0))
        return hits if started == window_start else 0

    def _forget_before(self, window_start: int) -> None:
        self._counts = {key: value for key, value in self._counts.items() if value[0] >= window_start}


class Throttle:
    def __init__(
        self, limits: ThrottleLimits, store: CounterStore, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.limits = limits
        self.in_process = store.in_process
        self._store = store
        self._clock = clock

    def admit(self, tenant_id: str, client_id: str, *, write: bool) -> None:
        """Pass, or raise TooManyRequests (blocking I/O on the counter store: call it off the loop)."""
        now = self._clock()
        window_s = self.limits.window_s
        window_start = int(now // window_s) * window_s
        budgets = budgets_for(self.limits, tenant_id, client_id, write=write)
        if not self._store.take(budgets, window_start=window_start, window_s=window_s):
            raise TooManyRequests(retry_after_s=max(1, math.ceil(window_start + window_s - now)))
