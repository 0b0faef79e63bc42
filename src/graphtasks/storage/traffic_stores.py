"""The database side of traffic shaping: throttling counters and the fault plan in force.

Counters are rows of throttle_counters, read and bumped in one write transaction (row locks on
PostgreSQL, the write lock on SQLite), so every process and instance on this database shares them.
The fault plan is one row whose version tells processes it changed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from graphtasks.storage.engine import Database
from graphtasks.storage.tables import fault_plans, throttle_counters
from graphtasks.traffic.throttling import Budget

_PLAN = "current"


class SqlCounterStore:
    in_process = False

    def __init__(self, database: Database) -> None:
        self._database = database
        insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert
        self._insert_missing = insert(throttle_counters).on_conflict_do_nothing()

    def take(self, budgets: Sequence[Budget], *, window_start: int, window_s: int) -> bool:
        del window_s  # a row holds only its latest window; nothing expires
        taken = self._take_existing(budgets, window_start)
        if taken is None:
            # A budget used for the first time: its row is made in a transaction of its own, so that
            # the locking transaction only ever locks rows that exist, in one order (no deadlocks).
            with self._database.write() as conn:
                conn.execute(self._insert_missing, [_new_row(b) for b in budgets])
            taken = self._take_existing(budgets, window_start)
        return bool(taken)

    def _take_existing(self, budgets: Sequence[Budget], window_start: int) -> bool | None:
        """True or False as take() answers; None if a budget has no row yet (nothing taken)."""
        c = throttle_counters.c
        with self._database.write() as conn:
            if self._database.dialect == "postgresql":
                # A counter lost in a crash costs a client a few extra requests, not data: this
                # transaction need not wait for the disk on every request.
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            # Locked in key order, the same order in every process, so two requests never deadlock.
            found = conn.execute(
                select(c.client_id, c.kind, c.window_start, c.hits)
                .where(_budget_rows(budgets))
                .order_by(c.client_id, c.kind)
                .with_for_update()
            ).all()
            if len(found) < len(budgets):
                return None
            counts = {(r.client_id, r.kind): r.hits if r.window_start == window_start else 0 for r in found}
            if any(counts[(b.client_id, b.kind)] >= b.limit for b in budgets):
                return False
            conn.execute(
                update(throttle_counters)
                .where(_budget_rows(budgets))
                .values(
                    hits=case((c.window_start == window_start, c.hits + 1), else_=1),
                    window_start=window_start,
                )
            )
            return True


def _new_row(budget: Budget) -> dict[str, object]:
    return {
        "tenant_id": budget.tenant_id,
        "client_id": budget.client_id,
        "kind": budget.kind,
        "window_start": 0,
        "hits": 0,
    }


def _budget_rows(budgets: Sequence[Budget]) -> ColumnElement[bool]:
    c = throttle_counters.c
    return and_(
        c.tenant_id == budgets[0].tenant_id,
        or_(*(and_(c.client_id == b.client_id, c.kind == b.kind) for b in budgets)),
    )


@dataclass(frozen=True)
class StoredPlan:
    version: int
    document: str


class SqlFaultPlanStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def current(self) -> StoredPlan | None:
        with self._database.read() as conn:
            row = conn.execute(
                select(fault_plans.c.version, fault_plans.c.document).where(fault_plans.c.name == _PLAN)
            ).first()
        return None if row is None else StoredPlan(row.version, row.document)

    def version(self) -> int:
        with self._database.read() as conn:
            found = conn.execute(select(fault_plans.c.version).where(fault_plans.c.name == _PLAN))
            return found.scalar() or 0

    def replace(self, document: str) -> StoredPlan:
        """Store `document` as the plan in force, under the next version number."""
        with self._database.exclusive_write(_PLAN_LOCK_ID) as conn:
            version = (
                conn.execute(select(fault_plans.c.version).where(fault_plans.c.name == _PLAN)).scalar() or 0
            ) + 1
            values = {"version": version, "document": document, "updated_at": int(time.time())}
            changed = conn.execute(update(fault_plans).where(fault_plans.c.name == _PLAN).values(values))
            if changed.rowcount == 0:
                conn.execute(fault_plans.insert().values(name=_PLAN, **values))
        return StoredPlan(version, document)


# Names the advisory lock under which the plan's version is bumped (any fixed number).
_PLAN_LOCK_ID = 7_242_012
