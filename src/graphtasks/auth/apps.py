"""App registrations: the confidential clients the token service knows, per tenant.

A secret is shown once, when made; only a salted SHA-256 of it is stored, and it is checked in
constant time. One salted hash round is enough here: secrets are 240 random bits made by the server,
not passwords a person chose, so there is nothing for a slow hash to protect against guessing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from graphtasks.storage.base import StoredSecret


def new_secret() -> tuple[str, StoredSecret]:
    """A fresh client secret and what is stored of it."""
    secret = secrets.token_urlsafe(30)
    salt = secrets.token_hex(16)
    return secret, StoredSecret(salt, _digest(salt, secret))


def secret_matches(secret: str, stored: StoredSecret) -> bool:
    return hmac.compare_digest(_digest(stored.salt, secret), stored.digest)


def hint(secret: str) -> str:
    return secret[:3]


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()
