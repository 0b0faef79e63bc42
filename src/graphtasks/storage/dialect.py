"""The SQL that differs between SQLite and PostgreSQL once a query is built: walking a JSON array of
complex values (for any/all), reading a member of one element, and the formatting functions the
seed generator uses.

With engine.py, the only dialect-aware code. Everything else builds portable SQLAlchemy Core.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, Text, cast, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.selectable import TableValuedAlias

from graphtasks.model.types import DATETIME_OFFSET, Property


def json_elements(dialect: str, column: ColumnElement[Any]) -> TableValuedAlias:
    """A FROM item with one row per element of the JSON array in `column`, its element in `.c.value`."""
    if dialect == "postgresql":
        return func.jsonb_array_elements(column).table_valued("value").alias()
    return func.json_each(column).table_valued("value").alias()


def json_item_text(element: ColumnElement[Any]) -> ColumnElement[Any]:
    """A JSON array element as SQL text, and NULL for a null item, on both backends alike: SQLite's
    json_each gives a JSON null as SQL NULL, PostgreSQL's jsonb_array_elements as the JSON value null,
    whose text is 'null'. Items are objects, so no other item's text is 'null'."""
    return func.nullif(cast(element, Text), "null")


def json_member(dialect: str, element: ColumnElement[Any], prop: Property) -> ColumnElement[Any]:
    """The SQL value of property `prop` of a complex element (JSON null is SQL NULL on both)."""
    if dialect == "postgresql":
        text = element.op("->>")(prop.name)
        # Datetimes are stored as ticks (JSON numbers); strings compare by code point like columns do.
        return cast(text, BigInteger) if prop.type is DATETIME_OFFSET else text.collate("C")
    return func.json_extract(element, f"$.{prop.name}")


def hex_digits(dialect: str, number: ColumnElement[Any], width: int) -> ColumnElement[str]:
    """`number` in lower-case hexadecimal, zero-padded to `width` digits."""
    if dialect == "postgresql":
        return func.lpad(func.to_hex(number), width, "0")
    return func.printf(f"%0{width}x", number)


def json_from_text(dialect: str, text: ColumnElement[str]) -> ColumnElement[Any]:
    """A JSON column value from its JSON text (JSONB wants a cast; SQLite keeps the text)."""
    return cast(text, JSONB) if dialect == "postgresql" else text


# OData's tolower/toupper follow Unicode rules; both backends' lower()/upper() change only ASCII
# letters under the byte-order collation the columns use. PostgreSQL gets ICU's root locale (Debian's
# and most builds have it); SQLite gets Python's str.lower/str.upper, registered by engine.py.
# The names func.graphtasks_lower / graphtasks_upper below refer to.
UNICODE_LOWER, UNICODE_UPPER = "graphtasks_lower", "graphtasks_upper"


def unicode_lower(dialect: str, text: ColumnElement[Any]) -> ColumnElement[str]:
    if dialect == "postgresql":
        return _code_point_order(func.lower(text.collate("und-x-icu"), type_=String()))
    return func.graphtasks_lower(text, type_=String())


def unicode_upper(dialect: str, text: ColumnElement[Any]) -> ColumnElement[str]:
    if dialect == "postgresql":
        return _code_point_order(func.upper(text.collate("und-x-icu"), type_=String()))
    return func.graphtasks_upper(text, type_=String())


def _code_point_order(text: ColumnElement[str]) -> ColumnElement[str]:
    """Back to the columns' byte-order collation: the result of an ICU-collated call would otherwise
    compare and sort by ICU's rules, or clash with a "C" operand."""
    return text.collate("C")
