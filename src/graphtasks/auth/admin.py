"""The admin key: the secret that the admin endpoints (web/admin.py) ask for as a bearer token.

Derived from the signing key, like the skiptoken secret, so every instance on one database knows the
same key without storing another secret, and `graphtasks faults key` can print it from the database.
"""

from __future__ import annotations

import base64
import hmac

from graphtasks.auth.keys import KeyRing
from graphtasks.errors import Unauthorized


def admin_key(keys: KeyRing) -> str:
    return base64.urlsafe_b64encode(keys.derive_secret("graphtasks-admin")).decode().rstrip("=")


def check_admin(authorization: str | None, key: str) -> None:
    """Pass for `Bearer <admin key>`; raise Unauthorized otherwise (compared in constant time)."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), key.encode()):
        raise Unauthorized("The admin endpoints need the admin key: see `graphtasks faults key`.")
