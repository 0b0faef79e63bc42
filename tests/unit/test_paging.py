"""graphtasks.odata.paging.SkiptokenSigner: opaque, signed keyset-continuation tokens.

Facts: Intune skiptokens are opaque key-continuation strings (docs/graph-behaviour.md, "Paging"). The
token must be
usable in a URL as is, and one signed for another scope (tenant, query) or secret must be refused.
"""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphtasks.errors import BadRequest
from graphtasks.odata.paging import KeyValue, SkiptokenSigner

SECRET = b"unit-test-secret"
SCOPE = "tenant-1|deviceAppManagementTasks||status eq 'pending'|displayName desc"
INVALID = "The $skiptoken value is not valid for this request."
URL_SAFE = re.compile(r"[A-Za-z0-9_.-]+")
# The base64url alphabet, in order: a character's index is the six bits it stands for.
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

key_values: st.SearchStrategy[KeyValue] = st.one_of(
    st.none(), st.text(), st.integers(min_value=-(2**63), max_value=2**63 - 1)
)
key_tuples = st.lists(key_values, max_size=6).map(tuple)

SIGNER = SkiptokenSigner(SECRET)
TOKEN = SIGNER.encode(
    ("Contoso \u2603", 638396640000000000, None, "5d630f12-0f12-5d63-120f-635d120f635d"), scope=SCOPE
)


def _rejected(token: str, *, scope: str = SCOPE, signer: SkiptokenSigner = SIGNER) -> None:
    with pytest.raises(BadRequest) as caught:
        signer.decode(token, scope=scope)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", INVALID)


def _replace(text: str, index: int, char: str) -> str:
    return text[:index] + char + text[index + 1 :]


def _flip(char: str) -> str:
    """Another base64url character whose top bit differs, so the decoded bytes always change."""
    return B64URL[B64URL.index(char) ^ 0b100000]


@pytest.mark.parametrize(
    "keys",
    [
        (),
        ("",),
        (None,),
        (0,),
        (2**63 - 1, -(2**63)),
        ("caf\u00e9", "\U0001f600", "\u2603"),
        ("a.b", "x=y&z", "'quoted'", '"double"', "back\\slash", "new\nline"),
        ("displayName", 42, None, "5d630f12-0f12-5d63-120f-635d120f635d"),
    ],
)
def test_round_trip(keys: tuple[KeyValue, ...]) -> None:
    assert SIGNER.decode(SIGNER.encode(keys, scope=SCOPE), scope=SCOPE) == keys


@given(key_tuples, st.text())
def test_round_trip_any_keys_and_scope(keys: tuple[KeyValue, ...], scope: str) -> None:
    assert SIGNER.decode(SIGNER.encode(keys, scope=scope), scope=scope) == keys


@given(key_tuples)
def test_token_is_url_safe(keys: tuple[KeyValue, ...]) -> None:
    assert URL_SAFE.fullmatch(SIGNER.encode(keys, scope=SCOPE))


def test_same_keys_and_scope_give_the_same_token() -> None:
    assert SIGNER.encode(("a", 1), scope=SCOPE) == SkiptokenSigner(SECRET).encode(("a", 1), scope=SCOPE)


def test_token_depends_on_scope() -> None:
    assert SIGNER.encode(("a",), scope="one") != SIGNER.encode(("a",), scope="two")


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param("tenant-2|deviceAppManagementTasks||status eq 'pending'|displayName desc", id="tenant"),
        pytest.param("tenant-1|deviceAppManagementTasks||status eq 'active'|displayName desc", id="filter"),
        pytest.param("tenant-1|deviceAppManagementTasks||status eq 'pending'|displayName", id="orderby"),
        pytest.param("", id="empty"),
        pytest.param(SCOPE + " ", id="one-more-character"),
    ],
)
def test_token_from_another_scope_is_refused(scope: str) -> None:
    _rejected(TOKEN, scope=scope)


def test_token_from_another_secret_is_refused() -> None:
    _rejected(TOKEN, signer=SkiptokenSigner(b"another-secret"))


def _payload_and_mac() -> tuple[str, str]:
    payload, mac = TOKEN.split(".")
    return payload, mac


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("a.b", id="a.b"),
        pytest.param(".", id="dot"),
        pytest.param("abc", id="no-mac"),
        pytest.param(_payload_and_mac()[0], id="payload-only"),
        pytest.param(_payload_and_mac()[0] + ".", id="payload-and-dot"),
        pytest.param("." + _payload_and_mac()[1], id="mac-only"),
        pytest.param(_payload_and_mac()[1] + "." + _payload_and_mac()[0], id="swapped"),
        pytest.param(TOKEN[:-1], id="truncated-by-one"),
        pytest.param(TOKEN[: len(TOKEN) // 2], id="truncated-to-half"),
        pytest.param(TOKEN[1:], id="first-character-dropped"),
        pytest.param(_replace(TOKEN, 0, _flip(TOKEN[0])), id="payload-first-character-flipped"),
        pytest.param(_replace(TOKEN, 10, _flip(TOKEN[10])), id="payload-middle-character-flipped"),
        pytest.param(
            _replace(TOKEN, TOKEN.index(".") + 1, _flip(TOKEN[TOKEN.index(".") + 1])),
            id="mac-first-character-flipped",
        ),
        pytest.param(TOKEN.replace(".", "-", 1), id="separator-replaced"),
        pytest.param("\u00e9t\u00e9.\u00e9t\u00e9", id="non-ascii"),
        pytest.param(TOKEN + "\u00e9", id="non-ascii-suffix"),
        pytest.param("!!!!.!!!!", id="not-base64"),
        pytest.param("e30.AAAAAAAAAAAAAAAAAAAAAA", id="unsigned-object"),
    ],
)
def test_damaged_token_is_refused(token: str) -> None:
    _rejected(token)


def _lenient_bytes(token: str) -> list[bytes]:
    """Each part of `token` as a lenient base64url decoder reads it: stray characters skipped, padding
    accepted, unused trailing bits ignored."""
    return [base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")]


def _mac_with_other_padding_bits() -> str:
    # A 16-byte MAC is 22 base64 characters; the last one carries 2 bits of MAC and 4 unused bits.
    index = len(TOKEN) - 1
    return _replace(TOKEN, index, B64URL[B64URL.index(TOKEN[index]) ^ 0b0001])


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_mac_with_other_padding_bits(), id="last-character-flipped-in-unused-bits"),
        pytest.param("!" + TOKEN, id="leading-junk-character"),
        pytest.param(TOKEN + "=", id="trailing-padding"),
    ],
)
def test_altered_token_that_decodes_to_the_same_bytes_is_refused(token: str) -> None:
    assert token != TOKEN
    assert _lenient_bytes(token) == _lenient_bytes(TOKEN)  # only a strict, canonical decoder tells them apart
    _rejected(token)


@given(st.text())
def test_decode_of_any_text_is_keys_or_bad_request(token: str) -> None:
    try:
        keys = SIGNER.decode(token, scope=SCOPE)
    except BadRequest as error:
        assert (error.status, error.code, error.message) == (400, "BadRequest", INVALID)
    else:
        assert token == TOKEN and isinstance(keys, tuple)
