"""The types of model/schema.py as the Schema Objects of an OpenAPI 3.0 document (its JSON Schema).

Owns how each type is described under `#/components/schemas/`: an enum type as a string enum; a complex
type as one closed object, for both directions; a page of each entity type (`...CollectionResponse`);
the body of the updateStatus action (`...RequestBody`); and each entity type in two views:
- `microsoft.graph.<type>`: what answers carry, shaped as in Graph's own OpenAPI: open objects, derived
  types as `allOf` their base, polymorphism through the `@odata.type` discriminator, nothing required
  but `@odata.type` (under $select any other property may be absent);
- `microsoft.graph.<type>Create` and `...Update`: what a request body may hold, flattened and closed
  (`additionalProperties: false`), since the server refuses an unknown property with a 400 and JSON
  Schema cannot close an `allOf`. Read-only properties are listed as such: sent, they are ignored.
Also what an operation on a set of entity types reads or writes (a union of those views), the property
and navigation paths of a collection (the values of $select, $orderby and $expand), and the building
blocks (objects, strings, refs) web/openapi.py describes the rest with.

The instance annotations the serving layer adds to an entity (its ETag, the updateStatus note) are not
the model's: the caller names and describes them (`Annotations`).

Pure: builds dicts. Must not import from web/, auth/, storage/ or odata/: paths, operations, parameters,
responses, errors and security are web/openapi.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphtasks.model import schema as model
from graphtasks.model.types import (
    DATETIME_OFFSET,
    INT32,
    STRING,
    ComplexType,
    EntityType,
    EnumType,
    NavigationProperty,
    Property,
)

JSON = dict[str, Any]
_ODATA_TYPE = "@odata.type"
INT32_MAX = 2**31 - 1
_ENTITY_TYPES = (*model.TASK_TYPES, *model.NAVIGATION_TARGETS)
# OData's dateTimeOffsetValue in RFC 3339's form, with at most Graph's seven fractional digits and
# .NET's ±14:00 offsets: the form the server writes, and most of what model/edm.py reads (which also
# takes a time without seconds or offset, as the SDK sends it).
_DATETIME_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,7})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
)


@dataclass(frozen=True)
class Annotations:
    """The instance annotations the serving layer adds to entities, each name -> its description; all
    strings, all read-only."""

    read: Mapping[str, str]  # on every entity of an answer: a root type's read view, after @odata.type
    echoed: Mapping[str, str]  # what a request body may send back from an answer; ignored
    bound: Mapping[str, str]  # on the read view of updateStatus's binding type; may be null


def type_schemas(annotations: Annotations) -> JSON:
    """Every schema of the model, by component name: enums, complex types, each entity type's read
    view and page, then its create and update views, then updateStatus's body."""
    schemas: JSON = {
        e.qualified_name: {"title": e.name, "type": "string", "enum": [*e.members]} for e in model.ENUM_TYPES
    }
    schemas |= {c.qualified_name: _complex_schema(c) for c in model.COMPLEX_TYPES}
    for t in _ENTITY_TYPES:
        schemas[t.qualified_name] = _read_view(t, annotations)
        schemas[f"{t.qualified_name}CollectionResponse"] = {
            "title": f"{t.name} page",
            **_page(ref(t.qualified_name)),
        }
    for t in _ENTITY_TYPES:
        schemas[f"{t.qualified_name}Create"] = _write_view(t, annotations, update=False)
        schemas[f"{t.qualified_name}Update"] = _write_view(t, annotations, update=True)
    schemas[f"{model.UPDATE_STATUS.qualified_name}RequestBody"] = _action_schema()
    return schemas


def read_schema(types: Sequence[EntityType]) -> JSON:
    """What an answer holds: an entity of one of `types`, told apart by its `@odata.type`."""
    if len(types) == 1:
        return ref(types[0].qualified_name)
    return {"oneOf": [ref(t.qualified_name) for t in types], "discriminator": _discriminator(types)}


def write_schema(types: Sequence[EntityType], mode: str) -> JSON:
    """What a request body that creates (`mode` "Create") or updates ("Update") one of `types` holds."""
    refs = [ref(f"{t.qualified_name}{mode}") for t in types]
    if len(refs) == 1:
        return refs[0]
    # A create of a derived type must name it, so at most one create schema fits a body; an update, or
    # a create whose types need no @odata.type, may fit several (the task's own type decides).
    exclusive = mode == "Create" and sum(t.base is None for t in types) <= 1
    return {"oneOf" if exclusive else "anyOf": refs}


def page_schema(types: Sequence[EntityType]) -> JSON:
    """A page of a collection of entities of `types`."""
    if len(types) == 1:
        return ref(f"{types[0].qualified_name}CollectionResponse")
    return _page(read_schema(types))


def property_paths(types: Sequence[EntityType], *, casts: bool, orderable: bool) -> list[str]:
    """The properties of a collection of `types`; with `casts`, those the first type's derived types
    add, with their cast. A collection cannot be ordered by: `orderable` leaves collections out."""
    derived_types = _derived(types[0]) if casts else []
    named: list[tuple[EntityType | None, Property]] = [(None, p) for t in types for p in t.properties]
    named += [(d, p) for d in derived_types for p in d.own_properties]
    paths = [
        f"{d.qualified_name}/{p.name}" if d else p.name for d, p in named if not (orderable and p.collection)
    ]
    return list(dict.fromkeys(paths))


def navigation_paths(entity_type: EntityType) -> list[str]:
    """The navigations of `entity_type` and its derived types: a navigation's bare name names it on
    every type that has it, its cast form on one type."""
    family = [entity_type, *_derived(entity_type)]
    names = [n.name for t in family for n in t.navigation]
    return list(
        dict.fromkeys([*names, *(f"{t.qualified_name}/{n.name}" for t in family for n in t.navigation)])
    )


def _derived(entity_type: EntityType) -> list[EntityType]:
    """The entity types derived from `entity_type`, at any depth, in the model's order."""
    return [t for t in _ENTITY_TYPES if entity_type in t.ancestors() and t is not entity_type]


def _read_view(t: EntityType, annotations: Annotations) -> JSON:
    properties: JSON = {p.name: _property_schema(p) for p in t.own_properties}
    properties |= {n.name: _navigation_schema(t, n) for n in t.navigation}
    if t is model.UPDATE_STATUS.binding:
        properties |= {
            name: string(description=text, nullable=True, readOnly=True)
            for name, text in annotations.bound.items()
        }
    if t.base is not None:
        # A derived type does not narrow @odata.type: code generators refuse a redefined property.
        own = {"type": "object", "properties": properties}
        return {"title": t.name, "description": t.description, "allOf": [ref(t.base.qualified_name), own]}
    family = [t, *_derived(t)]
    values: JSON = {_ODATA_TYPE: {"type": "string", "enum": [d.odata_type for d in family]}}
    values |= {name: string(description=text, readOnly=True) for name, text in annotations.read.items()}
    schema = object_schema(t.name, t.description, values | properties, required=[_ODATA_TYPE])
    return schema | ({"discriminator": _discriminator(family)} if len(family) > 1 else {})


def _write_view(t: EntityType, annotations: Annotations, *, update: bool) -> JSON:
    # A PATCH may name the task's own type or a base of it (model/validation.py: validate_update).
    names = [a.qualified_name for a in (t.ancestors() if update else (t,))]
    properties: JSON = {_ODATA_TYPE: {"type": "string", "enum": [*(f"#{n}" for n in names), *names]}}
    properties |= {name: string(description=text, readOnly=True) for name, text in annotations.echoed.items()}
    properties |= {p.name: _property_schema(p) for p in t.properties}
    properties |= {n.name: _navigation_schema(t, n) for n in t.navigation}
    required = [_ODATA_TYPE] if not update and t.base is not None else []  # without it: the base type
    mode = "update" if update else "create"
    description = f"A request body that {mode}s a {t.name}; read-only properties are ignored."
    return object_schema(f"{t.name} ({mode})", description, properties, required=required, closed=True)


def _complex_schema(c: ComplexType) -> JSON:
    """One schema for both directions: the server writes every member, and a request may leave out all
    but the non-nullable strings, which have no default (model/validation.py: _missing_complex_member)."""
    properties: JSON = {_ODATA_TYPE: {"type": "string", "enum": [f"#{c.qualified_name}", c.qualified_name]}}
    properties |= {p.name: _property_schema(p) for p in c.properties}
    required = [p.name for p in c.properties if not p.value_nullable and p.type is STRING]
    return object_schema(c.name, c.description, properties, required=required, closed=True)


def _action_schema() -> JSON:
    action = model.UPDATE_STATUS
    parameters = [Property(p.name, p.type, p.nullable, f"The {p.name}.") for p in action.parameters]
    properties = {p.name: _property_schema(p) for p in parameters}
    required = [p.name for p in parameters if not p.nullable]
    title, description = f"{action.name} parameters", f"The parameters of {action.qualified_name}."
    return object_schema(title, description, properties, required=required, closed=True)


def _property_schema(p: Property) -> JSON:
    if p.collection:  # never null, only empty; its items may be (model/validation.py)
        items = {"anyOf": [_type_schema(p), _NULL_ONLY]} if p.items_nullable else _type_schema(p)
        return {"type": "array", "description": p.description, "items": items}
    if isinstance(p.type, EnumType | ComplexType):
        assert not p.value_nullable  # noqa: S101 - the model's enum-typed properties are all non-nullable
        return _type_schema(p)
    schema = {**_type_schema(p), "description": p.description}
    return (
        schema
        | ({"nullable": True} if p.value_nullable else {})
        | ({"readOnly": True} if p.read_only else {})
    )


# A null and nothing else. OpenAPI 3.0.3 has `nullable` add null only to the types `type` names, and a
# `$ref` takes no siblings, so a nullable reference is an anyOf with this. Graph's own documents use
# `{"type": "object", "nullable": true}` there, which takes any object too; `enum` keeps it to null.
_NULL_ONLY: JSON = {"type": "object", "nullable": True, "enum": [None]}


def _type_schema(p: Property) -> JSON:
    if isinstance(p.type, EnumType | ComplexType):
        return ref(p.type.qualified_name)
    if p.type is INT32:
        low, high = p.value_range or (-INT32_MAX - 1, INT32_MAX)
        return {"type": "integer", "format": "int32", "minimum": low, "maximum": high}
    datetime = string("date-time", pattern=_DATETIME_PATTERN)
    return {STRING: string(), DATETIME_OFFSET: datetime}[p.type]


def _navigation_schema(owner: EntityType, navigation: NavigationProperty) -> JSON:
    target = model.navigation_target(owner, navigation.name)
    assert target is not None  # noqa: S101 - the owner's own navigation
    text = f"{navigation.description} Returned under $expand; ignored in a request body."
    return {"type": "array", "readOnly": True, "description": text, "items": ref(target.qualified_name)}


# --- building blocks ---


def _page(item: JSON) -> JSON:
    """A page of a collection whose items are `item`."""
    properties = {
        "@odata.context": string(),
        "@odata.count": {"type": "integer", "format": "int64", "minimum": 0},
        "@odata.nextLink": string("uri", description="The next page; absent on the last one."),
        "value": {"type": "array", "items": item},
    }
    return {"type": "object", "required": ["@odata.context", "value"], "properties": properties}


def object_schema(
    title: str, description: str, properties: JSON, *, required: list[str], closed: bool = False
) -> JSON:
    schema: JSON = {"title": title, "description": description, "type": "object"}
    schema |= {"additionalProperties": False} if closed else {}
    return schema | ({"required": required} if required else {}) | {"properties": properties}


def string(format_: str | None = None, **keywords: Any) -> JSON:
    return {"type": "string"} | ({"format": format_} if format_ else {}) | keywords


def _discriminator(types: Iterable[EntityType]) -> JSON:
    """The `@odata.type` discriminator between `types`, each value mapped to its read view."""
    return {
        "propertyName": _ODATA_TYPE,
        "mapping": {t.odata_type: ref(t.qualified_name)["$ref"] for t in types},
    }


def ref(name: str) -> JSON:
    """A reference to the schema `name` of the document's components."""
    return {"$ref": f"#/components/schemas/{name}"}
