"""The $filter syntax tree: frozen nodes that print as s-expressions (the form the parser tests use).

Nodes say what the text wrote, not what it means: names are not yet resolved against the model, and
literals keep their kind so that the binder (storage/filters.py) can check them against property types.

Walks over a tree (printing, counting) use a stack, not recursion: an `and`/`or` chain is a tree as
deep as it is long, and messages print whole subtrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

LiteralKind = TypingLiteral["string", "int", "decimal", "null", "bool", "datetime", "date", "guid", "enum"]


class Node:
    """Base of every $filter node."""

    def children(self) -> tuple[Node, ...]:
        """The nodes directly below this one, left to right."""
        return ()

    def parts(self) -> tuple[str | Node, ...]:
        """The s-expression as text and child nodes, in order."""
        raise NotImplementedError

    def __str__(self) -> str:
        text: list[str] = []
        pending: list[str | Node] = [self]
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                text.append(item)
            else:
                pending.extend(reversed(item.parts()))
        return "".join(text)


@dataclass(frozen=True)
class Literal(Node):
    kind: LiteralKind
    # str for string/guid/date/decimal, int for int and datetime (ticks), bool, None; an enum's member.
    value: str | int | bool | None
    # The literal as written, for messages; for an enum, its qualified type name is `type_name`.
    text: str
    type_name: str | None = None

    def parts(self) -> tuple[str | Node, ...]:
        if self.kind == "string":
            return ("'" + str(self.value).replace("'", "''") + "'",)
        if self.kind == "enum":
            return (f"{self.type_name}'{self.value}'",)
        return (self.text,)


@dataclass(frozen=True)
class Member(Node):
    """A property path: `status`, `microsoft.graph.securityConfigurationTask/insights`, `s/name`, or one
    that starts at the entity being filtered, `$it/status` (OData ABNF: `implicitVariableExpr`)."""

    segments: tuple[str, ...]

    def parts(self) -> tuple[str | Node, ...]:
        return ("/".join(self.segments),)


@dataclass(frozen=True)
class TypeName(Node):
    """A qualified type name written unquoted where the grammar takes one: the last argument of `isof`
    (OData ABNF: `isofExpr` ends in a `qualifiedTypeName`), e.g. `microsoft.graph.x` or `Edm.String`.
    Prints as written; the quoted form ODataLib also accepts, `isof('microsoft.graph.x')`, stays a
    string Literal, as the text wrote it."""

    name: str

    def parts(self) -> tuple[str | Node, ...]:
        return (self.name,)


@dataclass(frozen=True)
class Compare(Node):
    op: str  # eq ne gt ge lt le
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def parts(self) -> tuple[str | Node, ...]:
        return (f"({self.op} ", self.left, " ", self.right, ")")


@dataclass(frozen=True)
class In(Node):
    left: Node
    items: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return (self.left, *self.items)

    def parts(self) -> tuple[str | Node, ...]:
        spaced: list[str | Node] = []
        for item in self.items:
            spaced += [" ", item]
        return ("(in ", self.left, " (", *spaced[1:], "))")


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # and, or
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def parts(self) -> tuple[str | Node, ...]:
        return (f"({self.op} ", self.left, " ", self.right, ")")


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)

    def parts(self) -> tuple[str | Node, ...]:
        return ("(not ", self.operand, ")")


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.args

    def parts(self) -> tuple[str | Node, ...]:
        spaced: list[str | Node] = []
        for arg in self.args:
            spaced += [" ", arg]
        return (f"({self.name}", *spaced, ")")


@dataclass(frozen=True)
class Lambda(Node):
    """`collection/any(v: predicate)` or `/all(...)`; `any()` has no variable and no predicate."""

    op: str  # any, all
    collection: Member
    variable: str | None
    predicate: Node | None

    def children(self) -> tuple[Node, ...]:
        return (self.collection,) if self.predicate is None else (self.collection, self.predicate)

    def parts(self) -> tuple[str | Node, ...]:
        if self.predicate is None:
            return (f"({self.op} ", self.collection, ")")
        return (f"({self.op} ", self.collection, f" {self.variable} ", self.predicate, ")")
