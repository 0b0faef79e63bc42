"""The $filter syntax tree: frozen nodes that print as s-expressions (the form the parser tests use).

Nodes say what the text wrote, not what it means: names are not yet resolved against the model, and
literals keep their kind so that the binder (storage/filters.py) can check them against property types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

LiteralKind = TypingLiteral["string", "int", "decimal", "null", "bool", "datetime", "date", "guid", "enum"]


class Node:
    """Base of every $filter node."""


@dataclass(frozen=True)
class Literal(Node):
    kind: LiteralKind
    # str for string/guid/date/decimal, int for int and datetime (ticks), bool, None; an enum's member.
    value: str | int | bool | None
    # The literal as written, for messages; for an enum, its qualified type name is `type_name`.
    text: str
    type_name: str | None = None

    def __str__(self) -> str:
        if self.kind == "string":
            return "'" + str(self.value).replace("'", "''") + "'"
        if self.kind == "enum":
            return f"{self.type_name}'{self.value}'"
        return self.text


@dataclass(frozen=True)
class Member(Node):
    """A property path: `status`, `microsoft.graph.securityConfigurationTask/insights`, `s/name`."""

    segments: tuple[str, ...]

    def __str__(self) -> str:
        return "/".join(self.segments)


@dataclass(frozen=True)
class Compare(Node):
    op: str  # eq ne gt ge lt le
    left: Node
    right: Node

    def __str__(self) -> str:
        return f"({self.op} {self.left} {self.right})"


@dataclass(frozen=True)
class In(Node):
    left: Node
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return f"(in {self.left} ({' '.join(map(str, self.items))}))"


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # and, or
    left: Node
    right: Node

    def __str__(self) -> str:
        return f"({self.op} {self.left} {self.right})"


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    def __str__(self) -> str:
        return f"(not {self.operand})"


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]

    def __str__(self) -> str:
        return f"({self.name}{''.join(' ' + str(a) for a in self.args)})"


@dataclass(frozen=True)
class Lambda(Node):
    """`collection/any(v: predicate)` or `/all(...)`; `any()` has no variable and no predicate."""

    op: str  # any, all
    collection: Member
    variable: str | None
    predicate: Node | None

    def __str__(self) -> str:
        if self.predicate is None:
            return f"({self.op} {self.collection})"
        return f"({self.op} {self.collection} {self.variable} {self.predicate})"
