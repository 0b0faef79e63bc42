"""graphtasks.odata.options.parse_query: system query options read from a query string.

Facts: beta's optional `$` and Intune's "Query option 'X' is not allowed" wording (docs/graph-behaviour.md,
"Query options"); the 1000-item page (the same page's "Paging"); ODataLib's messages for a repeated
option, a bad $top/$skip and a bad $count;
OData's rule that custom query options (no `$`, not a system name) are ignored.
"""

from __future__ import annotations

import pytest

from graphtasks.errors import BadRequest, QueryOptionNotAllowed
from graphtasks.odata.filter import MAX_NODE_COUNT, FilterSyntaxError
from graphtasks.odata.options import (
    COUNT_OPTIONS,
    ENTITY_OPTIONS,
    LIST_OPTIONS,
    MAX_EXPAND_DEPTH,
    MAX_PAGE_SIZE,
    OrderKey,
    QueryOptions,
    parse_query,
)

Params = list[tuple[str, str]]


def _not_allowed(option: str) -> str:
    return (
        f"The query specified in the URI is not valid. Query option '{option}' is not allowed. "
        "To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or "
        "QueryValidationSettings."
    )


def _twice(option: str) -> str:
    return f"Query option '${option}' was specified more than once, but it must be specified at most once."


def _bad_integer(option: str, value: str) -> str:
    return (
        f"Invalid value '{value}' for ${option} query option found. "
        f"The ${option} query option requires a non-negative integer value."
    )


def _rejects(params: Params, message: str, *, allowed: frozenset[str] = LIST_OPTIONS) -> None:
    """parse_query raises a plain BadRequest (400, BadRequest) with exactly `message`."""
    with pytest.raises(BadRequest) as caught:
        parse_query(params, allowed=allowed)
    error = caught.value
    assert type(error) is BadRequest
    assert (error.status, error.code, error.message) == (400, "BadRequest", message)


def test_max_page_size_is_intunes() -> None:
    assert MAX_PAGE_SIZE == 1000


@pytest.mark.parametrize(
    ("allowed", "names"),
    [
        (LIST_OPTIONS, {"filter", "select", "orderby", "top", "skip", "count", "expand", "skiptoken"}),
        (ENTITY_OPTIONS, {"select", "expand"}),
        (COUNT_OPTIONS, {"filter"}),
    ],
    ids=["list", "entity", "count"],
)
def test_allowed_option_sets(allowed: frozenset[str], names: set[str]) -> None:
    assert allowed == names


# --- names: `$` optional, case-insensitive, custom options ignored ---


@pytest.mark.parametrize(
    ("params", "options"),
    [
        pytest.param([], QueryOptions(), id="nothing"),
        pytest.param([("$top", "5")], QueryOptions(top=5), id="dollar"),
        pytest.param([("top", "5")], QueryOptions(top=5), id="no-dollar"),
        pytest.param([("$TOP", "5")], QueryOptions(top=5), id="upper-case"),
        pytest.param([("Top", "5")], QueryOptions(top=5), id="mixed-case-no-dollar"),
        pytest.param([("$SkipToken", "abc")], QueryOptions(skiptoken="abc"), id="skiptoken-pascal"),
        pytest.param([("skiptoken", "")], QueryOptions(skiptoken=""), id="empty-skiptoken-kept"),
        pytest.param([("$Count", "true")], QueryOptions(count=True), id="count-mixed-case"),
        pytest.param([("foo", "1")], QueryOptions(), id="custom-ignored"),
        pytest.param([("api-version", "2018-05-24")], QueryOptions(), id="custom-with-dash"),
        pytest.param([("foo", "1"), ("foo", "2")], QueryOptions(), id="custom-repeated-ignored"),
        pytest.param([("topx", "1")], QueryOptions(), id="custom-prefixed-by-a-system-name"),
        pytest.param([("foo", "1"), ("$top", "7")], QueryOptions(top=7), id="custom-next-to-system"),
    ],
)
def test_option_names(params: Params, options: QueryOptions) -> None:
    assert parse_query(params, allowed=LIST_OPTIONS) == options


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param([("$top", "1"), ("$top", "2")], _twice("top"), id="dollar-twice"),
        pytest.param([("$top", "1"), ("top", "1")], _twice("top"), id="with-and-without-dollar"),
        pytest.param([("filter", "a eq 1"), ("$FILTER", "a eq 1")], _twice("filter"), id="case-differs"),
        pytest.param([("skiptoken", "a"), ("skiptoken", "b")], _twice("skiptoken"), id="no-dollar-twice"),
        pytest.param([("$foo", "1")], "The query parameter '$foo' is not supported.", id="unknown"),
        pytest.param(
            [("$Foo", "1")], "The query parameter '$Foo' is not supported.", id="unknown-as-written"
        ),
        pytest.param([("$", "1")], "The query parameter '$' is not supported.", id="bare-dollar"),
        pytest.param([("$$top", "1")], "The query parameter '$$top' is not supported.", id="double-dollar"),
    ],
)
def test_option_name_errors(params: Params, message: str) -> None:
    _rejects(params, message)


@pytest.mark.parametrize(
    ("name", "allowed", "pascal"),
    [
        ("$filter", ENTITY_OPTIONS, "Filter"),
        ("filter", ENTITY_OPTIONS, "Filter"),
        ("$FILTER", ENTITY_OPTIONS, "Filter"),
        ("$select", COUNT_OPTIONS, "Select"),
        ("$orderby", ENTITY_OPTIONS, "OrderBy"),
        ("OrderBy", COUNT_OPTIONS, "OrderBy"),
        ("$top", ENTITY_OPTIONS, "Top"),
        ("$skip", ENTITY_OPTIONS, "Skip"),
        ("$count", ENTITY_OPTIONS, "Count"),
        ("$expand", COUNT_OPTIONS, "Expand"),
        ("$skiptoken", ENTITY_OPTIONS, "SkipToken"),
        ("skiptoken", COUNT_OPTIONS, "SkipToken"),
        ("$search", LIST_OPTIONS, "Search"),
        ("search", COUNT_OPTIONS, "Search"),
        ("$format", LIST_OPTIONS, "Format"),
        ("$apply", LIST_OPTIONS, "Apply"),
        ("$compute", LIST_OPTIONS, "Compute"),
        ("$levels", LIST_OPTIONS, "Levels"),
        ("$deltatoken", LIST_OPTIONS, "DeltaToken"),
    ],
)
def test_not_allowed_option_is_named_in_pascal_case(name: str, allowed: frozenset[str], pascal: str) -> None:
    with pytest.raises(QueryOptionNotAllowed) as caught:
        parse_query([(name, "x")], allowed=allowed)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", _not_allowed(pascal))


def test_not_allowed_is_raised_before_the_value_is_checked() -> None:
    # An entity GET with `$top=x`: the option itself is refused, not its value.
    with pytest.raises(QueryOptionNotAllowed) as caught:
        parse_query([("$top", "x")], allowed=ENTITY_OPTIONS)
    assert caught.value.message == _not_allowed("Top")


# --- $top and $skip ---


@pytest.mark.parametrize(
    ("value", "top"),
    [("5", 5), ("0", 0), ("1000", 1000), ("1001", 1000), ("5000", 1000), ("007", 7)],
)
def test_top(value: str, top: int) -> None:
    assert parse_query([("$top", value)], allowed=LIST_OPTIONS).top == top


def test_top_absent_is_none() -> None:
    assert parse_query([], allowed=LIST_OPTIONS).top is None


@pytest.mark.parametrize(("value", "skip"), [("0", 0), ("5", 5), ("5000", 5000), ("123456789", 123456789)])
def test_skip_is_not_capped(value: str, skip: int) -> None:
    assert parse_query([("$skip", value)], allowed=LIST_OPTIONS).skip == skip


def test_skip_absent_is_zero() -> None:
    assert parse_query([], allowed=LIST_OPTIONS).skip == 0


@pytest.mark.parametrize("option", ["top", "skip"])
@pytest.mark.parametrize("value", ["-1", "x", "", "1.5", "+5", "1e3", "0x10"])
def test_top_and_skip_need_a_non_negative_integer(option: str, value: str) -> None:
    _rejects([(f"${option}", value)], _bad_integer(option, value))


@pytest.mark.parametrize("option", ["top", "skip"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("\u00b2", id="superscript-two"),
        pytest.param("\u0665", id="arabic-indic-five"),
        pytest.param("\uff15", id="fullwidth-five"),
        pytest.param("00000000005", id="eleven-digits"),
        # Int32.MaxValue + 1: ODataLib reads $top and $skip as Int32.
        pytest.param("2147483648", id="beyond-int32"),
        pytest.param("9999999999", id="ten-digits-beyond-int32"),
        pytest.param("9223372036854775808", id="beyond-int64"),
        pytest.param("9" * 5000, id="beyond-int-str-digits-limit"),
    ],
)
def test_top_and_skip_reject_values_int32_cannot_hold(option: str, value: str) -> None:
    _rejects([(f"${option}", value)], _bad_integer(option, value))


def test_skip_at_int32_max_is_accepted() -> None:
    assert parse_query([("$skip", "2147483647")], allowed=LIST_OPTIONS).skip == 2**31 - 1


def test_skip_beyond_int32_max_is_refused() -> None:
    _rejects([("$skip", "2147483648")], _bad_integer("skip", "2147483648"))


@pytest.mark.parametrize(("value", "top"), [("2147483647", 1000), ("0000000007", 7)])
def test_top_within_ten_digits_and_int32_is_accepted(value: str, top: int) -> None:
    assert parse_query([("$top", value)], allowed=LIST_OPTIONS).top == top


# --- $count ---


@pytest.mark.parametrize(("value", "count"), [("true", True), ("false", False)])
def test_count(value: str, count: bool) -> None:
    assert parse_query([("$count", value)], allowed=LIST_OPTIONS).count is count


def test_count_absent_is_false() -> None:
    assert parse_query([], allowed=LIST_OPTIONS).count is False


@pytest.mark.parametrize("value", ["TRUE", "True", "1", "yes", "", " true"])
def test_count_rejects(value: str) -> None:
    _rejects([("$count", value)], f"'{value}' is not a valid count option.")


# --- $select ---


@pytest.mark.parametrize(
    ("value", "select"),
    [
        ("a", (("a",),)),
        ("a,b", (("a",), ("b",))),
        (" a , b ", (("a",), ("b",))),
        ("b,a", (("b",), ("a",))),
        ("a,b,a", (("a",), ("b",))),
        ("microsoft.graph.x/y", (("microsoft.graph.x", "y"),)),
        ("a,microsoft.graph.x/y", (("a",), ("microsoft.graph.x", "y"))),
        ("*", None),
        ("a,*", None),
    ],
)
def test_select(value: str, select: tuple[tuple[str, ...], ...] | None) -> None:
    assert parse_query([("$select", value)], allowed=LIST_OPTIONS).select == select


def test_select_absent_is_none() -> None:
    assert parse_query([], allowed=LIST_OPTIONS).select is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a,,b", "The $select query option 'a,,b' has an empty item."),
        ("", "The $select query option '' has an empty item."),
        ("  ", "The $select query option '  ' has an empty item."),
        ("a,", "The $select query option 'a,' has an empty item."),
        ("a b", "Syntax error in the $select query option at 'a b'."),
        ("a/", "Syntax error in the $select query option at 'a/'."),
        ("1a", "Syntax error in the $select query option at '1a'."),
        ("a($select=b)", "Syntax error in the $select query option at 'a($select=b)'."),
    ],
)
def test_select_rejects(value: str, message: str) -> None:
    _rejects([("$select", value)], message)


# --- $orderby ---


@pytest.mark.parametrize(
    ("value", "orderby"),
    [
        ("a", (OrderKey(("a",)),)),
        ("a asc", (OrderKey(("a",)),)),
        ("a desc", (OrderKey(("a",), descending=True),)),
        ("a desc,b asc", (OrderKey(("a",), descending=True), OrderKey(("b",)))),
        (" a  desc , b ", (OrderKey(("a",), descending=True), OrderKey(("b",)))),
        ("microsoft.graph.x/y desc", (OrderKey(("microsoft.graph.x", "y"), descending=True),)),
    ],
)
def test_orderby(value: str, orderby: tuple[OrderKey, ...]) -> None:
    assert parse_query([("$orderby", value)], allowed=LIST_OPTIONS).orderby == orderby


@pytest.mark.parametrize(
    ("key", "text"),
    [(OrderKey(("a",)), "a"), (OrderKey(("x.y", "b"), descending=True), "x.y/b desc")],
)
def test_order_key_text(key: OrderKey, text: str) -> None:
    assert str(key) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a sideways", "Syntax error in the $orderby query option at 'a sideways'."),
        ("a desc desc", "Syntax error in the $orderby query option at 'a desc desc'."),
        ("a,,b", "The $orderby query option 'a,,b' has an empty item."),
        ("", "The $orderby query option '' has an empty item."),
    ],
)
def test_orderby_rejects(value: str, message: str) -> None:
    _rejects([("$orderby", value)], message)


# --- $expand ---


@pytest.mark.parametrize(
    ("value", "expand"),
    [
        ("managedDevices", (("managedDevices",),)),
        ("managedDevices,mobileApps", (("managedDevices",), ("mobileApps",))),
        ("managedDevices,managedDevices", (("managedDevices",),)),
        ("*", (("*",),)),
        (
            "microsoft.graph.appVulnerabilityTask/mobileApps",
            (("microsoft.graph.appVulnerabilityTask", "mobileApps"),),
        ),
    ],
)
def test_expand(value: str, expand: tuple[tuple[str, ...], ...]) -> None:
    assert parse_query([("$expand", value)], allowed=LIST_OPTIONS).expand == expand


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x($select=a)", "Query options inside $expand are not supported: 'x($select=a)'."),
        ("x y", "Syntax error in the $expand query option at 'x y'."),
        ("a,,b", "The $expand query option 'a,,b' has an empty item."),
        ("", "The $expand query option '' has an empty item."),
    ],
)
def test_expand_rejects(value: str, message: str) -> None:
    _rejects([("$expand", value)], message)


def _too_deep(depth: int) -> str:
    return (
        "The query specified in the URI is not valid. The request includes a $expand path which is too "
        f"deep. The maximum depth allowed is {depth}. To increase the limit, set the 'MaxExpansionDepth' "
        "property on EnableQueryAttribute or ODataValidationSettings."
    )


@pytest.mark.parametrize(
    "value",
    [
        "managedDevices/deviceName",
        "microsoft.graph.appVulnerabilityTask/mobileApps/x",
        "managedDevices,mobileApps/x",
        "a/" * 2000 + "b",
    ],
)
def test_expand_deeper_than_one_navigation_is_a_400(value: str) -> None:
    assert MAX_EXPAND_DEPTH == 1
    _rejects([("$expand", value)], _too_deep(MAX_EXPAND_DEPTH))


# --- $filter ---


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("status eq 'pending'", "(eq status 'pending')"),
        ("a eq 1 or b eq 2 and c eq 3", "(or (eq a 1) (and (eq b 2) (eq c 3)))"),
        ("isof('microsoft.graph.x')", "(isof 'microsoft.graph.x')"),
    ],
)
def test_filter_is_parsed_into_the_tree(text: str, tree: str) -> None:
    options = parse_query([("$filter", text)], allowed=LIST_OPTIONS)
    assert (str(options.filter), options.filter_text) == (tree, text)


def test_filter_absent() -> None:
    options = parse_query([], allowed=LIST_OPTIONS)
    assert (options.filter, options.filter_text) == (None, None)


def test_filter_syntax_error_is_a_400() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_query([("filter", "a eq")], allowed=COUNT_OPTIONS)
    error = caught.value
    assert (error.status, error.code, error.message) == (
        400,
        "BadRequest",
        "Expression expected at position 4 in 'a eq'.",
    )


def test_filter_limits_apply_to_the_option() -> None:
    # The limits themselves are tested with the parser (tests/unit/test_filter_parser.py).
    text = "id in (" + ",".join(["'x'"] * MAX_NODE_COUNT) + ")"
    with pytest.raises(BadRequest, match="node count limit of '1000' has been exceeded"):
        parse_query([("$filter", text)], allowed=LIST_OPTIONS)


def test_every_list_option_at_once() -> None:
    params = [
        ("$filter", "a eq 1"),
        ("select", "a,b"),
        ("$orderby", "a desc"),
        ("$top", "10"),
        ("$skip", "20"),
        ("$count", "true"),
        ("$expand", "managedDevices"),
        ("$skiptoken", "t"),
    ]
    options = parse_query(params, allowed=LIST_OPTIONS)
    assert options == QueryOptions(
        filter=options.filter,
        filter_text="a eq 1",
        select=(("a",), ("b",)),
        orderby=(OrderKey(("a",), descending=True),),
        top=10,
        skip=20,
        count=True,
        expand=(("managedDevices",),),
        skiptoken="t",
    )
    assert str(options.filter) == "(eq a 1)"
