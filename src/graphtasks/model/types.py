"""The type system the Graph model is written in: EDM primitive types, enum, complex and entity types,
their properties and navigation properties, and bound actions.

Holds the classes and the EDM primitives only; the concrete types of the deviceAppManagementTask family
are model/schema.py's. Must not import from web/, auth/ or storage/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

# Every type below is a singleton, so its dataclass compares and hashes by identity (eq=False): the
# derived deep comparison would walk the whole type graph on every dict lookup.

NAMESPACE = "microsoft.graph"
# Intune's error messages name its internal namespace, not microsoft.graph
# (docs/graph-behaviour.md, "Resource family").
INTUNE_NAMESPACE = "microsoft.management.services.api"


@dataclass(frozen=True, eq=False)
class PrimitiveType:
    name: str


STRING = PrimitiveType("Edm.String")
INT32 = PrimitiveType("Edm.Int32")
DATETIME_OFFSET = PrimitiveType("Edm.DateTimeOffset")
# No property has it; $filter's Boolean values do.
BOOLEAN = PrimitiveType("Edm.Boolean")
# Every other non-spatial primitive type of the EDM (CSDL XML, primitive types): names a type name
# in $filter may use, though no value of this model has them.
_OTHER_PRIMITIVES = (
    "Binary Byte Date Decimal Double Duration Guid Int16 Int64 SByte Single Stream TimeOfDay".split()
)
PRIMITIVE_TYPES = (
    STRING,
    INT32,
    DATETIME_OFFSET,
    BOOLEAN,
    *(PrimitiveType(f"Edm.{name}") for name in _OTHER_PRIMITIVES),
)


@dataclass(frozen=True, eq=False)
class EnumType:
    name: str
    members: tuple[str, ...]

    @cached_property
    def qualified_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    def value_of(self, member: str) -> int:
        return self.members.index(member)


@dataclass(frozen=True, eq=False)
class Property:
    name: str
    type: PrimitiveType | EnumType | ComplexType
    # CSDL's Nullable facet, meaning what CSDL says (CSDL XML, the Nullable facet): for a single value,
    # whether it may be null; for a collection, whether the collection may contain null items. A
    # collection itself is never null, only empty. Read it as `value_nullable` and `items_nullable`.
    nullable: bool
    description: str
    collection: bool = False
    # Set by the server; a client may send it back (the SDK re-sends it on PATCH) and it is ignored.
    read_only: bool = False
    value_range: tuple[int, int] | None = None

    @cached_property
    def value_nullable(self) -> bool:
        """Whether the property's value may be null: never for a collection."""
        return self.nullable and not self.collection

    @cached_property
    def items_nullable(self) -> bool:
        """Whether a collection may hold null items (false for a single value, which has none)."""
        return self.nullable and self.collection

    @cached_property
    def type_name(self) -> str:
        """The EDM type as OData spells it, e.g. 'Collection(microsoft.graph.keyValuePair)'."""
        inner = self.type.name if isinstance(self.type, PrimitiveType) else self.type.qualified_name
        return f"Collection({inner})" if self.collection else inner


@dataclass(frozen=True, eq=False)
class ComplexType:
    name: str
    description: str
    properties: tuple[Property, ...]

    @cached_property
    def qualified_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    @cached_property
    def internal_name(self) -> str:
        return f"{INTUNE_NAMESPACE}.{self.name}"

    def property(self, name: str) -> Property | None:
        return next((p for p in self.properties if p.name == name), None)


@dataclass(frozen=True, eq=False)
class NavigationProperty:
    name: str
    target: str
    description: str


@dataclass(frozen=True, eq=False)
class EntityType:
    name: str
    description: str
    own_properties: tuple[Property, ...]
    base: EntityType | None = None
    navigation: tuple[NavigationProperty, ...] = ()

    @cached_property
    def qualified_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    @cached_property
    def odata_type(self) -> str:
        return f"#{self.qualified_name}"

    @cached_property
    def internal_name(self) -> str:
        return f"{INTUNE_NAMESPACE}.{self.name}"

    @cached_property
    def properties(self) -> tuple[Property, ...]:
        """Inherited properties first, in the docs' order, then this type's own."""
        inherited = self.base.properties if self.base else ()
        return inherited + self.own_properties

    def property(self, name: str) -> Property | None:
        return self._properties_by_name.get(name)

    @cached_property
    def _properties_by_name(self) -> dict[str, Property]:
        return {p.name: p for p in self.properties}

    def navigation_property(self, name: str) -> NavigationProperty | None:
        return next((n for n in self.navigation if n.name == name), None)

    def ancestors(self) -> Iterator[EntityType]:
        """This type, then its base, up to the root."""
        current: EntityType | None = self
        while current is not None:
            yield current
            current = current.base


ModelType = PrimitiveType | EnumType | ComplexType | EntityType


@dataclass(frozen=True, eq=False)
class ActionParameter:
    name: str
    type: PrimitiveType | EnumType
    nullable: bool
    # CSDL's Unicode facet of a string: False declares ASCII only. Graph declares the note so; nothing
    # says the service refuses other text, so validation does not read it.
    unicode: bool = True


@dataclass(frozen=True, eq=False)
class Action:
    """A bound OData action; the family's only one is model/schema.py's updateStatus
    (docs/graph-behaviour.md, "updateStatus")."""

    name: str
    binding: EntityType
    parameters: tuple[ActionParameter, ...]

    @cached_property
    def qualified_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"
