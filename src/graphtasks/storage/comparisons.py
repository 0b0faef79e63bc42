"""Typed values in a $filter's SQL, and OData's comparisons between them: a literal takes the type of what
it is compared with, comparisons follow two-valued logic with no SQL NULL left in a predicate, and
operands that cannot meet are ODataLib's 400 ("incompatible types").

Used by storage/filters.py; knows the model's types, never the column map.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, literal
from sqlalchemy.sql import not_, or_, true

from graphtasks.errors import BadRequest
from graphtasks.model.types import (
    BOOLEAN,
    DATETIME_OFFSET,
    INT32,
    STRING,
    ComplexType,
    EnumType,
    PrimitiveType,
    Property,
)
from graphtasks.odata.ast import Literal

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
_SQL_OPERATORS = {op: getattr(operator, op) for op in ("eq", "gt", "ge", "lt", "le")}


@dataclass(frozen=True)
class Typed:
    sql: ColumnElement[Any]
    type: PrimitiveType | EnumType | ComplexType
    nullable: bool
    # For a complex collection: the property, so any/all can walk it.
    collection: Property | None = None
    literal: Literal | None = None


def literal_value(node: Literal) -> Typed:
    # enum, decimal, date and guid literals only make sense next to a property; coerce types them.
    edm = _LITERAL_TYPES.get(node.kind) or PrimitiveType(f"literal:{node.kind}")
    return Typed(literal(node.value), edm, node.kind == "null", literal=node)


def coerce(value: Typed, target: Typed, op: str) -> Typed:
    """Type a literal to the property it is compared with; anything else must match exactly."""
    lit = value.literal
    if lit is None or lit.kind == "null":
        # A collection, or a complex value (a lambda variable), compares with null only.
        complex_or_collection = isinstance(target.type, ComplexType) or target.collection or value.collection
        if lit is None and (value.type != target.type or complex_or_collection):
            raise incompatible(operand_type_name(target), operand_type_name(value), op)
        return value
    if isinstance(target.type, EnumType):
        return Typed(literal(_enum_member_value(lit, target.type, op)), target.type, False, literal=lit)
    if (target.type, lit.kind) in ((DATETIME_OFFSET, "datetime"), (INT32, "int")):
        return value
    if target.type is STRING and lit.kind == "string" and target.collection is None:
        return value
    raise incompatible(operand_type_name(target), operand_type_name(value), op)


def _enum_member_value(lit: Literal, enum_type: EnumType, op: str) -> int:
    if lit.kind == "enum" and lit.type_name != enum_type.qualified_name:
        raise incompatible(enum_type.qualified_name, str(lit.type_name), op)
    if lit.kind not in {"string", "enum"}:
        raise incompatible(enum_type.qualified_name, operand_type_name(literal_value(lit)), op)
    if lit.value not in enum_type.members:
        raise BadRequest(f"The string '{lit.value}' is not a valid enumerated type constant.")
    return enum_type.value_of(str(lit.value))


def compare(op: str, left: Typed, right: Typed) -> ColumnElement[bool]:
    """OData comparison with two-valued logic, NULL-free."""
    if right.literal is not None and right.literal.kind == "null":
        if op not in {"eq", "ne"}:
            return false()
        null_test = is_null(left)
        return null_test if op == "eq" else not_(null_test)
    if op == "ne":
        return not_(compare("eq", left, right))
    plain: ColumnElement[bool] = _SQL_OPERATORS[op](left.sql, right.sql)
    matched = guard_nulls(plain, left, right)
    if op == "eq" and left.nullable and right.nullable:
        return or_(matched, and_(left.sql.is_(None), right.sql.is_(None)))
    return matched


def is_null(value: Typed) -> ColumnElement[bool]:
    """IS NULL, decided in Python for a literal: PostgreSQL cannot type a bare `? IS NULL`."""
    if value.literal is not None:
        return true() if value.literal.kind == "null" else false()
    return value.sql.is_(None) if value.nullable else false()


def guard_nulls(condition: ColumnElement[bool], *operands: Typed) -> ColumnElement[bool]:
    guards = [operand.sql.is_not(None) for operand in operands if operand.nullable]
    return and_(*guards, condition) if guards else condition


def operand_type_name(value: Typed) -> str:
    if value.literal is not None and value.literal.kind == "enum":
        return str(value.literal.type_name)
    if value.literal is not None and value.literal.kind in _UNTYPED_LITERALS:
        return _UNTYPED_LITERALS[value.literal.kind]
    if isinstance(value.type, PrimitiveType):
        return value.type.name
    name = value.type.qualified_name
    return f"Collection({name})" if value.collection else name


def incompatible(left: str, right: str, op: str) -> BadRequest:
    return BadRequest(
        f"A binary operator with incompatible types was detected. Found operand types '{left}' and "
        f"'{right}' for operator kind '{_OPERATOR_KIND.get(op, op)}'."
    )
