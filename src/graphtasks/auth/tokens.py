"""Bearer tokens: issue them with the server's key, and verify them into a Principal.

Issued tokens are RS256 JWTs shaped like Microsoft identity platform v2.0 access tokens for Graph
(docs/graph-behaviour.md, "Access tokens"): `aud` is the cloud's Graph, `iss` is
`{issuer}/{tid}/v2.0`, and permissions are in `roles` (application) or `scp` (delegated).

Verification accepts tokens from the server's own issuers and from the trusted issuers an operator
configured (Entra's v1.0 and v2.0 issuers, say). The token's `iss` (for the token's `tid`, and the origin
the request reached) picks the issuer; only that issuer's keys may have signed it. The algorithm is
pinned to RS256; signature, `exp`, `nbf` (with a small leeway) and `aud` are checked. 401 messages are
Graph's.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import SplitResult, urlsplit

import jwt

from graphtasks.auth.keys import KeyRing
from graphtasks.clouds import CLOUDS, TENANT_PLACEHOLDER
from graphtasks.config import DEFAULT_ISSUER, LOOPBACK_HOSTS
from graphtasks.errors import Unauthorized

# In an own issuer's template: the origin (scheme://host[:port]) the request reached.
ORIGIN_PLACEHOLDER = "{origin}"
ALGORITHM = "RS256"
GRAPH_RESOURCE = CLOUDS["global"].graph_url
# The client id `graphtasks token` puts in application tokens, unless told otherwise.
DEFAULT_CLIENT_ID = "2f6b6cd1-4a34-4ef3-9c3e-6a8a6c2e7d10"
MAX_TOKEN_CHARS = 16 * 1024
_MALFORMED = "CompactToken parsing failed with error code: 80049217"


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


def issue_token(
    ring: KeyRing, request: TokenRequest, *, issuer_base: str, audience: str = GRAPH_RESOURCE
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": audience,
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


class KeySource(Protocol):
    """Where an issuer's public keys come from: the server's own KeyRing, or a JWKS (auth/jwks.py)."""

    def key(self, kid: str | None) -> Any | None: ...

    def needs_refresh(self, kid: str | None) -> bool: ...

    def refresh(self) -> None: ...


@dataclass(frozen=True)
class OwnKeys:
    """The server's own keys: always in memory, nothing to refresh."""

    ring: KeyRing

    def key(self, kid: str | None) -> Any | None:
        found = self.ring.find(kid)
        return None if found is None else found.public_key

    def needs_refresh(self, kid: str | None) -> bool:
        return False

    def refresh(self) -> None:
        return None


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer, `{tenantid}` standing for the token's tenant (or a literal URL for one tenant), and
    the keys that sign its tokens. Only the server's own issuers may hold `{origin}`."""

    issuer: str
    keys: KeySource

    def matches(self, iss: str, tenant_id: str, origin: str) -> bool:
        expected = self.issuer.replace(TENANT_PLACEHOLDER, tenant_id)
        if not expected.startswith(ORIGIN_PLACEHOLDER):
            return iss == expected
        path = expected.removeprefix(ORIGIN_PLACEHOLDER)
        return iss.endswith(path) and same_server(iss.removesuffix(path), origin)


def same_server(origin: str, other: str) -> bool:
    """Two origins of one server: equal, or loopback names of one port (a client may get its token at
    https://localhost:8000 and call Graph at https://127.0.0.1:8000; both reach this machine only)."""
    if origin == other:
        return True
    first, second = urlsplit(origin), urlsplit(other)
    if not (_bare_origin(first) and _bare_origin(second)):
        return False
    try:
        same_port = (first.scheme, first.port) == (second.scheme, second.port)
    except ValueError:  # a port out of range in a token's iss
        return False
    return same_port and first.hostname in LOOPBACK_HOSTS and second.hostname in LOOPBACK_HOSTS


def _bare_origin(parts: SplitResult) -> bool:
    """scheme://host[:port] and nothing else: no path, query, fragment or user."""
    return not (parts.path or parts.query or parts.fragment or "@" in parts.netloc)


def own_issuer(ring: KeyRing, issuer_base: str) -> TrustedIssuer:
    return TrustedIssuer(issuer_for(issuer_base, TENANT_PLACEHOLDER), OwnKeys(ring))


def own_issuers(ring: KeyRing, configured: str | None) -> tuple[TrustedIssuer, ...]:
    """The issuers signed with the server's own key. With --issuer, that one alone. Without it, the
    origin the request reached (what the OpenID configuration names and the token endpoint signs as),
    and the issuer `graphtasks token` signs as offline. Neither widens trust: both still need the
    server's own signature over the whole token, its tenant in the path equal to the signed `tid`."""
    if configured is not None:
        return (own_issuer(ring, configured),)
    return (own_issuer(ring, ORIGIN_PLACEHOLDER), own_issuer(ring, DEFAULT_ISSUER))


class KeysOutdated(Exception):
    """The issuer's key cache should be re-read (blocking I/O) before this token can be judged."""

    def __init__(self, refresh: Callable[[], None]) -> None:
        super().__init__("the issuer's keys need a refresh")
        self.refresh = refresh


class VerifiedTokens:
    """Tokens verified lately, so a client sending the same bearer token on every request (as every SDK
    does, for an hour) pays for the signature check once. Keyed by the token's SHA-256 digest (the token
    itself is not kept); an entry lives until the token's `exp`, never past it and never longer than
    `max_age_s`, so a key an operator withdraws stops working within minutes. Bounded, least recently
    used first out. Not thread-safe: the web layer verifies on the event loop."""

    def __init__(self, *, capacity: int = 10_000, max_age_s: float = 300.0) -> None:
        self.capacity, self.max_age_s = capacity, max_age_s
        self._entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    def get(self, token: str, now: float, *, origin: str = "") -> Principal | None:
        key = _digest(token, origin)
        principal, expires_at = self._entries.get(key, (None, 0.0))
        if principal is None or now >= expires_at:
            self._entries.pop(key, None)
            return None
        self._entries.move_to_end(key)
        return principal

    def put(self, token: str, principal: Principal, *, exp: float, now: float, origin: str = "") -> None:
        key = _digest(token, origin)
        self._entries[key] = (principal, min(exp, now + self.max_age_s))
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _digest(token: str, origin: str) -> bytes:
    """Keyed by origin too: a token whose issuer is the origin it was minted at is valid there only."""
    return hashlib.sha256(f"{origin} {token}".encode()).digest()


@dataclass(frozen=True)
class TokenVerifier:
    issuers: tuple[TrustedIssuer, ...]
    audiences: tuple[str, ...]
    leeway_s: int
    verified: VerifiedTokens = field(default_factory=VerifiedTokens)

    def verify(self, authorization: str | None, *, origin: str = "", may_refresh: bool = True) -> Principal:
        """The caller behind an Authorization header sent to `origin`. Raises Unauthorized, or KeysOutdated
        when `may_refresh` and the keys should be re-read first (then call again with may_refresh=False)."""
        token = _bearer_value(authorization)
        now = time.time()
        known = self.verified.get(token, now, origin=origin)
        if known is not None:
            return known
        principal, exp = self._verify(token, origin, may_refresh=may_refresh)
        self.verified.put(token, principal, exp=exp, now=now, origin=origin)
        return principal

    def _verify(self, token: str, origin: str, *, may_refresh: bool) -> tuple[Principal, float]:
        kid, iss, tenant_id = _unverified_parts(token)
        issuer = next((i for i in self.issuers if i.matches(iss, tenant_id, origin)), None)
        if issuer is None:
            raise Unauthorized("Access token validation failure. Invalid issuer.")
        if may_refresh and issuer.keys.needs_refresh(kid):
            raise KeysOutdated(issuer.keys.refresh)
        key = issuer.keys.key(kid)
        if key is None:
            raise Unauthorized("Access token validation failure.")
        claims = _decode(token, key, self.audiences, self.leeway_s)
        # Entra writes tenant ids in lower case; one tenant must never become two by spelling.
        return _principal(claims, tenant_id.lower()), _expiry(claims["exp"])


def _expiry(exp: Any) -> float:
    """`exp` as a float for the cache. PyJWT has checked it is a number still ahead; an integer too large
    for a float (10**400, which JSON can carry) is ahead forever (fuzzing found it as a 500)."""
    try:
        return float(exp)
    except OverflowError:
        return math.inf


def _unverified_parts(token: str) -> tuple[str | None, str, str]:
    """kid, iss and tid, read before the signature is checked, only to find who should have signed."""
    try:
        # One parse for header and payload: PyJWT's parsing is a good part of a request's cost.
        parts = jwt.decode_complete(token, options={"verify_signature": False})
    except jwt.PyJWTError:  # not only DecodeError: a non-string kid or an unknown `crit` header, too
        raise Unauthorized(_MALFORMED) from None
    kid, claims = parts["header"].get("kid"), parts["payload"]
    tenant_id, iss = claims.get("tid"), claims.get("iss")
    if not isinstance(tenant_id, str) or not is_guid(tenant_id):
        raise Unauthorized("Access token validation failure. Invalid tenant.")
    if not isinstance(iss, str):
        raise Unauthorized("Access token validation failure. Invalid issuer.")
    return kid if isinstance(kid, str) else None, iss, tenant_id


def _bearer_value(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Access token is empty.")
    # Entra's largest access tokens are a few KiB; anything far larger is refused before any decoding.
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized(_MALFORMED)
    return token.strip()


def _decode(token: str, public_key: Any, audiences: tuple[str, ...], leeway_s: int) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=list(audiences),
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
        raise Unauthorized(_MALFORMED) from None
    except jwt.PyJWTError:  # InvalidKeyError, too, is not an InvalidTokenError
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
