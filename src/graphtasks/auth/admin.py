"""The admin key: the secret that the admin endpoints (web/admin.py) ask for as a bearer token.

Derived from the signing key, like the skiptoken secret, so every instance on one database knows the
same key without storing another secret, and `graphtasks faults key` can print it from the database.

A server bound to a loopback address also answers admin requests without the key when they come from
this machine and through no proxy (AdminAccess; docs/testing.md, "Who may use the admin endpoints"):
whoever can reach a loopback port is already on the machine, where the emulator's data protects nothing
a local user could not read or make, and a test harness can then mint tokens and reset tenants knowing
only the URL. `--admin-key-required` takes that back.

The web console (web/console.py) signs in once with the key and then presents a session cookie with the
anti-forgery token that goes with it (auth/console_sessions.py) instead of the key. Whatever the
credential, a request a browser marks as sent by another site's page is refused: the admin endpoints
are never a cross-site target, not even of a page open on this machine.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
from collections.abc import Mapping

from graphtasks.auth.console_sessions import COOKIE_NAME, CSRF_HEADER, ConsoleSessions
from graphtasks.auth.keys import KeyRing
from graphtasks.config import LOOPBACK_HOSTS
from graphtasks.errors import CrossSiteRefused, Unauthorized


def admin_key(keys: KeyRing) -> str:
    return base64.urlsafe_b64encode(keys.derive_secret("graphtasks-admin")).decode().rstrip("=")


def check_admin(authorization: str | None, key: str) -> None:
    """Pass for `Bearer <admin key>`; raise Unauthorized otherwise (compared in constant time)."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), key.encode()):
        raise Unauthorized("The admin endpoints need the admin key: see `graphtasks faults key`.")


# Headers a proxy adds: a request that carries one may come from anywhere, whatever its address here.
_PROXY_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")


class AdminAccess:
    """Who may use the admin endpoints: the admin key's bearer; the console's signed-in session, with
    its anti-forgery token; and, when `loopback_trusted`, a keyless request from a loopback address
    that no proxy forwarded. Never a request another site's page made a browser send."""

    def __init__(
        self,
        key: str,
        *,
        loopback_trusted: bool,
        sessions: ConsoleSessions | None = None,
        public_url: str | None = None,
    ) -> None:
        self.key, self.loopback_trusted, self.sessions = key, loopback_trusted, sessions
        # Behind a reverse proxy, the origin pages are served from, which a proxy's Host may not be.
        self._public_origin = None if public_url is None else _origin_of(public_url)

    def check(self, scope: Mapping[str, object], authorization: str | None) -> None:
        self.refuse_cross_site(scope)
        if authorization is None and (self.keyless(scope) or self.console_session(_headers(scope))):
            return
        check_admin(authorization, self.key)

    def keyless(self, scope: Mapping[str, object]) -> bool:
        """Whether this request may go without the key: from this machine to a loopback server."""
        return self.loopback_trusted and _local_and_direct(scope)

    def refuse_cross_site(self, scope: Mapping[str, object]) -> None:
        if _cross_site(_headers(scope), self._public_origin):
            raise CrossSiteRefused()

    def console_session(self, headers: dict[bytes, bytes]) -> bool:
        """Whether the request carries a console session and its anti-forgery token."""
        if self.sessions is None:
            return False
        token = headers.get(CSRF_HEADER.encode())
        return self.sessions.admits(
            session_cookie(headers), None if token is None else token.decode("latin-1")
        )

    def console_token(self, scope: Mapping[str, object]) -> str | None:
        """The anti-forgery token of the console session the request's cookie holds; None without a
        valid one."""
        return None if self.sessions is None else self.sessions.csrf_token(session_cookie(_headers(scope)))


def session_cookie(headers: dict[bytes, bytes]) -> str | None:
    """The console's session cookie among the request's cookies, if it has one."""
    for pair in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = pair.strip().partition("=")
        if name == COOKIE_NAME:
            return value
    return None


def _headers(scope: Mapping[str, object]) -> dict[bytes, bytes]:
    """The request's headers by name; of a repeated header, its values joined as one (RFC 9110)."""
    found: dict[bytes, bytes] = {}
    raw = scope.get("headers")
    for name, value in raw if isinstance(raw, list) else ():
        found[name] = (
            found[name] + (b"; " if name == b"cookie" else b", ") + value if name in found else value
        )
    return found


def _cross_site(headers: dict[bytes, bytes], public_origin: bytes | None) -> bool:
    """A browser's request from another site's page: Fetch Metadata says so, or its Origin is neither
    the host it was sent to nor the server's public URL. Clients that are not browsers send neither
    header."""
    if headers.get(b"sec-fetch-site") == b"cross-site":
        return True
    origin = headers.get(b"origin")
    if origin is None or origin == public_origin:
        return False
    return origin.partition(b"://")[2] != headers.get(b"host", b"")


def _origin_of(url: str) -> bytes:
    scheme, _, rest = url.partition("://")
    return f"{scheme.lower()}://{rest.split('/')[0].lower()}".encode()


def _local_and_direct(scope: Mapping[str, object]) -> bool:
    client = scope.get("client")
    host = client[0] if isinstance(client, tuple | list) and client else None
    headers = scope.get("headers")
    names = {name for name, _ in headers} if isinstance(headers, list) else set()
    return isinstance(host, str) and is_loopback(host) and not names.intersection(_PROXY_HEADERS)


def is_loopback(host: str) -> bool:
    """A loopback address (127.0.0.0/8, ::1) or localhost."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in LOOPBACK_HOSTS
