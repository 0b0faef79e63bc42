"""Three places where graphtasks followed Graph's schema too narrowly, checked without a server.

1. `isof` with an unquoted type name, in its one- and two-argument forms. The OData ABNF's `isofExpr`
   ends in a `qualifiedTypeName`, and `$it` (`implicitVariableExpr`) names the entity being filtered;
   the quoted name is ODataLib's older form and still works.
2. updateStatus through a type-cast segment: the action is bound to deviceAppManagementTask, so every
   derived type has it, and a cast to the task's type or an ancestor's addresses the same task.
3. Null items in intendedSettings and unmanagedDevices: Graph's $metadata (the public
   microsoftgraph/msgraph-metadata repository) declares both without Nullable="false", and on a
   collection CSDL's Nullable facet speaks of its items. A property of a null item is null (OData URL
   conventions), which fixes what any/all answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30WriteValidator
from sqlalchemy import ClauseElement
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from starlette.routing import Match, Route

from graphtasks.errors import BadRequest, ModelValidationFailure
from graphtasks.model import csdl, validation
from graphtasks.model.csdl import metadata_document
from graphtasks.model.records import TaskRecord
from graphtasks.model.schema import (
    COMPLEX_TYPES,
    DEVICE_APP_MANAGEMENT_TASK,
    ENUM_TYPES,
    KEY_VALUE_PAIR,
    SECURITY_CONFIGURATION_TASK,
    TASK_TYPES,
    UNMANAGED_DEVICE,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
)
from graphtasks.model.types import PRIMITIVE_TYPES, EntityType, Property
from graphtasks.model.validation import Values, defaults_for, validate_create, validate_update
from graphtasks.odata.ast import Call, Literal, Member, Node, TypeName
from graphtasks.odata.filter import FilterSyntaxError, parse_filter
from graphtasks.storage.base import TaskQuery
from graphtasks.storage.filters import FilterTranslator
from graphtasks.storage.query import task_collection
from graphtasks.web.openapi import openapi_document
from graphtasks.web.serialization import task_json
from tests.unit.test_openapi import ROUTES

SECURITY = "microsoft.graph.securityConfigurationTask"
VULNERABILITY = "microsoft.graph.appVulnerabilityTask"
BASE = "microsoft.graph.deviceAppManagementTask"
PAIR = "microsoft.graph.keyValuePair"
SECURITY_ROW = f"tasks.odata_type = '{SECURITY}'"
SETTINGS = f"{SECURITY}/intendedSettings"
DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped
}


def _where(text: str, *, dialect: str = "sqlite", cast: EntityType | None = None) -> str:
    """The SQL condition for a $filter text, on the task collection (or a type-cast segment)."""
    source = task_collection(TaskQuery(tenant_id="t", cast=cast), dialect).source
    clause: ClauseElement = FilterTranslator(source).predicate(parse_filter(text))
    return str(clause.compile(dialect=DIALECTS[dialect], compile_kwargs={"literal_binds": True}))


def _bad_request(call: Callable[[], object]) -> tuple[int, str, str]:
    with pytest.raises(BadRequest) as caught:
        call()
    return caught.value.status, caught.value.code, caught.value.message


# --- 1. isof: the parser ---


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (f"isof({SECURITY})", f"(isof {SECURITY})"),
        ("isof( microsoft.graph.x )", "(isof microsoft.graph.x)"),
        ("isof($it,microsoft.graph.x)", "(isof $it microsoft.graph.x)"),
        ("isof( $it , 'microsoft.graph.x' )", "(isof $it 'microsoft.graph.x')"),
        ("isof(displayName,Edm.String)", "(isof displayName Edm.String)"),
        (
            "not isof(microsoft.graph.x) and isof(a, Edm.Int32)",
            "(and (not (isof microsoft.graph.x)) (isof a Edm.Int32))",
        ),
        ("isof(microsoft.graph.x) eq true", "(eq (isof microsoft.graph.x) true)"),
        (
            "s/any(v: isof(v, microsoft.graph.keyValuePair))",
            "(any s v (isof v microsoft.graph.keyValuePair))",
        ),
        ("$it/displayName eq 'x'", "(eq $it/displayName 'x')"),
        ("$it/microsoft.graph.x/insights eq null", "(eq $it/microsoft.graph.x/insights null)"),
        ("s/any(v: v/name eq $it/displayName)", "(any s v (eq v/name $it/displayName))"),
    ],
)
def test_parse_isof_and_it(text: str, tree: str) -> None:
    assert str(parse_filter(text)) == tree


X = "microsoft.graph.x"


@pytest.mark.parametrize(
    ("text", "args"),
    [
        pytest.param(f"isof({X})", (TypeName(X),), id="unquoted-type-name"),
        pytest.param(f"isof('{X}')", (Literal("string", X, f"'{X}'"),), id="quoted-name-stays-a-string"),
        pytest.param(f"isof($it,{X})", (Member(("$it",)), TypeName(X)), id="it-and-type-name"),
        pytest.param(
            "isof(displayName,Edm.String)",
            (Member(("displayName",)), TypeName("Edm.String")),
            id="property-and-primitive-type",
        ),
        pytest.param(
            f"isof({X},Edm.String)", (Member((X,)), TypeName("Edm.String")), id="dotted-name-before-a-comma"
        ),
        pytest.param(f"isof({X}/insights)", (Member((X, "insights")),), id="cast-path-is-no-type-name"),
    ],
)
def test_isof_type_name_is_a_node_of_its_own(text: str, args: tuple[Node, ...]) -> None:
    assert parse_filter(text) == Call("isof", args)


def test_only_isof_takes_a_type_name() -> None:
    assert parse_filter(f"f({X})") == Call("f", (Member((X,)),))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$item eq 1", "Syntax error: character '$' is not valid at position 0 in '$item eq 1'."),
        ("$it.x eq 1", "Syntax error: character '.' is not valid at position 3 in '$it.x eq 1'."),
        ("a/$it eq 1", "Property name expected at position 2 in 'a/$it eq 1'."),
        ("s/any($it: true)", "Lambda variable expected at position 6 in 's/any($it: true)'."),
        ("$it(1)", "Syntax error at position 3 in '$it(1)'."),
        (f"isof({X}", f"')' or ',' expected at position 22 in 'isof({X}'."),
        (f"isof(,{X})", f"Expression expected at position 5 in 'isof(,{X})'."),
        ("isof(a.b c.d)", "')' or ',' expected at position 9 in 'isof(a.b c.d)'."),
    ],
)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    assert (caught.value.status, caught.value.code, caught.value.message) == (400, "BadRequest", message)


# --- 1. isof: the SQL ---


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("text", "sql"),
    [
        pytest.param(f"isof({SECURITY})", f"tasks.odata_type IN ('{SECURITY}')", id="unquoted"),
        pytest.param(f"isof('{SECURITY}')", f"tasks.odata_type IN ('{SECURITY}')", id="quoted"),
        pytest.param(f"isof($it,{SECURITY})", f"tasks.odata_type IN ('{SECURITY}')", id="it-unquoted"),
        pytest.param(f"isof($it,'{SECURITY}')", f"tasks.odata_type IN ('{SECURITY}')", id="it-quoted"),
        pytest.param(
            f"not isof({VULNERABILITY})", f"(tasks.odata_type NOT IN ('{VULNERABILITY}'))", id="not"
        ),
        pytest.param("isof(displayName,Edm.String)", "tasks.display_name IS NOT NULL", id="nullable-string"),
        pytest.param("isof(displayName,'Edm.String')", "tasks.display_name IS NOT NULL", id="quoted-edm"),
        pytest.param("isof($it/displayName,Edm.String)", "tasks.display_name IS NOT NULL", id="path-from-it"),
        pytest.param(
            f"isof({SECURITY}/managedDeviceCount,Edm.Int32)",
            f"CASE WHEN ({SECURITY_ROW}) THEN tasks.managed_device_count END IS NOT NULL",
            id="cast-property-is-null-on-other-rows",
        ),
        pytest.param(
            f"{SETTINGS}/any(s: isof(s,{PAIR}))",
            "EXISTS (SELECT 1 AS anon_1 \nFROM {elements}(CASE WHEN "
            f"({SECURITY_ROW}) THEN tasks.intended_settings END) AS anon_2 \n"
            "WHERE nullif(CAST(anon_2.value AS TEXT), 'null') IS NOT NULL)",
            id="lambda-variable-of-its-type-unless-null",
        ),
        pytest.param(
            "$it/displayName eq 'x'",
            "tasks.display_name IS NOT NULL AND tasks.display_name = 'x'",
            id="it-path-is-the-property",
        ),
    ],
)
def test_isof_sql(text: str, sql: str, dialect: str) -> None:
    elements = "json_each" if dialect == "sqlite" else "jsonb_array_elements"
    assert _where(text, dialect=dialect) == sql.replace("{elements}", elements)


@pytest.mark.parametrize(
    ("text", "sqlite_sql", "postgresql_sql"),
    [
        # A non-nullable value always has its declared type; any other type, never.
        pytest.param(f"isof({BASE})", "1", "true", id="the-collection-type"),
        pytest.param("isof(status,microsoft.graph.deviceAppManagementTaskStatus)", "1", "true", id="enum"),
        pytest.param("isof(status,Edm.Int32)", "0", "false", id="an-enum-is-not-its-number"),
        pytest.param("isof(displayName,Edm.Int64)", "0", "false", id="other-primitive"),
        pytest.param(f"isof(displayName,{SECURITY})", "0", "false", id="a-string-is-no-entity"),
    ],
)
def test_isof_decided_by_the_model(text: str, sqlite_sql: str, postgresql_sql: str) -> None:
    assert (_where(text), _where(text, dialect="postgresql")) == (sqlite_sql, postgresql_sql)


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        (f"isof({SECURITY})", "1"),
        (f"isof($it,'{SECURITY}')", "1"),
        (f"isof({VULNERABILITY})", f"tasks.odata_type IN ('{VULNERABILITY}')"),
        ("isof(managedDeviceCount,Edm.Int32)", "1"),
    ],
)
def test_isof_on_a_type_cast_segment(text: str, sql: str) -> None:
    assert _where(text, cast=SECURITY_CONFIGURATION_TASK) == sql


def _unresolved(name: str) -> str:
    return f"The type '{name}' could not be resolved by the model."


def _no_type_name(node: str) -> str:
    return (
        "The last argument of isof must be a qualified type name, e.g. isof(microsoft.graph.x); "
        f"'{node}' is not one."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "isof(microsoft.graph.nope)", _unresolved("microsoft.graph.nope"), id="unknown-unquoted"
        ),
        pytest.param(
            "isof('microsoft.graph.nope')", _unresolved("microsoft.graph.nope"), id="unknown-quoted"
        ),
        pytest.param("isof($it,microsoft.graph.nope)", _unresolved("microsoft.graph.nope"), id="unknown-it"),
        pytest.param("isof(displayName,Edm.Nope)", _unresolved("Edm.Nope"), id="unknown-primitive"),
        pytest.param("isof(displayName,'nope')", _unresolved("nope"), id="unknown-quoted-second"),
        pytest.param("isof()", "The function 'isof' takes 1 or 2 argument(s), not 0.", id="no-argument"),
        pytest.param("isof(displayName)", _no_type_name("displayName"), id="property-alone"),
        pytest.param("isof($it)", _no_type_name("$it"), id="it-alone"),
        pytest.param("isof(displayName,1)", _no_type_name("1"), id="number-as-type"),
        pytest.param(
            f"isof({SETTINGS},{PAIR})",
            f"The function 'isof' tests a single value, and '{SETTINGS}' is a collection.",
            id="collection",
        ),
        pytest.param(
            "$it eq null",
            "'$it' is the entity itself: it can be isof's first argument, not a value.",
            id="it-as-a-value",
        ),
    ],
)
def test_isof_errors_are_400s(text: str, message: str) -> None:
    assert _bad_request(lambda: _where(text)) == (400, "BadRequest", message)


def _outcome(text: str) -> str:
    """The SQL of a filter, or its error."""
    try:
        return _where(text)
    except BadRequest as error:
        return f"{error.status} {error.code}: {error.message}"


TYPE_NAMES = st.one_of(
    st.sampled_from(
        [
            *(t.name for t in PRIMITIVE_TYPES),
            *(t.qualified_name for t in ENUM_TYPES),
            *(t.qualified_name for t in COMPLEX_TYPES),
            *(t.qualified_name for t in TASK_TYPES),
        ]
    ),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}(\.[A-Za-z_][A-Za-z0-9_]{0,5}){1,3}", fullmatch=True),
)


@settings(deadline=None, max_examples=300)
@given(
    TYPE_NAMES, st.sampled_from(["", "$it,", "displayName,", "status,", f"{SECURITY}/managedDeviceCount,"])
)
def test_a_type_name_means_the_same_unquoted_and_quoted(type_name: str, tested: str) -> None:
    unquoted = _outcome(f"isof({tested}{type_name})")
    assert unquoted == _outcome(f"isof({tested}'{type_name}')")
    assert not unquoted.startswith("400") or "could not be resolved by the model" in unquoted


# --- 2. updateStatus through a type-cast segment ---


TASK_PATH = "/beta/deviceAppManagement/deviceAppManagementTasks/8d5b8f2e-2f7a-4f5e-9d7c-0a1b2c3d4e5f"
ACTIONS = ["updateStatus", "microsoft.graph.updateStatus"]


def _routed(method: str, path: str) -> tuple[Match, Route | None, dict[str, Any]]:
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    for route in ROUTES:
        match, child = route.matches(scope)
        if match is not Match.NONE:
            return match, route, child.get("path_params", {})
    return Match.NONE, None, {}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("cast", TASK_TYPES, ids=lambda t: t.name)
def test_update_status_is_routed_through_every_cast(cast: EntityType, action: str) -> None:
    match, route, params = _routed("POST", f"{TASK_PATH}/{cast.qualified_name}/{action}")
    assert (match, route and route.name, params.get("type_name")) == (Match.FULL, "update_status", cast.name)


@pytest.mark.parametrize("action", ACTIONS)
def test_update_status_through_a_cast_takes_post_only(action: str) -> None:
    match, route, _ = _routed("PUT", f"{TASK_PATH}/{SECURITY}/{action}")
    assert (match, route and route.name) == (Match.PARTIAL, "update_status")  # a 405 naming POST


@pytest.mark.parametrize("qualified", [False, True])
@pytest.mark.parametrize("cast", TASK_TYPES, ids=lambda t: t.name)
def test_openapi_documents_update_status_through_every_cast(cast: EntityType, qualified: bool) -> None:
    action = ACTIONS[qualified]
    path = f"/deviceAppManagement/deviceAppManagementTasks/{{task_id}}/{cast.qualified_name}/{action}"
    operation = openapi_document("http://127.0.0.1")["paths"][path]["post"]
    suffix = "_qualified" if qualified else ""
    assert operation["operationId"] == f"update_status_{cast.name}{suffix}"
    assert operation["summary"].endswith(f", as {cast.name}")


# --- 3. null items: the model ---


def _property(entity_type: EntityType, name: str) -> Property:
    prop = entity_type.property(name)
    assert prop is not None
    return prop


INTENDED_SETTINGS = _property(SECURITY_CONFIGURATION_TASK, "intendedSettings")
UNMANAGED_DEVICES = _property(UNMANAGED_DEVICE_DISCOVERY_TASK, "unmanagedDevices")
DISPLAY_NAME = _property(DEVICE_APP_MANAGEMENT_TASK, "displayName")
DUE = _property(DEVICE_APP_MANAGEMENT_TASK, "dueDateTime")
# No property of the model has non-nullable items; this stand-in checks that side.
STRICT = Property("strictSettings", KEY_VALUE_PAIR, False, "Items that may not be null.", collection=True)


@pytest.mark.parametrize(
    ("prop", "value_nullable", "items_nullable"),
    [
        pytest.param(INTENDED_SETTINGS, False, True, id="intendedSettings"),
        pytest.param(UNMANAGED_DEVICES, False, True, id="unmanagedDevices"),
        pytest.param(DISPLAY_NAME, True, False, id="nullable-string"),
        pytest.param(DUE, False, False, id="non-nullable-datetime"),
        pytest.param(STRICT, False, False, id="non-nullable-items"),
    ],
)
def test_nullability_of_values_and_items(prop: Property, value_nullable: bool, items_nullable: bool) -> None:
    assert (prop.value_nullable, prop.items_nullable) == (value_nullable, items_nullable)


# --- 3. null items: validation, create and PATCH ---

SCT = f"#{SECURITY}"
UDDT = "#microsoft.graph.unmanagedDeviceDiscoveryTask"
PAIR_A: dict[str, str | int | None] = {"name": "a", "value": None}
# An unmanagedDevice as validation completes it: every member null but lastSeenDateTime (ticks).
DEVICE = {**{p.name: None for p in UNMANAGED_DEVICE.properties}, "os": "Windows", "lastSeenDateTime": 0}


@pytest.mark.parametrize(
    ("body", "values"),
    [
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": [None]}, {"intendedSettings": [None]}, id="null"
        ),
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": [None, {"name": "a"}, None]},
            {"intendedSettings": [None, PAIR_A, None]},
            id="nulls-keep-their-places",
        ),
        pytest.param(
            {"@odata.type": UDDT, "unmanagedDevices": [{"os": "Windows"}, None]},
            {"unmanagedDevices": [DEVICE, None]},
            id="unmanagedDevices",
        ),
    ],
)
def test_create_and_update_keep_null_items(body: dict[str, Any], values: Values) -> None:
    entity_type, created = validate_create(body)
    assert {name: created[name] for name in values} == values
    assert validate_update(body, entity_type) == values


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": None},
            "A null value was found for the property named 'intendedSettings', which has the expected type "
            f"'Collection({PAIR})[Nullable=False]'. The expected type 'Collection({PAIR})[Nullable=False]' "
            "does not allow null values.",
            id="the-collection-itself-is-never-null",
        ),
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": [None, {"value": "v"}]},
            "A null value was found for the property named 'name', which has the expected type "
            "'Edm.String[Nullable=False]'. The expected type 'Edm.String[Nullable=False]' does not allow "
            "null values.",
            id="a-non-null-item-is-still-checked",
        ),
        pytest.param(
            {"@odata.type": SCT, "intendedSettings": [None, "null"]},
            f"Cannot convert the literal 'null' to the expected type '{PAIR}'.",
            id="the-string-null-is-no-null",
        ),
    ],
)
def test_null_items_do_not_let_other_values_through(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelValidationFailure) as caught:
        validate_create(body)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        400,
        "ModelValidationFailure",
        message,
    )


def test_a_collection_whose_items_are_not_nullable_refuses_a_null_item() -> None:
    with pytest.raises(ModelValidationFailure) as caught:
        validation._convert(STRICT, [{"name": "a"}, None])
    expected = f"{PAIR}[Nullable=False]"
    assert caught.value.message == (
        f"A null value was found with the expected type '{expected}'. The expected type '{expected}' "
        "does not allow null values."
    )


# --- 3. null items: serialization, $metadata, OpenAPI ---


def test_task_json_writes_null_items_in_their_places() -> None:
    values = {**defaults_for(SECURITY_CONFIGURATION_TASK), "createdDateTime": 0}
    values["intendedSettings"] = [None, PAIR_A, None]
    body = task_json(TaskRecord("t", SECURITY_CONFIGURATION_TASK, values))
    assert body["intendedSettings"] == [None, {"@odata.type": f"#{PAIR}", "name": "a", "value": None}, None]


def _metadata_property(type_name: str, name: str) -> ET.Element:
    namespaces = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    root = ET.fromstring(metadata_document())  # noqa: S314 - the document under test, not untrusted input
    path = f".//edm:EntityType[@Name='{type_name}']/edm:Property[@Name='{name}']"
    element = root.find(path, namespaces)
    assert element is not None
    return element


@pytest.mark.parametrize(
    ("type_name", "name"),
    [("securityConfigurationTask", "intendedSettings"), ("unmanagedDeviceDiscoveryTask", "unmanagedDevices")],
)
def test_metadata_leaves_nullable_items_without_a_nullable_attribute(type_name: str, name: str) -> None:
    # As Graph's $metadata declares them: an absent Nullable is true, and on a collection it is the items'.
    assert "Nullable" not in _metadata_property(type_name, name).attrib


def test_metadata_says_when_items_may_not_be_null() -> None:
    assert csdl._property(STRICT).attrib["Nullable"] == "false"


SCHEMAS = openapi_document("http://127.0.0.1")["components"]["schemas"]
NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}


@pytest.mark.parametrize("view", ["", "Create", "Update"])
@pytest.mark.parametrize(
    ("type_name", "name", "item"),
    [
        (SECURITY, "intendedSettings", PAIR),
        (
            "microsoft.graph.unmanagedDeviceDiscoveryTask",
            "unmanagedDevices",
            "microsoft.graph.unmanagedDevice",
        ),
    ],
)
def test_openapi_items_are_the_complex_type_or_null(type_name: str, name: str, item: str, view: str) -> None:
    schema = SCHEMAS[f"{type_name}{view}"]
    properties = schema["allOf"][1]["properties"] if "allOf" in schema else schema["properties"]
    items = properties[name]["items"]
    assert items == {"anyOf": [{"$ref": f"#/components/schemas/{item}"}, NULL_ONLY]}


@pytest.mark.parametrize(("value", "valid"), [(None, True), ({}, False), ("null", False), (0, False)])
def test_openapi_null_only_schema_takes_null_alone(value: object, valid: bool) -> None:
    assert OAS30WriteValidator(NULL_ONLY).is_valid(value) is valid


# --- 3. null items: $filter ---

ELEMENTS = f"FROM json_each(CASE WHEN ({SECURITY_ROW}) THEN tasks.intended_settings END) AS anon_2"
ITEM = "nullif(CAST(anon_2.value AS TEXT), 'null')"
NAME = "json_extract(anon_2.value, '$.name')"


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        pytest.param(
            f"{SETTINGS}/any(s: s eq null)",
            f"EXISTS (SELECT 1 AS anon_1 \n{ELEMENTS} \nWHERE {ITEM} IS NULL)",
            id="any-null-item",
        ),
        pytest.param(
            f"{SETTINGS}/any(s: null eq s)",
            f"EXISTS (SELECT 1 AS anon_1 \n{ELEMENTS} \nWHERE {ITEM} IS NULL)",
            id="null-first",
        ),
        pytest.param(
            f"{SETTINGS}/all(s: s ne null)",
            f"NOT (EXISTS (SELECT 1 AS anon_1 \n{ELEMENTS} \nWHERE {ITEM} IS NULL))",
            id="all-items-non-null",
        ),
        pytest.param(
            f"{SETTINGS}/any(s: s in (null))",
            f"EXISTS (SELECT 1 AS anon_1 \n{ELEMENTS} \nWHERE {ITEM} IS NULL)",
            id="in-null",
        ),
        # A member of a null item is null: guarded, so that `not` and `all` stay two-valued.
        pytest.param(
            f"{SETTINGS}/all(s: s/name eq 'a')",
            f"NOT (EXISTS (SELECT 1 AS anon_1 \n{ELEMENTS} \n"
            f"WHERE NOT ({NAME} IS NOT NULL AND {NAME} = 'a')))",
            id="all-is-false-on-a-null-item",
        ),
        pytest.param(
            f"{SETTINGS}/any(s: s/name eq null)",
            f"EXISTS (SELECT 1 AS anon_1 \n{ELEMENTS} \nWHERE {NAME} IS NULL)",
            id="member-of-a-null-item-is-null",
        ),
    ],
)
def test_null_item_sql(text: str, sql: str) -> None:
    assert _where(text) == sql


def test_null_item_sql_is_the_same_on_postgresql() -> None:
    sql = _where(f"{SETTINGS}/any(s: s eq null)", dialect="postgresql")
    assert sql.endswith(f"AS anon_2 \nWHERE {ITEM} IS NULL)")
    assert "FROM jsonb_array_elements(" in sql


def _incompatible(left: str, right: str, kind: str) -> str:
    return (
        f"A binary operator with incompatible types was detected. Found operand types '{left}' and "
        f"'{right}' for operator kind '{kind}'."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(f"{SETTINGS}/any(s: s eq 'a')", _incompatible(PAIR, "Edm.String", "Equal"), id="string"),
        pytest.param(f"{SETTINGS}/any(s: s eq s)", _incompatible(PAIR, PAIR, "Equal"), id="itself"),
        pytest.param(
            f"{SETTINGS}/any(s: s ne displayName)",
            _incompatible(PAIR, "Edm.String", "NotEqual"),
            id="property",
        ),
        pytest.param(
            f"{SETTINGS}/any(s: s gt null)", _incompatible(PAIR, "null", "GreaterThan"), id="ordered"
        ),
        pytest.param(
            f"{SETTINGS}/any(s: s)",
            "The expression 's' is not a Boolean; $filter needs a Boolean expression.",
            id="not-a-boolean",
        ),
    ],
)
def test_a_lambda_variable_compares_with_null_only(text: str, message: str) -> None:
    assert _bad_request(lambda: _where(text)) == (400, "BadRequest", message)
