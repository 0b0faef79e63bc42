"""Turn a decoded JSON request body into canonical property values, or raise ModelValidationFailure.

Canonical values: strings stay `str`, Int32 is `int`, enum members are their member name, an
Edm.DateTimeOffset is an `int` of ticks (model/edm.py), a complex collection is a list of dicts keyed
by wire name (None for a null item, where the model lets the collection hold one). Messages follow
Intune's and ODataLib's wording (docs/graph-behaviour.md, "Errors").

Rules this module decides (documented in the README):
- a body without `@odata.type` creates the collection's declared type, deviceAppManagementTask;
- `@odata.type` may be written with or without the leading '#';
- instance and property annotations (`@x`, `name@x`) are ignored, as OData readers do;
- read-only properties (`id`, `createdDateTime`) and the navigation collections (`managedDevices`,
  `mobileApps`) are accepted and ignored, because the SDK re-sends them on a round-trip PATCH.

Each body is read first by the codecs generated from the model (model/codecs.py), which take the
common valid body in C; a body they decline is read again here in Python (check_entity,
check_update_status), which words every error. The two readings give the same values, which
tests/unit/test_codecs.py checks on bodies drawn from the model.

Reads only the model (model/schema.py, model/types.py); never touches HTTP or storage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import ParamSpec, TypeAlias, TypeVar

from graphtasks.errors import BadRequest, ModelValidationFailure
from graphtasks.model import edm
from graphtasks.model.codecs import (
    INT32_RANGE,
    ODATA_TYPE,
    decode_entity,
    decode_update_status,
    default_value,
)
from graphtasks.model.schema import (
    DEVICE_APP_MANAGEMENT_TASK,
    NAVIGATION_TARGETS,
    TASK_TYPES_BY_NAME,
    UPDATE_STATUS,
)
from graphtasks.model.types import (
    DATETIME_OFFSET,
    INT32,
    STRING,
    ComplexType,
    EntityType,
    EnumType,
    PrimitiveType,
    Property,
)

Scalar: TypeAlias = str | int | None
ComplexValue: TypeAlias = dict[str, Scalar]
Value: TypeAlias = Scalar | list[ComplexValue | None]
Values: TypeAlias = dict[str, Value]

_P = ParamSpec("_P")
_T = TypeVar("_T")
_ALL_ENTITY_TYPE_NAMES = frozenset(
    t.qualified_name for t in (*TASK_TYPES_BY_NAME.values(), *NAVIGATION_TARGETS)
)
# What PostgreSQL cannot hold in text: U+0000 (its text types refuse the NUL byte), and the surrogates,
# which are no characters at all and which UTF-8, the database encoding, cannot encode.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def validate_create(payload: object) -> tuple[EntityType, Values]:
    """The entity type a create body names, and every property's value (defaults for the rest)."""
    body = _require_object(payload)
    entity_type = _resolve_task_type(body.get(ODATA_TYPE, DEVICE_APP_MANAGEMENT_TASK.qualified_name))
    values = _read_entity(body, entity_type)
    return entity_type, {**defaults_for(entity_type), **values}


def validate_update(payload: object, current: EntityType) -> Values:
    """The properties a PATCH body changes on a task of type `current`."""
    body = _require_object(payload)
    payload_type = current
    if ODATA_TYPE in body:
        payload_type = _resolve_task_type(body[ODATA_TYPE])
        # A payload may name the task's own type or a base of it, never another type (README,
        # "Decisions where Graph's docs are silent or ambiguous").
        if payload_type not in current.ancestors():
            raise BadRequest(
                f"The type of a task cannot be changed: the task is a '{current.qualified_name}' "
                f"and the request body names '{payload_type.qualified_name}'."
            )
    return _read_entity(body, payload_type)


def validate_entity_create(payload: object, entity_type: EntityType) -> Values:
    """A create body for a navigation collection's entity type (no polymorphism there)."""
    body = _require_object(payload)
    _check_declared_type(body, entity_type)
    return {**defaults_for(entity_type), **_read_entity(body, entity_type)}


def validate_entity_update(payload: object, entity_type: EntityType) -> Values:
    """A PATCH body for a navigation collection's entity."""
    body = _require_object(payload)
    _check_declared_type(body, entity_type)
    return _read_entity(body, entity_type)


def _check_declared_type(body: Mapping[str, object], entity_type: EntityType) -> None:
    raw = body.get(ODATA_TYPE, entity_type.qualified_name)
    name = raw.removeprefix("#") if isinstance(raw, str) else str(raw)
    if name == entity_type.qualified_name:
        return
    if name in _ALL_ENTITY_TYPE_NAMES:
        raise BadRequest(
            f"The type '{name}' is not the type of this collection, '{entity_type.qualified_name}'."
        )
    raise _unresolved_type(name)


def validate_update_status(payload: object) -> tuple[str, str | None]:
    """The (status, note) parameters of the updateStatus action."""
    body = _require_object(payload)
    return _decode_or_check(decode_update_status, check_update_status, body)


def check_update_status(body: Mapping[str, object]) -> tuple[str, str | None]:
    """validate_update_status's reading in Python: slower than the codec, and the one that words the
    errors."""
    known = {p.name: p for p in UPDATE_STATUS.parameters}
    for key in body:
        if not _is_annotation(key) and key not in known:
            raise ModelValidationFailure(
                f"The parameter '{key}' in the request payload is not a valid parameter for the "
                f"operation '{UPDATE_STATUS.qualified_name}'."
            )
    status_param, note_param = known["status"], known["note"]
    status = _convert_scalar(status_param.type, body.get("status"), "status", nullable=False)
    note = _convert_scalar(note_param.type, body.get("note"), "note", nullable=True)
    assert isinstance(status, str)  # noqa: S101 - a non-nullable enum always converts to its member
    assert note is None or isinstance(note, str)  # noqa: S101
    return status, note


def defaults_for(entity_type: EntityType) -> Values:
    """What a create leaves in each settable property it does not name (Intune's .NET defaults)."""
    defaults, collections = _shared_defaults(entity_type)
    # A fresh empty list for each collection, so that no two results share one.
    return {**defaults, **{name: [] for name in collections}}


@cache
def _shared_defaults(entity_type: EntityType) -> tuple[Values, tuple[str, ...]]:
    settable = [p for p in entity_type.properties if not p.read_only]
    return {p.name: default_value(p) for p in settable}, tuple(p.name for p in settable if p.collection)


def _require_object(payload: object) -> dict[str, object]:
    if not isinstance(payload, dict):
        node = "StartArray" if isinstance(payload, list) else "PrimitiveValue"
        raise BadRequest(
            f"An unexpected '{node}' node was found when reading from the JSON reader. "
            "A 'StartObject' node was expected."
        )
    return payload


def _resolve_task_type(raw: object) -> EntityType:
    name = raw.removeprefix("#") if isinstance(raw, str) else str(raw)
    entity_type = TASK_TYPES_BY_NAME.get(name)
    if entity_type is None:
        raise _unresolved_type(name)
    return entity_type


def _unresolved_type(name: str) -> ModelValidationFailure:
    return ModelValidationFailure(
        f"A type named '{name}' could not be resolved by the model. "
        "When a model is available, each type name must resolve to a valid type."
    )


def _is_annotation(key: str) -> bool:
    return "@" in key


def _read_entity(body: dict[str, object], entity_type: EntityType) -> Values:
    return _decode_or_check(decode_entity, check_entity, body, entity_type)


def _decode_or_check(
    decode: Callable[_P, _T | None], check: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """The one place the codecs' verdicts (model/codecs.py) meet Graph's: a body a codec declines,
    valid or not, is read again in Python, which words the error exactly as Graph does (or takes the
    rare valid body the codec leaves to it)."""
    decoded = decode(*args, **kwargs)
    return check(*args, **kwargs) if decoded is None else decoded


def check_entity(body: Mapping[str, object], entity_type: EntityType) -> Values:
    """The values of the properties `body` sets on an `entity_type`, read in Python: slower than the
    codec (model/codecs.py), and the reading that words the errors."""
    values: Values = {}
    for key, raw in body.items():
        if _is_annotation(key) or entity_type.navigation_property(key):
            continue
        prop = entity_type.property(key)
        if prop is None:
            raise _unknown_property(key, entity_type.internal_name)
        if not prop.read_only:
            values[key] = _convert(prop, raw)
    return values


def _unknown_property(key: str, internal_type_name: str) -> ModelValidationFailure:
    return ModelValidationFailure(
        f"The property '{key}' does not exist on type '{internal_type_name}'. "
        "Make sure to only use property names that are defined by the type."
    )


def _convert(prop: Property, raw: object) -> Value:
    if not prop.collection:
        assert not isinstance(prop.type, ComplexType)  # noqa: S101 - the model has no single complex values
        return _convert_scalar(
            prop.type, raw, prop.name, nullable=prop.nullable, value_range=prop.value_range
        )
    if raw is None:  # a collection is never null, only empty
        raise _null_value(prop.name, prop.type_name)
    if not isinstance(raw, list):
        raise _not_convertible(raw, prop.type_name)
    return [_read_item(prop, item) for item in raw]


def _read_item(prop: Property, raw: object) -> ComplexValue | None:
    """An item of a collection: a complex value, or a null where the model allows null items."""
    assert isinstance(prop.type, ComplexType)  # noqa: S101 - every collection in the model is complex
    if raw is not None:
        return _read_complex(raw, prop.type)
    if prop.items_nullable:
        return None
    # ODataLib's wording for a null where a non-nullable type is expected.
    expected = f"{prop.type.qualified_name}[Nullable=False]"
    raise ModelValidationFailure(
        f"A null value was found with the expected type '{expected}'. The expected type '{expected}' "
        "does not allow null values."
    )


def _read_complex(raw: object, complex_type: ComplexType) -> ComplexValue:
    if not isinstance(raw, dict):
        raise _not_convertible(raw, complex_type.qualified_name)
    type_name = raw.get(ODATA_TYPE, complex_type.qualified_name)
    if not isinstance(type_name, str) or type_name.removeprefix("#") != complex_type.qualified_name:
        raise _unresolved_type(str(type_name).removeprefix("#"))
    value: ComplexValue = {}
    for key, item in raw.items():
        if _is_annotation(key):
            continue
        prop = complex_type.property(key)
        if prop is None:
            raise _unknown_property(key, complex_type.internal_name)
        value[key] = _convert(prop, item)  # type: ignore[assignment]  # complex types hold only scalars
    for prop in complex_type.properties:
        if prop.name not in value:
            value[prop.name] = _missing_complex_member(prop)
    return value


def _missing_complex_member(prop: Property) -> Scalar:
    if prop.nullable or prop.type is not STRING:
        default = default_value(prop)
        assert not isinstance(default, list)  # noqa: S101
        return default
    raise _null_value(prop.name, prop.type_name)


def _convert_scalar(
    edm_type: PrimitiveType | EnumType,
    raw: object,
    name: str,
    *,
    nullable: bool,
    value_range: tuple[int, int] | None = None,
) -> Scalar:
    type_name = edm_type.name if isinstance(edm_type, PrimitiveType) else edm_type.qualified_name
    if raw is None:
        if nullable:
            return None
        raise _null_value(name, type_name)
    if isinstance(edm_type, EnumType):
        return _convert_enum(edm_type, raw)
    if edm_type is INT32:
        return _convert_int32(raw, name, value_range)
    if not isinstance(raw, str):
        raise _not_convertible(raw, type_name)
    if edm_type is DATETIME_OFFSET:
        try:
            return edm.parse_datetime_offset(raw)
        except ValueError:
            raise _not_convertible(raw, type_name) from None
    unstorable = unstorable_character(raw)
    if unstorable is not None:
        # Refused on SQLite too, which could store it, so that both backends answer alike.
        raise ModelValidationFailure(
            f"The value of '{name}' contains the character {unstorable}, which is not allowed."
        )
    return raw


def unstorable_character(text: str) -> str | None:
    """The first character of `text` a text column cannot hold on PostgreSQL, as `U+0000`; None if
    there is none. Request bodies and $filter literals (odata/filter.py) are checked with it."""
    found = _UNSTORABLE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def _convert_enum(enum_type: EnumType, raw: object) -> str:
    if not isinstance(raw, str):
        raise _not_convertible(raw, enum_type.qualified_name)
    if raw not in enum_type.members:
        # .NET Enum.Parse's wording, as Intune returns it (docs/graph-behaviour.md, "Errors").
        raise ModelValidationFailure(f"Requested value '{raw}' was not found.")
    return raw


def _convert_int32(raw: object, name: str, value_range: tuple[int, int] | None) -> int:
    # bool is an int subclass in Python, but JSON true is not an Edm.Int32 literal.
    if isinstance(raw, bool) or not isinstance(raw, int) or not INT32_RANGE[0] <= raw <= INT32_RANGE[1]:
        raise _not_convertible(raw, INT32.name)
    if value_range and not value_range[0] <= raw <= value_range[1]:
        # .NET RangeAttribute's default message.
        raise ModelValidationFailure(
            f"The field {name} must be between {value_range[0]} and {value_range[1]}."
        )
    return raw


def _not_convertible(raw: object, type_name: str) -> ModelValidationFailure:
    # The stdlib encoder, unlike orjson, renders ints of any size.
    literal = raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"))
    return ModelValidationFailure(
        f"Cannot convert the literal '{literal}' to the expected type '{type_name}'."
    )


def _null_value(name: str, type_name: str) -> ModelValidationFailure:
    expected = f"{type_name}[Nullable=False]"
    return ModelValidationFailure(
        f"A null value was found for the property named '{name}', which has the expected type "
        f"'{expected}'. The expected type '{expected}' does not allow null values."
    )
