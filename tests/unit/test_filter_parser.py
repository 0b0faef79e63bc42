"""graphtasks.odata.filter.parse_filter: $filter text -> syntax tree, compared as s-expressions.

Facts: OData 4.01 URL conventions §5.1.1 (operators, precedence: or < and < eq/ne < gt/ge/lt/le/in < not),
the OData ABNF's literal forms (''-escaped strings, DateTimeOffset, date, guid, qualified enum literals,
type-cast paths, any/all lambdas), and ODataLib's "... at position N in '...'" error wording.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphtasks.errors import BadRequest, GraphError
from graphtasks.model.edm import parse_datetime_offset
from graphtasks.odata.ast import BoolOp, Call, Compare, In, Lambda, Literal, Member, Node, Not, TypeName
from graphtasks.odata.filter import (
    MAX_FILTER_LENGTH,
    MAX_NESTING,
    MAX_NODE_COUNT,
    FilterSyntaxError,
    measure,
    node_count,
    parse_filter,
)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        # comparisons
        ("a eq 1", "(eq a 1)"),
        ("a ne 1", "(ne a 1)"),
        ("a gt 1", "(gt a 1)"),
        ("a ge 1", "(ge a 1)"),
        ("a lt 1", "(lt a 1)"),
        ("a le 1", "(le a 1)"),
        ("1 eq a", "(eq 1 a)"),
        ("a eq b", "(eq a b)"),
        ("  a   eq\t1  ", "(eq a 1)"),
        # and binds tighter than or; both associate to the left
        ("a eq 1 and b eq 2", "(and (eq a 1) (eq b 2))"),
        ("a eq 1 or b eq 2", "(or (eq a 1) (eq b 2))"),
        ("a eq 1 or b eq 2 and c eq 3", "(or (eq a 1) (and (eq b 2) (eq c 3)))"),
        ("a eq 1 and b eq 2 or c eq 3", "(or (and (eq a 1) (eq b 2)) (eq c 3))"),
        ("a eq 1 and b eq 2 and c eq 3", "(and (and (eq a 1) (eq b 2)) (eq c 3))"),
        ("a eq 1 or b eq 2 or c eq 3", "(or (or (eq a 1) (eq b 2)) (eq c 3))"),
        # relational binds tighter than equality
        ("a lt b eq c gt d", "(eq (lt a b) (gt c d))"),
        # parentheses
        ("(a eq 1 or b eq 2) and c eq 3", "(and (or (eq a 1) (eq b 2)) (eq c 3))"),
        ("a eq 1 and (b eq 2 or c eq 3)", "(and (eq a 1) (or (eq b 2) (eq c 3)))"),
        ("((a eq 1))", "(eq a 1)"),
        ("(a)", "a"),
        # not binds to its operand
        ("not startswith(a,'x') and b eq 1", "(and (not (startswith a 'x')) (eq b 1))"),
        ("not (a eq 1)", "(not (eq a 1))"),
        ("not a eq 1", "(eq (not a) 1)"),
        ("not not a", "(not (not a))"),
        ("not (a eq 1 or b eq 2)", "(not (or (eq a 1) (eq b 2)))"),
        # in
        ("a in ('x','y')", "(in a ('x' 'y'))"),
        ("a in ( 'x' , 'y' , 'z' )", "(in a ('x' 'y' 'z'))"),
        ("a in (1)", "(in a (1))"),
        ("a in ('x') and b eq 1", "(and (in a ('x')) (eq b 1))"),
        ("a in ('x') eq true", "(eq (in a ('x')) true)"),
        # null, true, false
        ("a eq null", "(eq a null)"),
        ("a ne null", "(ne a null)"),
        ("a eq true", "(eq a true)"),
        ("a eq false", "(eq a false)"),
        ("true", "true"),
        # strings: '' is an escaped quote
        ("a eq 'x'", "(eq a 'x')"),
        ("a eq ''", "(eq a '')"),
        ("a eq 'it''s'", "(eq a 'it''s')"),
        ("a eq ''''", "(eq a '''')"),
        ("a eq 'x eq y and z'", "(eq a 'x eq y and z')"),
        ("a eq 'caf\u00e9 \u2603'", "(eq a 'caf\u00e9 \u2603')"),
        # numbers
        ("a eq 0", "(eq a 0)"),
        ("a eq -5", "(eq a -5)"),
        ("a eq 9223372036854775807", "(eq a 9223372036854775807)"),
        ("a eq 1.5", "(eq a 1.5)"),
        ("a eq -0.25", "(eq a -0.25)"),
        ("a eq 1e5", "(eq a 1e5)"),
        ("a eq 2.5E-3", "(eq a 2.5E-3)"),
        # DateTimeOffset literals are kept as written
        ("a gt 2024-01-01T00:00:00Z", "(gt a 2024-01-01T00:00:00Z)"),
        ("a gt 2024-01-01T00:00Z", "(gt a 2024-01-01T00:00Z)"),
        ("a gt 2024-01-01T08:30:00.1234567+02:00", "(gt a 2024-01-01T08:30:00.1234567+02:00)"),
        ("a lt 9999-12-31T23:59:59+05:00", "(lt a 9999-12-31T23:59:59+05:00)"),
        # date and guid literals
        ("a eq 2024-02-29", "(eq a 2024-02-29)"),
        ("a eq 01234567-89ab-cdef-0123-456789abcdef", "(eq a 01234567-89ab-cdef-0123-456789abcdef)"),
        ("a eq ABCDEF01-89AB-CDEF-0123-456789ABCDEF", "(eq a ABCDEF01-89AB-CDEF-0123-456789ABCDEF)"),
        # qualified enum literals
        (
            "status eq microsoft.graph.deviceAppManagementTaskStatus'pending'",
            "(eq status microsoft.graph.deviceAppManagementTaskStatus'pending')",
        ),
        # property paths and type casts
        ("a/b eq 1", "(eq a/b 1)"),
        (
            "microsoft.graph.securityConfigurationTask/managedDeviceCount gt 5",
            "(gt microsoft.graph.securityConfigurationTask/managedDeviceCount 5)",
        ),
        # function calls
        ("f()", "(f)"),
        ("f(a)", "(f a)"),
        ("f(a,'x')", "(f a 'x')"),
        ("f( a , b eq 1 )", "(f a (eq b 1))"),
        ("contains(tolower(displayName),'vpn')", "(contains (tolower displayName) 'vpn')"),
        ("isof('microsoft.graph.x')", "(isof 'microsoft.graph.x')"),
        ("startswith(a,'x') eq true", "(eq (startswith a 'x') true)"),
        # lambdas
        ("s/any()", "(any s)"),
        ("s/any( )", "(any s)"),
        ("s/any(s: s/name eq 'a')", "(any s s (eq s/name 'a'))"),
        ("x.y/s/any(v:v/n eq 1)", "(any x.y/s v (eq v/n 1))"),
        ("d/all(d: d/os eq null)", "(all d d (eq d/os null))"),
        ("a/any(x: x/b/any(y: y/c eq 1))", "(any a x (any x/b y (eq y/c 1)))"),
        ("a/any(x: x/b/all(y: y/c eq x/d))", "(any a x (all x/b y (eq y/c x/d)))"),
        ("not s/any() and b eq 1", "(and (not (any s)) (eq b 1))"),
        # words that are keywords elsewhere are plain names here
        ("a/any eq 1", "(eq a/any 1)"),
        ("ANY eq 1", "(eq ANY 1)"),
        ("x.and eq 1", "(eq x.and 1)"),
    ],
)
def test_parse_filter(text: str, tree: str) -> None:
    assert str(parse_filter(text)) == tree


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("'it''s'", Literal("string", "it's", "'it''s'")),
        ("-5", Literal("int", -5, "-5")),
        ("1.50", Literal("decimal", "1.50", "1.50")),
        ("null", Literal("null", None, "null")),
        ("true", Literal("bool", True, "true")),
        ("false", Literal("bool", False, "false")),
        # .NET: new DateTimeOffset(2017, 1, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks
        ("2017-01-01T00:00:00Z", Literal("datetime", 636_188_256_000_000_000, "2017-01-01T00:00:00Z")),
        (
            "2017-01-01T02:00:00+02:00",
            Literal("datetime", 636_188_256_000_000_000, "2017-01-01T02:00:00+02:00"),
        ),
        ("2024-02-29", Literal("date", "2024-02-29", "2024-02-29")),
        (
            "01234567-89ab-cdef-0123-456789abcdef",
            Literal("guid", "01234567-89ab-cdef-0123-456789abcdef", "01234567-89ab-cdef-0123-456789abcdef"),
        ),
        (
            "microsoft.graph.deviceAppManagementTaskStatus'pending'",
            Literal(
                "enum",
                "pending",
                "microsoft.graph.deviceAppManagementTaskStatus'pending'",
                "microsoft.graph.deviceAppManagementTaskStatus",
            ),
        ),
    ],
)
def test_literal_values(text: str, literal: Literal) -> None:
    tree = parse_filter(f"a eq {text}")
    assert tree == Compare("eq", Member(("a",)), literal)


def test_type_cast_path_keeps_its_segments() -> None:
    tree = parse_filter("microsoft.graph.securityConfigurationTask/managedDeviceCount gt 5")
    assert tree == Compare(
        "gt",
        Member(("microsoft.graph.securityConfigurationTask", "managedDeviceCount")),
        Literal("int", 5, "5"),
    )


def _expression_expected(position: int, text: str) -> str:
    return f"Expression expected at position {position} in '{text}'."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status eq 'pending' and", _expression_expected(23, "status eq 'pending' and")),
        ("a eq #", "Syntax error: character '#' is not valid at position 5 in 'a eq #'."),
        ("a eq 'x", "Syntax error: character ''' is not valid at position 5 in 'a eq 'x'."),
        ("a eq 0x1", "Syntax error: character '0' is not valid at position 5 in 'a eq 0x1'."),
        ("a eq -b", "Syntax error: character '-' is not valid at position 5 in 'a eq -b'."),
        ("a eq \u00e9", "Syntax error: character '\u00e9' is not valid at position 5 in 'a eq \u00e9'."),
        ("", _expression_expected(0, "")),
        ("   ", _expression_expected(3, "   ")),
        ("not", _expression_expected(3, "not")),
        ("a eq", _expression_expected(4, "a eq")),
        # an operator word where an operand belongs is read as a property name, as ODataLib does
        ("eq 1", "Syntax error at position 3 in 'eq 1'."),
        ("a eq 1 or", _expression_expected(9, "a eq 1 or")),
        ("()", _expression_expected(1, "()")),
        # unbalanced parentheses
        ("(a eq 1", "')' expected at position 7 in '(a eq 1'."),
        ("((a eq 1)", "')' expected at position 9 in '((a eq 1)'."),
        ("a eq 1)", "Syntax error at position 6 in 'a eq 1)'."),
        # trailing junk
        ("a eq 1 b", "Syntax error at position 7 in 'a eq 1 b'."),
        ("a eq 1 2", "Syntax error at position 7 in 'a eq 1 2'."),
        ("a Eq 1", "Syntax error at position 2 in 'a Eq 1'."),
        # in lists
        ("a in ()", _expression_expected(6, "a in ()")),
        ("a in 'x'", "'(' expected at position 5 in 'a in 'x''."),
        ("a in ('x'", "')' expected at position 9 in 'a in ('x''."),
        # calls and paths
        ("f(a b)", "')' or ',' expected at position 4 in 'f(a b)'."),
        ("f(a,)", _expression_expected(4, "f(a,)")),
        ("a/", "Property name expected at position 2 in 'a/'."),
        ("a/1 eq 1", "Property name expected at position 2 in 'a/1 eq 1'."),
        # invalid DateTimeOffset literals
        (
            "a eq 2024-13-01T00:00:00Z",
            "The DateTimeOffset literal '2024-13-01T00:00:00Z' at position 5 is not valid.",
        ),
        (
            "a eq 2024-01-01T24:00:00Z",
            "The DateTimeOffset literal '2024-01-01T24:00:00Z' at position 5 is not valid.",
        ),
        (
            "a eq 2023-02-29T00:00:00Z",
            "The DateTimeOffset literal '2023-02-29T00:00:00Z' at position 5 is not valid.",
        ),
        (
            "a eq 2024-01-01T00:00:00.12345678Z",
            "The DateTimeOffset literal '2024-01-01T00:00:00.12345678Z' at position 5 is not valid.",
        ),
        (
            "a eq 2024-01-01T00:00:00+15:00",
            "The DateTimeOffset literal '2024-01-01T00:00:00+15:00' at position 5 is not valid.",
        ),
        # lambdas
        ("s/all()", "Lambda variable expected at position 6 in 's/all()'."),
        ("s/any(s eq 1)", "':' expected at position 8 in 's/any(s eq 1)'."),
        ("s/any(: true)", "Lambda variable expected at position 6 in 's/any(: true)'."),
        ("s/any(x.y: true)", "Lambda variable expected at position 6 in 's/any(x.y: true)'."),
        ("s/any(x: true", "')' expected at position 13 in 's/any(x: true'."),
        ("s/any(x:)", _expression_expected(8, "s/any(x:)")),
    ],
)
def test_parse_filter_rejects(text: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", message)


def test_filter_syntax_error_is_a_bad_request() -> None:
    assert issubclass(FilterSyntaxError, BadRequest)


def _nested_too_deep(text: str, position: int) -> str:
    return f"The expression is nested more than 100 levels deep at position {position} in '{text}'."


def _out_of_range(number: str, position: int) -> str:
    return f"The number '{number}' at position {position} is out of range."


def _rejected(text: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", message)


def _nots(count: int, node: Node) -> Node:
    for _ in range(count):
        node = Not(node)
    return node


# A hundred levels, counting the whole expression as the first: the position is the token after the
# opening that goes one level deeper.
@pytest.mark.parametrize(
    ("text", "position"),
    [
        pytest.param("(" * 300 + "a" + ")" * 300, 100, id="deeply-nested-parentheses"),
        pytest.param("(" * 100 + "a" + ")" * 100, 100, id="parentheses-one-level-too-deep"),
        pytest.param("not " * 1200 + "a", 400, id="deeply-nested-not"),
        pytest.param("not " * 100 + "a", 400, id="not-one-level-too-deep"),
        pytest.param("(not " * 60 + "a" + ")" * 60, 250, id="parentheses-and-not-count-together"),
        pytest.param("a eq 1 or (" * 150 + "b" + ")" * 150, 1100, id="nested-or"),
        pytest.param("a eq 1 and not (" * 60 + "b" + ")" * 60, 800, id="nested-and-not"),
    ],
)
def test_nesting_beyond_100_levels_is_a_400(text: str, position: int) -> None:
    _rejected(text, _nested_too_deep(text, position))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        pytest.param("(" * 99 + "a" + ")" * 99, Member(("a",)), id="parentheses"),
        pytest.param("not " * 24 + "a", _nots(24, Member(("a",))), id="not"),
        pytest.param("(" * 60 + "not " * 24 + "a" + ")" * 60, _nots(24, Member(("a",))), id="both"),
    ],
)
def test_nesting_of_100_levels_parses(text: str, tree: Node) -> None:
    assert parse_filter(text) == tree


@pytest.mark.parametrize(
    ("text", "nesting"),
    [
        ("a", 1),
        ("((a))", 1),
        ("a eq 1", 2),
        ("not a eq 1", 3),
        ("a eq 1 and b eq 2 and c eq 3", 3),
        ("(a eq 1 and b eq 2) and c eq 3", 3),
        ("a eq 1 and (b eq 2 or c eq 3)", 4),
        ("(a eq 1) eq (b eq 2)", 3),
        ("s/any(x: x/v eq 1)", 3),
    ],
)
def test_nesting_counts_operators_as_sql_will_nest_them(text: str, nesting: int) -> None:
    assert measure(parse_filter(text))[1] == nesting


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("not " * 25 + "a", id="not"),
        pytest.param("(a eq 1) eq (" * 25 + "true" + ")" * 25, id="boolean-comparisons"),
        pytest.param("not (a eq 1 and " * 13 + "b" + ")" * 13, id="not-and"),
    ],
)
def test_operators_nested_past_25_levels_are_a_400(text: str) -> None:
    # SQLite before 3.46 fails on SQL nested much deeper ("parser stack overflow").
    assert MAX_NESTING == 25
    with pytest.raises(BadRequest) as caught:
        parse_filter(text)
    message = "The expression nests operators more than 25 levels deep."
    assert (caught.value.status, caught.value.message) == (400, message)


def _calls_too_deep(text: str, position: int) -> str:
    return (
        f"Function calls and any/all are nested more than 10 levels deep at position {position} in '{text}'."
    )


@pytest.mark.parametrize(
    ("text", "position"),
    [
        pytest.param("tolower(" * 11 + "a" + ")" * 11, 88, id="calls-one-level-too-deep"),
        pytest.param("tolower(" * 1000 + "a" + ")" * 1000, 88, id="deeply-nested-calls"),
        pytest.param("a/any(x: " * 11 + "x" + ")" * 11, 96, id="lambdas-one-level-too-deep"),
        pytest.param("a/any(x: " * 1000 + "x" + ")" * 1000, 96, id="deeply-nested-lambdas"),
        pytest.param("a/any(x: tolower(" * 6 + "x" + "))" * 6, 91, id="calls-and-lambdas-count-together"),
    ],
)
def test_calls_nested_beyond_10_levels_are_a_400(text: str, position: int) -> None:
    _rejected(text, _calls_too_deep(text, position))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("tolower(" * 10 + "a" + ")" * 10, id="calls"),
        pytest.param("a/any(x: " * 10 + "x" + ")" * 10, id="lambdas"),
        pytest.param("(" * 89 + "tolower(" * 10 + "a" + ")" * 99, id="calls-inside-parentheses"),
        pytest.param("f(" + "tolower(a)," * 300 + "a)", id="many-calls-side-by-side"),
    ],
)
def test_calls_nested_10_levels_parse(text: str) -> None:
    parse_filter(text)


def _node_count_exceeded(limit: int) -> str:
    return (
        f"The query specified in the URI is not valid. The node count limit of '{limit}' has been exceeded. "
        "To increase the limit, set the 'MaxNodeCount' property on EnableQueryAttribute or "
        "ODataValidationSettings."
    )


def _in_list(items: int) -> str:
    return "id in (" + ",".join(f"'{i}'" for i in range(items)) + ")"


def _or_chain(terms: int) -> str:
    return " or ".join(f"id eq '{i}'" for i in range(terms))


@pytest.mark.parametrize(
    ("text", "nodes"),
    [
        ("a", 1),
        ("a eq 1", 3),
        ("a eq 1 and not b", 6),
        ("a in (1,2,3)", 5),
        ("tolower(a) eq 'x'", 4),
        ("s/any(x: x/v eq 1)", 5),
        ("s/any()", 2),
        (_in_list(998), 1000),
        (_or_chain(250), 999),
    ],
)
def test_node_count(text: str, nodes: int) -> None:
    assert node_count(parse_filter(text)) == nodes


def test_node_count_limit_is_1000() -> None:
    # A guess at Intune's limit, set so that a few hundred ids in one `in` list pass (odata/filter.py).
    assert MAX_NODE_COUNT == 1000


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_in_list(999), id="in-list-of-999"),
        pytest.param("a in (" + ",".join(["1"] * 8000) + ")", id="in-list-near-the-length-limit"),
        pytest.param(_or_chain(251), id="or-chain-of-251"),
        pytest.param(" or ".join(["a"] * 501), id="chain-of-names"),
        pytest.param("f(" + ",".join(["1"] * 1000) + ")", id="call-arguments"),
    ],
)
def test_more_than_1000_nodes_is_a_400(text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_filter(text)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", _node_count_exceeded(1000))


def test_filter_of_the_longest_length_parses() -> None:
    text = "a eq '" + "x" * (MAX_FILTER_LENGTH - 7) + "'"
    assert len(text) == MAX_FILTER_LENGTH
    assert parse_filter(text) == Compare(
        "eq", Member(("a",)), Literal("string", "x" * (MAX_FILTER_LENGTH - 7), text[5:])
    )


@pytest.mark.parametrize("length", [MAX_FILTER_LENGTH + 1, 1_000_000])
def test_filter_longer_than_16_kib_is_a_400(length: int) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_filter("a eq '" + "x" * (length - 7) + "'")
    error = caught.value
    assert (error.status, error.code, error.message) == (
        400,
        "BadRequest",
        "The $filter expression is longer than the limit of 16384 characters.",
    )


def test_a_chain_at_the_node_limit_prints() -> None:
    # Printing walks the tree with a stack; a chain is a tree as deep as it is long.
    tree = parse_filter(" or ".join(["a"] * 500))
    assert str(tree) == "(or " * 499 + "a" + " a)" * 499


@settings(deadline=None, max_examples=100)
@given(
    st.lists(st.sampled_from(["a", "a eq 1", "not a", "(a or b)", "x in (1,2)"]), min_size=1, max_size=600),
    st.lists(st.sampled_from(["and", "or"]), min_size=600, max_size=600),
)
def test_long_chains_parse_within_the_node_limit_or_are_a_400(terms: list[str], ops: list[str]) -> None:
    text = terms[0] + "".join(f" {op} {term}" for op, term in zip(ops, terms[1:], strict=False))
    try:
        tree = parse_filter(text)
    except GraphError as error:
        assert error.message == _node_count_exceeded(MAX_NODE_COUNT)
    else:
        assert node_count(tree) <= MAX_NODE_COUNT
        str(tree)


@pytest.mark.parametrize("number", ["-9223372036854775808", "9223372036854775807", "00000000000000000001"])
def test_integer_literals_within_int64_and_20_characters_parse(number: str) -> None:
    assert parse_filter(f"a eq {number}") == Compare(
        "eq", Member(("a",)), Literal("int", int(number), number)
    )


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("9223372036854775808", id="int64-max-plus-one"),
        pytest.param("-9223372036854775809", id="int64-min-minus-one"),
        pytest.param("000000000000000000001", id="21-characters"),
    ],
)
def test_integer_literal_out_of_range_is_a_400(number: str) -> None:
    _rejected(f"a eq {number}", _out_of_range(number, 5))


def test_integer_literal_beyond_int_str_digits_limit_is_a_400() -> None:
    number = "1" * 5000
    _rejected(f"a eq {number}", _out_of_range(number, 5))


# --- property: render(tree) parses back to tree ---

_KEYWORDS = frozenset(
    {"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "null", "true", "false", "any", "all"}
)
_BINARY = (Compare, BoolOp, In, Not)

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n not in _KEYWORDS)
qualified_names = st.lists(names, min_size=2, max_size=3).map(".".join)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@st.composite
def datetime_literals(draw: st.DrawFn) -> Literal:
    moment = draw(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 30)))
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}"
    if draw(st.booleans()):
        text += f":{moment.second:02d}"
        digits = draw(st.integers(0, 7))
        if digits:
            text += "." + f"{moment.microsecond:06d}0"[:digits]
    hours = draw(st.integers(0, 14))
    minutes = 0 if hours == 14 else draw(st.integers(0, 59))
    text += draw(st.sampled_from(["Z", f"+{hours:02d}:{minutes:02d}", f"-{hours:02d}:{minutes:02d}"]))
    return Literal("datetime", parse_datetime_offset(text), text)


def _enum_literal(type_name: str, member: str) -> Literal:
    return Literal("enum", member, f"{type_name}{_quote(member)}", type_name)


# A string literal never holds U+0000: the parser refuses it, as PostgreSQL text cannot store it.
storable_text = st.text(st.characters(exclude_characters="\x00"))
literals: st.SearchStrategy[Literal] = st.one_of(
    storable_text.map(lambda s: Literal("string", s, _quote(s))),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: Literal("int", i, str(i))),  # Edm.Int64
    st.from_regex(
        r"-?[0-9]{1,6}(\.[0-9]{1,6}([eE][+-]?[0-9]{1,3})?|[eE][+-]?[0-9]{1,3})", fullmatch=True
    ).map(lambda t: Literal("decimal", t, t)),
    st.just(Literal("null", None, "null")),
    st.booleans().map(lambda b: Literal("bool", b, str(b).lower())),
    datetime_literals(),
    st.dates(min_value=date(1, 1, 1)).map(lambda d: Literal("date", d.isoformat(), d.isoformat())),
    st.uuids().map(str).map(lambda g: Literal("guid", g, g)),
    st.builds(_enum_literal, qualified_names, storable_text),
)
members: st.SearchStrategy[Member] = st.builds(
    lambda head, rest: Member((head, *rest)),
    st.one_of(names, qualified_names, st.just("$it")),
    st.lists(names, max_size=2),
)
# isof's last argument is a type name, not an expression: its calls are drawn apart.
function_names = names.filter(lambda n: n != "isof")
leaves: st.SearchStrategy[Node] = st.one_of(literals, members)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(Compare, st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]), children, children),
        st.builds(BoolOp, st.sampled_from(["and", "or"]), children, children),
        st.builds(Not, children),
        st.builds(In, children, st.lists(leaves, min_size=1, max_size=3).map(tuple)),
        st.builds(Call, function_names, st.lists(children, max_size=2).map(tuple)),
        st.builds(
            lambda tested, type_name: Call("isof", (*tested, type_name)),
            st.lists(children, max_size=1),
            st.one_of(
                qualified_names.map(TypeName),
                qualified_names.map(lambda n: Literal("string", n, _quote(n))),
            ),
        ),
        st.builds(Lambda, st.sampled_from(["any", "all"]), members, names, children),
        st.builds(Lambda, st.just("any"), members, st.none(), st.none()),
    )


trees: st.SearchStrategy[Node] = st.recursive(leaves, _extend, max_leaves=12)


def render(node: Node) -> str:
    """OData text for `node`; binary sub-expressions are always parenthesized."""
    if isinstance(node, Literal):
        return node.text
    if isinstance(node, TypeName):
        return node.name
    if isinstance(node, Member):
        return "/".join(node.segments)
    if isinstance(node, Compare | BoolOp):
        return f"{_operand(node.left)} {node.op} {_operand(node.right)}"
    if isinstance(node, Not):
        return f"not {_operand(node.operand)}"
    if isinstance(node, In):
        return f"{_operand(node.left)} in ({','.join(_operand(item) for item in node.items)})"
    if isinstance(node, Call):
        return f"{node.name}({','.join(render(arg) for arg in node.args)})"
    assert isinstance(node, Lambda)
    if node.predicate is None:
        return f"{render(node.collection)}/{node.op}()"
    return f"{render(node.collection)}/{node.op}({node.variable}: {render(node.predicate)})"


def _operand(node: Node) -> str:
    return f"({render(node)})" if isinstance(node, _BINARY) else render(node)


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        (Compare("eq", Member(("a",)), Literal("int", 1, "1")), "a eq 1"),
        (Not(BoolOp("or", Member(("a",)), Member(("b",)))), "not (a or b)"),
        (Lambda("any", Member(("s",)), None, None), "s/any()"),
        (Call("f", (Member(("a", "b")), Literal("string", "x", "'x'"))), "f(a/b,'x')"),
        (Call("isof", (Member(("$it",)), TypeName("x.y"))), "isof($it,x.y)"),
    ],
)
def test_renderer(tree: Node, text: str) -> None:
    # The property below is only as good as its renderer.
    assert render(tree) == text


@settings(deadline=None, max_examples=300)
@given(trees)
def test_parse_filter_inverts_render(tree: Node) -> None:
    assert parse_filter(render(tree)) == tree


@settings(deadline=None, max_examples=300)
@given(st.text())
def test_parse_filter_raises_only_graph_errors(text: str) -> None:
    try:
        parse_filter(text)
    except GraphError as error:
        assert (error.status, error.code) == (400, "BadRequest")


@settings(deadline=None, max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "a",
                "b/c",
                "eq",
                "and",
                "not",
                "(",
                ")",
                ",",
                "'x'",
                "1",
                "any",
                "/",
                ":",
                " ",
                "isof",
                "x.y",
                "$it",
            ]
        )
    )
)
def test_parse_filter_on_token_soup_raises_only_graph_errors(tokens: list[str]) -> None:
    # Random characters rarely form tokens; sequences of real tokens reach deeper into the grammar.
    try:
        parse_filter(" ".join(tokens))
    except GraphError as error:
        assert (error.status, error.code) == (400, "BadRequest")
