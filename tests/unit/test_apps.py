"""Client secrets: made once, kept as salted hashes, compared in constant time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from graphtasks.auth.apps import hint, new_secret, secret_matches


def test_a_secret_matches_only_itself() -> None:
    secret, stored = new_secret()
    assert secret_matches(secret, stored)
    assert not secret_matches(secret + "x", stored)
    assert secret not in (stored.salt, stored.digest)
    assert hint(secret) == secret[:3]


def test_two_secrets_never_share_salt_or_hash() -> None:
    (_, first), (_, second) = new_secret(), new_secret()
    assert first.salt != second.salt and first.digest != second.digest


@given(st.text(max_size=80))
def test_no_other_text_matches(guess: str) -> None:
    secret, stored = new_secret()
    assert secret_matches(guess, stored) == (guess == secret)
