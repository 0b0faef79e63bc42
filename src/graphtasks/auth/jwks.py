"""A trusted issuer's signing keys, read from a JWKS file or URL and kept in memory.

Keys are re-read when a token names a `kid` the cache does not hold (the issuer rotated its keys) or when
the cache is older than `max_age_s` (so retired keys go), but never more often than once per
`min_interval_s`: a stream of tokens with made-up kids must not turn into a stream of fetches. A failed
read keeps the keys already held, so a JWKS endpoint that is down does not lock every caller out.

Reading is blocking I/O: callers ask `needs_refresh` and run `refresh` where blocking is allowed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import jwt

logger = logging.getLogger(__name__)

# Entra's JWKS is about 10 KiB; a response far larger than that is not a key set.
MAX_JWKS_BYTES = 1024 * 1024
FETCH_TIMEOUT_S = 5.0


class JwksSource:
    def __init__(self, location: str, *, min_interval_s: float, max_age_s: float = 3600.0) -> None:
        self.location = location
        self.min_interval_s = min_interval_s
        self.max_age_s = max_age_s
        self._keys: dict[str, Any] = {}
        self._loaded_at: float | None = None
        self._tried_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> Any | None:
        """The public key with this kid, if the cache holds it."""
        return self._keys.get(kid) if isinstance(kid, str) else None

    def needs_refresh(self, kid: str | None) -> bool:
        now = time.monotonic()
        if self._tried_at is not None and now - self._tried_at < self.min_interval_s:
            return False
        stale = self._loaded_at is None or now - self._loaded_at >= self.max_age_s
        return stale or self.key(kid) is None

    def refresh(self) -> None:
        """Re-read the key set, unless another caller did within the minimum interval."""
        with self._lock:
            now = time.monotonic()
            if self._tried_at is not None and now - self._tried_at < self.min_interval_s:
                return
            self._tried_at = now
            try:
                self._keys = parse_jwks(self._read())
            except (OSError, ValueError, RecursionError) as error:  # RecursionError: JSON nested deep
                logger.warning("could not read the JWKS at %s: %s", self.location, error)
                return
            self._loaded_at = now

    def _read(self) -> bytes:
        if self.location.startswith(("https://", "http://")):
            # The scheme is checked just above: no file:// or custom schemes reach urllib.
            request = urllib.request.Request(self.location, headers={"Accept": "application/json"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310
                data: bytes = response.read(MAX_JWKS_BYTES + 1)
        else:
            with Path(self.location).open("rb") as file:
                data = file.read(MAX_JWKS_BYTES + 1)
        if len(data) > MAX_JWKS_BYTES:
            raise ValueError("the key set is larger than 1 MiB")
        return data


def parse_jwks(data: bytes) -> dict[str, Any]:
    """kid -> public key for every RSA signing key in a JWKS document; other keys are skipped, since
    tokens are verified with RS256 only."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError('not a JWKS: no "keys" array')
    keys: dict[str, Any] = {}
    for entry in entries:
        if _is_rsa_signing_key(entry):
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256").key
            except jwt.PyJWTError as error:
                logger.warning("skipping JWKS key %s: %s", entry["kid"], error)
    return keys


def _is_rsa_signing_key(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("kty") == "RSA"
        and isinstance(entry.get("kid"), str)
        and entry.get("use", "sig") == "sig"
        and entry.get("alg", "RS256") == "RS256"
    )
