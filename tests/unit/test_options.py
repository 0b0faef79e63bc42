"""graphtasks.odata.options.parse_query and graphtasks.odata.paging skiptokens.

Facts: beta's optional `$` (graph-surface.md §3), Intune's "Query option 'X' is not allowed" wording (§3),
OData's rule that custom query options (no `$`, not a system name) are ignored.
"""

from __future__ import annotations

import base64
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphtasks.errors import BadRequest, QueryOptionNotAllowed
from graphtasks.odata.options import QueryOptions, parse_query
from graphtasks.odata.paging import decode_skiptoken, encode_skiptoken

SKIPTOKEN_ONLY = frozenset({"skiptoken"})
NOTHING = frozenset[str]()


def _not_allowed(option: str) -> str:
    return (
        f"The query specified in the URI is not valid. Query option '{option}' is not allowed. "
        "To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or "
        "QueryValidationSettings."
    )


@pytest.mark.parametrize(
    ("params", "options"),
    [
        ([], QueryOptions()),
        ([("$skiptoken", "abc")], QueryOptions(skiptoken="abc")),
        ([("skiptoken", "abc")], QueryOptions(skiptoken="abc")),
        ([("$SkipToken", "abc")], QueryOptions(skiptoken="abc")),
        ([("SKIPTOKEN", "abc")], QueryOptions(skiptoken="abc")),
        ([("$skiptoken", "")], QueryOptions(skiptoken="")),
        ([("foo", "1"), ("$skiptoken", "abc")], QueryOptions(skiptoken="abc")),
        ([("api-version", "2018-05-24")], QueryOptions()),
        ([("foo", "1"), ("foo", "2")], QueryOptions()),
    ],
)
def test_parse_query(params: list[tuple[str, str]], options: QueryOptions) -> None:
    assert parse_query(params, allowed=SKIPTOKEN_ONLY) == options


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            [("$skiptoken", "a"), ("$skiptoken", "b")],
            "Query option '$skiptoken' was specified more than once, but it must be specified at most once.",
        ),
        (
            [("$skiptoken", "a"), ("skiptoken", "b")],
            "Query option '$skiptoken' was specified more than once, but it must be specified at most once.",
        ),
        (
            [("skiptoken", "a"), ("$SKIPTOKEN", "b")],
            "Query option '$skiptoken' was specified more than once, but it must be specified at most once.",
        ),
        ([("$foo", "1")], "The query parameter '$foo' is not supported."),
        ([("$Foo", "1")], "The query parameter '$Foo' is not supported."),
        ([("$", "1")], "The query parameter '$' is not supported."),
    ],
)
def test_parse_query_rejects(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_query(params, allowed=SKIPTOKEN_ONLY)
    error = caught.value
    assert type(error) is BadRequest
    assert (error.status, error.code, error.message) == (400, "BadRequest", message)


@pytest.mark.parametrize(
    ("name", "pascal"),
    [
        ("$filter", "Filter"),
        ("filter", "Filter"),
        ("$FILTER", "Filter"),
        ("$select", "Select"),
        ("$orderby", "OrderBy"),
        ("orderby", "OrderBy"),
        ("$top", "Top"),
        ("top", "Top"),
        ("$skip", "Skip"),
        ("$count", "Count"),
        ("$expand", "Expand"),
        ("$search", "Search"),
        ("$format", "Format"),
        ("$apply", "Apply"),
        ("$compute", "Compute"),
        ("$deltatoken", "DeltaToken"),
    ],
)
def test_not_allowed_option_names_it_in_pascal_case(name: str, pascal: str) -> None:
    with pytest.raises(QueryOptionNotAllowed) as caught:
        parse_query([(name, "x")], allowed=SKIPTOKEN_ONLY)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", _not_allowed(pascal))


def test_skiptoken_itself_can_be_not_allowed() -> None:
    with pytest.raises(QueryOptionNotAllowed) as caught:
        parse_query([("$skiptoken", "x")], allowed=NOTHING)
    assert caught.value.message == _not_allowed("SkipToken")


def test_allowed_options_are_accepted() -> None:
    allowed = frozenset({"skiptoken", "top", "filter"})
    params = [("$top", "5"), ("filter", "status eq 'active'"), ("$skiptoken", "t")]
    assert parse_query(params, allowed=allowed) == QueryOptions(skiptoken="t")


# --- paging ---


@given(st.uuids())
def test_skiptoken_round_trips_any_uuid(value: uuid.UUID) -> None:
    token = encode_skiptoken(str(value))
    assert decode_skiptoken(token) == str(value)


@given(st.uuids())
def test_skiptoken_is_url_safe_and_unpadded(value: uuid.UUID) -> None:
    token = encode_skiptoken(str(value))
    assert token.isascii()
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert str(value) not in token


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("!!!!", id="not-base64"),
        pytest.param("a", id="impossible-length"),
        pytest.param("_w", id="not-utf8"),
        pytest.param("\u00e9t\u00e9", id="non-ascii"),
        pytest.param(_b64("not-a-uuid"), id="not-a-uuid"),
        pytest.param(_b64("5d630f12-0f12-5d63-120f-635d120f635"), id="uuid-one-digit-short"),
        pytest.param("5d630f12-0f12-5d63-120f-635d120f635d", id="raw-uuid-not-encoded"),
    ],
)
def test_decode_skiptoken_rejects_garbage(token: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_skiptoken(token)
    error = caught.value
    assert (error.status, error.code, error.message) == (
        400,
        "BadRequest",
        "The $skiptoken value is not valid.",
    )


@given(st.text())
def test_decode_skiptoken_gives_a_uuid_or_bad_request(token: str) -> None:
    try:
        last_id = decode_skiptoken(token)
    except BadRequest as error:
        assert error.message == "The $skiptoken value is not valid."
    else:
        uuid.UUID(last_id)
