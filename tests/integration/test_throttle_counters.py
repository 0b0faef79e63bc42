"""The throttling counter stores against real backends (SQLite, PostgreSQL, Redis): a budget fills up,
refuses without taking, resets with the next window, and holds under concurrent takes; and the stored
fault plan as a process reads it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from graphtasks.app import fault_plans
from graphtasks.errors import TooManyRequests
from graphtasks.storage.engine import open_database
from graphtasks.storage.migrate import upgrade_to_head
from graphtasks.storage.redis_counters import RedisCounterStore
from graphtasks.storage.traffic_stores import SqlCounterStore, SqlFaultPlanStore
from graphtasks.traffic.throttling import (
    CounterStore,
    MemoryCounterStore,
    Throttle,
    ThrottleLimits,
    budgets_for,
)
from tests.support.databases import database
from tests.support.redis import redis_url

LIMITS = ThrottleLimits(window_s=20, tenant_writes=6, app_writes=4, tenant_requests=10, app_requests=8)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CounterStore]:
    if request.param == "memory":
        yield MemoryCounterStore()
        return
    if request.param == "redis":
        redis_store = RedisCounterStore(redis_url())
        yield redis_store
        redis_store.close()
        return
    with database(request.param, tmp_path) as url:
        db = open_database(url)
        upgrade_to_head(db)
        yield SqlCounterStore(db)
        db.dispose()


def take(store: CounterStore, tenant: str, app: str, *, write: bool, window: int = 1_000) -> bool:
    return store.take(budgets_for(LIMITS, tenant, app, write=write), window_start=window, window_s=20)


def test_an_app_gets_its_writes_then_nothing_and_a_refusal_takes_nothing(store: CounterStore) -> None:
    tenant = str(uuid.uuid4())
    assert [take(store, tenant, "a", write=True) for _ in range(5)] == [True] * 4 + [False]
    # The refused write took nothing: the app still has exactly 4 of its 8 requests left for reads.
    assert [take(store, tenant, "a", write=False) for _ in range(5)] == [True] * 4 + [False]


def test_the_tenant_budget_binds_every_app_together(store: CounterStore) -> None:
    tenant = str(uuid.uuid4())
    outcomes = [take(store, tenant, app, write=True) for app in ("a", "b", "c", "d")]
    outcomes += [take(store, tenant, app, write=True) for app in ("a", "b", "c", "d")]
    assert outcomes.count(True) == 6  # the tenant's 6 writes, though each app may write 4
    assert take(store, str(uuid.uuid4()), "a", write=True)  # another tenant is untouched


def test_the_next_window_starts_from_nothing(store: CounterStore) -> None:
    tenant = str(uuid.uuid4())
    assert [take(store, tenant, "a", write=True) for _ in range(5)][-1] is False
    assert take(store, tenant, "a", write=True, window=1_020)


def test_concurrent_takes_never_pass_the_limit(store: CounterStore) -> None:
    tenant = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda i: take(store, tenant, f"app{i % 2}", write=False), range(40)))
    assert outcomes.count(True) == LIMITS.tenant_requests


def test_the_throttle_answers_429_with_the_seconds_left_in_the_window(store: CounterStore) -> None:
    tenant = str(uuid.uuid4())
    throttle = Throttle(LIMITS, store, clock=lambda: 1_000_012.4)  # 7.6 s before its window ends
    for _ in range(4):
        throttle.admit(tenant, "a", write=True)
    with pytest.raises(TooManyRequests) as refused:
        throttle.admit(tenant, "a", write=True)
    assert refused.value.headers == {"Retry-After": "8"}


def test_a_stored_plan_this_build_cannot_read_is_skipped_not_an_error(tmp_path: Path) -> None:
    # As during a rolling upgrade: another build stored a plan naming an operation this one lacks.
    with database("sqlite", tmp_path) as url:
        db = open_database(url)
        upgrade_to_head(db)
        plans = fault_plans(db)
        in_force = plans.parse('{"rules": [{"operation": "get_task", "status": 503}]}')
        plans.replace(in_force)
        newer = SqlFaultPlanStore(db).replace('{"rules": [{"operation": "get_widget", "status": 503}]}')
        plans.load()
        assert (plans.version, plans.injector.plan) == (newer.version, in_force)
        db.dispose()
