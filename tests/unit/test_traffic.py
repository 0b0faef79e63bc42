"""The pure decisions of traffic shaping: throttle profiles and budgets (traffic/throttling.py), fault
plans and their seeded draws (traffic/faults.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphtasks.errors import GatewayTimeout, GraphError, ServiceUnavailable, TooManyRequests
from graphtasks.traffic.faults import FaultInjector, FaultPlan, FaultRule, parse_plan
from graphtasks.traffic.throttling import INTUNE, ThrottleLimits, budgets_for, parse_throttle
from graphtasks.web.routes import GRAPH_OPERATIONS

TENANT, OTHER = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


# --- throttle profiles ---


@pytest.mark.parametrize(
    ("text", "limits"),
    [
        ("off", None),
        ("intune", ThrottleLimits(20, 200, 100, 2000, 1000)),
        ("window=5", ThrottleLimits(5, 200, 100, 2000, 1000)),
        (" app_writes=3 , tenant_requests=9 ", ThrottleLimits(20, 200, 3, 9, 1000)),
        (
            "window=1,tenant_writes=1,app_writes=1,tenant_requests=1,app_requests=1",
            ThrottleLimits(1, 1, 1, 1, 1),
        ),
    ],
)
def test_profiles(text: str, limits: ThrottleLimits | None) -> None:
    assert parse_throttle(text) == limits


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "expected off"),
        ("on", "expected off"),
        ("window_s=5", "expected off"),  # the field's name in code is not the profile's word
        ("app_writes", "expected off"),
        ("app_writes=0", "at least 1"),
        ("app_writes=-1", "at least 1"),
        ("app_writes=1.5", "whole number"),
        ("app_writes=many", "whole number"),
    ],
)
def test_bad_profiles_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_throttle(text)


def test_intune_is_the_documented_table() -> None:
    # docs/graph-behaviour.md, "Throttling": writes 200 per tenant, 100 per app; all requests 2000 and
    # 1000; per 20 s.
    assert (INTUNE.window_s, INTUNE.tenant_writes, INTUNE.app_writes) == (20, 200, 100)
    assert (INTUNE.tenant_requests, INTUNE.app_requests) == (2000, 1000)


def test_a_read_draws_on_two_budgets_and_a_write_on_four() -> None:
    reads = budgets_for(INTUNE, TENANT, "app", write=False)
    writes = budgets_for(INTUNE, TENANT, "app", write=True)
    assert [(b.client_id, b.kind, b.limit) for b in reads] == [("", "any", 2000), ("app", "any", 1000)]
    assert [(b.client_id, b.kind, b.limit) for b in writes[2:]] == [("", "write", 200), ("app", "write", 100)]
    assert {b.tenant_id for b in writes} == {TENANT}


# --- fault plans ---

RULE = {"operation": "create_task", "probability": 0.5, "status": 503, "retryAfter": 2}


def plan(*rules: dict[str, Any], seed: int = 1) -> FaultPlan:
    return parse_plan({"seed": seed, "rules": list(rules)}, operations=GRAPH_OPERATIONS)


def test_a_plan_round_trips_through_its_json() -> None:
    parsed = plan(RULE, {"tenant": TENANT, "latencyMs": [10, 20], "times": 3})
    assert plan(*parsed.to_json()["rules"]) == parsed
    assert parsed.rules[0] == FaultRule(operation="create_task", probability=0.5, status=503, retry_after_s=2)
    assert parsed.rules[1].latency_ms == (10.0, 20.0)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ([], "is an object"),
        ({"rules": [], "extra": 1}, "is an object"),
        ({"seed": "1"}, "seed must be an integer"),
        ({"seed": True}, "seed must be an integer"),
        ({"rules": {}}, "rules must be a list"),
        ({"rules": [1]}, r"rules\[0\] must be an object"),
        ({"rules": [{"status": 503, "colour": "red"}]}, "unknown fields"),
        ({"rules": [{"status": 502}]}, "status must be one of"),
        ({"rules": [{}]}, "needs a status, a latencyMs or both"),
        ({"rules": [{"latencyMs": 5, "retryAfter": 1}]}, "retryAfter goes with a status"),
        ({"rules": [{"status": 429, "probability": 1.5}]}, "probability must be"),
        ({"rules": [{"status": 429, "probability": "half"}]}, "probability must be"),
        ({"rules": [{"status": 429, "retryAfter": -1}]}, "at least 0"),
        ({"rules": [{"status": 429, "retryAfter": 1.5}]}, "whole number"),
        ({"rules": [{"latencyMs": [5]}]}, r"\[low, high\]"),
        ({"rules": [{"latencyMs": [20, 10]}]}, "low before high"),
        ({"rules": [{"latencyMs": -1}]}, "between 0 and"),
        ({"rules": [{"status": 503, "operation": "create_tasks"}]}, "is none of"),
        ({"rules": [{"status": 503, "tenant": ""}]}, "non-empty string"),
        ({"rules": [{"status": 503, "times": "2"}]}, "whole number"),
    ],
)
def test_bad_plans_say_what_is_wrong(document: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_plan(document, operations=GRAPH_OPERATIONS)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_RULE_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "tenant": st.sampled_from(["*", TENANT, ""]) | _JSON,
        "operation": st.sampled_from(["*", "create_task", "nope"]) | _JSON,
        "probability": st.floats(-1, 2) | _JSON,
        "status": st.sampled_from([429, 500, 503, 504, 502, None]) | _JSON,
        "retryAfter": st.integers(-2, 5) | _JSON,
        "latencyMs": st.integers(-1, 10) | st.lists(st.integers(-1, 10), max_size=3) | _JSON,
        "times": st.integers(-1, 3) | _JSON,
    },
)


@settings(max_examples=300, derandomize=True)
@given(
    st.one_of(
        _JSON,
        st.fixed_dictionaries({"seed": st.integers() | _JSON, "rules": st.lists(_RULE_LIKE, max_size=3)}),
    )
)
def test_any_document_is_a_plan_or_a_value_error(document: Any) -> None:
    try:
        parsed = parse_plan(document, operations=GRAPH_OPERATIONS)
    except ValueError:
        return
    # What was accepted survives storage: JSON text and back gives the same plan.
    assert parse_plan(json.loads(json.dumps(parsed.to_json())), operations=GRAPH_OPERATIONS) == parsed


def draws(injector: FaultInjector, tenant: str, count: int) -> list[bool]:
    return [injector.decide(tenant, "app", "create_task").error is not None for _ in range(count)]


def test_the_same_seed_gives_the_same_faults_whatever_other_tenants_do() -> None:
    alone = draws(FaultInjector(plan(RULE)), TENANT, 200)
    mixed = FaultInjector(plan(RULE))
    interleaved = []
    for _ in range(200):
        draws(mixed, OTHER, 3)  # another tenant's traffic in between
        interleaved += draws(mixed, TENANT, 1)
    assert interleaved == alone
    assert 60 < sum(alone) < 140  # probability 0.5
    assert draws(FaultInjector(plan(RULE, seed=2)), TENANT, 200) != alone


def test_rules_match_tenant_app_and_operation() -> None:
    injector = FaultInjector(plan({"tenant": TENANT, "app": "app", "operation": "get_task", "status": 504}))
    assert isinstance(injector.decide(TENANT, "app", "get_task").error, GatewayTimeout)
    assert injector.decide(OTHER, "app", "get_task").error is None
    assert injector.decide(TENANT, "other-app", "get_task").error is None
    assert injector.decide(TENANT, "app", "list_tasks").error is None


def test_times_caps_the_hits_and_retry_after_is_the_rules() -> None:
    injector = FaultInjector(plan({"status": 429, "retryAfter": 3, "times": 2}))
    errors = [injector.decide(TENANT, "app", "create_task").error for _ in range(4)]
    assert [type(e) for e in errors] == [TooManyRequests, TooManyRequests, type(None), type(None)]
    assert errors[0] is not None and errors[0].headers == {"Retry-After": "3"}


@pytest.mark.parametrize(
    ("status", "retry_after", "kind", "headers"),
    [
        (503, None, ServiceUnavailable, {}),
        (503, 0, ServiceUnavailable, {"Retry-After": "0"}),
        (500, 4, GraphError, {"Retry-After": "4"}),
        (504, 1, GatewayTimeout, {"Retry-After": "1"}),
    ],
)
def test_each_status_answers_its_graph_error(
    status: int, retry_after: int | None, kind: type[GraphError], headers: dict[str, str]
) -> None:
    error = (
        FaultInjector(plan({"status": status, "retryAfter": retry_after}))
        .decide(TENANT, "a", "get_task")
        .error
    )
    assert type(error) is kind and error.status == status and error.headers == headers


def test_latencies_add_up_within_their_ranges_and_the_first_status_wins() -> None:
    injector = FaultInjector(plan({"latencyMs": 100}, {"latencyMs": [0, 50], "status": 504}, {"status": 503}))
    for _ in range(50):
        injection = injector.decide(TENANT, "app", "get_task")
        assert 0.1 <= injection.delay_s <= 0.15
        assert isinstance(injection.error, GatewayTimeout)


def test_an_empty_plan_does_nothing() -> None:
    injection = FaultInjector(FaultPlan()).decide(TENANT, "app", "create_task")
    assert injection.delay_s == 0 and injection.error is None
