"""graphtasks.storage.filters (a $filter tree -> SQL) and graphtasks.storage.query (sort keys, keysets),
checked on the SQL text SQLAlchemy compiles for SQLite and PostgreSQL. No database is needed.

Facts: OData URL conventions §5.1.1 (two-valued logic: `null eq null` is true, comparisons with null are
false, `not` of a false comparison is true; a type cast on a row of another type is null; `isof`;
any/all); ODataLib's binder messages ("Could not find a property named ...", "A binary operator with
incompatible types was detected ...", "... is not a valid enumerated type constant.").
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import pytest
from sqlalchemy import ClauseElement, Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from graphtasks.errors import BadRequest
from graphtasks.model.schema import SECURITY_CONFIGURATION_TASK
from graphtasks.model.types import EntityType
from graphtasks.odata.filter import parse_filter
from graphtasks.odata.options import OrderKey
from graphtasks.odata.paging import KeyValue
from graphtasks.storage.base import TaskQuery
from graphtasks.storage.filters import FilterTranslator, Source
from graphtasks.storage.query import count_statement, page_statement, task_collection

SECURITY = "microsoft.graph.securityConfigurationTask"
DISCOVERY = "microsoft.graph.unmanagedDeviceDiscoveryTask"
SECURITY_ROW = f"tasks.odata_type = '{SECURITY}'"
DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped
}


def _source(dialect: str = "sqlite", cast: EntityType | None = None) -> Source:
    return task_collection(TaskQuery(tenant_id="t", cast=cast), dialect).source


def _sql(clause: ClauseElement, dialect: str = "sqlite") -> str:
    return str(clause.compile(dialect=DIALECTS[dialect], compile_kwargs={"literal_binds": True}))


def _where(text: str, *, dialect: str = "sqlite", cast: EntityType | None = None) -> str:
    """The SQL condition for a $filter text."""
    return _sql(FilterTranslator(_source(dialect, cast)).predicate(parse_filter(text)), dialect)


def _page(
    orderby: tuple[OrderKey, ...] = (),
    *,
    after: tuple[KeyValue, ...] | None = None,
    skip: int = 0,
    dialect: str = "sqlite",
) -> tuple[Select[Any], str]:
    query = TaskQuery(tenant_id="t", orderby=orderby, after=after, skip=skip, limit=10)
    statement, _ = page_statement(task_collection(query, dialect), query)
    return statement, _sql(statement, dialect)


def _clause(sql: str, start: str, end: str) -> str:
    """The text between `start` and the next `end` (or the end of the statement)."""
    rest = sql.split(start, 1)[1]
    return rest.split(end, 1)[0].strip()


ASC = OrderKey(("displayName",))


def _key(name: str, *, descending: bool = False) -> OrderKey:
    return OrderKey(tuple(name.split("/")), descending=descending)


# --- comparisons and their null guards ---


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("text", "sql"),
    [
        # enums compare by member number (deviceAppManagementTaskStatus: unknown=0, pending=1, ...)
        pytest.param("status eq 'pending'", "tasks.status = 1", id="enum-by-number"),
        pytest.param(
            "status eq microsoft.graph.deviceAppManagementTaskStatus'completed'",
            "tasks.status = 3",
            id="qualified-enum",
        ),
        pytest.param("'pending' eq status", "tasks.status = 1", id="literal-first"),
        pytest.param("status gt 'pending'", "tasks.status > 1", id="enum-orders-by-number"),
        pytest.param("'pending' lt status", "tasks.status > 1", id="literal-first-mirrors-operator"),
        pytest.param("priority ne 'high'", "tasks.priority != 1", id="non-nullable-ne"),
        # non-nullable columns stay plain, so their indexes apply
        pytest.param("id eq 'x'", "tasks.id = 'x'", id="non-nullable-string"),
        pytest.param(
            "dueDateTime ge 2024-01-01T00:00:00Z",
            "tasks.due_date_time >= 638396640000000000",
            id="datetime-as-ticks",
        ),
        pytest.param(
            "dueDateTime lt 2024-01-01T02:00:00+02:00",
            "tasks.due_date_time < 638396640000000000",
            id="datetime-offset-normalized",
        ),
        # a nullable column compared with a literal is guarded, so `not` stays two-valued
        pytest.param(
            "displayName eq 'x'",
            "tasks.display_name IS NOT NULL AND tasks.display_name = 'x'",
            id="nullable-guarded",
        ),
        pytest.param(
            "assignedTo lt 'm'", "tasks.assigned_to IS NOT NULL AND tasks.assigned_to < 'm'", id="nullable-lt"
        ),
        pytest.param(
            "displayName ne 'x'",
            "NOT (tasks.display_name IS NOT NULL AND tasks.display_name = 'x')",
            id="nullable-ne-is-true-for-null",
        ),
        pytest.param(
            "not (displayName gt 'x')",
            "NOT (tasks.display_name IS NOT NULL AND tasks.display_name > 'x')",
            id="not-of-nullable",
        ),
        # null literals
        pytest.param("displayName eq null", "tasks.display_name IS NULL", id="eq-null"),
        pytest.param("null eq displayName", "tasks.display_name IS NULL", id="null-eq"),
        pytest.param("displayName ne null", "tasks.display_name IS NOT NULL", id="ne-null"),
        # two nullable columns: equal when both are null
        pytest.param(
            "displayName eq description",
            "tasks.display_name IS NOT NULL AND tasks.description IS NOT NULL "
            "AND tasks.display_name = tasks.description "
            "OR tasks.display_name IS NULL AND tasks.description IS NULL",
            id="nullable-eq-nullable",
        ),
        # in
        pytest.param("status in ('pending','active')", "tasks.status IN (1, 2)", id="in"),
        pytest.param("status in ('pending')", "tasks.status = 1", id="in-one-item"),
        pytest.param(
            "displayName in ('a',null)",
            "tasks.display_name IS NOT NULL AND tasks.display_name = 'a' OR tasks.display_name IS NULL",
            id="in-with-null",
        ),
        # Boolean structure
        pytest.param(
            "status eq 'pending' or priority eq 'high' and category eq 'unknown'",
            "tasks.status = 1 OR tasks.priority = 1 AND tasks.category = 0",
            id="and-or",
        ),
        pytest.param("not (status eq 'pending')", "tasks.status != 1", id="not"),
        # string functions; LOWER(x) and UPPER(x) stand for each dialect's Unicode case mapping
        pytest.param(
            "tolower(displayName) eq 'x'",
            "LOWER(tasks.display_name) IS NOT NULL AND LOWER(tasks.display_name) = 'x'",
            id="tolower",
        ),
        pytest.param("toupper(id) eq 'X'", "UPPER(tasks.id) = 'X'", id="toupper-of-non-nullable"),
    ],
)
def test_comparison_sql(text: str, sql: str, dialect: str) -> None:
    assert _where(text, dialect=dialect) == _case_functions(sql, dialect)


def _case_functions(sql: str, dialect: str) -> str:
    """OData's tolower/toupper follow Unicode: SQLite calls the Python functions the engine registers,
    PostgreSQL ICU's root locale, with the result back in the columns' "C" collation."""
    for name in ("LOWER", "UPPER"):
        for column in ("tasks.display_name", "tasks.id", "tasks.description"):
            if dialect == "sqlite":
                mapped = f"graphtasks_{name.lower()}({column})"
            else:
                mapped = f'{name.lower()}({column} COLLATE "und-x-icu") COLLATE "C"'
            # SQLAlchemy parenthesizes a COLLATE expression except as a function argument.
            sql = sql.replace(f"replace({name}({column})", f"replace({mapped}")
            sql = sql.replace(f"{name}({column})", mapped if dialect == "sqlite" else f"({mapped})")
    return sql


@pytest.mark.parametrize(
    ("text", "sqlite_sql", "postgresql_sql"),
    [
        pytest.param("displayName gt null", "0", "false", id="gt-null-is-false"),
        pytest.param("status eq null", "0", "false", id="non-nullable-eq-null-is-false"),
        pytest.param("status ne null", "1", "true", id="non-nullable-ne-null-is-true"),
        pytest.param("null eq null", "1", "true", id="null-eq-null-is-true"),
        pytest.param("true", "1", "true", id="true"),
        pytest.param("false", "0", "false", id="false"),
        pytest.param("not true", "0", "false", id="not-true"),
        # Boolean operands are NULL-free, so SQL's = compares them as OData does
        pytest.param("true eq false", "1 = 0", "true = false", id="true-eq-false"),
        pytest.param("true ne false", "1 != 0", "true != false", id="true-ne-false"),
    ],
)
def test_constant_sql(text: str, sqlite_sql: str, postgresql_sql: str) -> None:
    # SQLite has no Boolean literals: SQLAlchemy spells them 1 and 0, or 0 = 1 inside an expression.
    assert (_where(text), _where(text, dialect="postgresql")) == (sqlite_sql, postgresql_sql)


# --- type casts and isof ---


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        pytest.param(
            f"{SECURITY}/managedDeviceCount eq 3",
            f"CASE WHEN ({SECURITY_ROW}) THEN tasks.managed_device_count END IS NOT NULL "
            f"AND CASE WHEN ({SECURITY_ROW}) THEN tasks.managed_device_count END = 3",
            id="cast-is-null-on-other-rows",
        ),
        pytest.param(
            f"{SECURITY}/managedDeviceCount eq null",
            f"CASE WHEN ({SECURITY_ROW}) THEN tasks.managed_device_count END IS NULL",
            id="cast-eq-null",
        ),
        pytest.param(
            "microsoft.graph.deviceAppManagementTask/status eq 'pending'",
            "tasks.status = 1",
            id="cast-to-the-base-type-is-plain",
        ),
        pytest.param(f"isof('{SECURITY}')", f"tasks.odata_type IN ('{SECURITY}')", id="isof-derived"),
        pytest.param("isof('microsoft.graph.deviceAppManagementTask')", "1", id="isof-base-is-true"),
        pytest.param(f"not isof('{SECURITY}')", f"(tasks.odata_type NOT IN ('{SECURITY}'))", id="not-isof"),
    ],
)
def test_cast_sql_on_the_base_collection(text: str, sql: str) -> None:
    assert _where(text) == sql


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        # on a type-cast segment the derived properties are reachable by name, and unguarded
        pytest.param("managedDeviceCount eq 3", "tasks.managed_device_count = 3", id="bare-derived"),
        pytest.param(f"{SECURITY}/managedDeviceCount eq 3", "tasks.managed_device_count = 3", id="own-cast"),
        pytest.param(f"isof('{SECURITY}')", "1", id="isof-own-type"),
        pytest.param(
            "isof('microsoft.graph.appVulnerabilityTask')",
            "tasks.odata_type IN ('microsoft.graph.appVulnerabilityTask')",
            id="isof-sibling",
        ),
    ],
)
def test_cast_sql_on_a_type_cast_segment(text: str, sql: str) -> None:
    assert _where(text, cast=SECURITY_CONFIGURATION_TASK) == sql


# --- startswith, endswith, contains ---


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        pytest.param(
            "startswith(displayName,'ab')",
            "tasks.display_name IS NOT NULL AND (tasks.display_name LIKE 'ab' || '%' ESCAPE '/')",
            id="startswith",
        ),
        pytest.param(
            "endswith(displayName,'ab')",
            "tasks.display_name IS NOT NULL AND (tasks.display_name LIKE '%' || 'ab' ESCAPE '/')",
            id="endswith",
        ),
        pytest.param(
            "contains(displayName,'ab')",
            "tasks.display_name IS NOT NULL AND (tasks.display_name LIKE '%' || 'ab' || '%' ESCAPE '/')",
            id="contains",
        ),
        pytest.param(
            "startswith(displayName,'5%_a/b')",
            "tasks.display_name IS NOT NULL AND (tasks.display_name LIKE '5/%/_a//b' || '%' ESCAPE '/')",
            id="wildcards-in-the-literal-match-themselves",
        ),
        pytest.param(
            "startswith(id,'ab')", "tasks.id LIKE 'ab' || '%' ESCAPE '/'", id="non-nullable-unguarded"
        ),
        pytest.param(
            "not startswith(displayName,'ab')",
            "NOT (tasks.display_name IS NOT NULL AND (tasks.display_name LIKE 'ab' || '%' ESCAPE '/'))",
            id="not-startswith-is-true-for-null",
        ),
        pytest.param(
            "startswith(displayName,'ab') eq true",
            "(tasks.display_name IS NOT NULL AND (tasks.display_name LIKE 'ab' || '%' ESCAPE '/')) = 1",
            id="eq-true",
        ),
    ],
)
def test_string_function_sql(text: str, sql: str) -> None:
    assert _where(text) == sql


def _like_escaped(pattern: str) -> str:
    """A pattern read from a column, with '/' (the escape character), '%' and '_' escaped in SQL."""
    return f"replace(replace(replace({pattern}, '/', '//'), '%', '/%'), '_', '/_')"


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("text", "sql"),
    [
        pytest.param(
            "startswith(displayName,description)",
            "tasks.display_name IS NOT NULL AND tasks.description IS NOT NULL AND "
            f"(tasks.display_name LIKE {_like_escaped('tasks.description')} || '%' ESCAPE '/')",
            id="startswith(displayName,description)",
        ),
        pytest.param(
            "endswith(displayName,id)",
            f"tasks.display_name IS NOT NULL AND (tasks.display_name LIKE '%' || {_like_escaped('tasks.id')} "
            "ESCAPE '/')",
            id="endswith(displayName,id)",
        ),
        pytest.param(
            "contains(displayName,tolower(description))",
            "tasks.display_name IS NOT NULL AND LOWER(tasks.description) IS NOT NULL AND "
            f"(tasks.display_name LIKE '%' || {_like_escaped('LOWER(tasks.description)')} || '%' ESCAPE '/')",
            id="contains(displayName,tolower(description))",
        ),
    ],
)
def test_pattern_from_a_column_matches_literally(text: str, sql: str, dialect: str) -> None:
    # The column's wildcards and escape character are escaped in SQL, with the same ESCAPE '/' a
    # literal pattern uses; PostgreSQL's text doubles each '%' (the driver's pyformat parameters).
    sql = _case_functions(sql, dialect)
    assert _where(text, dialect=dialect) == (sql if dialect == "sqlite" else sql.replace("%", "%%"))


def test_startswith_on_postgresql_escapes_too() -> None:
    assert _where("startswith(displayName,'a%')", dialect="postgresql") == (
        "tasks.display_name IS NOT NULL AND (tasks.display_name LIKE 'a/%%' || '%%' ESCAPE '/')"
    )


# --- any and all ---

SETTINGS = f"{SECURITY}/intendedSettings"
SETTINGS_SQL = f"CASE WHEN ({SECURITY_ROW}) THEN tasks.intended_settings END"


@pytest.mark.parametrize(
    ("dialect", "text", "sql"),
    [
        pytest.param(
            "sqlite",
            f"{SETTINGS}/any()",
            f"EXISTS (SELECT 1 AS anon_1 \nFROM json_each({SETTINGS_SQL}) AS anon_2)",
            id="sqlite-any-empty",
        ),
        pytest.param(
            "sqlite",
            f"{SETTINGS}/any(s: s/name eq 'a')",
            f"EXISTS (SELECT 1 AS anon_1 \nFROM json_each({SETTINGS_SQL}) AS anon_2 \n"
            "WHERE json_extract(anon_2.value, '$.name') IS NOT NULL "
            "AND json_extract(anon_2.value, '$.name') = 'a')",
            id="sqlite-any",
        ),
        pytest.param(
            "sqlite",
            f"{SETTINGS}/all(s: s/value eq 'a')",
            f"NOT (EXISTS (SELECT 1 AS anon_1 \nFROM json_each({SETTINGS_SQL}) AS anon_2 \n"
            "WHERE NOT (json_extract(anon_2.value, '$.value') IS NOT NULL "
            "AND json_extract(anon_2.value, '$.value') = 'a')))",
            id="sqlite-all",
        ),
        pytest.param(
            "postgresql",
            f"{SETTINGS}/any()",
            f"EXISTS (SELECT 1 AS anon_1 \nFROM jsonb_array_elements({SETTINGS_SQL}) AS anon_2)",
            id="postgresql-any-empty",
        ),
        pytest.param(
            "postgresql",
            f"{SETTINGS}/any(s: s/name eq 'a')",
            f"EXISTS (SELECT 1 AS anon_1 \nFROM jsonb_array_elements({SETTINGS_SQL}) AS anon_2 \n"
            """WHERE ((anon_2.value ->> 'name') COLLATE "C") IS NOT NULL """
            """AND ((anon_2.value ->> 'name') COLLATE "C") = 'a')""",
            id="postgresql-any",
        ),
        pytest.param(
            "postgresql",
            f"{SETTINGS}/all(s: s/value eq 'a')",
            f"NOT (EXISTS (SELECT 1 AS anon_1 \nFROM jsonb_array_elements({SETTINGS_SQL}) AS anon_2 \n"
            """WHERE NOT (((anon_2.value ->> 'value') COLLATE "C") IS NOT NULL """
            """AND ((anon_2.value ->> 'value') COLLATE "C") = 'a')))""",
            id="postgresql-all",
        ),
        pytest.param(
            "postgresql",
            f"{DISCOVERY}/unmanagedDevices/any(d: d/lastSeenDateTime gt 2024-01-01T00:00:00Z)",
            "EXISTS (SELECT 1 AS anon_1 \nFROM jsonb_array_elements("
            f"CASE WHEN (tasks.odata_type = '{DISCOVERY}') THEN tasks.unmanaged_devices END) AS anon_2 \n"
            "WHERE CAST(anon_2.value ->> 'lastSeenDateTime' AS BIGINT) IS NOT NULL "
            "AND CAST(anon_2.value ->> 'lastSeenDateTime' AS BIGINT) > 638396640000000000)",
            id="postgresql-datetime-member-as-ticks",
        ),
    ],
)
def test_lambda_sql(dialect: str, text: str, sql: str) -> None:
    assert _where(text, dialect=dialect) == sql


def test_lambda_on_a_type_cast_segment_reads_the_column_directly() -> None:
    assert _where("intendedSettings/any()", cast=SECURITY_CONFIGURATION_TASK) == (
        "EXISTS (SELECT 1 AS anon_1 \nFROM json_each(tasks.intended_settings) AS anon_2)"
    )


def test_lambda_predicate_may_use_the_outer_entity() -> None:
    sql = _where(f"{SETTINGS}/any(s: s/name eq displayName)")
    assert "json_extract(anon_2.value, '$.name') = tasks.display_name" in sql


# --- the page statement: sort keys ---


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("orderby", "order"),
    [
        pytest.param((), "tasks.created_date_time ASC, tasks.id ASC", id="default-oldest-first"),
        pytest.param((_key("status"),), "tasks.status ASC, tasks.id ASC", id="non-nullable-asc"),
        pytest.param(
            (_key("status", descending=True),), "tasks.status DESC, tasks.id DESC", id="non-nullable-desc"
        ),
        pytest.param(
            (ASC,), "tasks.display_name ASC NULLS FIRST, tasks.id ASC", id="nullable-asc-nulls-first"
        ),
        pytest.param(
            (_key("displayName", descending=True),),
            "tasks.display_name DESC NULLS LAST, tasks.id DESC",
            id="nullable-desc-nulls-last",
        ),
        pytest.param(
            (_key("status", descending=True), _key("priority")),
            "tasks.status DESC, tasks.priority ASC, tasks.id ASC",
            id="id-follows-the-last-key",
        ),
        pytest.param(
            (_key("priority"), _key("dueDateTime", descending=True)),
            "tasks.priority ASC, tasks.due_date_time DESC, tasks.id DESC",
            id="id-follows-the-last-key-desc",
        ),
        pytest.param(
            (_key(f"{SECURITY}/managedDeviceCount"),),
            f"CASE WHEN ({SECURITY_ROW}) THEN tasks.managed_device_count END ASC NULLS FIRST, tasks.id ASC",
            id="cast-key-is-nullable",
        ),
    ],
)
def test_order_by(orderby: tuple[OrderKey, ...], order: str, dialect: str) -> None:
    _, sql = _page(orderby, dialect=dialect)
    assert _clause(sql, "ORDER BY ", "\n") == order


def test_sort_keys_are_selected_as_labelled_columns() -> None:
    _, sql = _page((ASC,))
    assert "tasks.display_name AS sort_key_0, tasks.id AS sort_key_1 \nFROM tasks" in sql


def test_page_asks_for_one_row_more_than_the_limit() -> None:
    statement, _ = _page(dialect="postgresql")
    assert _sql(statement, "postgresql").endswith("LIMIT 11")


def test_skip_applies_to_the_first_page() -> None:
    _, sql = _page(skip=3, dialect="postgresql")
    assert sql.endswith("LIMIT 11 OFFSET 3")


def test_skip_is_not_applied_after_a_keyset() -> None:
    _, sql = _page(skip=3, after=(5, "x"), dialect="postgresql")
    assert sql.endswith("LIMIT 11")


def test_page_is_limited_to_the_tenant_and_the_cast() -> None:
    query = TaskQuery(tenant_id="t", cast=SECURITY_CONFIGURATION_TASK)
    statement, _ = page_statement(task_collection(query, "sqlite"), query)
    assert _clause(_sql(statement), "WHERE ", " ORDER BY") == f"tasks.tenant_id = 't' AND {SECURITY_ROW}"


def test_count_statement_has_the_filter_and_no_order() -> None:
    query = TaskQuery(tenant_id="t", filter=parse_filter("status eq 'pending'"))
    assert _sql(count_statement(task_collection(query, "sqlite"), query)) == (
        "SELECT count(*) AS count_1 \nFROM tasks \nWHERE tasks.tenant_id = 't' AND tasks.status = 1"
    )


# --- the page statement: continuing after a keyset ---


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("orderby", "after", "condition"),
    [
        pytest.param(
            (),
            (5, "x"),
            "(tasks.created_date_time, tasks.id) > (5, 'x')",
            id="row-value-asc",
        ),
        pytest.param(
            (_key("status", descending=True), _key("priority", descending=True)),
            (1, 2, "x"),
            "(tasks.status, tasks.priority, tasks.id) < (1, 2, 'x')",
            id="row-value-desc",
        ),
        pytest.param(
            (_key("status", descending=True), _key("priority")),
            (1, 2, "x"),
            "tasks.status < 1 OR tasks.status = 1 AND tasks.priority > 2 "
            "OR tasks.status = 1 AND tasks.priority = 2 AND tasks.id > 'x'",
            id="mixed-directions-or-chain",
        ),
        pytest.param(
            (ASC,),
            ("a", "x"),
            "tasks.display_name > 'a' OR tasks.display_name = 'a' AND tasks.id > 'x'",
            id="nullable-key-or-chain",
        ),
        pytest.param(
            (ASC,),
            (None, "x"),
            "tasks.display_name IS NOT NULL OR tasks.display_name IS NULL AND tasks.id > 'x'",
            id="after-null-asc-values-follow",
        ),
        pytest.param(
            (_key("displayName", descending=True),),
            ("a", "x"),
            "tasks.display_name < 'a' OR tasks.display_name IS NULL "
            "OR tasks.display_name = 'a' AND tasks.id < 'x'",
            id="desc-nulls-follow-values",
        ),
        pytest.param(
            (_key("displayName", descending=True),),
            (None, "x"),
            "false OR tasks.display_name IS NULL AND tasks.id < 'x'",
            id="after-null-desc-only-null-ties",
        ),
    ],
)
def test_after(
    orderby: tuple[OrderKey, ...], after: tuple[KeyValue, ...], condition: str, dialect: str
) -> None:
    _, sql = _page(orderby, after=after, dialect=dialect)
    where = _clause(sql, "WHERE tasks.tenant_id = 't' AND ", " ORDER BY")
    if dialect == "sqlite":
        condition = condition.replace("false OR", "0 = 1 OR")
    expected = f"({condition})" if " OR " in condition else condition
    assert where == expected


@pytest.mark.parametrize("after", [(5,), (5, "x", "y"), ()], ids=["short", "long", "empty"])
def test_after_of_the_wrong_length_is_a_bad_skiptoken(after: tuple[KeyValue, ...]) -> None:
    with pytest.raises(BadRequest) as caught:
        _page(after=after)
    error = caught.value
    assert (error.status, error.code, error.message) == (
        400,
        "BadRequest",
        "The $skiptoken value is not valid for this request.",
    )


# --- semantic errors ---


def _incompatible(left: str, right: str, kind: str = "Equal") -> str:
    return (
        f"A binary operator with incompatible types was detected. Found operand types '{left}' and "
        f"'{right}' for operator kind '{kind}'."
    )


STATUS = "microsoft.graph.deviceAppManagementTaskStatus"
BASE_NAME = "microsoft.graph.deviceAppManagementTask"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "nope eq 1",
            f"Could not find a property named 'nope' on type '{BASE_NAME}'.",
            id="unknown-property",
        ),
        pytest.param(
            "managedDeviceCount eq 3",
            f"Could not find a property named 'managedDeviceCount' on type '{BASE_NAME}'.",
            id="derived-property-without-cast",
        ),
        pytest.param(
            f"{SECURITY}/nope eq 3",
            f"Could not find a property named 'nope' on type '{SECURITY}'.",
            id="unknown-property-after-cast",
        ),
        pytest.param(
            "microsoft.graph.nope/x eq 1",
            "The type 'microsoft.graph.nope' could not be resolved by the model.",
            id="unknown-cast",
        ),
        pytest.param(
            f"{SECURITY}/intendedSettings/name eq 'a'",
            f"A type cast to '{SECURITY}' must be followed by one property name.",
            id="cast-path-too-long",
        ),
        pytest.param(
            "displayName/x eq 'a'", "The path 'displayName/x' does not name a single property.", id="path"
        ),
        pytest.param("status eq 1", _incompatible(STATUS, "Edm.Int32"), id="enum-vs-int"),
        pytest.param(
            "status gt 1.5", _incompatible(STATUS, "Edm.Decimal", "GreaterThan"), id="enum-vs-decimal"
        ),
        pytest.param(
            "status eq priority",
            _incompatible(STATUS, "microsoft.graph.deviceAppManagementTaskPriority"),
            id="enum-vs-enum",
        ),
        pytest.param("displayName eq 5", _incompatible("Edm.String", "Edm.Int32"), id="string-vs-int"),
        pytest.param(
            "dueDateTime lt '2024-01-01'",
            _incompatible("Edm.DateTimeOffset", "Edm.String", "LessThan"),
            id="datetime-vs-string",
        ),
        pytest.param(
            "dueDateTime eq 2024-01-01",
            _incompatible("Edm.DateTimeOffset", "Edm.Date"),
            id="datetime-vs-date",
        ),
        pytest.param(
            "id ne 01234567-89ab-cdef-0123-456789abcdef",
            _incompatible("Edm.String", "Edm.Guid", "NotEqual"),
            id="string-vs-guid",
        ),
        pytest.param(
            "status eq 'urgent'",
            "The string 'urgent' is not a valid enumerated type constant.",
            id="unknown-enum-member",
        ),
        pytest.param(
            "status eq 'Pending'",
            "The string 'Pending' is not a valid enumerated type constant.",
            id="enum-members-are-case-sensitive",
        ),
        pytest.param(
            "status in ('pending','urgent')",
            "The string 'urgent' is not a valid enumerated type constant.",
            id="unknown-enum-member-in-list",
        ),
        pytest.param(
            "status eq microsoft.graph.deviceAppManagementTaskPriority'high'",
            _incompatible(STATUS, "microsoft.graph.deviceAppManagementTaskPriority"),
            id="qualified-enum-of-another-type",
        ),
        pytest.param(
            f"status eq {STATUS}'urgent'",
            "The string 'urgent' is not a valid enumerated type constant.",
            id="qualified-enum-unknown-member",
        ),
        pytest.param(
            "foo(displayName)",
            "An unknown function with name 'foo' was found. This may also be a function import or a key "
            "lookup on a navigation property, which is not allowed.",
            id="unknown-function",
        ),
        pytest.param(
            "foo() eq 1",
            "An unknown function with name 'foo' was found. This may also be a function import or a key "
            "lookup on a navigation property, which is not allowed.",
            id="unknown-function-as-value",
        ),
        pytest.param(
            "startswith(displayName)",
            "The function 'startswith' takes 2 argument(s), not 1.",
            id="startswith-arity",
        ),
        pytest.param(
            "tolower(displayName,'x') eq 'x'",
            "The function 'tolower' takes 1 argument(s), not 2.",
            id="tolower-arity",
        ),
        pytest.param(
            f"isof(displayName,description,{SECURITY})",
            "The function 'isof' takes 1 or 2 argument(s), not 3.",
            id="isof-arity",
        ),
        pytest.param(
            f"isof('{SECURITY}','x')",
            "The type 'x' could not be resolved by the model.",
            id="isof-two-arguments-unknown-type",
        ),
        pytest.param(
            "isof(displayName)",
            "The last argument of isof must be a qualified type name, e.g. isof(microsoft.graph.x); "
            "'displayName' is not one.",
            id="isof-of-a-property",
        ),
        pytest.param(
            "isof('microsoft.graph.nope')",
            "The type 'microsoft.graph.nope' could not be resolved by the model.",
            id="isof-unknown-type",
        ),
        pytest.param(
            "startswith(status,'p')",
            "The function 'startswith' needs Edm.String arguments; 'status' is not one.",
            id="startswith-of-an-enum",
        ),
        pytest.param(
            "status/any()",
            "The 'any' operator needs a collection, and 'status' is not one.",
            id="any-of-scalar",
        ),
        pytest.param(
            "displayName/all(x: x eq 'a')",
            "The 'all' operator needs a collection, and 'displayName' is not one.",
            id="all-of-scalar",
        ),
        pytest.param(
            f"{SETTINGS}/any(s: s/nope eq 'a')",
            "Could not find a property named 'nope' on type 'microsoft.graph.keyValuePair'.",
            id="unknown-element-property",
        ),
        pytest.param(
            f"{SETTINGS}/any(s: s eq 'a')",
            _incompatible("microsoft.graph.keyValuePair", "Edm.String"),
            id="lambda-variable-compared-with-a-string",
        ),
        pytest.param(
            f"{SETTINGS}/any(s: s/name/x eq 'a')",
            "A lambda variable must be followed by one property name, or by none.",
            id="lambda-variable-path-too-long",
        ),
        pytest.param(
            "status",
            "The expression 'status' is not a Boolean; $filter needs a Boolean expression.",
            id="non-boolean-property",
        ),
        pytest.param(
            "'pending'",
            "The expression ''pending'' is not a Boolean; $filter needs a Boolean expression.",
            id="non-boolean-literal",
        ),
        pytest.param(
            "tolower(displayName)",
            "The function 'tolower' does not return a Boolean; $filter needs a Boolean expression.",
            id="non-boolean-function",
        ),
        pytest.param(
            "status eq 'pending' and displayName",
            "The expression 'displayName' is not a Boolean; $filter needs a Boolean expression.",
            id="non-boolean-operand-of-and",
        ),
        pytest.param(
            "status eq true",
            "The expression 'status' is not a Boolean; $filter needs a Boolean expression.",
            id="enum-eq-boolean",
        ),
        pytest.param(
            "true gt false",
            _incompatible("Edm.Boolean", "Edm.Boolean", "GreaterThan"),
            id="booleans-do-not-order",
        ),
    ],
)
def test_filter_semantic_errors(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        _where(text)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "appName eq 'x'",
            f"Could not find a property named 'appName' on type '{SECURITY}'.",
            id="sibling-property",
        ),
        pytest.param(
            "microsoft.graph.appVulnerabilityTask/appName eq 'x'",
            f"The type 'microsoft.graph.appVulnerabilityTask' is not derived from '{SECURITY}'.",
            id="sibling-cast",
        ),
    ],
)
def test_filter_semantic_errors_on_a_type_cast_segment(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        _where(text, cast=SECURITY_CONFIGURATION_TASK)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", message)


@pytest.mark.parametrize(
    ("orderby", "message"),
    [
        pytest.param(
            (_key(f"{SECURITY}/intendedSettings"),),
            f"The $orderby key '{SECURITY}/intendedSettings' is a collection and cannot be ordered by.",
            id="collection",
        ),
        pytest.param(
            (_key("nope"),),
            f"Could not find a property named 'nope' on type '{BASE_NAME}'.",
            id="unknown-property",
        ),
        pytest.param(
            (_key("managedDeviceCount"),),
            f"Could not find a property named 'managedDeviceCount' on type '{BASE_NAME}'.",
            id="derived-property-without-cast",
        ),
    ],
)
def test_orderby_semantic_errors(orderby: tuple[OrderKey, ...], message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        _page(orderby)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", message)


# --- limits: no filter the parser accepts makes SQL that is deep, huge or slow to build ---


def test_a_nested_any_is_refused_as_aspnet_odata_does() -> None:
    # MaxAnyAllExpressionDepth is 1 by default in ASP.NET OData.
    with pytest.raises(BadRequest) as caught:
        _where(f"{SETTINGS}/any(s: {SETTINGS}/any(t: t/name eq s/name))")
    assert caught.value.message == (
        "The query specified in the URI is not valid. The Any/All nesting limit of '1' has been exceeded. "
        "'MaxAnyAllExpressionDepth' can be configured on ODataQuerySettings or EnableQueryAttribute."
    )


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_long_in_list_is_one_in_clause(dialect: str) -> None:
    # An OR of 997 equalities is past SQLite's expression depth limit (1000).
    ids = ", ".join(f"'{i}'" for i in range(998))
    assert _where(f"id in ({ids})", dialect=dialect) == f"tasks.id IN ({ids})"


def test_an_in_list_with_null_keeps_two_valued_logic() -> None:
    assert _where("displayName in ('a', null, 'b')") == (
        "tasks.display_name IS NOT NULL AND tasks.display_name IN ('a', 'b') OR tasks.display_name IS NULL"
    )


def test_an_in_list_of_enum_members_is_typed_by_the_property() -> None:
    assert _where("status in ('pending', 'active', 'completed')") == "tasks.status IN (1, 2, 3)"


def test_a_chain_is_one_flat_or() -> None:
    sql = _where(" or ".join(f"id eq '{i}'" for i in range(250)))
    assert sql == " OR ".join(f"tasks.id = '{i}'" for i in range(250))


def test_nested_boolean_comparisons_grow_the_sql_linearly() -> None:
    # Spelled (l AND r) OR (NOT l AND NOT r), each level doubled the SQL: 16 levels took 8 s.
    text = "(displayName eq 'a') eq (" * 23 + "true" + ")" * 23
    assert len(_where(text)) < 100 * 23


def _stack_depth() -> int:
    frame: FrameType | None = sys._getframe()
    depth = 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


_CALLS = "startswith(" + "tolower(" * 9 + "displayName" + ")" * 9 + ", 'a')"
# An any() holding the deepest operators and calls it may: shared with tests/integration/test_limits.py.
DEEPEST_LAMBDA = (
    f"{SETTINGS}/any(s: "
    + "not (s/name eq 'a' and " * 7
    + "startswith("
    + "tolower(" * 8
    + "s/name"
    + ")" * 8
    + ", 'a')"
    + ")" * 8
)
# The deepest filters the parser accepts: 100 levels of parentheses, 10 of them calls or any/all, 25
# of operators; and chains at the node limit.
WORST_CASES = {
    "parentheses": "(" * 99 + "displayName eq 'a'" + ")" * 99,
    "not": "(" * 75 + "not " * 23 + "(displayName eq 'a')" + ")" * 75,
    "not-and": "(" * 75 + "not (displayName eq 'a' and " * 11 + "displayName eq 'b'" + ")" * 86,
    "calls": "(" * 89 + _CALLS + ")" * 89,
    "lambda-and-calls": "(" * 65 + DEEPEST_LAMBDA + ")" * 65,
    "boolean-comparisons": "(" * 50 + "(displayName eq 'a') eq (" * 23 + "true" + ")" * 73,
    "or-chain": " or ".join(["displayName eq 'a'"] * 250),
    "and-chain-in-a-call": "tolower(" + " and ".join(["displayName"] * 499) + ") eq 'a'",
}
# What parsing, translating and compiling may use of Python's 1000 frames, leaving the rest to the
# server's own stack (the event loop or a worker thread, and SQLAlchemy's execute). The worst case
# measured 630.
FRAME_BUDGET = 700


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("text", WORST_CASES.values(), ids=WORST_CASES.keys())
def test_the_worst_filters_stay_within_the_frame_budget(text: str, dialect: str) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + FRAME_BUDGET)
    try:
        tree = parse_filter(text)
        try:
            clause = FilterTranslator(_source(dialect)).predicate(tree)
        except BadRequest:
            assert text == WORST_CASES["and-chain-in-a-call"]  # prints its 1000-node argument
            return
        clause.compile(dialect=DIALECTS[dialect])
    finally:
        sys.setrecursionlimit(limit)
