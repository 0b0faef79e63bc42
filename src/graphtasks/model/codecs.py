"""Request-body codecs generated from the model: a msgspec Struct per entity type, per complex type and
for updateStatus's parameters, each built on first use from model/types.py's definitions.

A codec reads the common valid body in C and gives the canonical values model/validation.py gives (its
docstring says what they are). It declines, returning None, every body it does not take: each invalid
one, and the rare valid ones using what it leaves out on purpose (annotations other than `@odata.type`).
It never raises a Graph error nor words one: validation.py, which reads each declined body again, does.

Reads only the model; never touches HTTP or storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import msgspec
import orjson

from graphtasks.model import edm
from graphtasks.model.schema import UPDATE_STATUS
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

if TYPE_CHECKING:
    from graphtasks.model.validation import Value, Values

ODATA_TYPE = "@odata.type"
INT32_RANGE = (-(2**31), 2**31 - 1)
# The Python name of the field `@odata.type` is decoded into; no property of the model has it.
_TYPE_FIELD = "odata_type"
# A field as msgspec.defstruct takes it: (name, annotation), or (name, annotation, default).
_Field = tuple[str, Any] | tuple[str, Any, Any]


def default_value(prop: Property) -> Value:
    """What a property holds when a create or a complex value leaves it out (Intune's .NET defaults)."""
    if prop.collection:
        return []  # OData collections are never null, only empty.
    if prop.nullable:
        return None
    if isinstance(prop.type, EnumType):
        return prop.type.members[0]
    return {INT32: 0, DATETIME_OFFSET: edm.MIN_TICKS}[prop.type]  # type: ignore[index]


def decode_entity(body: dict[str, object], entity_type: EntityType) -> Values | None:
    """The values of the properties `body` sets on an `entity_type`; None if the codec declines it."""
    if _may_hold_unstorable_text(body):
        return None
    codec = entity_codec(entity_type)
    try:
        return codec.finish(msgspec.to_builtins(msgspec.convert(body, codec.struct)))
    # msgspec's ValidationError is a ValueError, as edm's is; to_builtins' TypeError means a value no
    # JSON parser yields, from a direct caller.
    except (ValueError, TypeError):
        return None


def decode_update_status(body: dict[str, object]) -> tuple[str, str | None] | None:
    """updateStatus's (status, note); None if the codec declines the body."""
    if _may_hold_unstorable_text(body):
        return None
    try:
        parameters = msgspec.convert(body, update_status_struct())
    except ValueError:
        return None
    return parameters.status, parameters.note  # type: ignore[attr-defined]


@dataclass(frozen=True)
class EntityCodec:
    """An entity type's Struct, and how its decoded fields become canonical values."""

    struct: type[msgspec.Struct]
    # Decoded to be accepted, then dropped: `@odata.type`, the read-only and the navigation properties.
    ignored: frozenset[str]
    datetimes: tuple[str, ...]
    # Each complex collection, with its items' DateTimeOffset members.
    collections: tuple[tuple[str, tuple[str, ...]], ...]

    def finish(self, values: dict[str, Any]) -> Values:
        """The canonical values, from the decoded Struct's builtins (to_builtins leaves unset fields out)."""
        if not self.ignored.isdisjoint(values):
            for name in self.ignored.intersection(values):
                del values[name]
        _parse_datetimes(values, self.datetimes)
        for name, datetimes in self.collections:
            if name in values:
                _finish_items(values[name], datetimes)
        return values


@cache
def entity_codec(entity_type: EntityType) -> EntityCodec:
    settable = [p for p in entity_type.properties if not p.read_only]
    ignored = [p.name for p in entity_type.properties if p.read_only]
    ignored += [n.name for n in entity_type.navigation]
    fields: list[_Field] = [(_TYPE_FIELD, Any, msgspec.UNSET)]
    fields += [(name, Any, msgspec.UNSET) for name in ignored]
    fields += [(p.name, _member_type(p) | msgspec.UnsetType, msgspec.UNSET) for p in settable]
    return EntityCodec(
        struct=_struct(entity_type.name, fields),
        ignored=frozenset([ODATA_TYPE, *ignored]),
        datetimes=_datetime_names(p for p in settable if not p.collection),
        collections=tuple(
            (p.name, _datetime_names(cast(ComplexType, p.type).properties)) for p in settable if p.collection
        ),
    )


@cache
def update_status_struct() -> type[msgspec.Struct]:
    fields: list[_Field] = []
    for parameter in UPDATE_STATUS.parameters:
        annotation = _scalar_type(parameter.type)
        # A missing non-nullable parameter is a null one, which the codec declines.
        fields.append(
            (parameter.name, annotation | None, None) if parameter.nullable else (parameter.name, annotation)
        )
    return _struct(UPDATE_STATUS.name, fields)


@cache
def complex_struct(complex_type: ComplexType) -> type[msgspec.Struct]:
    names = (complex_type.qualified_name, f"#{complex_type.qualified_name}")
    fields: list[_Field] = [(_TYPE_FIELD, Literal[names] | msgspec.UnsetType, msgspec.UNSET)]
    fields += [_complex_member(p) for p in complex_type.properties]
    return _struct(complex_type.name, fields)


def _complex_member(prop: Property) -> _Field:
    if not prop.nullable and prop.type is STRING:
        return prop.name, _member_type(prop)  # a missing one is a null one, which the codec declines
    # A DateTimeOffset field holds the text the body sent, or this default, already in ticks: finish
    # parses only text.
    return prop.name, _member_type(prop), default_value(prop)


def _member_type(prop: Property) -> Any:
    if prop.collection:
        item = complex_struct(cast(ComplexType, prop.type))
        return list[item | None] if prop.items_nullable else list[item]  # type: ignore[valid-type]
    value = _scalar_type(cast(PrimitiveType | EnumType, prop.type), prop.value_range)
    return value | None if prop.nullable else value


def _scalar_type(edm_type: PrimitiveType | EnumType, value_range: tuple[int, int] | None = None) -> Any:
    if isinstance(edm_type, EnumType):
        return Literal[edm_type.members]  # canonical: the member's name, as sent
    if edm_type is INT32:
        low, high = value_range or INT32_RANGE
        return Annotated[int, msgspec.Meta(ge=max(low, INT32_RANGE[0]), le=min(high, INT32_RANGE[1]))]
    if edm_type is DATETIME_OFFSET:
        return str  # parsed into ticks by finish, with edm's rules
    assert edm_type is STRING  # noqa: S101 - the model's values have no other primitive type
    return str  # its characters were checked before decoding: _may_hold_unstorable_text


def _struct(name: str, fields: list[_Field]) -> type[msgspec.Struct]:
    return msgspec.defstruct(
        name, fields, kw_only=True, forbid_unknown_fields=True, rename={_TYPE_FIELD: ODATA_TYPE}
    )


def _datetime_names(properties: Iterable[Property]) -> tuple[str, ...]:
    return tuple(p.name for p in properties if p.type is DATETIME_OFFSET)


def _finish_items(items: list[dict[str, Any] | None], datetimes: tuple[str, ...]) -> None:
    for item in items:
        if item is not None:
            item.pop(ODATA_TYPE, None)
            _parse_datetimes(item, datetimes)


def _parse_datetimes(values: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        text = values.get(name)
        if isinstance(text, str):
            values[name] = edm.parse_datetime_offset(text)


def _may_hold_unstorable_text(body: dict[str, object]) -> bool:
    """Whether some text in `body` may hold a character validation.py refuses (U+0000 or a surrogate).

    One pass over the body in C, where a pattern per string field would cost a call into `re` each.
    orjson refuses to encode a surrogate, and writes U+0000 as the escape `\\u0000`; text that holds
    that escape's six characters is taken for one too, which only sends its body the slow way.
    """
    try:
        return b"\\u0000" in orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError, a TypeError: a surrogate, or an int past 64 bits
        return True
