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
Errors are 400s in ODataLib's wording.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, ColumnElement, and_, case, exists, false, func, literal
from sqlalchemy.sql import not_, or_, select, true

from graphtasks.errors import BadRequest
from graphtasks.model.schema import (
    DATETIME_OFFSET,
    INT32,
    STRING,
    ComplexType,
    EntityType,
    EnumType,
    PrimitiveType,
    Property,
)
from graphtasks.odata.ast import BoolOp, Call, Compare, In, Lambda, Literal, Member, Node, Not
from graphtasks.storage.dialect import json_elements, json_member, unicode_lower, unicode_upper

BOOLEAN = PrimitiveType("Edm.Boolean")
NULL = PrimitiveType("null")
_OPERATOR_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_LITERAL_TYPES = {"string": STRING, "int": INT32, "datetime": DATETIME_OFFSET, "null": NULL, "bool": BOOLEAN}
# Literals typed only by what they are compared with; named so in messages.
_UNTYPED_LITERALS = {"decimal": "Edm.Decimal", "date": "Edm.Date", "guid": "Edm.Guid"}


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
class Typed:
    sql: ColumnElement[Any]
    type: PrimitiveType | EnumType | ComplexType
    nullable: bool
    # For a complex collection: the property, so any/all can walk it.
    collection: Property | None = None
    literal: Literal | None = None


@dataclass(frozen=True)
class _Scope:
    """A lambda variable: the element alias of the collection it ranges over."""

    element: ColumnElement[Any]
    complex_type: ComplexType


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
        right = _coerce(right, left, node.op)
        return _compare(node.op, left, right)

    def visit_In(self, node: In) -> ColumnElement[bool]:
        """`x in (...)`: a real IN of the non-null literals (an OR of equalities would grow SQLite's
        expression tree past its depth limit near 1,000 items), OR'd with `eq` for any other item."""
        left = self.value(node.left)
        items = [_coerce(self.value(item), left, "eq") for item in node.items]
        listed = [i.sql for i in items if i.literal is not None and i.literal.kind != "null"]
        if left.literal is not None or len(listed) < 2:
            return or_(false(), *(_compare("eq", left, item) for item in items))
        others = [_compare("eq", left, i) for i in items if i.literal is None or i.literal.kind == "null"]
        return or_(_guard_nulls(left.sql.in_(listed), left), *others)

    def visit_Call(self, node: Call) -> ColumnElement[bool]:
        if node.name == "isof":
            return self._isof(node)
        if node.name in {"startswith", "endswith", "contains"}:
            text, pattern = (self._string(arg, node.name) for arg in _arity(node, 2))
            return _guard_nulls(_like(node.name, text, pattern), text, pattern)
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
            return exists(rows)
        assert node.variable is not None  # noqa: S101 - the parser pairs a predicate with its variable
        inner = FilterTranslator(
            self.source, {**self.scopes, node.variable: _Scope(elements.c.value, collection.type)}
        )
        condition = inner.predicate(node.predicate)
        if node.op == "any":
            return exists(rows.where(condition))
        return not_(exists(rows.where(not_(condition))))

    # --- values ---

    def value(self, node: Node) -> Typed:
        if isinstance(node, Literal):
            return _literal(node)
        if isinstance(node, Member):
            return self.member(node.segments)
        if isinstance(node, Call):
            return self._string_function(node)
        raise BadRequest(f"The expression '{node}' cannot be used as a value here.")

    def member(self, segments: tuple[str, ...]) -> Typed:
        """Resolve a property path: a lambda variable's member, a cast path, or a property."""
        head, *rest = segments
        if head in self.scopes:
            return self._element_member(self.scopes[head], rest)
        if "." in head:
            return self._cast_member(head, rest)
        if rest:
            raise BadRequest(f"The path '{'/'.join(segments)}' does not name a single property.")
        return self._property(self.source.entity_type, head, guard=None)

    def _element_member(self, scope: _Scope, rest: list[str]) -> Typed:
        if len(rest) != 1:
            raise BadRequest("A lambda variable must be followed by one property name.")
        prop = scope.complex_type.property(rest[0])
        if prop is None:
            raise _unknown_property(rest[0], scope.complex_type.qualified_name)
        assert not isinstance(prop.type, ComplexType)  # noqa: S101 - complex types here hold primitives only
        return Typed(json_member(self.source.dialect, scope.element, prop), prop.type, nullable=True)

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
        raise BadRequest(f"The type '{type_name}' could not be resolved by the model.")

    def _property(self, entity_type: EntityType, name: str, *, guard: EntityType | None) -> Typed:
        prop = entity_type.property(name)
        if prop is None:
            raise _unknown_property(name, entity_type.qualified_name)
        column: ColumnElement[Any] = self.source.columns[name]
        nullable = prop.nullable or guard is not None
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
        (arg,) = _arity(node, 1)
        if not (isinstance(arg, Literal) and arg.kind == "string" and isinstance(arg.value, str)):
            raise BadRequest("isof takes one argument: a quoted type name, e.g. isof('microsoft.graph.x').")
        target = self._resolve_cast(arg.value)
        if target in self.source.entity_type.ancestors():
            return true()
        if self.source.type_column is None:
            return false()
        names = [t.qualified_name for t in self.source.types if target in t.ancestors()]
        return self.source.type_column.in_(names)

    def _compare_booleans(self, node: Compare) -> ColumnElement[bool]:
        if node.op not in {"eq", "ne"}:
            raise _incompatible("Edm.Boolean", "Edm.Boolean", node.op)
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
_SQL_OPERATORS = {op: getattr(operator, op) for op in ("eq", "gt", "ge", "lt", "le")}


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


def _literal(node: Literal) -> Typed:
    # enum, decimal, date and guid literals only make sense next to a property; _coerce types them.
    edm = _LITERAL_TYPES.get(node.kind) or PrimitiveType(f"literal:{node.kind}")
    return Typed(literal(node.value), edm, node.kind == "null", literal=node)


def _coerce(value: Typed, target: Typed, op: str) -> Typed:
    """Type a literal to the property it is compared with; anything else must match exactly."""
    lit = value.literal
    if lit is None or lit.kind == "null":
        if lit is None and (value.type != target.type or target.collection or value.collection):
            raise _incompatible(_type_name(target), _type_name(value), op)
        return value
    if isinstance(target.type, EnumType):
        return Typed(literal(_enum_member_value(lit, target.type, op)), target.type, False, literal=lit)
    if (target.type, lit.kind) in ((DATETIME_OFFSET, "datetime"), (INT32, "int")):
        return value
    if target.type is STRING and lit.kind == "string" and target.collection is None:
        return value
    raise _incompatible(_type_name(target), _type_name(value), op)


def _enum_member_value(lit: Literal, enum_type: EnumType, op: str) -> int:
    if lit.kind == "enum" and lit.type_name != enum_type.qualified_name:
        raise _incompatible(enum_type.qualified_name, str(lit.type_name), op)
    if lit.kind not in {"string", "enum"}:
        raise _incompatible(enum_type.qualified_name, _type_name(_literal(lit)), op)
    if lit.value not in enum_type.members:
        raise BadRequest(f"The string '{lit.value}' is not a valid enumerated type constant.")
    return enum_type.value_of(str(lit.value))


def _compare(op: str, left: Typed, right: Typed) -> ColumnElement[bool]:
    """OData comparison with two-valued logic, NULL-free."""
    if right.literal is not None and right.literal.kind == "null":
        if op not in {"eq", "ne"}:
            return false()
        is_null = _is_null(left)
        return is_null if op == "eq" else not_(is_null)
    if op == "ne":
        return not_(_compare("eq", left, right))
    plain: ColumnElement[bool] = _SQL_OPERATORS[op](left.sql, right.sql)
    matched = _guard_nulls(plain, left, right)
    if op == "eq" and left.nullable and right.nullable:
        return or_(matched, and_(left.sql.is_(None), right.sql.is_(None)))
    return matched


def _is_null(value: Typed) -> ColumnElement[bool]:
    """IS NULL, decided in Python for a literal: PostgreSQL cannot type a bare `? IS NULL`."""
    if value.literal is not None:
        return true() if value.literal.kind == "null" else false()
    return value.sql.is_(None) if value.nullable else false()


def _guard_nulls(condition: ColumnElement[bool], *operands: Typed) -> ColumnElement[bool]:
    guards = [operand.sql.is_not(None) for operand in operands if operand.nullable]
    return and_(*guards, condition) if guards else condition


def _type_name(value: Typed) -> str:
    if value.literal is not None and value.literal.kind == "enum":
        return str(value.literal.type_name)
    if value.literal is not None and value.literal.kind in _UNTYPED_LITERALS:
        return _UNTYPED_LITERALS[value.literal.kind]
    if isinstance(value.type, PrimitiveType):
        return value.type.name
    name = value.type.qualified_name
    return f"Collection({name})" if value.collection else name


def _incompatible(left: str, right: str, op: str) -> BadRequest:
    return BadRequest(
        f"A binary operator with incompatible types was detected. Found operand types '{left}' and "
        f"'{right}' for operator kind '{_OPERATOR_KIND.get(op, op)}'."
    )


def _unknown_property(name: str, type_name: str) -> BadRequest:
    return BadRequest(f"Could not find a property named '{name}' on type '{type_name}'.")
