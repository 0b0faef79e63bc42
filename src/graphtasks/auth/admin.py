"""The admin key: the secret that the admin endpoints (web/admin.py) ask for as a bearer token.

Derived from the signing key, like the skiptoken secret, so every instance on one database knows the
same key without storing another secret, and `graphtasks faults key` can print it from the database.

A server bound to a loopback address also answers admin requests without the key when they come from
this machine and through no proxy (AdminAccess; docs/testing.md, "Who may use the admin endpoints"):
whoever can reach a loopback port is already on the machine, where the emulator's data protects nothing
a local user could not read or make, and a test harness can then mint tokens and reset tenants knowing
only the URL. `--admin-key-required` takes that back.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
from collections.abc import Mapping

from graphtasks.auth.keys import KeyRing
from graphtasks.config import LOOPBACK_HOSTS
from graphtasks.errors import Unauthorized


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
    """Who may use the admin endpoints: the admin key's bearer, and, when `loopback_trusted`, a keyless
    request from a loopback address that no proxy forwarded."""

    def __init__(self, key: str, *, loopback_trusted: bool) -> None:
        self.key, self.loopback_trusted = key, loopback_trusted

    def check(self, scope: Mapping[str, object], authorization: str | None) -> None:
        if authorization is None and self.loopback_trusted and _local_and_direct(scope):
            return
        check_admin(authorization, self.key)


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
