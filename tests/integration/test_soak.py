"""CI's short soak: bench/soak.py's mixed load for a few seconds per backend, every answer
checked, then the database against the model: no lost write, no cross-tenant leak, no 5xx, memory
bounded. The SQLite run also has injected faults (503, 429, 504 with Retry-After), which the generator
must retry and never count as writes. Then the checker itself: it must see a lost write and a leak.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from bench.soak import SoakConfig, render, run_soak
from bench.soak_checks import Tally
from bench.soak_model import Register, TaskModel, TenantModel, Value, Write, settle
from bench.soak_verify import verify
from sqlalchemy import create_engine, text

from tests.support.server import TASKS_PATH, sqlite_server

SECONDS = 8.0
# The server's resident memory may still settle in the first seconds; after that it must stay flat.
MAX_SECOND_HALF_GROWTH_MIB = 16
MAX_PEAK_MIB = 400
FAULTS = {
    "seed": 3,
    "rules": [
        {"operation": "create_task", "probability": 0.03, "status": 503, "retryAfter": 1},
        {"operation": "update_status", "probability": 0.03, "status": 429, "retryAfter": 1},
        {"operation": "update_task", "probability": 0.02, "status": 504, "retryAfter": 1},
    ],
}
OPERATIONS = {"create", "patch", "update_status", "get", "list", "count", "delete", "probe"}


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_short_soak(backend: str, tmp_path: Path) -> None:
    serve_args: tuple[str, ...] = ()
    if backend == "sqlite":
        plan = tmp_path / "faults.json"
        plan.write_text(json.dumps(FAULTS))
        serve_args = ("--faults", str(plan))
    config = SoakConfig(
        backend=backend, duration_s=SECONDS, tenants=3, apps=2, concurrency=16, target_live=100,
        serve_args=serve_args, progress=False,
    )  # fmt: skip
    report = run_soak(config)
    tally, summary = report.tally, render(report)
    assert tally.requests > 1000, summary
    assert {op for op, _, _ in tally.outcomes} == OPERATIONS, summary
    assert (tally.lost_writes, tally.leaks, tally.server_errors) == (0, 0, 0), summary
    assert report.ok, summary
    assert {(status, code) for op, status, code in tally.outcomes if op == "probe"} == {
        (404, "ResourceNotFound")
    }
    assert report.second_half_growth_kib < MAX_SECOND_HALF_GROWTH_MIB * 1024, summary
    assert report.peak_rss_kib < MAX_PEAK_MIB * 1024, summary
    if serve_args:
        assert sum(tally.retried.values()) > 0, summary


def test_a_register_allows_the_last_acknowledged_write_and_those_that_raced_it() -> None:
    register = Register([Write("created", 0.0, 1.0)])
    first, second, racing = Write("a", 2.0, 3.0), Write("b", 4.0, 6.0), Write("c", 5.0, 7.0)
    register.writes += [first, second, racing]
    assert register.allowed(math.inf, math.inf) == ["b", "c"]
    assert register.allowed(3.5, 3.6) == ["a"]  # after a was answered, before b was sent
    assert register.allowed(2.5, 4.5) == ["created", "a", "b"]  # overlapping a and b
    refused = Write("never", 8.0)
    register.writes.append(refused)
    settle([(register, refused)], acked=None, applied=False)  # a 429/503/504: never applied
    assert register.allowed(math.inf, math.inf) == ["b", "c"]
    register.prune(cutoff=10.0)
    assert [w.value for w in register.writes] == ["b", "c"]


def test_verification_sees_a_lost_write_and_a_leak(tmp_path: Path) -> None:
    """The checker is not vacuous: a value changed behind the server's back is a lost write; a task
    moved to another tenant is a leak there and a lost create here."""
    tenants = [TenantModel(n, f"0000000{n}-0000-4000-8000-000000000000", f"soak-t{n}") for n in range(2)]
    with sqlite_server(tmp_path) as server:
        for tenant in tenants:
            values: dict[str, Value] = {
                "displayName": f"{tenant.marker} task", "description": "kept", "assignedTo": "admin",
                "creatorNotes": "notes", "insights": "insights", "managedDeviceCount": 3,
                "priority": "high", "status": "pending",
            }  # fmt: skip
            body = {"@odata.type": "#microsoft.graph.securityConfigurationTask", **values}
            with server.client(server.token(tenant=tenant.tenant_id)) as client:
                answer = client.post(TASKS_PATH, json={**body, "creator": tenant.marker})
                assert answer.status_code == 201, answer.text
            tenant.add(
                TaskModel.created(answer.json()["id"], tenant.index, values=values, sent=0.0, acked=1.0)
            )
        clean = Tally()
        verify(server.database_url, tenants, tally=clean)
        assert clean.failures == 0, clean.problems
        first, second = (tenant.live[0].task_id for tenant in tenants)
        engine = create_engine(server.database_url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE tasks SET description = 'old' WHERE id = :id"), {"id": first})
            conn.execute(
                text("UPDATE tasks SET tenant_id = :t WHERE id = :id"),
                {"t": tenants[0].tenant_id, "id": second},
            )
        engine.dispose()
    tampered = Tally()
    verify(server.database_url, tenants, tally=tampered)
    assert (tampered.lost_writes, tampered.leaks) == (2, 1), tampered.problems
