"""$filter text -> syntax tree (odata/ast.py): a tokenizer and a recursive-descent parser.

Why not a library: odata-query (0.10, the well-kept OData parser for Python) was tried first. It parses
most of what Graph clients send, but has no qualified enum literals
(`microsoft.graph.deviceAppManagementTaskStatus'pending'`) and no `isof`, its SLY grammar cannot gain
them without reordering the library's own token rules, and its errors carry a token repr rather than a
position. The subset Graph's task filters need is small, so it is written here, each rule named after
its production in the OData 4.01 ABNF (odata-abnf-construction-rules), with ODataLib's error wording.

Precedence, loosest first (OData 4.01 URL conventions §5.1.1.1): or, and, equality (eq ne),
relational (gt ge lt le in), not, primary.

`isof` is the one function whose grammar is not a list of expressions: its last argument is a
`qualifiedTypeName` (ABNF `isofExpr`), so an unquoted dotted name there is a TypeName node, not a
property path; ODataLib's quoted form, `isof('microsoft.graph.x')`, stays a string literal. `$it`
(ABNF `implicitVariableExpr`) starts a path at the entity being filtered, as in `isof($it, ...)`.

Limits, so that no text can make the parser, the SQL translator or SQLAlchemy's compiler recurse past
Python's limit or run for long (tests/unit/test_filter_parser.py checks the worst cases):
- at most MAX_FILTER_LENGTH characters, checked before anything else;
- `and`/`or` chains are loops, not recursion; what nests (parentheses, `not`, call arguments, lambda
  bodies) nests at most _MAX_DEPTH levels, and function calls and any/all at most _MAX_CALL_DEPTH of
  those (each such level costs SQLAlchemy's compiler about 20 frames);
- operators nest at most MAX_NESTING levels in the tree, which bounds the SQL's nesting;
- at most MAX_NODE_COUNT nodes in the tree, with ASP.NET OData's MaxNodeCount message;
- no string literal holds a character PostgreSQL text cannot (U+0000, a surrogate): a 400 on either
  backend, where it would have been a database error on one.

Pure: knows no properties and no storage; names are resolved later (storage/filters.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphtasks.errors import BadRequest
from graphtasks.model import edm
from graphtasks.model.validation import unstorable_character
from graphtasks.odata.ast import (
    BoolOp,
    Call,
    Compare,
    In,
    Lambda,
    Literal,
    LiteralKind,
    Member,
    Node,
    Not,
    TypeName,
)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,12})?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\w-]))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<enum>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<it>\$it\b)
  | (?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<punct>[(),/:])
    """,
    re.VERBOSE | re.ASCII,
)
_EQUALITY = frozenset({"eq", "ne"})
# Deeper nesting than any real filter needs; it keeps the recursive descent far from Python's limit.
_MAX_DEPTH = 100
# Operators nested in operators (parentheses aside, a chain of one operator counting once). SQLite
# before 3.46 parses SQL on a fixed stack of 100 entries and fails with "parser stack overflow": on
# SQLite 3.40, Boolean comparisons nested 32 deep were the costliest shape to fail; 25 leaves room.
MAX_NESTING = 25
# A guess, as is the next: Graph's own limits are not published. Real filters nest two calls at most
# (`startswith(tolower(displayName), 'x')`).
_MAX_CALL_DEPTH = 10
# ASP.NET OData's default MaxNodeCount is 100; Intune's is unknown. 1000 lets an `id in (...)` list of
# several hundred ids through (a 16 KiB URL holds about 400 quoted GUIDs), or an `or` chain of 250
# comparisons.
MAX_NODE_COUNT = 1000
# The URL limit (16 KiB, config.py) bounds a $filter in a query string; this bounds one inside $batch.
MAX_FILTER_LENGTH = 16 * 1024
_INT64 = range(-(2**63), 2**63)
_RELATIONAL = frozenset({"gt", "ge", "lt", "le"})
_KEYWORD_LITERALS: dict[str, tuple[LiteralKind, bool | None]] = {
    "null": ("null", None),
    "true": ("bool", True),
    "false": ("bool", False),
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


class FilterSyntaxError(BadRequest):
    pass


def parse_filter(text: str) -> Node:
    """Parse a $filter expression; FilterSyntaxError (400) names the position of what is wrong, and a
    filter past the limits above is a 400 too."""
    if len(text) > MAX_FILTER_LENGTH:
        raise BadRequest(
            f"The $filter expression is longer than the limit of {MAX_FILTER_LENGTH} characters."
        )
    tree = _Parser(text).parse()
    nodes, nesting = measure(tree)
    if nesting > MAX_NESTING:
        raise BadRequest(f"The expression nests operators more than {MAX_NESTING} levels deep.")
    if nodes > MAX_NODE_COUNT:
        # ASP.NET OData's wording (FilterQueryValidator), which Intune's 400s use.
        raise BadRequest(
            f"The query specified in the URI is not valid. The node count limit of '{MAX_NODE_COUNT}' has "
            "been exceeded. To increase the limit, set the 'MaxNodeCount' property on EnableQueryAttribute "
            "or ODataValidationSettings."
        )
    return tree


def node_count(tree: Node) -> int:
    return measure(tree)[0]


def measure(tree: Node) -> tuple[int, int]:
    """(nodes, nesting) of a tree, walked with a stack rather than recursion (a chain can be long).
    Nesting counts levels as the SQL will have them: a chain of one operator is one level, since
    storage/filters.py makes it one flat AND or OR."""
    count, deepest = 0, 0
    pending: list[tuple[Node, int]] = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        count, deepest = count + 1, max(deepest, depth)
        chain = node.op if isinstance(node, BoolOp) else None
        for child in node.children():
            same = isinstance(child, BoolOp) and child.op == chain
            pending.append((child, depth if same else depth + 1))
    return count, deepest


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FilterSyntaxError(
                f"Syntax error: character '{text[position]}' is not valid at position {position} in '{text}'."
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.call_depth = 0

    # --- token helpers ---

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        return self.current.kind == "name" and self.current.text in words

    def at_punct(self, punct: str) -> bool:
        return self.current.kind == "punct" and self.current.text == punct

    def expect_punct(self, punct: str) -> None:
        if not self.at_punct(punct):
            raise self.error(f"'{punct}' expected")
        self.advance()

    def error(self, what: str) -> FilterSyntaxError:
        return FilterSyntaxError(f"{what} at position {self.current.position} in '{self.text}'.")

    # --- grammar ---

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise self.error("Expression expected")
        node = self.bool_common_expr()
        if self.current.kind != "end":
            raise FilterSyntaxError(f"Syntax error at position {self.current.position} in '{self.text}'.")
        return node

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"The expression is nested more than {_MAX_DEPTH} levels deep")

    def deeper_call(self) -> None:
        self.call_depth += 1
        if self.call_depth > _MAX_CALL_DEPTH:
            raise self.error(f"Function calls and any/all are nested more than {_MAX_CALL_DEPTH} levels deep")

    def bool_common_expr(self) -> Node:
        """orExpr: andExpr *( RWS "or" RWS andExpr )"""
        self.deeper()
        node = self.and_expr()
        while self.at_word("or"):
            self.advance()
            node = BoolOp("or", node, self.and_expr())
        self.depth -= 1
        return node

    def and_expr(self) -> Node:
        """andExpr: eqExpr *( RWS "and" RWS eqExpr )"""
        node = self.equality_expr()
        while self.at_word("and"):
            self.advance()
            node = BoolOp("and", node, self.equality_expr())
        return node

    def equality_expr(self) -> Node:
        """eqExpr / neExpr"""
        node = self.relational_expr()
        while self.current.kind == "name" and self.current.text in _EQUALITY:
            op = self.advance().text
            node = Compare(op, node, self.relational_expr())
        return node

    def relational_expr(self) -> Node:
        """ltExpr / leExpr / gtExpr / geExpr / inExpr"""
        node = self.unary_expr()
        while self.current.kind == "name" and (self.current.text in _RELATIONAL or self.current.text == "in"):
            op = self.advance().text
            node = In(node, self.list_expr()) if op == "in" else Compare(op, node, self.unary_expr())
        return node

    def unary_expr(self) -> Node:
        """notExpr: "not" RWS boolCommonExpr (bound to its operand, as OData's precedence says)"""
        if self.at_word("not"):
            self.advance()
            self.deeper()
            node = Not(self.unary_expr())
            self.depth -= 1
            return node
        return self.primary()

    def list_expr(self) -> tuple[Node, ...]:
        """listExpr: OPEN BWS primitiveLiteral *( BWS COMMA BWS primitiveLiteral ) BWS CLOSE"""
        self.expect_punct("(")
        items = [self.primary()]
        while self.at_punct(","):
            self.advance()
            items.append(self.primary())
        self.expect_punct(")")
        return tuple(items)

    def primary(self) -> Node:
        """parenExpr / primitiveLiteral / methodCallExpr / memberExpr"""
        token = self.current
        if self.at_punct("("):
            self.advance()
            node = self.bool_common_expr()
            self.expect_punct(")")
            return node
        if token.kind == "name" and token.text in _KEYWORD_LITERALS:
            self.advance()
            kind, value = _KEYWORD_LITERALS[token.text]
            return Literal(kind, value, token.text)
        if token.kind == "name":
            return self.name_expr()
        if token.kind == "it":
            return self.member_expr(self.advance().text)
        if token.kind in {"string", "number", "datetime", "date", "guid", "enum"}:
            return self.literal()
        raise self.error("Expression expected")

    def literal(self) -> Literal:
        """primitiveLiteral: string / number / dateTimeOffsetValue / dateValue / guidValue / enum"""
        token = self.advance()
        if token.kind == "string":
            return Literal("string", self.storable(token, _unquote(token.text)), token.text)
        if token.kind == "enum":
            type_name, _, quoted = token.text.partition("'")
            return Literal("enum", self.storable(token, _unquote("'" + quoted)), token.text, type_name)
        if token.kind == "number":
            if re.fullmatch(r"-?\d+", token.text) is None:
                return Literal("decimal", token.text, token.text)
            # Int64 is the widest integer literal OData has; checking the length first keeps int()
            # away from texts longer than Python converts.
            if len(token.text) > 20 or int(token.text) not in _INT64:
                raise FilterSyntaxError(
                    f"The number '{token.text}' at position {token.position} is out of range."
                )
            return Literal("int", int(token.text), token.text)
        if token.kind == "datetime":
            try:
                return Literal("datetime", edm.parse_datetime_offset(token.text), token.text)
            except ValueError:
                raise FilterSyntaxError(
                    f"The DateTimeOffset literal '{token.text}' at position {token.position} is not valid."
                ) from None
        return Literal("date" if token.kind == "date" else "guid", token.text, token.text)

    def storable(self, token: Token, value: str) -> str:
        """A string literal's value, unless it holds a character no text column can on PostgreSQL:
        there the comparison would fail in the database, so it is a 400 here, on every backend."""
        unstorable = unstorable_character(value)
        if unstorable is not None:
            raise FilterSyntaxError(
                f"The string literal at position {token.position} in '{self.text}' contains the character "
                f"{unstorable}, which is not allowed."
            )
        return value

    def name_expr(self) -> Node:
        """methodCallExpr (name followed by '(') or memberExpr (a '/'-separated path)"""
        name = self.advance().text
        if self.at_punct("("):
            return Call(name, self.call_arguments(type_name_last=name == "isof"))
        return self.member_expr(name)

    def member_expr(self, head: str) -> Node:
        """memberExpr: a '/'-separated path from a property, a type cast, a lambda variable or `$it`,
        which may end in any/all"""
        segments = [head]
        while self.at_punct("/"):
            self.advance()
            if self.at_word("any", "all") and self.tokens[self.index + 1].text == "(":
                return self.lambda_expr(Member(tuple(segments)))
            if self.current.kind != "name":
                raise self.error("Property name expected")
            segments.append(self.advance().text)
        return Member(tuple(segments))

    def call_arguments(self, *, type_name_last: bool = False) -> tuple[Node, ...]:
        self.expect_punct("(")
        if self.at_punct(")"):
            self.advance()
            return ()
        self.deeper_call()
        args = [self.argument(type_name_last=type_name_last)]
        while self.at_punct(","):
            self.advance()
            args.append(self.argument(type_name_last=type_name_last))
        if not self.at_punct(")"):
            raise self.error("')' or ',' expected")
        self.advance()
        self.call_depth -= 1
        return tuple(args)

    def argument(self, *, type_name_last: bool) -> Node:
        """commonExpr, or qualifiedTypeName where the call takes one last"""
        if type_name_last and self.at_type_name():
            return TypeName(self.advance().text)
        return self.bool_common_expr()

    def at_type_name(self) -> bool:
        """A dotted name that closes the argument list; before ',' or '/' it starts a type-cast path."""
        if self.current.kind != "name" or "." not in self.current.text:
            return False
        following = self.tokens[self.index + 1]
        return following.kind == "punct" and following.text == ")"

    def lambda_expr(self, collection: Member) -> Lambda:
        """anyExpr / allExpr: "any" OPEN BWS [ lambdaVariableExpr BWS COLON BWS lambdaPredicateExpr ] CLOSE"""
        op = self.advance().text
        self.expect_punct("(")
        if op == "any" and self.at_punct(")"):
            self.advance()
            return Lambda(op, collection, None, None)
        if self.current.kind != "name" or "." in self.current.text:
            raise self.error("Lambda variable expected")
        self.deeper_call()
        variable = self.advance().text
        self.expect_punct(":")
        predicate = self.bool_common_expr()
        self.expect_punct(")")
        self.call_depth -= 1
        return Lambda(op, collection, variable, predicate)


def _unquote(quoted: str) -> str:
    return quoted[1:-1].replace("''", "'")
