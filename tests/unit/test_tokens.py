"""graphtasks.auth.tokens (issue and verify bearer tokens) and graphtasks.auth.permissions.

401 messages are Graph's (docs/graph-behaviour.md, "Access tokens"); permission sets are the
docs' (the same page's "Permissions").
Tokens that issue_token cannot produce are crafted here with PyJWT, or by hand where PyJWT refuses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from graphtasks.auth.keys import KeyRing, SigningKey
from graphtasks.auth.permissions import (
    APPS_READ,
    APPS_READ_WRITE,
    CONFIGURATION_READ,
    CONFIGURATION_READ_WRITE,
    PERSONAL_ACCOUNT_TENANT,
    Access,
    authorize,
)
from graphtasks.auth.tokens import (
    DEFAULT_CLIENT_ID,
    Principal,
    TokenRequest,
    TokenVerifier,
    VerifiedTokens,
    issue_token,
    own_issuer,
    parse_permissions,
)
from graphtasks.clouds import CLOUDS
from graphtasks.errors import Forbidden, Unauthorized

TENANT = "8f1c7e5a-3b2d-4c6e-9a1f-0d2b4c6e8a10"
ISSUER_BASE = "https://login.graphtasks.test"
ISSUER = f"{ISSUER_BASE}/{TENANT}/v2.0"
LEEWAY = 60
GRAPH = "https://graph.microsoft.com"

EMPTY = "Access token is empty."
MALFORMED = "CompactToken parsing failed with error code: 80049217"
INVALID = "Access token validation failure."
EXPIRED = "Lifetime validation failed, the token is expired."


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ring(private_key: rsa.RSAPrivateKey) -> KeyRing:
    return KeyRing((SigningKey("k1", private_key),))


def _verify(authorization: str | None, ring: KeyRing, *, leeway_s: int = LEEWAY) -> Principal:
    verifier = TokenVerifier((own_issuer(ring, ISSUER_BASE),), CLOUDS["global"].audiences, leeway_s)
    return verifier.verify(authorization)


def _issue(ring: KeyRing, request: TokenRequest) -> str:
    return issue_token(ring, request, issuer_base=ISSUER_BASE)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": GRAPH,
        "iss": ISSUER,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": TENANT,
        "azp": DEFAULT_CLIENT_ID,
        "oid": DEFAULT_CLIENT_ID,
        "roles": [APPS_READ],
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, *, kid: str | None = "k1") -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned_input(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _assert_unauthorized(error: Unauthorized, message: str) -> None:
    assert (error.status, error.code, error.message) == (401, "InvalidAuthenticationToken", message)
    assert error.headers["WWW-Authenticate"].startswith('Bearer realm=""')


# --- accepted tokens ---


def test_application_token_gives_principal_with_roles(ring: KeyRing) -> None:
    token = _issue(ring, TokenRequest(TENANT, roles=(APPS_READ, CONFIGURATION_READ_WRITE)))
    assert _verify(f"Bearer {token}", ring) == Principal(
        tenant_id=TENANT,
        client_id=DEFAULT_CLIENT_ID,
        object_id=DEFAULT_CLIENT_ID,
        permissions=frozenset({APPS_READ, CONFIGURATION_READ_WRITE}),
        delegated=False,
    )


def test_delegated_token_gives_delegated_principal_with_scopes(ring: KeyRing) -> None:
    token = _issue(ring, TokenRequest(TENANT, scopes=(APPS_READ_WRITE, "User.Read"), user="ann@contoso.com"))
    principal = _verify(f"Bearer {token}", ring)
    assert principal == Principal(
        tenant_id=TENANT,
        client_id=DEFAULT_CLIENT_ID,
        object_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{TENANT}/ann@contoso.com")),
        permissions=frozenset({APPS_READ_WRITE, "User.Read"}),
        delegated=True,
    )


def test_application_token_without_roles_has_no_permissions(ring: KeyRing) -> None:
    token = _issue(ring, TokenRequest(TENANT))
    principal = _verify(f"Bearer {token}", ring)
    assert (principal.permissions, principal.delegated) == (frozenset(), False)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "00000003-0000-0000-c000-000000000000"}, id="graph-app-id-audience"),
        pytest.param({"scp": APPS_READ, "roles": None}, id="scp-only"),
        pytest.param({"nbf": None, "iat": None}, id="no-nbf-no-iat"),
    ],
)
def test_crafted_tokens_accepted(
    ring: KeyRing, private_key: rsa.RSAPrivateKey, claims: dict[str, Any]
) -> None:
    token = _sign(_claims(**claims), private_key)
    assert _verify(f"Bearer {token}", ring).tenant_id == TENANT


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_scheme_is_case_insensitive(ring: KeyRing, scheme: str) -> None:
    token = _issue(ring, TokenRequest(TENANT, roles=(APPS_READ,)))
    assert _verify(f"{scheme} {token}", ring).permissions == frozenset({APPS_READ})


def test_expired_by_less_than_leeway_is_accepted(ring: KeyRing) -> None:
    token = _issue(ring, TokenRequest(TENANT, roles=(APPS_READ,), expires_in=-30))
    assert _verify(f"Bearer {token}", ring, leeway_s=60).permissions == frozenset({APPS_READ})


def test_not_yet_valid_by_less_than_leeway_is_accepted(ring: KeyRing, private_key: rsa.RSAPrivateKey) -> None:
    token = _sign(_claims(nbf=int(time.time()) + 30), private_key)
    assert _verify(f"Bearer {token}", ring, leeway_s=60).tenant_id == TENANT


def test_any_key_of_the_ring_verifies(private_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey) -> None:
    rotated = KeyRing((SigningKey("k2", other_key), SigningKey("k1", private_key)))
    token = _sign(_claims(), private_key, kid="k1")
    assert _verify(f"Bearer {token}", rotated).permissions == frozenset({APPS_READ})


# --- rejected tokens ---


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "Bearer    ", "Basic x", "Token abc"]
)
def test_missing_token_is_empty(ring: KeyRing, authorization: str | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        _verify(authorization, ring)
    _assert_unauthorized(caught.value, EMPTY)


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "x.y", "....", "eyJhbGciOi.e30.sig"])
def test_garbage_is_compact_token_parsing_failure(ring: KeyRing, garbage: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {garbage}", ring)
    _assert_unauthorized(caught.value, MALFORMED)


def test_expired_beyond_leeway_is_rejected(ring: KeyRing) -> None:
    token = _issue(ring, TokenRequest(TENANT, roles=(APPS_READ,), expires_in=-120))
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {token}", ring, leeway_s=60)
    _assert_unauthorized(caught.value, EXPIRED)


def test_expired_without_leeway_is_rejected(ring: KeyRing) -> None:
    token = _issue(ring, TokenRequest(TENANT, roles=(APPS_READ,), expires_in=-30))
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {token}", ring, leeway_s=0)
    _assert_unauthorized(caught.value, EXPIRED)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        pytest.param(
            {"aud": "https://graph.contoso.com"}, f"{INVALID} Invalid audience.", id="wrong-audience"
        ),
        pytest.param({"aud": "api://graphtasks"}, f"{INVALID} Invalid audience.", id="app-uri-audience"),
        pytest.param(
            {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0"},
            f"{INVALID} Invalid issuer.",
            id="other-issuer",
        ),
        pytest.param({"iss": f"{ISSUER_BASE}/{TENANT}"}, f"{INVALID} Invalid issuer.", id="v1-shaped-issuer"),
        pytest.param(
            {"iss": f"{ISSUER_BASE}/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"},
            f"{INVALID} Invalid issuer.",
            id="issuer-of-another-tenant",
        ),
        pytest.param(
            {"tid": "contoso", "iss": f"{ISSUER_BASE}/contoso/v2.0"},
            f"{INVALID} Invalid tenant.",
            id="tid-not-guid",
        ),
        pytest.param(
            {"tid": TENANT.replace("-", ""), "iss": f"{ISSUER_BASE}/{TENANT.replace('-', '')}/v2.0"},
            f"{INVALID} Invalid tenant.",
            id="tid-guid-without-hyphens",
        ),
        pytest.param({"tid": 42}, f"{INVALID} Invalid tenant.", id="tid-number"),
        pytest.param({"tid": None}, f"{INVALID} Invalid tenant.", id="no-tid"),
        pytest.param({"exp": None}, INVALID, id="no-exp"),
        pytest.param({"iss": None}, f"{INVALID} Invalid issuer.", id="no-iss"),
        pytest.param({"aud": None}, INVALID, id="no-aud"),
        pytest.param(
            # A day ahead: parameters are computed at collection, which can be many minutes before
            # this test runs (ten minutes ahead turned valid, within the leeway, in a long CI run).
            {"nbf": int(time.time()) + 86_400},
            "Lifetime validation failed, the token is not yet valid.",
            id="not-yet-valid",
        ),
        pytest.param(
            {"roles": None},
            "Either scp or roles claim need to be present in the token.",
            id="neither-scp-nor-roles",
        ),
        pytest.param(
            {"roles": APPS_READ},
            "Either scp or roles claim need to be present in the token.",
            id="roles-not-a-list",
        ),
        pytest.param(
            {"roles": [APPS_READ, 7]},
            "Either scp or roles claim need to be present in the token.",
            id="roles-not-all-strings",
        ),
        pytest.param(
            {"roles": None, "scp": [APPS_READ]},
            "Either scp or roles claim need to be present in the token.",
            id="scp-not-a-string",
        ),
    ],
)
def test_crafted_tokens_rejected(
    ring: KeyRing, private_key: rsa.RSAPrivateKey, claims: dict[str, Any], message: str
) -> None:
    token = _sign(_claims(**claims), private_key)
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {token}", ring)
    _assert_unauthorized(caught.value, message)


@pytest.mark.parametrize("kid", ["k2", None, ""])
def test_unknown_kid_is_rejected(ring: KeyRing, private_key: rsa.RSAPrivateKey, kid: str | None) -> None:
    token = _sign(_claims(), private_key, kid=kid)
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {token}", ring)
    _assert_unauthorized(caught.value, INVALID)


def test_alg_none_is_rejected(ring: KeyRing) -> None:
    token = _unsigned_input({"alg": "none", "typ": "JWT", "kid": "k1"}, _claims()) + "."
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {token}", ring)
    _assert_unauthorized(caught.value, INVALID)


def test_hs256_signed_with_the_public_key_is_rejected(ring: KeyRing, private_key: rsa.RSAPrivateKey) -> None:
    # The classic algorithm-confusion attack: the verifier's RSA public key used as an HMAC secret.
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned_input({"alg": "HS256", "typ": "JWT", "kid": "k1"}, _claims())
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{_b64(signature)}"
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {token}", ring)
    _assert_unauthorized(caught.value, INVALID)


def test_rs512_is_rejected(ring: KeyRing, private_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(_claims(), private_key, algorithm="RS512", headers={"kid": "k1"})
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {token}", ring)
    _assert_unauthorized(caught.value, INVALID)


def _foreign_signature(other_key: rsa.RSAPrivateKey) -> str:
    return _sign(_claims(), other_key, kid="k1")


def _tampered_payload(private_key: rsa.RSAPrivateKey) -> str:
    header, _, signature = _sign(_claims(), private_key).split(".")
    payload = _b64(json.dumps(_claims(roles=[APPS_READ_WRITE])).encode())
    return f"{header}.{payload}.{signature}"


def test_signature_by_another_key_with_same_kid_is_rejected(
    ring: KeyRing, other_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {_foreign_signature(other_key)}", ring)
    assert (caught.value.status, caught.value.code) == (401, "InvalidAuthenticationToken")


def test_tampered_payload_is_rejected(ring: KeyRing, private_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {_tampered_payload(private_key)}", ring)
    assert (caught.value.status, caught.value.code) == (401, "InvalidAuthenticationToken")


@pytest.mark.parametrize("forged", ["foreign-signature", "tampered-payload"])
def test_bad_signature_message_is_validation_failure(
    ring: KeyRing, private_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, forged: str
) -> None:
    token = _foreign_signature(other_key) if forged == "foreign-signature" else _tampered_payload(private_key)
    with pytest.raises(Unauthorized) as caught:
        _verify(f"Bearer {token}", ring)
    _assert_unauthorized(caught.value, INVALID)


# --- permissions.authorize ---


def _principal(*permissions: str, delegated: bool = False, tenant_id: str = TENANT) -> Principal:
    return Principal(tenant_id, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_ID, frozenset(permissions), delegated)


READ_LIST = (
    "DeviceManagementApps.Read.All, DeviceManagementConfiguration.Read.All, "
    "DeviceManagementApps.ReadWrite.All, DeviceManagementConfiguration.ReadWrite.All"
)
WRITE_LIST = "DeviceManagementConfiguration.ReadWrite.All, DeviceManagementApps.ReadWrite.All"


@pytest.mark.parametrize(
    "permission",
    [
        "DeviceManagementApps.Read.All",
        "DeviceManagementApps.ReadWrite.All",
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementConfiguration.ReadWrite.All",
    ],
)
@pytest.mark.parametrize("delegated", [False, True])
def test_each_permission_allows_read(permission: str, delegated: bool) -> None:
    authorize(_principal(permission, delegated=delegated), Access.READ)


@pytest.mark.parametrize(
    "permission", ["DeviceManagementApps.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All"]
)
@pytest.mark.parametrize("delegated", [False, True])
def test_read_write_permissions_allow_write(permission: str, delegated: bool) -> None:
    authorize(_principal(permission, "User.Read", delegated=delegated), Access.WRITE)


@pytest.mark.parametrize(
    ("permissions", "delegated", "access", "message"),
    [
        (
            (APPS_READ,),
            False,
            Access.WRITE,
            f"Application is not authorized to perform this operation. Application must have one of the "
            f"following scopes: {WRITE_LIST}",
        ),
        (
            (CONFIGURATION_READ,),
            False,
            Access.WRITE,
            f"Application is not authorized to perform this operation. Application must have one of the "
            f"following scopes: {WRITE_LIST}",
        ),
        (
            (APPS_READ, CONFIGURATION_READ),
            True,
            Access.WRITE,
            f"User is not authorized to perform this operation. User must have one of the following scopes: "
            f"{WRITE_LIST}",
        ),
        (
            (),
            False,
            Access.READ,
            f"Application is not authorized to perform this operation. Application must have one of the "
            f"following scopes: {READ_LIST}",
        ),
        (
            ("User.Read", "DeviceManagementApps.Read", "devicemanagementapps.read.all"),
            True,
            Access.READ,
            f"User is not authorized to perform this operation. User must have one of the following scopes: "
            f"{READ_LIST}",
        ),
    ],
)
def test_missing_permission_is_forbidden(
    permissions: tuple[str, ...], delegated: bool, access: Access, message: str
) -> None:
    with pytest.raises(Forbidden) as caught:
        authorize(_principal(*permissions, delegated=delegated), access)
    error = caught.value
    assert (error.status, error.code, error.message) == (403, "Forbidden", message)


@pytest.mark.parametrize("access", [Access.READ, Access.WRITE])
def test_personal_account_tenant_is_forbidden(access: Access) -> None:
    principal = _principal(APPS_READ_WRITE, CONFIGURATION_READ_WRITE, tenant_id=PERSONAL_ACCOUNT_TENANT)
    with pytest.raises(Forbidden) as caught:
        authorize(principal, access)
    error = caught.value
    assert (error.status, error.code, error.message) == (
        403,
        "Forbidden",
        "Personal Microsoft accounts are not supported for this API.",
    )


def test_personal_account_tenant_constant() -> None:
    assert PERSONAL_ACCOUNT_TENANT == "9188040d-6c67-4c5b-b112-36a304b66dad"


# --- parse_permissions ---


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ([], ()),
        ([""], ()),
        ([APPS_READ], (APPS_READ,)),
        ([f"{APPS_READ},{APPS_READ_WRITE}"], (APPS_READ, APPS_READ_WRITE)),
        ([f"{APPS_READ}, {APPS_READ_WRITE}"], (APPS_READ, APPS_READ_WRITE)),
        ([f"{APPS_READ} {APPS_READ_WRITE}"], (APPS_READ, APPS_READ_WRITE)),
        ([APPS_READ, APPS_READ_WRITE], (APPS_READ, APPS_READ_WRITE)),
        ([f"{APPS_READ_WRITE},{APPS_READ}", APPS_READ_WRITE], (APPS_READ_WRITE, APPS_READ)),
        ([" , ,, "], ()),
        (
            [f"  {CONFIGURATION_READ}\t{CONFIGURATION_READ_WRITE}  "],
            (CONFIGURATION_READ, CONFIGURATION_READ_WRITE),
        ),
    ],
)
def test_parse_permissions(values: list[str], names: tuple[str, ...]) -> None:
    assert parse_permissions(values) == names


# --- VerifiedTokens: the cache of tokens verified lately ---

PRINCIPAL = Principal(TENANT, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_ID, frozenset({APPS_READ}), delegated=False)


def test_a_verified_token_is_not_verified_again(ring: KeyRing, private_key: rsa.RSAPrivateKey) -> None:
    """Proof that the second call is served from the cache: by then the key that signed the token is
    gone from the issuer, and the token is still accepted (until the entry ends, at most 5 minutes)."""
    keys = KeyRing((SigningKey("k1", private_key),))
    verifier = TokenVerifier((own_issuer(keys, ISSUER_BASE),), CLOUDS["global"].audiences, LEEWAY)
    token = _issue(ring, TokenRequest(TENANT, roles=(APPS_READ,)))
    first = verifier.verify(f"Bearer {token}")
    emptied = TokenVerifier((), CLOUDS["global"].audiences, LEEWAY, verified=verifier.verified)
    assert emptied.verify(f"Bearer {token}") == first
    with pytest.raises(Unauthorized):
        emptied.verify(f"Bearer {token}x")  # another token, another digest: verified in full, and refused


def test_cache_entries_end_at_exp_and_after_max_age() -> None:
    cache = VerifiedTokens(max_age_s=300)
    cache.put("a", PRINCIPAL, exp=1000.0, now=900.0)
    assert cache.get("a", now=999.9) == PRINCIPAL
    assert cache.get("a", now=1000.0) is None
    cache.put("b", PRINCIPAL, exp=10_000.0, now=900.0)
    assert cache.get("b", now=1199.0) == PRINCIPAL
    assert cache.get("b", now=1200.0) is None


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = VerifiedTokens(capacity=2)
    cache.put("a", PRINCIPAL, exp=1e9, now=0)
    cache.put("b", PRINCIPAL, exp=1e9, now=0)
    assert cache.get("a", now=1) == PRINCIPAL  # a is now the most recent
    cache.put("c", PRINCIPAL, exp=1e9, now=1)
    assert (cache.get("a", now=2), cache.get("b", now=2), len(cache)) == (PRINCIPAL, None, 2)
