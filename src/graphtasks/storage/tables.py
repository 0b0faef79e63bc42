"""SQLAlchemy Core tables, derived from the model, and the wire-name <-> column map.

One `tasks` table holds every task type (single-table inheritance, `odata_type` says which), with a
real column per scalar property so the OData layer can filter and order in SQL. Complex collections
are JSON. Every key and index leads with `tenant_id`. This module is the only place that knows column
names; the migrations freeze a copy of this shape, and a test checks the two agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from graphtasks.model.documents import entity_body
from graphtasks.model.records import ChildRecord, StoredDocument, TaskRecord
from graphtasks.model.schema import (
    APP_VULNERABILITY_MOBILE_APP,
    TASK_TYPES,
    TASK_TYPES_BY_NAME,
    VULNERABLE_MANAGED_DEVICE,
)
from graphtasks.model.types import DATETIME_OFFSET, INT32, EntityType, EnumType, Property
from graphtasks.model.validation import Value, Values

# Strings order by code point on both backends (SQLite's BINARY collation is already that).
TEXT: TypeEngine[str] = Text().with_variant(Text(collation="C"), "postgresql")
JSON_LIST: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
GUID = String(36)


def _document_columns() -> tuple[Column[Any], ...]:
    """The entity's Graph JSON document and its ETag (model/documents.py), made when the row is written:
    a read answers with these bytes. NULL only in rows written before they existed, until
    storage/documents.py fills them as the database is upgraded."""
    return Column("document", LargeBinary, nullable=True), Column("etag", String(40), nullable=True)


metadata = MetaData()


def column_name(wire_name: str) -> str:
    """displayName -> display_name."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", wire_name).lower()


def _column_type(prop: Property) -> TypeEngine[Any]:
    if prop.collection:
        return JSON_LIST
    if isinstance(prop.type, EnumType):
        return SmallInteger()  # the member's value, so enums order by value (OData)
    if prop.type is INT32:
        return Integer()
    if prop.type is DATETIME_OFFSET:
        return BigInteger()  # ticks, see model/edm.py
    return TEXT


def _all_properties() -> dict[str, Property]:
    """Every property across the task types but `id`; shared names (insights) are one property."""
    properties: dict[str, Property] = {}
    for entity_type in TASK_TYPES:
        for prop in entity_type.properties:
            if prop.name != "id":
                properties.setdefault(prop.name, prop)
    return properties


_PROPERTIES = _all_properties()
_BASE_NAMES = {p.name for p in TASK_TYPES[0].properties}
_ENUMS = {name: p.type for name, p in _PROPERTIES.items() if isinstance(p.type, EnumType)}

# Derived-type columns are nullable: rows of the other types have no value for them.
COLUMNS: dict[str, Column[Any]] = {
    name: Column(
        column_name(name), _column_type(prop), nullable=prop.value_nullable or name not in _BASE_NAMES
    )
    for name, prop in _PROPERTIES.items()
}


tasks = Table(
    "tasks",
    metadata,
    Column("tenant_id", GUID, primary_key=True),
    Column("id", GUID, primary_key=True),
    Column("odata_type", String(100), nullable=False),
    *COLUMNS.values(),
    Column("status_note", TEXT, nullable=True),
    *_document_columns(),
    Index("ix_tasks_tenant_created", "tenant_id", "created_date_time", "id"),
    # The common filters and orders (bench/query.py measures them): equality filters lead, then the default
    # order (createdDateTime, id), so a filtered first page and a deep page are one index range each.
    *(
        Index(f"ix_tasks_tenant_{column}_created", "tenant_id", column, "created_date_time", "id")
        for column in ("status", "priority", "category", "odata_type")
    ),
    *(
        Index(f"ix_tasks_tenant_{column}", "tenant_id", column, "id")
        for column in ("due_date_time", "display_name", "assigned_to")
    ),
)


def _child_columns(entity_type: EntityType) -> dict[str, Column[Any]]:
    return {
        p.name: Column(column_name(p.name), _column_type(p), nullable=p.value_nullable)
        for p in entity_type.properties
        if p.name != "id"
    }


# The derived types' navigation collections (docs/graph-behaviour.md, "Navigation collections"). Both
# managedDevices collections hold entities of one shape (vulnerableManagedDevice,
# appVulnerabilityManagedDevice), so they share a table; the parent task's type says which entity type a
# row is.
MANAGED_DEVICE_COLUMNS = _child_columns(VULNERABLE_MANAGED_DEVICE)
MOBILE_APP_COLUMNS = _child_columns(APP_VULNERABILITY_MOBILE_APP)


def _child_table(name: str, columns: dict[str, Column[Any]]) -> Table:
    return Table(
        name,
        metadata,
        Column("tenant_id", GUID, primary_key=True),
        Column("task_id", GUID, primary_key=True),
        Column("id", GUID, primary_key=True),
        *columns.values(),
        *_document_columns(),
    )


managed_devices = _child_table("managed_devices", MANAGED_DEVICE_COLUMNS)
mobile_apps = _child_table("mobile_apps", MOBILE_APP_COLUMNS)


@dataclass(frozen=True)
class ChildTable:
    table: Table
    columns: dict[str, Column[Any]]

    @cached_property
    def positions(self) -> dict[str, int]:
        """Where the id, the parent task's id (task_id) and each property's column stand in a row of
        the table."""
        index = {column.key: i for i, column in enumerate(self.table.columns)}
        keys = {key: index[key] for key in ("id", "task_id")}
        return keys | {name: index[column.key] for name, column in self.columns.items()}


CHILD_TABLES = {
    "managedDevices": ChildTable(managed_devices, MANAGED_DEVICE_COLUMNS),
    "mobileApps": ChildTable(mobile_apps, MOBILE_APP_COLUMNS),
}

# App registrations of the token service (auth/apps.py): one client secret each, kept only as a salted
# hash.
app_registrations = Table(
    "app_registrations",
    metadata,
    Column("tenant_id", GUID, primary_key=True),
    Column("client_id", GUID, primary_key=True),
    Column("display_name", Text, nullable=False),
    Column("permissions", Text, nullable=False),
    Column("secret_salt", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("secret_hint", String(8), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Client certificates of app registrations (auth/apps.py), public part only; an app's client assertion
# names its certificate by SHA-1 (x5t) or SHA-256 (x5t#S256) thumbprint, upper-case hex here.
app_certificates = Table(
    "app_certificates",
    metadata,
    Column("tenant_id", GUID, primary_key=True),
    Column("client_id", GUID, primary_key=True),
    Column("sha256_thumbprint", String(64), primary_key=True),
    Column("sha1_thumbprint", String(40), nullable=False),
    Column("certificate_pem", Text, nullable=False),
    Column("added_at", BigInteger, nullable=False),
)

# Client assertions the token service accepted (auth/token_service.py), by the SHA-256 of their jti
# (hex), with the address that first used each, kept until it expires (seconds since the epoch).
client_assertions = Table(
    "client_assertions",
    metadata,
    Column("tenant_id", GUID, primary_key=True),
    Column("client_id", GUID, primary_key=True),
    Column("jti_sha256", String(64), primary_key=True),
    Column("address", String(64), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

# The tenant registry: which tenants exist and whether they hold an Intune licence. A tenant that is not
# listed is served as licensed (any tenant id works out of the box).
tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", GUID, primary_key=True),
    Column("display_name", Text, nullable=False),
    Column("intune_license", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_key_pem", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Throttling counters (traffic/throttling.py), shared by every process on this database: one row per
# budget, holding the count of the window it was last used in. client_id '' is the tenant's budget for
# all apps together; kind is 'write' or 'any'.
throttle_counters = Table(
    "throttle_counters",
    metadata,
    Column("tenant_id", GUID, primary_key=True),
    Column("client_id", String(64), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("hits", Integer, nullable=False),
)

# The fault injection plan in force (traffic/faults.py), server-wide: one row, name 'current', whose
# version goes up with each change so every process notices it.
fault_plans = Table(
    "fault_plans",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)


_EMPTY_ROW = {column.name: None for column in COLUMNS.values()}


def task_row(tenant_id: str, record: TaskRecord) -> dict[str, Any]:
    """Every column of a new task's row (columns of other types' properties are NULL)."""
    keys = {
        "tenant_id": tenant_id,
        "id": record.id,
        "odata_type": record.type.qualified_name,
        "status_note": record.status_note,
    }
    return {**_EMPTY_ROW, **row_values(record.values), **keys, **document_values(record)}


def child_row(tenant_id: str, task_id: str, navigation: str, child: ChildRecord) -> dict[str, Any]:
    keys = {"tenant_id": tenant_id, "task_id": task_id, "id": child.id}
    return child_row_values(navigation, child.values) | keys | document_values(child)


def child_row_values(navigation: str, values: Values) -> dict[str, Any]:
    """A child's values -> its columns' values, in `navigation`'s table."""
    columns = CHILD_TABLES[navigation].columns
    return {columns[name].name: value for name, value in values.items()}


def document_values(record: TaskRecord | ChildRecord) -> dict[str, Any]:
    """The document and etag columns of the entity as `record` holds it."""
    body = entity_body(record)
    return {"document": orjson.dumps(body), "etag": body["@odata.etag"]}


# What a plain read selects: the stored document, and what says whose it is.
DOCUMENT_COLUMNS = (tasks.c.id, tasks.c.odata_type, tasks.c.document, tasks.c.etag)


def document_from_row(row: Sequence[Any]) -> StoredDocument:
    """A StoredDocument from a row that starts with the DOCUMENT_COLUMNS, in their order (a page's rows
    have their sort keys after them)."""
    return StoredDocument(row[0], TASK_TYPES_BY_NAME[row[1]], row[2], row[3])


def row_values(values: Values) -> dict[str, Any]:
    """Canonical values -> column values (enum member names become their numbers)."""
    return {COLUMNS[name].name: _to_column(name, value) for name, value in values.items()}


def _to_column(name: str, value: Value) -> Any:
    enum_type = _ENUMS.get(name)
    if enum_type is not None and isinstance(value, str):
        return enum_type.value_of(value)
    return value


def record_from_row(row: Sequence[Any]) -> TaskRecord:
    """A TaskRecord from a row that starts with every column of `tasks`, in the table's order (a
    page's rows have their sort keys after them)."""
    entity_type = TASK_TYPES_BY_NAME[row[_TASK_COLUMN["odata_type"]]]
    values: Values = {}
    for prop in entity_type.properties:
        if prop.name == "id":
            continue
        value = row[_PROPERTY_COLUMN[prop.name]]
        enum_type = _ENUMS.get(prop.name)
        values[prop.name] = enum_type.members[value] if enum_type and value is not None else value
    return TaskRecord(
        id=row[_TASK_COLUMN["id"]],
        type=entity_type,
        values=values,
        status_note=row[_TASK_COLUMN["status_note"]],
    )


# Where each column, and each property's column, stands in a row of `tasks`.
_TASK_COLUMN = {column.key: index for index, column in enumerate(tasks.columns)}
_PROPERTY_COLUMN = {name: _TASK_COLUMN[column.key] for name, column in COLUMNS.items()}


def child_from_row(row: Sequence[Any], entity_type: EntityType, child: ChildTable) -> ChildRecord:
    """A ChildRecord from a row that starts with every column of `child`'s table, in the table's order
    (a page's rows have their sort keys after them)."""
    positions = child.positions
    values = {name: row[positions[name]] for name in child.columns}
    return ChildRecord(row[positions["id"]], entity_type, values)
