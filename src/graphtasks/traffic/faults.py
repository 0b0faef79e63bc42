"""Fault and latency injection: a plan of rules, and the seeded decision for each request.

A plan is `{"seed": 7, "rules": [rule, ...]}`; a rule is

    {"tenant": "*", "app": "*", "operation": "create_task", "probability": 0.1,
     "status": 503, "retryAfter": 2, "latencyMs": [50, 200], "times": 10}

`tenant` and `app` (a client id) and `operation` (a handler name such as create_task, or "*") say
which requests it applies to; `probability` how often (default 1); `status` (429, 500, 503 or 504, with
an integer `retryAfter` in seconds or none) the error it answers; `latencyMs` (a number, or [low, high]
for a uniform draw) the delay it adds first; `times` how many requests it may hit at most (per process).

Reproducible: whether a rule hits a request is a hash of the plan's seed, the rule, the request's
tenant, app and operation, and how many such requests this process has seen under this plan, so a
client that sends the same sequence of requests meets the same faults whatever other clients do.
Every delay of the rules that hit is added up; the first rule with a status that hits gives the error.
Everything is decided before the handler runs, so an error never follows a change of state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from graphtasks.errors import GatewayTimeout, GraphError, ServiceUnavailable, TooManyRequests

ANY = "*"
STATUSES = (429, 500, 503, 504)
_RULE_FIELDS = frozenset(
    {"tenant", "app", "operation", "probability", "status", "retryAfter", "latencyMs", "times"}
)
# Bounded memory: the per-key request counts are forgotten past this many keys (the draws then restart).
_MAX_KEYS = 100_000


@dataclass(frozen=True)
class FaultRule:
    tenant: str = ANY
    app: str = ANY
    operation: str = ANY
    probability: float = 1.0
    status: int | None = None
    retry_after_s: int | None = None
    latency_ms: tuple[float, float] | None = None
    times: int | None = None

    def matches(self, tenant: str, app: str, operation: str) -> bool:
        return self.tenant in (ANY, tenant) and self.app in (ANY, app) and self.operation in (ANY, operation)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "tenant": self.tenant,
            "app": self.app,
            "operation": self.operation,
            "probability": self.probability,
        }
        if self.status is not None:
            document["status"] = self.status
            document["retryAfter"] = self.retry_after_s
        if self.latency_ms is not None:
            document["latencyMs"] = list(self.latency_ms)
        if self.times is not None:
            document["times"] = self.times
        return document


@dataclass(frozen=True)
class FaultPlan:
    seed: int = 0
    rules: tuple[FaultRule, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "rules": [rule.to_json() for rule in self.rules]}

    def for_tenant(self, tenant: str) -> FaultPlan:
        """This plan's rules, each for `tenant` alone."""
        return FaultPlan(self.seed, tuple(replace(rule, tenant=tenant) for rule in self.rules))

    def with_tenant_rules(self, tenant: str, rules: tuple[FaultRule, ...]) -> FaultPlan:
        """This plan with `rules` in place of those for `tenant` alone."""
        kept = tuple(rule for rule in self.rules if rule.tenant != tenant)
        return FaultPlan(self.seed, kept + rules)


def parse_plan(document: Any, *, operations: Collection[str]) -> FaultPlan:
    """A plan from its JSON document; ValueError says what is wrong and where."""
    if not isinstance(document, dict) or not set(document) <= {"seed", "rules"}:
        raise ValueError('a fault plan is an object {"seed": integer, "rules": [...]}')
    seed = document.get("seed", 0)
    rules = document.get("rules", [])
    if not _is_int(seed):
        raise ValueError("seed must be an integer")
    if not isinstance(rules, list):
        raise ValueError("rules must be a list")
    return FaultPlan(seed, tuple(_rule(rule, index, operations) for index, rule in enumerate(rules)))


def _rule(raw: Any, index: int, operations: Collection[str]) -> FaultRule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object")
    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise ValueError(f"{where} has unknown fields {sorted(unknown)}; known: {sorted(_RULE_FIELDS)}")
    rule = FaultRule(
        tenant=_text(raw, "tenant", where),
        app=_text(raw, "app", where),
        operation=_text(raw, "operation", where),
        probability=_probability(raw.get("probability", 1.0), where),
        status=_status(raw.get("status"), where),
        retry_after_s=_optional_count(raw.get("retryAfter"), f"{where}.retryAfter"),
        latency_ms=_latency(raw.get("latencyMs"), where),
        times=_optional_count(raw.get("times"), f"{where}.times"),
    )
    if rule.operation != ANY and rule.operation not in operations:
        raise ValueError(f"{where}.operation {rule.operation!r} is none of {sorted(operations)}")
    if rule.status is None and rule.latency_ms is None:
        raise ValueError(f"{where} needs a status, a latencyMs or both")
    if rule.status is None and rule.retry_after_s is not None:
        raise ValueError(f"{where}.retryAfter goes with a status")
    return rule


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(raw: dict[str, Any], name: str, where: str) -> str:
    value = raw.get(name, ANY)
    if not isinstance(value, str) or not value:
        raise ValueError(f'{where}.{name} must be a non-empty string (or "*")')
    return value


def _probability(value: Any, where: str) -> float:
    if not _is_number(value) or not 0 <= value <= 1:
        raise ValueError(f"{where}.probability must be a number from 0 to 1")
    return float(value)


def _status(value: Any, where: str) -> int | None:
    if value is not None and value not in STATUSES:
        raise ValueError(f"{where}.status must be one of {list(STATUSES)}")
    return None if value is None else int(value)


def _optional_count(value: Any, where: str) -> int | None:
    if value is not None and (not _is_int(value) or value < 0):
        raise ValueError(f"{where} must be a whole number of at least 0")
    return None if value is None else int(value)


def _latency(value: Any, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    low, high = (value, value) if _is_number(value) else _pair(value, where)
    if not 0 <= low <= high <= 600_000:
        raise ValueError(f"{where}.latencyMs must be between 0 and 600000, low before high")
    return float(low), float(high)


def _pair(value: Any, where: str) -> tuple[Any, Any]:
    if not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value):
        raise ValueError(f"{where}.latencyMs must be a number of milliseconds or [low, high]")
    return value[0], value[1]


@dataclass(frozen=True)
class Injection:
    """What the plan does to one request: a delay first, then maybe an error instead of the handler."""

    delay_s: float = 0.0
    error: GraphError | None = None


NOTHING = Injection()


class FaultInjector:
    """Applies one plan; keeps the per-key request counts that make its draws reproducible."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._seen: dict[tuple[int, str, str, str], int] = {}
        self._hits = [0] * len(plan.rules)

    def decide(self, tenant: str, app: str, operation: str) -> Injection:
        if not self.plan.rules:
            return NOTHING
        delay_ms = 0.0
        error: GraphError | None = None
        for index, rule in enumerate(self.plan.rules):
            if not rule.matches(tenant, app, operation) or not self._draw_hits(index, tenant, app, operation):
                continue
            if rule.latency_ms is not None:
                low, high = rule.latency_ms
                delay_ms += low + (high - low) * self._uniform(index, tenant, app, operation, salt="delay")
            if rule.status is not None and error is None:
                error = error_for(rule.status, rule.retry_after_s)
        return Injection(delay_ms / 1000, error) if delay_ms or error else NOTHING

    def _draw_hits(self, index: int, tenant: str, app: str, operation: str) -> bool:
        rule = self.plan.rules[index]
        if rule.times is not None and self._hits[index] >= rule.times:
            return False
        key = (index, tenant, app, operation)
        if len(self._seen) >= _MAX_KEYS and key not in self._seen:
            self._seen.clear()
        self._seen[key] = self._seen.get(key, 0) + 1
        hit = self._uniform(index, tenant, app, operation, salt="hit") < rule.probability
        self._hits[index] += hit
        return hit

    def _uniform(self, index: int, tenant: str, app: str, operation: str, *, salt: str) -> float:
        """A number in [0, 1) fixed by the seed, the rule, the key and the key's request count."""
        count = self._seen[(index, tenant, app, operation)]
        text = f"{self.plan.seed}|{index}|{tenant}|{app}|{operation}|{count}|{salt}"
        digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64


def error_for(status: int, retry_after_s: int | None) -> GraphError:
    """The Graph error an injected fault answers with."""
    if status == 429:
        return TooManyRequests(retry_after_s=retry_after_s)
    if status == 503:
        return ServiceUnavailable("The service is temporarily unavailable.", retry_after_s=retry_after_s)
    if status == 504:
        return GatewayTimeout("The gateway did not receive a response in time.", retry_after_s=retry_after_s)
    headers = {} if retry_after_s is None else {"Retry-After": str(retry_after_s)}
    return GraphError("An internal server error has occurred.", headers=headers)
