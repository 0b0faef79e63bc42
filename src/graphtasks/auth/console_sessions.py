"""The web console's sign-in: a session cookie that stands for the admin key, and the anti-forgery token
that must come with every admin request the cookie authenticates.

Stateless, so that every worker process of one database accepts the same session: the cookie holds its
expiry and a random nonce, signed with a secret derived from the signing key (as the admin key is); the
anti-forgery token is derived from the nonce with the same secret. The console's page reads the token
from the session endpoint's JSON, which only a page of the same origin can read, and sends it in a
header; a page of another site can make the browser send the cookie (SameSite=Strict already stops
that in current browsers), but it can neither read nor guess the token.

Pure: no HTTP, no storage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE_NAME = "graphtasks_console"
CSRF_HEADER = "x-csrf-token"
# A console session lasts a working day; signing in again is one paste of the key.
SESSION_S = 12 * 3600


@dataclass(frozen=True)
class ConsoleSession:
    cookie: str
    csrf_token: str
    expires_at: int  # Unix seconds


class ConsoleSessions:
    """Issues and checks console sessions, all signed with `secret`."""

    def __init__(self, secret: bytes, *, lifetime_s: int = SESSION_S) -> None:
        self._secret = secret
        self.lifetime_s = lifetime_s

    def open(self, *, now: float | None = None) -> ConsoleSession:
        expires_at = int(time.time() if now is None else now) + self.lifetime_s
        nonce = secrets.token_urlsafe(18)
        payload = f"{expires_at}.{nonce}"
        return ConsoleSession(f"{payload}.{self._sign('cookie', payload)}", self._csrf(nonce), expires_at)

    def csrf_token(self, cookie: str | None, *, now: float | None = None) -> str | None:
        """The anti-forgery token of a valid, unexpired session cookie; None for any other cookie."""
        nonce = self._nonce(cookie, time.time() if now is None else now)
        return None if nonce is None else self._csrf(nonce)

    def admits(self, cookie: str | None, csrf_token: str | None, *, now: float | None = None) -> bool:
        """Whether a request carrying `cookie` and the header `csrf_token` is the console's."""
        expected = self.csrf_token(cookie, now=now)
        if expected is None or csrf_token is None:
            return False
        return hmac.compare_digest(expected.encode(), csrf_token.encode())

    def _nonce(self, cookie: str | None, now: float) -> str | None:
        expires, _, rest = (cookie or "").partition(".")
        nonce, _, signature = rest.partition(".")
        if not (expires.isascii() and expires.isdigit() and nonce and signature):
            return None
        if not hmac.compare_digest(signature.encode(), self._sign("cookie", f"{expires}.{nonce}").encode()):
            return None
        return nonce if int(expires) > now else None

    def _csrf(self, nonce: str) -> str:
        return self._sign("csrf", nonce)

    def _sign(self, purpose: str, text: str) -> str:
        digest = hmac.new(self._secret, f"{purpose}\n{text}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
