"""graphtasks.model.codecs: the request-body codecs generated from the model.

A codec must give exactly what the Python reading (validation.check_entity, check_update_status) gives,
or decline; it must take every valid body that carries no annotation, and every body it declines must
still get Graph's message through model/validation.py.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphtasks.errors import ModelValidationFailure
from graphtasks.model import edm
from graphtasks.model.codecs import (
    ODATA_TYPE,
    complex_struct,
    decode_entity,
    decode_update_status,
    entity_codec,
    update_status_struct,
)
from graphtasks.model.schema import (
    COMPLEX_TYPES,
    NAVIGATION_TARGETS,
    SECURITY_CONFIGURATION_TASK,
    TASK_STATUS,
    TASK_TYPES,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
    UPDATE_STATUS,
)
from graphtasks.model.types import DATETIME_OFFSET, INT32, STRING, ComplexType, EntityType, EnumType, Property
from graphtasks.model.validation import (
    check_entity,
    check_update_status,
    defaults_for,
    validate_create,
    validate_update_status,
)
from tests.support.examples import FOUNDING_REQUEST

ENTITY_TYPES = (*TASK_TYPES, *NAVIGATION_TARGETS)
SCT = SECURITY_CONFIGURATION_TASK.odata_type
UDDT = UNMANAGED_DEVICE_DISCOVERY_TASK.odata_type


def _wire_names(struct: type[msgspec.Struct]) -> set[str]:
    return {field.encode_name for field in msgspec.structs.fields(struct)}


# --- generated from the model ---


@pytest.mark.parametrize("entity_type", ENTITY_TYPES, ids=lambda t: t.name)
def test_entity_codec_has_a_field_per_property_and_navigation(entity_type: EntityType) -> None:
    names = {p.name for p in entity_type.properties} | {n.name for n in entity_type.navigation}
    assert _wire_names(entity_codec(entity_type).struct) == names | {ODATA_TYPE}


@pytest.mark.parametrize("complex_type", COMPLEX_TYPES, ids=lambda t: t.name)
def test_complex_struct_has_a_field_per_member(complex_type: ComplexType) -> None:
    names = {p.name for p in complex_type.properties}
    assert _wire_names(complex_struct(complex_type)) == names | {ODATA_TYPE}


def test_update_status_struct_has_the_action_parameters() -> None:
    assert _wire_names(update_status_struct()) == {p.name for p in UPDATE_STATUS.parameters}


# --- the common bodies take the codec ---


@pytest.mark.parametrize(
    ("body", "entity_type"),
    [
        pytest.param(FOUNDING_REQUEST, SECURITY_CONFIGURATION_TASK, id="founding-example"),
        pytest.param({"displayName": "renamed"}, SECURITY_CONFIGURATION_TASK, id="one-property-patch"),
        pytest.param(
            {ODATA_TYPE: SCT, "intendedSettings": [None]}, SECURITY_CONFIGURATION_TASK, id="null-item"
        ),
        pytest.param(
            {
                ODATA_TYPE: UDDT,
                "id": "x",
                "createdDateTime": "not even a date",
                "unmanagedDevices": [{"os": "Windows", "lastSeenDateTime": "2017-01-01T00:00:00+01:00"}, {}],
            },
            UNMANAGED_DEVICE_DISCOVERY_TASK,
            id="read-only-ignored-complex-defaults-filled",
        ),
        pytest.param(
            {"managedDevices": [{"id": "d"}], "insights": None},
            SECURITY_CONFIGURATION_TASK,
            id="navigation-ignored",
        ),
    ],
)
def test_codec_takes_common_bodies_as_python_reads_them(
    body: dict[str, Any], entity_type: EntityType
) -> None:
    decoded = decode_entity(body, entity_type)
    assert decoded is not None
    assert decoded == check_entity(body, entity_type)


@pytest.mark.parametrize(
    ("body", "parameters"),
    [
        ({"status": "active", "note": "x"}, ("active", "x")),
        ({"status": "pending"}, ("pending", None)),
        ({"status": "rejected", "note": None}, ("rejected", None)),
    ],
)
def test_codec_takes_update_status_bodies(body: dict[str, Any], parameters: tuple[str, str | None]) -> None:
    assert decode_update_status(body) == parameters == check_update_status(body)


def test_defaults_for_gives_each_call_its_own_collections() -> None:
    first, second = defaults_for(SECURITY_CONFIGURATION_TASK), defaults_for(SECURITY_CONFIGURATION_TASK)
    assert first == second
    assert first["intendedSettings"] is not second["intendedSettings"]


# --- declined bodies get Graph's messages ---


def _literal(literal: str, type_name: str) -> str:
    return f"Cannot convert the literal '{literal}' to the expected type '{type_name}'."


_RANGE = "The field managedDeviceCount must be between 0 and 65536."
_NAME_NULL = (
    "A null value was found for the property named 'name', which has the expected type "
    "'Edm.String[Nullable=False]'. The expected type 'Edm.String[Nullable=False]' does not allow null values."
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"managedDeviceCount": 65537}, _RANGE, id="above-range"),
        pytest.param({"managedDeviceCount": 2**31}, _literal("2147483648", "Edm.Int32"), id="past-int32"),
        pytest.param({"managedDeviceCount": 2**64}, _literal(str(2**64), "Edm.Int32"), id="past-64-bits"),
        pytest.param({"managedDeviceCount": 2.0}, _literal("2.0", "Edm.Int32"), id="integral-float"),
        pytest.param({"managedDeviceCount": True}, _literal("true", "Edm.Int32"), id="bool"),
        pytest.param({"priority": "High"}, "Requested value 'High' was not found.", id="enum-case"),
        pytest.param(
            {"dueDateTime": "2017-01-01T00:00:00.12345678Z"},
            _literal("2017-01-01T00:00:00.12345678Z", "Edm.DateTimeOffset"),
            id="eight-fraction-digits",
        ),
        pytest.param(
            {"dueDateTime": "2017-01-01T00:00:00+14:01"},
            _literal("2017-01-01T00:00:00+14:01", "Edm.DateTimeOffset"),
            id="offset-past-14h",
        ),
        pytest.param(
            {"displayName": "a\x00b"},
            "The value of 'displayName' contains the character U+0000, which is not allowed.",
            id="nul",
        ),
        pytest.param(
            {"insights": "\ud800"},
            "The value of 'insights' contains the character U+D800, which is not allowed.",
            id="surrogate",
        ),
        pytest.param(
            {"intendedSettings": None},
            "A null value was found for the property named 'intendedSettings', which has the expected type "
            "'Collection(microsoft.graph.keyValuePair)[Nullable=False]'. The expected type "
            "'Collection(microsoft.graph.keyValuePair)[Nullable=False]' does not allow null values.",
            id="null-collection",
        ),
        pytest.param({"intendedSettings": [{"value": "v"}]}, _NAME_NULL, id="missing-required-member"),
        pytest.param(
            {"intendedSettings": [{"name": "n", "value@odata.type": "#String", "value": "\x00"}]},
            "The value of 'value' contains the character U+0000, which is not allowed.",
            id="annotation-then-nul-in-item",
        ),
        pytest.param(
            {"intendedSettings": [{ODATA_TYPE: "##microsoft.graph.keyValuePair", "name": "n"}]},
            "A type named '#microsoft.graph.keyValuePair' could not be resolved by the model. "
            "When a model is available, each type name must resolve to a valid type.",
            id="item-type-with-two-hashes",
        ),
    ],
)
def test_declined_bodies_get_graph_messages(body: dict[str, Any], message: str) -> None:
    assert decode_entity(body, SECURITY_CONFIGURATION_TASK) is None
    with pytest.raises(ModelValidationFailure) as caught:
        validate_create({ODATA_TYPE: SCT, **body})
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        400,
        "ModelValidationFailure",
        message,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"status": "active", "note": "\x00"},
            "The value of 'note' contains the character U+0000, which is not allowed.",
        ),
        ({"status": "done"}, "Requested value 'done' was not found."),
        (
            {"status": "active", "reason": "x"},
            "The parameter 'reason' in the request payload is not a valid "
            "parameter for the operation 'microsoft.graph.updateStatus'.",
        ),
    ],
)
def test_declined_update_status_bodies_get_graph_messages(body: dict[str, Any], message: str) -> None:
    assert decode_update_status(body) is None
    with pytest.raises(ModelValidationFailure) as caught:
        validate_update_status(body)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"displayName@odata.type": "#String", "displayName": "x"}, id="property-annotation"),
        pytest.param({"@odata.context": "x"}, id="instance-annotation"),
        pytest.param({"intendedSettings": [{"name": "n", "name@x": 1}]}, id="annotation-in-item"),
        pytest.param({"displayName": "\\u0000 as six characters"}, id="text-like-the-nul-escape"),
    ],
)
def test_valid_bodies_the_codec_leaves_to_python_are_accepted(body: dict[str, Any]) -> None:
    assert decode_entity(body, SECURITY_CONFIGURATION_TASK) is None
    assert validate_create({ODATA_TYPE: SCT, **body})[0] is SECURITY_CONFIGURATION_TASK


# --- properties: bodies drawn from the model ---


def _json(text: st.SearchStrategy[str], integers: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | integers | st.floats() | text,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
        max_leaves=8,
    )


# Text the codec takes: no U+0000, no surrogate (validation.py refuses both), and not the six characters
# of the escape orjson writes U+0000 as, which the codec leaves to Python.
_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")).filter(
    lambda text: "\\u0000" not in text
)
_JSON = _json(st.text(), st.integers())
# What the codec takes in an ignored property (read-only or navigation): any JSON of such text, with
# the integers orjson parses (64 bits).
_IGNORABLE = _json(_TEXT, st.integers(-(2**63), 2**64 - 1))
_DATETIMES = st.integers(edm.MIN_TICKS, edm.MAX_TICKS).map(edm.format_datetime_offset) | st.sampled_from(
    ["2017-01-01T00:02:18.1994089-08:00", "2017-01-01T00:00", "2017-01-01T00:00:00+14:00"]
)


def _valid_value(prop: Property) -> st.SearchStrategy[Any]:
    if prop.collection:
        assert isinstance(prop.type, ComplexType)
        item = _valid_complex(prop.type)
        return st.lists(st.none() | item if prop.items_nullable else item, max_size=3)
    if isinstance(prop.type, EnumType):
        value: st.SearchStrategy[Any] = st.sampled_from(prop.type.members)
    elif prop.type is INT32:
        low, high = prop.value_range or (-(2**31), 2**31 - 1)
        value = st.integers(low, high)
    elif prop.type is DATETIME_OFFSET:
        value = _DATETIMES
    else:
        value = _TEXT
    return st.none() | value if prop.nullable else value


def _valid_complex(complex_type: ComplexType) -> st.SearchStrategy[dict[str, Any]]:
    # Only a non-nullable string member must be sent; every other one has a default.
    required = {
        p.name: _valid_value(p) for p in complex_type.properties if not p.nullable and p.type is STRING
    }
    optional = {p.name: _valid_value(p) for p in complex_type.properties if p.name not in required}
    optional[ODATA_TYPE] = st.sampled_from([complex_type.qualified_name, f"#{complex_type.qualified_name}"])
    return st.fixed_dictionaries(required, optional=optional)


def _valid_body(entity_type: EntityType) -> st.SearchStrategy[dict[str, Any]]:
    optional = {p.name: _IGNORABLE if p.read_only else _valid_value(p) for p in entity_type.properties}
    optional |= {n.name: _IGNORABLE for n in entity_type.navigation}
    return st.fixed_dictionaries({}, optional=optional)


def _any_value(prop: Property) -> st.SearchStrategy[Any]:
    return (
        _valid_value(prop)
        | _JSON
        | st.just(2**64)
        | st.sampled_from(["\x00", "\ud800", True, 2.0, None, [None]])
    )


def _any_body(entity_type: EntityType) -> st.SearchStrategy[dict[str, Any]]:
    optional = {p.name: _any_value(p) for p in entity_type.properties}
    optional["@odata.context"] = _JSON
    return st.fixed_dictionaries({}, optional=optional)


_ENTITY_TYPES = st.sampled_from(ENTITY_TYPES)


@settings(deadline=None)
@given(_ENTITY_TYPES.flatmap(lambda t: st.tuples(st.just(t), _valid_body(t))))
def test_codec_takes_every_valid_body_as_python_reads_it(drawn: tuple[EntityType, dict[str, Any]]) -> None:
    entity_type, body = drawn
    decoded = decode_entity(body, entity_type)
    assert decoded is not None
    assert decoded == check_entity(body, entity_type)


@settings(deadline=None)
@given(_ENTITY_TYPES.flatmap(lambda t: st.tuples(st.just(t), _any_body(t))))
def test_codec_agrees_with_python_or_declines(drawn: tuple[EntityType, dict[str, Any]]) -> None:
    entity_type, body = drawn
    decoded = decode_entity(body, entity_type)
    try:
        checked = check_entity(body, entity_type)
    except ModelValidationFailure:
        assert decoded is None
        return
    assert decoded is None or decoded == checked


_STATUS_VALUES = st.sampled_from(TASK_STATUS.members) | _JSON
_NOTES = st.none() | _TEXT | _JSON | st.just("\x00")


@given(st.fixed_dictionaries({}, optional={"status": _STATUS_VALUES, "note": _NOTES, "reason": _JSON}))
def test_update_status_codec_agrees_with_python_or_declines(body: dict[str, Any]) -> None:
    decoded = decode_update_status(body)
    try:
        checked = check_update_status(body)
    except ModelValidationFailure:
        assert decoded is None
        return
    assert decoded is None or decoded == checked
