"""The soak's last word: the database, read directly once the load has stopped, against the model.

Every acknowledged create is there unless its delete was acknowledged; every acknowledged delete is
gone; every property holds a value the model allows (the last acknowledged write, or one that raced
it: soak_model.py); every row of a soak tenant carries that tenant's marker; and no row exists that no
write explains. Reads the tasks table through graphtasks' own row mapping; never writes.
"""

from __future__ import annotations

import math

from sqlalchemy import select

from bench.soak_checks import Tally
from bench.soak_model import NOTE, REGISTERS, TaskModel, TenantModel, Value
from graphtasks.model.records import TaskRecord
from graphtasks.storage.engine import open_database
from graphtasks.storage.tables import record_from_row, tasks


def stored_tasks(database_url: str, tenant_ids: list[str]) -> dict[str, dict[str, TaskRecord]]:
    """Every stored task of these tenants: tenant id -> task id -> record."""
    database = open_database(database_url)
    found: dict[str, dict[str, TaskRecord]] = {tenant_id: {} for tenant_id in tenant_ids}
    try:
        with database.read() as conn:
            for row in conn.execute(select(tasks).where(tasks.c.tenant_id.in_(tenant_ids))):
                found[str(row.tenant_id)][str(row.id)] = record_from_row(row)
    finally:
        database.dispose()
    return found


def verify(database_url: str, tenants: list[TenantModel], *, tally: Tally) -> int:
    """Check the database against the model, counting problems into `tally`; returns the rows read."""
    stored = stored_tasks(database_url, [tenant.tenant_id for tenant in tenants])
    for tenant in tenants:
        rows = stored[tenant.tenant_id]
        for task in tenant.tasks.values():
            _verify_kept(task, rows.get(task.task_id), tally=tally)
        for task in tenant.deleted.values():
            if task.task_id in rows and not task.delete_uncertain:
                tally.problem("lost write", f"task {task.task_id}: deleted (acknowledged), still stored")
        _verify_unexplained(tenant, rows, tally=tally)
    return sum(len(rows) for rows in stored.values())


def _verify_kept(task: TaskModel, record: TaskRecord | None, *, tally: Tally) -> None:
    if record is None:
        tally.problem("lost write", f"task {task.task_id}: created (acknowledged), never deleted, not stored")
        return
    for name in REGISTERS:
        value = _stored_value(record, name)
        # A read that starts after every answer came back: only unsuperseded writes remain possible.
        allowed = task.registers[name].allowed(math.inf, math.inf)
        if value not in allowed:
            tally.problem(
                "lost write", f"task {task.task_id} {name}: stored {value!r}, acknowledged {allowed!r}"
            )


def _stored_value(record: TaskRecord, name: str) -> Value:
    value = record.status_note if name == NOTE else record.values.get(name)
    assert value is None or isinstance(value, str | int)  # noqa: S101 - the soak writes no other kind
    return value


def _verify_unexplained(tenant: TenantModel, rows: dict[str, TaskRecord], *, tally: Tally) -> None:
    """Rows no acknowledged create explains: a create whose answer was lost may explain one each."""
    explained = tenant.tasks.keys() | tenant.deleted.keys()
    strangers = [record for task_id, record in rows.items() if task_id not in explained]
    for record in strangers:
        if record.values.get("creator") != tenant.marker:
            tally.problem("leak", f"task {record.id} stored under tenant {tenant.marker}: {record.values}")
    unknown_listed = tenant.unknown_listed - explained
    unexplained = max(len(strangers), len(unknown_listed)) - tenant.uncertain_creates
    if unexplained > 0:
        tally.problem(
            "phantom write",
            f"tenant {tenant.marker}: {len(strangers)} stored and {len(unknown_listed)} listed tasks no "
            f"acknowledged create explains ({tenant.uncertain_creates} creates unanswered)",
        )
