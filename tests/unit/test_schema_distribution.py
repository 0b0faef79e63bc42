"""The schema and the SQL can be distributed by tenant on Citus (docs/scaling.md, "Citus").

Read from a freshly migrated database (SQLite always, PostgreSQL too): every table is classified, either
distributed by tenant_id or a reference table (server-wide); each distributed table's primary key,
indexes and unique constraints lead with tenant_id; a foreign key between distributed tables carries it.
Read from the SQL the stores send while serving one tenant: every statement on a distributed table pins
that tenant (an equality on tenant_id at the top of its WHERE clause, or tenant_id among an INSERT's
columns), which is what lets Citus route it to one shard. The SQL is parsed loosely, never matched
exactly.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, inspect

from graphtasks.model.records import ChildRecord, TaskRecord
from graphtasks.model.schema import (
    APP_VULNERABILITY_MANAGED_DEVICE,
    APP_VULNERABILITY_MOBILE_APP,
    APP_VULNERABILITY_TASK,
)
from graphtasks.model.validation import validate_create, validate_entity_create
from graphtasks.odata.filter import parse_filter
from graphtasks.odata.options import OrderKey
from graphtasks.storage.base import (
    AppRegistration,
    ChildQuery,
    StoredCertificate,
    StoredSecret,
    TaskQuery,
    Tenant,
)
from graphtasks.storage.engine import Database, open_database
from graphtasks.storage.migrate import upgrade_to_head
from graphtasks.storage.registry import SqlAppStore, SqlAssertionStore, SqlKeyStore, SqlTenantStore
from graphtasks.storage.sql import SqlTaskStore
from graphtasks.storage.traffic_stores import SqlCounterStore
from graphtasks.traffic.throttling import INTUNE, budgets_for
from tests.support.databases import database

# Every table is one or the other. A new table fails test_every_table_is_classified until it is put in
# one of these two sets, and docs/scaling.md's commands until it is named there too.
DISTRIBUTED_TABLES = frozenset(
    {
        "tasks",
        "managed_devices",
        "mobile_apps",
        "app_registrations",
        "app_certificates",
        "throttle_counters",
        "client_assertions",
    }
)
# Server-wide by nature: signing keys (by kid), the tenant registry (one row per tenant, read by tenant id
# on every request and listed whole by `graphtasks tenants list`), the fault injection plan (one row), and
# Alembic's schema version.
REFERENCE_TABLES = frozenset({"signing_keys", "tenants", "fault_plans", "alembic_version"})
SCALING_DOC = Path(__file__).parents[2] / "docs" / "scaling.md"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A fresh database of the backend, brought to the newest schema by the migrations."""
    with database(request.param, tmp_path_factory.mktemp(f"distribution-{request.param}")) as url:
        db = open_database(url)
        try:
            upgrade_to_head(db)
            yield db
        finally:
            db.dispose()


# --- the live schema ---


@dataclass(frozen=True)
class Key:
    """A primary key, index or unique constraint, as the live database reports it."""

    table: str
    name: str
    columns: tuple[str | None, ...]  # None for an expression


@dataclass(frozen=True)
class ForeignKey:
    table: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]


def live_keys(conn: Connection, table: str) -> list[Key]:
    inspector = inspect(conn)
    primary = inspector.get_pk_constraint(table)
    keys = [Key(table, "primary key", tuple(primary["constrained_columns"]))]
    keys += [Key(table, f"index {i['name']}", tuple(i["column_names"])) for i in inspector.get_indexes(table)]
    uniques = inspector.get_unique_constraints(table)
    return keys + [Key(table, f"unique {u['name']}", tuple(u["column_names"])) for u in uniques]


def live_foreign_keys(conn: Connection, table: str) -> list[ForeignKey]:
    return [
        ForeignKey(
            table, tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"])
        )
        for fk in inspect(conn).get_foreign_keys(table)
    ]


def foreign_key_problem(fk: ForeignKey) -> str | None:
    """Why Citus could not keep this foreign key (docs: between colocated distributed tables it must
    include the distribution column; a reference table may not point at a distributed one)."""
    if fk.referred_table not in DISTRIBUTED_TABLES:
        return None
    if fk.table in REFERENCE_TABLES:
        return f"reference table {fk.table} refers to distributed table {fk.referred_table}"
    if ("tenant_id", "tenant_id") not in zip(fk.columns, fk.referred_columns, strict=True):
        return f"{fk.table}{fk.columns} -> {fk.referred_table}{fk.referred_columns} does not pair tenant_id"
    return None


def test_every_table_is_classified(migrated: Database) -> None:
    with migrated.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert not DISTRIBUTED_TABLES & REFERENCE_TABLES
    assert tables == DISTRIBUTED_TABLES | REFERENCE_TABLES


def test_every_key_of_a_distributed_table_leads_with_tenant_id(migrated: Database) -> None:
    with migrated.engine.connect() as conn:
        keys = [key for table in sorted(DISTRIBUTED_TABLES) for key in live_keys(conn, table)]
        tenant_columns = {
            table: next(c for c in inspect(conn).get_columns(table) if c["name"] == "tenant_id")
            for table in DISTRIBUTED_TABLES
        }
    assert [key for key in keys if key.columns[:1] != ("tenant_id",)] == []
    assert {key.table for key in keys if key.name == "primary key"} == DISTRIBUTED_TABLES
    assert [table for table, column in tenant_columns.items() if column["nullable"]] == []


def test_foreign_keys_between_distributed_tables_carry_tenant_id(migrated: Database) -> None:
    with migrated.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        foreign_keys = [fk for table in tables for fk in live_foreign_keys(conn, table)]
    assert [problem for fk in foreign_keys if (problem := foreign_key_problem(fk))] == []


@pytest.mark.parametrize(
    ("fk", "problem"),
    [
        (ForeignKey("mobile_apps", ("tenant_id", "task_id"), "tasks", ("tenant_id", "id")), None),
        (ForeignKey("tasks", ("tenant_id",), "tenants", ("tenant_id",)), None),
        (
            ForeignKey("mobile_apps", ("task_id",), "tasks", ("id",)),
            "mobile_apps('task_id',) -> tasks('id',) does not pair tenant_id",
        ),
        (
            ForeignKey("tenants", ("tenant_id",), "tasks", ("tenant_id",)),
            "reference table tenants refers to distributed table tasks",
        ),
    ],
)
def test_foreign_key_rule(fk: ForeignKey, problem: str | None) -> None:
    assert foreign_key_problem(fk) == problem


def test_the_scaling_doc_distributes_exactly_these_tables() -> None:
    commands = re.findall(r"create_(distributed|reference)_table\(\s*'(\w+)'", SCALING_DOC.read_text())
    named = {kind: {table for k, table in commands if k == kind} for kind in ("distributed", "reference")}
    assert named == {"distributed": set(DISTRIBUTED_TABLES), "reference": set(REFERENCE_TABLES)}


# --- the SQL the stores send ---

_TARGET = re.compile(r'\b(?:FROM|INTO|UPDATE|JOIN)\s+"?(\w+)"?', re.IGNORECASE)
# `tenant_id = <one value>`: a bound parameter in any driver's style (with PostgreSQL's cast), or a literal.
_TENANT_EQUALS = re.compile(
    r'^(?:"?\w+"?\.)?"?tenant_id"?\s*=\s*(?:\?|%\(\w+\)s|%s|:\w+|\$\d+|\'[^\']*\')(?:\s*::\s*\w+)?$',
    re.IGNORECASE,
)
_WHERE_END = re.compile(r"\b(?:ORDER\s+BY|GROUP\s+BY|LIMIT|OFFSET|FOR\s+UPDATE|RETURNING)\b", re.IGNORECASE)
_INSERT_VALUES = re.compile(r'^\s*INSERT\s+INTO\s+"?\w+"?\s*\(([^)]*)\)\s*VALUES\b', re.IGNORECASE)


def distributed_tables_in(sql: str) -> set[str]:
    return {name.lower() for name in _TARGET.findall(sql)} & DISTRIBUTED_TABLES


def _top_level(sql: str) -> str:
    """`sql` with whatever is inside parentheses blanked out, at the same length, so that a keyword found
    in it is a keyword of the outermost statement."""
    depth, kept = 0, []
    for char in sql:
        depth += char == "("
        kept.append(char if depth == 0 else " ")
        depth -= char == ")"
    return "".join(kept)


def _unwrap(term: str) -> str:
    term = term.strip()
    while term.startswith("(") and term.endswith(")") and not _top_level(term[:-1]).strip():
        term = term[1:-1].strip()
    return term


def _top_level_conjuncts(sql: str) -> list[str]:
    """The terms ANDed together at the top of the outermost WHERE clause (none without one)."""
    outer = _top_level(sql)
    where = re.search(r"\bWHERE\b", outer, re.IGNORECASE)
    if where is None:
        return []
    end = _WHERE_END.search(outer, where.end())
    start, stop = where.end(), end.start() if end else len(sql)
    cuts = [m.span() for m in re.finditer(r"\bAND\b", outer[start:stop], re.IGNORECASE)]
    bounds = [0, *(i for span in cuts for i in span), stop - start]
    clause = sql[start:stop]
    return [_unwrap(clause[a:b]) for a, b in zip(bounds[::2], bounds[1::2], strict=True)]


def pins_one_tenant(sql: str) -> bool:
    """Whether Citus can route the statement to the shard of one tenant: an INSERT ... VALUES naming
    tenant_id, or a WHERE clause that is `tenant_id = <value> AND ...`."""
    insert = _INSERT_VALUES.match(sql)
    if insert is not None:
        return "tenant_id" in {column.strip().strip('"').lower() for column in insert.group(1).split(",")}
    return any(_TENANT_EQUALS.match(term) for term in _top_level_conjuncts(sql))


@pytest.mark.parametrize(
    ("sql", "pinned"),
    [
        ("SELECT tasks.id FROM tasks WHERE tasks.tenant_id = ? AND tasks.id = ?", True),
        (
            "SELECT count(*) FROM tasks\nWHERE tasks.tenant_id = %(tenant_id_1)s::VARCHAR AND (a = ? OR b)",
            True,
        ),
        ("SELECT * FROM tasks WHERE (tasks.tenant_id = ?) AND tasks.id = ? ORDER BY tasks.id LIMIT ?", True),
        ("UPDATE tasks SET status=? WHERE tasks.tenant_id = ? AND tasks.id = ? RETURNING tasks.id", True),
        ("DELETE FROM mobile_apps WHERE mobile_apps.tenant_id = ? AND mobile_apps.task_id = ?", True),
        ("INSERT INTO tasks (tenant_id, id) VALUES (?, ?)", True),
        ('INSERT INTO "tasks" ("id", "tenant_id") VALUES (%(id)s, %(tenant_id)s)', True),
        ("INSERT INTO tasks (id, odata_type) VALUES (?, ?)", False),
        ("INSERT INTO tasks (tenant_id, id) SELECT ?, n FROM numbers", False),
        ("SELECT * FROM app_registrations ORDER BY app_registrations.tenant_id", False),
        ("SELECT * FROM tasks WHERE tasks.tenant_id = ? OR tasks.id = ?", False),
        ("SELECT * FROM tasks WHERE tasks.id = ? AND (tasks.tenant_id = ? OR tasks.status = ?)", False),
        ("SELECT * FROM tasks WHERE tasks.tenant_id IN (?, ?)", False),
        ("SELECT * FROM tasks WHERE tasks.tenant_id > ?", False),
        ("SELECT * FROM tasks WHERE tasks.id IN (SELECT id FROM tasks WHERE tasks.tenant_id = ?)", False),
    ],
)
def test_pins_one_tenant(sql: str, pinned: bool) -> None:
    assert pins_one_tenant(sql) is pinned


@contextmanager
def captured(db: Database) -> Iterator[list[str]]:
    """The SQL text of every statement sent to the database inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _allow(_: object) -> None:
    """A precondition that passes; giving one makes the stores lock the row first (SELECT ... FOR UPDATE)."""


def serve_tasks(store: SqlTaskStore, tenant: str) -> str:
    """Create, get, patch, updateStatus, list (filter, orderby, keyset, count), $count and delete."""
    task_type, values = validate_create({"@odata.type": f"#{APP_VULNERABILITY_TASK.qualified_name}"})
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for created, task_id in enumerate(ids):
        store.create(tenant, TaskRecord(task_id, task_type, {**values, "createdDateTime": created}))
    store.get(tenant, ids[0])
    store.update(tenant, ids[0], {"displayName": "renamed"}, task_type=task_type, check=_allow)
    store.update_status(tenant, ids[1], "active", "on it", check=_allow)
    query = TaskQuery(
        tenant_id=tenant,
        filter=parse_filter("status ne 'completed' or displayName eq 'renamed'"),
        orderby=(OrderKey(("displayName",), descending=True),),
        limit=1,
        count=True,
    )
    first = store.query(query)
    assert first.next_keys is not None
    store.query(
        TaskQuery(tenant_id=tenant, filter=query.filter, orderby=query.orderby, after=first.next_keys)
    )
    store.query(TaskQuery(tenant_id=tenant, skip=1))
    cast = TaskQuery(
        tenant_id=tenant, cast=APP_VULNERABILITY_TASK, filter=parse_filter("mobileAppCount ge 0")
    )
    store.count(cast)
    store.delete(tenant, ids[2], check=_allow)
    return ids[0]


def serve_children(store: SqlTaskStore, tenant: str, task_id: str) -> None:
    """Each navigation collection: create, list (with count), $count, get, patch, $expand, delete."""
    targets = {"mobileApps": APP_VULNERABILITY_MOBILE_APP, "managedDevices": APP_VULNERABILITY_MANAGED_DEVICE}
    for navigation, entity_type in targets.items():
        query = ChildQuery(tenant_id=tenant, task_id=task_id, navigation=navigation, entity_type=entity_type)
        child_id = str(uuid.uuid4())
        store.create_child(query, ChildRecord(child_id, entity_type, validate_entity_create({}, entity_type)))
        store.query_children(replace(query, count=True))
        store.count_children(query)
        store.get_child(query, child_id)
        store.update_child(query, child_id, {"displayName": "renamed"}, check=_allow)
        store.children_of(tenant, navigation, {task_id: APP_VULNERABILITY_TASK})
        store.delete_child(query, child_id, check=_allow)
    store.delete(tenant, task_id)


def serve_identity(db: Database, tenant: str) -> None:
    """What the token service, the guard and `graphtasks apps --tenant` ask of the registry."""
    apps, client = SqlAppStore(db), str(uuid.uuid4())
    first, second = (StoredCertificate(c * 40, c * 64, "pem") for c in "AB")
    apps.add(AppRegistration(tenant, client, "app", ("a",), "abc", (first,)), StoredSecret("salt", "hash"))
    apps.find(tenant, client)
    apps.list(tenant)
    apps.replace_secret(tenant, client, StoredSecret("salt2", "hash2"), "def")
    apps.add_certificate(tenant, client, second)
    apps.remove_certificate(tenant, client, second.sha1_thumbprint)
    apps.remove(tenant, client)
    tenants = SqlTenantStore(db)
    tenants.put(Tenant(tenant, "Contoso", intune_license=True))
    tenants.find(tenant)
    SqlKeyStore(db).signing_keys()
    budgets = budgets_for(INTUNE, tenant, client, write=True)
    SqlCounterStore(db).take(budgets, window_start=0, window_s=20)
    SqlAssertionStore(db).first_use(tenant, client, "ab" * 32, address="127.0.0.1", expires_at=0)


# (statement kind, table) pairs the walk must send; certificates are only ever added, read and removed.
EXERCISED = {
    (verb, table) for verb in ("INSERT", "SELECT", "UPDATE", "DELETE") for table in DISTRIBUTED_TABLES
} - {("UPDATE", "app_certificates"), ("DELETE", "throttle_counters"), ("UPDATE", "client_assertions")}


def test_every_statement_on_a_distributed_table_pins_one_tenant(migrated: Database) -> None:
    tenant, store = str(uuid.uuid4()), SqlTaskStore(migrated)
    with captured(migrated) as statements:
        serve_children(store, tenant, serve_tasks(store, tenant))
        serve_identity(migrated, tenant)
    touching = [sql for sql in statements if distributed_tables_in(sql)]
    assert [sql for sql in touching if not pins_one_tenant(sql)] == []
    # The walk reached every distributed table with every kind of statement graphtasks sends there.
    seen = {
        (sql.split(None, 1)[0].upper(), table) for sql in touching for table in distributed_tables_in(sql)
    }
    assert seen >= EXERCISED


def test_listing_every_tenants_apps_fans_out(migrated: Database) -> None:
    """`graphtasks apps list` without --tenant (an operator's command, never a request) reads every shard;
    the check must see that, or the test above proves nothing."""
    with captured(migrated) as statements:
        SqlAppStore(migrated).list()
    fan_out = [sql for sql in statements if distributed_tables_in(sql) and not pins_one_tenant(sql)]
    assert {table for sql in fan_out for table in distributed_tables_in(sql)} == {
        "app_registrations",
        "app_certificates",
    }
