"""The console's sessions (auth/console_sessions.py): a cookie and its anti-forgery token admit a request
together, until the session expires; nothing else does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from graphtasks.auth.console_sessions import SESSION_S, ConsoleSessions

NOW = 1_800_000_000.0
SESSIONS = ConsoleSessions(b"s" * 32)


def test_a_session_admits_its_cookie_with_its_token() -> None:
    opened = SESSIONS.open(now=NOW)
    assert SESSIONS.admits(opened.cookie, opened.csrf_token, now=NOW)
    assert SESSIONS.csrf_token(opened.cookie, now=NOW) == opened.csrf_token
    assert opened.expires_at == int(NOW) + SESSION_S


def test_the_cookie_alone_or_another_session_s_token_is_refused() -> None:
    first, second = SESSIONS.open(now=NOW), SESSIONS.open(now=NOW)
    assert not SESSIONS.admits(first.cookie, None, now=NOW)
    assert not SESSIONS.admits(first.cookie, second.csrf_token, now=NOW)
    assert not SESSIONS.admits(None, first.csrf_token, now=NOW)


def test_a_session_ends_when_it_expires() -> None:
    opened = SESSIONS.open(now=NOW)
    assert SESSIONS.admits(opened.cookie, opened.csrf_token, now=NOW + SESSION_S - 1)
    assert not SESSIONS.admits(opened.cookie, opened.csrf_token, now=NOW + SESSION_S)


def test_a_cookie_signed_with_another_secret_or_changed_is_refused() -> None:
    opened = ConsoleSessions(b"t" * 32).open(now=NOW)
    assert SESSIONS.csrf_token(opened.cookie, now=NOW) is None
    mine = SESSIONS.open(now=NOW)
    expires, nonce, signature = mine.cookie.split(".")
    later = f"{int(expires) + 10**6}.{nonce}.{signature}"  # a longer session, with the old signature
    assert SESSIONS.csrf_token(later, now=NOW) is None


@given(st.text(max_size=120), st.text(max_size=60))
def test_no_made_up_cookie_and_token_are_admitted(cookie: str, token: str) -> None:
    assert not SESSIONS.admits(cookie, token, now=NOW)
