"""Bind a $filter tree (odata/ast.py) to the model and translate it into a SQLAlchemy Core clause.

Knows the column map and OData's semantics; never parses text and never reads HTTP. Decisions:
- OData compares with two-valued logic (`null eq null` is true, `x gt null` is false, `not` of a false
  comparison is true), so every predicate built here is NULL-free: nullable operands get explicit
  IS [NOT] NULL guards. Non-nullable columns compared with a literal stay plain, so indexes apply.
- Enums compare by member value; strings by code point (tables.py's collation); datetimes as ticks.
- A derived type's property must be reached through a cast (`microsoft.graph.securityConfigurationTask/
  managedDeviceCount`) or on a type-cast segment; on the base collection the bare name is unknown, as
  for ODataLib. A cast on a row of another type yields null.
- startswith/endswith/contains are case-sensitive, as OData says (engine.py makes SQLite's LIKE so).
- `isof(T)` and `isof($it, T)` test the entity's type; `isof(x, T)` tests a value: true when it is not
  null and its declared type is T (so `isof(displayName, Edm.Int64)` is false). T is a qualified type
  name, unquoted (OData's ABNF) or quoted (ODataLib's older form); a name the model cannot resolve is a
  400. `$it` is the entity being filtered, inside a lambda too.
- any is false and all true over an empty collection, and over a cast collection on a row of another
  type (null, read as empty).
- A collection's items may be null where the model says so (intendedSettings, unmanagedDevices). A
  lambda variable on such an item is null: `s eq null` and `not isof(s, T)` find it, and a member of
  it, `s/name`, is null, as OData's path evaluation has a property of null be null. A null item is
  an item like any other, judged by what the predicate says of it: `any()` counts it, `any(s: s/name
  eq 'x')` skips it and `all(s: s/name eq 'x')` fails on it, since `null eq 'x'` is false, while
  `all(s: s/value eq null)` holds for it. A lambda variable compares with null only.
Errors are 400s in ODataLib's wording.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, ColumnElement, and_, case, exists, false, func, literal
from sqlalchemy.sql import not_, or_, select, true

from graphtasks.errors import BadRequest
from graphtasks.model.schema import resolve_type
from graphtasks.model.types import BOOLEAN, STRING, ComplexType, EntityType
from graphtasks.odata.ast import BoolOp, Call, Compare, In, Lambda, Literal, Member, Node, Not, TypeName
from graphtasks.storage.comparisons import (
    Typed,
    coerce,
    compare,
    guard_nulls,
    incompatible,
    is_null,
    literal_value,
    operand_type_name,
)
from graphtasks.storage.dialect import (
    json_elements,
    json_item_text,
    json_member,
    unicode_lower,
    unicode_upper,
)

# The implicit variable: the entity being filtered (OData ABNF: implicitVariableExpr).
IT = "$it"


@dataclass(frozen=True)
class Source:
    """An entity set as SQL sees it: where names resolve and which columns hold them."""

    entity_type: EntityType  # the collection's type, or the type-cast segment's
    columns: Mapping[str, Column[Any]]  # wire name -> column, `id` included
    dialect: str
    # Polymorphic sets: the column naming each row's type, and the types the set may hold.
    type_column: Column[Any] | None = None
    types: tuple[EntityType, ...] = ()


@dataclass(frozen=True)
class _Scope:
    """A lambda variable: the element alias of the collection it ranges over."""

    element: ColumnElement[Any]
    complex_type: ComplexType
    nullable: bool  # whether the collection may hold null items (the model's items_nullable)


@dataclass
class FilterTranslator:
    source: Source
    scopes: dict[str, _Scope] = field(default_factory=dict)

    def predicate(self, node: Node) -> ColumnElement[bool]:
        """A NULL-free SQL boolean for a $filter expression."""
        visit: Callable[[Any], ColumnElement[bool]] | None = getattr(
            self, f"visit_{type(node).__name__}", None
        )
        if visit is not None:
            return visit(node)
        value = self.value(node)
        if value.type is BOOLEAN and value.literal is not None:
            return true() if value.literal.value else false()
        raise BadRequest(f"The expression '{node}' is not a Boolean; $filter needs a Boolean expression.")

    # --- Boolean nodes ---

    def visit_BoolOp(self, node: BoolOp) -> ColumnElement[bool]:
        # A chain (a or b or c ...) becomes one flat OR: no recursion per link, here or in SQLAlchemy.
        join = and_ if node.op == "and" else or_
        return join(*(self.predicate(operand) for operand in _chain(node)))

    def visit_Not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.predicate(node.operand))

    def visit_Compare(self, node: Compare) -> ColumnElement[bool]:
        if _is_boolean_node(node.left) or _is_boolean_node(node.right):
            return self._compare_booleans(node)
        left, right = self.value(node.left), self.value(node.right)
        # A literal goes to the right (a null literal before any other value), so it can be typed by
        # what it is compared with.
        if left.literal is not None and (right.literal is None or left.literal.kind == "null"):
            left, right = right, left
            node = Compare(_MIRROR[node.op], node.right, node.left)
        right = coerce(right, left, node.op)
        if isinstance(left.type, ComplexType) and node.op not in {"eq", "ne"}:
            raise incompatible(
                operand_type_name(left), operand_type_name(right), node.op
            )  # complex values do not order
        return compare(node.op, left, right)

    def visit_In(self, node: In) -> ColumnElement[bool]:
        """`x in (...)`: a real IN of the non-null literals (an OR of equalities would grow SQLite's
        expression tree past its depth limit near 1,000 items), OR'd with `eq` for any other item."""
        left = self.value(node.left)
        items = [coerce(self.value(item), left, "eq") for item in node.items]
        listed = [i.sql for i in items if i.literal is not None and i.literal.kind != "null"]
        if left.literal is not None or len(listed) < 2:
            return or_(false(), *(compare("eq", left, item) for item in items))
        others = [compare("eq", left, i) for i in items if i.literal is None or i.literal.kind == "null"]
        return or_(guard_nulls(left.sql.in_(listed), left), *others)

    def visit_Call(self, node: Call) -> ColumnElement[bool]:
        if node.name == "isof":
            return self._isof(node)
        if node.name in {"startswith", "endswith", "contains"}:
            text, pattern = (self._string(arg, node.name) for arg in _arity(node, 2))
            return guard_nulls(_like(node.name, text, pattern), text, pattern)
        self.value(node)  # a known function that is not Boolean, or an unknown one: value() says which
        raise BadRequest(
            f"The function '{node.name}' does not return a Boolean; $filter needs a Boolean expression."
        )

    def visit_Lambda(self, node: Lambda) -> ColumnElement[bool]:
        collection = self.value(node.collection)
        if collection.collection is None or not isinstance(collection.type, ComplexType):
            raise BadRequest(
                f"The '{node.op}' operator needs a collection, and '{node.collection}' is not one."
            )
        if self.scopes:
            # ASP.NET OData's default MaxAnyAllExpressionDepth is 1, and its wording.
            raise BadRequest(
                "The query specified in the URI is not valid. The Any/All nesting limit of '1' has been "
                "exceeded. 'MaxAnyAllExpressionDepth' can be configured on ODataQuerySettings or "
                "EnableQueryAttribute."
            )
        elements = json_elements(self.source.dialect, collection.sql)
        rows = select(literal(1)).select_from(elements)
        if node.predicate is None:
            return exists(rows)  # a null item is an item: [null] is not empty
        assert node.variable is not None  # noqa: S101 - the parser pairs a predicate with its variable
        scope = _Scope(elements.c.value, collection.type, collection.collection.items_nullable)
        inner = FilterTranslator(self.source, {**self.scopes, node.variable: scope})
        # NULL-free, like every predicate here, so NOT EXISTS (... NOT condition) is "all": a null item
        # counts as any other, by what the predicate says of it.
        condition = inner.predicate(node.predicate)
        if node.op == "any":
            return exists(rows.where(condition))
        return not_(exists(rows.where(not_(condition))))

    # --- values ---

    def value(self, node: Node) -> Typed:
        if isinstance(node, Literal):
            return literal_value(node)
        if isinstance(node, Member):
            return self.member(node.segments)
        if isinstance(node, Call):
            return self._string_function(node)
        raise BadRequest(f"The expression '{node}' cannot be used as a value here.")

    def member(self, segments: tuple[str, ...]) -> Typed:
        """Resolve a property path: a lambda variable or its member, a cast path, or a property."""
        head, *rest = segments
        if head == IT:
            if not rest:
                raise BadRequest(
                    f"'{IT}' is the entity itself: it can be isof's first argument, not a value."
                )
            # The outer entity even inside a lambda, so the lambda's variables are out of scope.
            return FilterTranslator(self.source).member(tuple(rest))
        if head in self.scopes:
            return self._element_member(self.scopes[head], rest)
        if "." in head:
            return self._cast_member(head, rest)
        if rest:
            raise BadRequest(f"The path '{'/'.join(segments)}' does not name a single property.")
        return self._property(self.source.entity_type, head, guard=None)

    def _element_member(self, scope: _Scope, rest: list[str]) -> Typed:
        if not rest:
            return Typed(json_item_text(scope.element), scope.complex_type, scope.nullable)
        if len(rest) != 1:
            raise BadRequest("A lambda variable must be followed by one property name, or by none.")
        prop = scope.complex_type.property(rest[0])
        if prop is None:
            raise _unknown_property(rest[0], scope.complex_type.qualified_name)
        assert not isinstance(prop.type, ComplexType)  # noqa: S101 - complex types here hold primitives only
        # A member of a null item reads as null (both backends' JSON accessors give NULL).
        nullable = prop.value_nullable or scope.nullable
        return Typed(json_member(self.source.dialect, scope.element, prop), prop.type, nullable)

    def _cast_member(self, type_name: str, rest: list[str]) -> Typed:
        cast_type = self._resolve_cast(type_name)
        if len(rest) != 1:
            raise BadRequest(f"A type cast to '{type_name}' must be followed by one property name.")
        if self.source.entity_type in cast_type.ancestors():
            guard = None if cast_type is self.source.entity_type else cast_type
            return self._property(cast_type, rest[0], guard=guard)
        raise BadRequest(
            f"The type '{type_name}' is not derived from '{self.source.entity_type.qualified_name}'."
        )

    def _resolve_cast(self, type_name: str) -> EntityType:
        for candidate in self.source.types or (self.source.entity_type,):
            if candidate.qualified_name == type_name:
                return candidate
        raise _unresolved_type(type_name)

    def _property(self, entity_type: EntityType, name: str, *, guard: EntityType | None) -> Typed:
        prop = entity_type.property(name)
        if prop is None:
            raise _unknown_property(name, entity_type.qualified_name)
        column: ColumnElement[Any] = self.source.columns[name]
        nullable = prop.value_nullable or guard is not None
        if guard is not None:
            assert self.source.type_column is not None  # noqa: S101 - casts need a polymorphic set
            # On a row of another type the cast yields null (OData URL conventions §4.11).
            column = case((self.source.type_column == guard.qualified_name, column))
        return Typed(column, prop.type, nullable, collection=prop if prop.collection else None)

    def _string_function(self, node: Call) -> Typed:
        if node.name not in {"tolower", "toupper"}:
            if node.name in {"startswith", "endswith", "contains", "isof"}:
                raise BadRequest(
                    f"The function '{node.name}' returns a Boolean and cannot be used as a value."
                )
            raise BadRequest(
                f"An unknown function with name '{node.name}' was found. This may also be a function import "
                "or a key lookup on a navigation property, which is not allowed."
            )
        (arg,) = _arity(node, 1)
        text = self._string(arg, node.name)
        sql = (unicode_lower if node.name == "tolower" else unicode_upper)(self.source.dialect, text.sql)
        return Typed(sql, STRING, text.nullable)

    def _string(self, node: Node, function: str) -> Typed:
        value = self.value(node)
        if value.type is not STRING or value.collection is not None:
            raise BadRequest(f"The function '{function}' needs Edm.String arguments; '{node}' is not one.")
        return value

    def _isof(self, node: Call) -> ColumnElement[bool]:
        """isof([expression,] type), as OData's URL conventions define it (Type Functions, isof)."""
        if len(node.args) not in {1, 2}:
            raise BadRequest(f"The function 'isof' takes 1 or 2 argument(s), not {len(node.args)}.")
        *tested, type_arg = node.args
        type_name = _isof_type_name(type_arg)
        if not tested or tested[0] == Member((IT,)):
            return self._entity_isof(type_name)
        value = self.value(tested[0])
        if value.collection is not None:
            raise BadRequest(f"The function 'isof' tests a single value, and '{tested[0]}' is a collection.")
        target = resolve_type(type_name)
        if target is None:
            raise _unresolved_type(type_name)
        # A value's type is its declared one (a null is of no type), and no type of the model
        # but the entity types derives from another.
        return not_(is_null(value)) if target is value.type else false()

    def _entity_isof(self, type_name: str) -> ColumnElement[bool]:
        target = self._resolve_cast(type_name)
        if target in self.source.entity_type.ancestors():
            return true()
        if self.source.type_column is None:
            return false()
        names = [t.qualified_name for t in self.source.types if target in t.ancestors()]
        return self.source.type_column.in_(names)

    def _compare_booleans(self, node: Compare) -> ColumnElement[bool]:
        if node.op not in {"eq", "ne"}:
            raise incompatible("Edm.Boolean", "Edm.Boolean", node.op)
        left, right = self.predicate(node.left), self.predicate(node.right)
        # Both sides are NULL-free, so SQL's `=` on them is OData's. Spelled as (l AND r) OR (NOT l AND
        # NOT r) each side would appear twice, and nested comparisons would double the SQL per level.
        equal = left.self_group() == right.self_group()
        return equal if node.op == "eq" else not_(equal)


def _like(function: str, text: Typed, pattern: Typed) -> ColumnElement[bool]:
    """startswith/endswith/contains with %, _ and / in the pattern matching themselves: a literal
    pattern is escaped by SQLAlchemy (autoescape, escape '/'), one read from a column in SQL."""
    match: Callable[..., ColumnElement[bool]] = getattr(text.sql, function)
    if pattern.literal is not None:
        return match(str(pattern.literal.value), autoescape=True)
    return match(_like_escaped(pattern.sql), escape="/")


def _chain(node: BoolOp) -> list[Node]:
    """The operands of a chain of one operator, left to right, found with a stack, not recursion."""
    operands: list[Node] = []
    pending: list[Node] = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, BoolOp) and item.op == node.op:
            pending += [item.right, item.left]
        else:
            operands.append(item)
    return operands


def _like_escaped(pattern: ColumnElement[Any]) -> ColumnElement[Any]:
    """`pattern` with LIKE's wildcards and the escape character '/' escaped, in SQL."""
    escaped = func.replace(pattern, "/", "//")
    return func.replace(func.replace(escaped, "%", "/%"), "_", "/_")


_MIRROR = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


def _is_boolean_node(node: Node) -> bool:
    if isinstance(node, Literal):
        return node.kind == "bool"
    if isinstance(node, Call):
        return node.name in {"startswith", "endswith", "contains", "isof"}
    return isinstance(node, BoolOp | Not | Compare | In | Lambda)


def _arity(node: Call, count: int) -> tuple[Node, ...]:
    if len(node.args) != count:
        raise BadRequest(f"The function '{node.name}' takes {count} argument(s), not {len(node.args)}.")
    return node.args


def _isof_type_name(node: Node) -> str:
    """The type isof names: unquoted, as OData's ABNF has it, or quoted, as ODataLib also takes it."""
    if isinstance(node, TypeName):
        return node.name
    if isinstance(node, Literal) and node.kind == "string" and isinstance(node.value, str):
        return node.value
    raise BadRequest(
        f"The last argument of isof must be a qualified type name, e.g. isof(microsoft.graph.x); "
        f"'{node}' is not one."
    )


def _unresolved_type(type_name: str) -> BadRequest:
    return BadRequest(f"The type '{type_name}' could not be resolved by the model.")


def _unknown_property(name: str, type_name: str) -> BadRequest:
    return BadRequest(f"Could not find a property named '{name}' on type '{type_name}'.")
