"""Bearer tokens: issue them with the server's key and verify them into a Principal.

Tokens are RS256 JWTs shaped like Microsoft identity platform v2.0 access tokens for Graph
(graph-surface.md §4.2): `aud` is Graph, `iss` is `{issuer}/{tid}/v2.0`, and permissions are in `roles`
(application) or `scp` (delegated). Verification pins the algorithm to RS256 and checks signature,
`exp`, `nbf`, `iss` and `aud` with a small clock-skew leeway. 401 messages are Graph's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from graphtasks.auth.keys import KeyRing
from graphtasks.errors import Unauthorized

ALGORITHM = "RS256"
GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_AUDIENCES = (GRAPH_RESOURCE, GRAPH_APP_ID)
# The client id `graphtasks token` puts in application tokens, unless told otherwise.
DEFAULT_CLIENT_ID = "2f6b6cd1-4a34-4ef3-9c3e-6a8a6c2e7d10"
MAX_TOKEN_CHARS = 16 * 1024


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    client_id: str
    object_id: str
    permissions: frozenset[str]
    delegated: bool


def issuer_for(issuer_base: str, tenant_id: str) -> str:
    return f"{issuer_base.rstrip('/')}/{tenant_id}/v2.0"


@dataclass(frozen=True)
class TokenRequest:
    tenant_id: str
    roles: tuple[str, ...] = ()
    # Set for a delegated token: the user's scopes (scp) and name.
    scopes: tuple[str, ...] | None = None
    user: str | None = None
    expires_in: int = 3600
    client_id: str = DEFAULT_CLIENT_ID


def issue_token(ring: KeyRing, request: TokenRequest, *, issuer_base: str) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": GRAPH_RESOURCE,
        "iss": issuer_for(issuer_base, request.tenant_id),
        "iat": now,
        "nbf": min(now, now + request.expires_in),
        "exp": now + request.expires_in,
        "tid": request.tenant_id,
        "azp": request.client_id,
        "appid": request.client_id,
        "ver": "2.0",
        "uti": uuid.uuid4().hex,
    }
    if request.scopes is None:
        claims |= {
            "idtyp": "app",
            "oid": request.client_id,
            "sub": request.client_id,
            "roles": list(request.roles),
        }
    else:
        user = request.user or "admin@contoso.onmicrosoft.com"
        object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request.tenant_id}/{user}"))
        claims |= {
            "idtyp": "user",
            "oid": object_id,
            "sub": object_id,
            "upn": user,
            "name": user,
            "scp": " ".join(request.scopes),
        }
    signing = ring.signing
    return jwt.encode(claims, signing.private_key, algorithm=ALGORITHM, headers={"kid": signing.kid})


def verify_bearer(authorization: str | None, ring: KeyRing, *, issuer_base: str, leeway_s: int) -> Principal:
    token = _bearer_value(authorization)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise Unauthorized("CompactToken parsing failed with error code: 80049217") from None
    key = ring.find(header.get("kid"))
    if key is None:
        raise Unauthorized("Access token validation failure.")
    claims = _decode(token, key.private_key.public_key(), leeway_s)
    tenant_id = claims.get("tid")
    if not isinstance(tenant_id, str) or not is_guid(tenant_id):
        raise Unauthorized("Access token validation failure. Invalid tenant.")
    if claims.get("iss") != issuer_for(issuer_base, tenant_id):
        raise Unauthorized("Access token validation failure. Invalid issuer.")
    # Entra writes tenant ids in lower case; one tenant must never become two by spelling.
    return _principal(claims, tenant_id.lower())


def _bearer_value(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Access token is empty.")
    # Entra's largest access tokens are a few KiB; anything far larger is refused before any decoding.
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("CompactToken parsing failed with error code: 80049217")
    return token.strip()


def _decode(token: str, public_key: Any, leeway_s: int) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=list(GRAPH_AUDIENCES),
            leeway=leeway_s,
            options={"require": ["exp", "iss", "aud", "tid"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Lifetime validation failed, the token is expired.") from None
    except jwt.ImmatureSignatureError:
        raise Unauthorized("Lifetime validation failed, the token is not yet valid.") from None
    except jwt.InvalidAudienceError:
        raise Unauthorized("Access token validation failure. Invalid audience.") from None
    except jwt.InvalidSignatureError:  # a DecodeError subclass, so it goes first
        raise Unauthorized("Access token validation failure.") from None
    except jwt.DecodeError:
        raise Unauthorized("CompactToken parsing failed with error code: 80049217") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("Access token validation failure.") from None


def _principal(claims: dict[str, Any], tenant_id: str) -> Principal:
    scp, roles = claims.get("scp"), claims.get("roles")
    if isinstance(scp, str):
        permissions, delegated = scp.split(), True
    elif isinstance(roles, list) and all(isinstance(r, str) for r in roles):
        permissions, delegated = roles, False
    else:
        raise Unauthorized("Either scp or roles claim need to be present in the token.")
    client_id = str(claims.get("azp") or claims.get("appid") or "")
    return Principal(tenant_id, client_id, str(claims.get("oid", "")), frozenset(permissions), delegated)


def is_guid(value: str) -> bool:
    """A GUID in its canonical 8-4-4-4-12 form (either case), as Entra writes tenant and client ids."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def parse_permissions(values: Iterable[str]) -> tuple[str, ...]:
    """Permission names given on a command line, split on commas and spaces, duplicates dropped."""
    names = (name for value in values for name in value.replace(",", " ").split())
    return tuple(dict.fromkeys(names))
