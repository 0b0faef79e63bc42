"""Hostile bearer tokens, sent over HTTP to a real `graphtasks serve`
(docs/graph-behaviour.md, "Access tokens").

Each case is a token an attacker can make without the server's private key, or a genuine token bent
out of shape: unsigned (`alg: none`), HMAC-signed with the server's public key, expired or not yet valid,
for another audience or issuer, signed by a key its issuer does not own, edited after signing, too large,
or not a JWT at all. Every one must get Graph's 401 -- code InvalidAuthenticationToken, the exact message
auth/tokens.py uses, an innerError, a `WWW-Authenticate: Bearer` challenge -- on a read and on a write,
and the write must create nothing.

Also covered: the clock-skew leeway (60 s by default, `--clock-skew 0`), tokens of an issuer trusted
with `--trust-entra`, and why a genuine token of one tenant naming another tenant's task gets 404, not
401. Positive controls on every server keep the suite from passing because nothing is ever accepted.
Hostile requests go out through http.client, which sends an Authorization header exactly as given
(httpx refuses a value with trailing spaces).
"""

from __future__ import annotations

import base64
import hmac
import http.client
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from graphtasks.auth.keys import SigningKey
from graphtasks.auth.permissions import ALL_PERMISSIONS, APPS_READ, CONFIGURATION_READ_WRITE
from graphtasks.auth.tokens import MAX_TOKEN_CHARS
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT
from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server, sqlite_server


@pytest.fixture(scope="module")
def server(real_server: Server) -> Server:
    """`graphtasks serve` as a process: tokens past the header limits meet its HTTP parser first."""
    return real_server


# The messages of graphtasks/auth/tokens.py, which are Graph's.
EMPTY = "Access token is empty."
MALFORMED = "CompactToken parsing failed with error code: 80049217"
INVALID = "Access token validation failure."
INVALID_ISSUER = "Access token validation failure. Invalid issuer."
INVALID_AUDIENCE = "Access token validation failure. Invalid audience."
EXPIRED = "Lifetime validation failed, the token is expired."
NOT_YET_VALID = "Lifetime validation failed, the token is not yet valid."

GRAPH = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CLIENT_ID = "5d1e6f0a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
OTHER_TENANT = "0b7e4c2d-9a18-4f36-b5c1-7d2e8f3a6c90"
ENTRA_TENANT = "3c1f2a9e-7b64-4d58-9e2a-5f0c8d6b1a27"
ENTRA_KID = "entra-test-1"
# Tenants whose task lists are checked after every refused write.
WATCHED_TENANTS = (DEFAULT_TENANT, OTHER_TENANT, ENTRA_TENANT)
# A key nobody trusts: the attacker's own.
FOREIGN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

# own_signed's default: the kid of the server's real signing key.
REAL_KID = "(the server's own kid)"

Signer = Callable[[bytes], bytes]


# --- fixtures: servers started with flags ---


@pytest.fixture(scope="module")
def strict_clock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server started with --clock-skew 0: no leeway on exp and nbf."""
    with sqlite_server(tmp_path_factory.mktemp("skew-0"), "--clock-skew", "0") as running:
        yield running


@pytest.fixture(scope="module")
def entra_key() -> rsa.RSAPrivateKey:
    """The stand-in for Entra's signing key; its public half is the JWKS the Entra server trusts."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def entra_server(tmp_path_factory: pytest.TempPathFactory, entra_key: rsa.RSAPrivateKey) -> Iterator[Server]:
    """A server started with --trust-entra JWKS, the JWKS a file holding entra_key's public key."""
    directory = tmp_path_factory.mktemp("trust-entra")
    jwks = directory / "jwks.json"
    jwks.write_text(json.dumps({"keys": [SigningKey(ENTRA_KID, entra_key).public_jwk()]}))
    with sqlite_server(directory, "--trust-entra", str(jwks)) as running:
        yield running


# --- building tokens ---


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64url(json.dumps(value).encode())


def rs256(key: rsa.RSAPrivateKey) -> Signer:
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def hmac_signer(secret: bytes, digest: str = "sha256") -> Signer:
    return lambda data: hmac.new(secret, data, digest).digest()


def unsigned(_data: bytes) -> bytes:
    return b""


def header(kid: str | None, alg: str = "RS256", **extra: Any) -> dict[str, Any]:
    return {"alg": alg, "typ": "JWT", **({} if kid is None else {"kid": kid}), **extra}


def compact(jose_header: dict[str, Any], payload: Any, signer: Signer) -> str:
    """A JWS in compact form, built by hand so that any header, payload or signature can be sent."""
    signing_input = f"{segment(jose_header)}.{segment(payload)}"
    return f"{signing_input}.{b64url(signer(signing_input.encode()))}"


def claims(tenant: str = DEFAULT_TENANT, **overrides: Any) -> dict[str, Any]:
    """Claims of a valid application token of the server's own issuer; an override of None drops one."""
    now = int(time.time())
    base: dict[str, Any] = {
        "aud": GRAPH,
        "iss": f"{DEFAULT_ISSUER}/{tenant}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": tenant,
        "azp": CLIENT_ID,
        "appid": CLIENT_ID,
        "oid": CLIENT_ID,
        "sub": CLIENT_ID,
        "idtyp": "app",
        "ver": "2.0",
        "roles": list(ALL_PERMISSIONS),
    }
    return {name: value for name, value in (base | overrides).items() if value is not None}


def server_kid(server: Server) -> str:
    return server.keys().signing.kid


def own_signed(server: Server, payload: Any, *, kid: str | None = REAL_KID, **extra_header: Any) -> str:
    """Signed with the server's real key, under its kid unless another (or None: no kid) is given."""
    key = server.keys().signing
    chosen = key.kid if kid == REAL_KID else kid
    return compact(header(chosen, **extra_header), payload, rs256(key.private_key))


def public_key_of(server: Server, kid: str) -> rsa.RSAPublicKey:
    """The public key as anyone can read it from the server's JWKS endpoint."""
    keys = server.request("GET", f"{server.url}/common/discovery/v2.0/keys", timeout=30).json()["keys"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid)).key
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def parts(token: str) -> tuple[str, dict[str, Any], str]:
    head, payload, signature = token.split(".")
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return head, decoded, signature


def tampered(token: str, **changes: Any) -> str:
    """The genuine token with its payload edited and its original signature kept."""
    head, payload, signature = parts(token)
    return f"{head}.{segment(payload | changes)}.{signature}"


def bearer(token: str) -> str:
    return f"Bearer {token}"


# --- sending and checking ---


def send(
    server: Server, method: str, authorization: str | None, *, path: str = TASKS_PATH, body: Any = None
) -> httpx.Response:
    """One request with the Authorization header sent exactly as given (None: no header at all)."""
    headers = {} if authorization is None else {"Authorization": authorization}
    content = None if body is None else json.dumps(body).encode()
    if content is not None:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=content, headers=headers)
        answer = connection.getresponse()
        return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())
    finally:
        connection.close()


def assert_graph_401(response: httpx.Response, message: str) -> None:
    """Graph's 401: exactly {"error": {code, message, innerError: {date, request-id, client-request-id}}}
    and a Bearer challenge."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "innerError"}, body
    assert (error["code"], error["message"]) == ("InvalidAuthenticationToken", message), body
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}, body
    assert response.headers["www-authenticate"].startswith("Bearer "), response.headers


def tasks_named(server: Server, tenant: str, name: str) -> list[dict[str, Any]]:
    """The tenant's tasks called `name`, listed with a valid token of that tenant."""
    with server.client(server.token(tenant=tenant)) as client:
        listing = client.get(TASKS_PATH)
    assert listing.status_code == 200, listing.text
    assert "@odata.nextLink" not in listing.json()
    return [task for task in listing.json()["value"] if task.get("displayName") == name]


def assert_refused(
    server: Server, authorization: str | None, message: str, *, tenants: tuple[str, ...] = WATCHED_TENANTS
) -> None:
    """401 on a read and on a write, and the write created nothing in any of `tenants`."""
    assert_graph_401(send(server, "GET", authorization), message)
    marker = f"hostile-{uuid.uuid4()}"
    assert_graph_401(send(server, "POST", authorization, body={"displayName": marker}), message)
    for tenant in tenants:
        assert tasks_named(server, tenant, marker) == []


def create_task(server: Server, tenant: str) -> dict[str, Any]:
    with server.client(server.token(tenant=tenant)) as client:
        created = client.post(TASKS_PATH, json={"displayName": f"owned by {tenant}", "status": "pending"})
    assert created.status_code == 201, created.text
    task: dict[str, Any] = created.json()
    return task


def read_task(server: Server, tenant: str, task_id: str) -> dict[str, Any]:
    with server.client(server.token(tenant=tenant)) as client:
        found = client.get(f"{TASKS_PATH}/{task_id}")
    assert found.status_code == 200, found.text
    task: dict[str, Any] = found.json()
    return task


# --- positive control: the default server accepts a genuine token, and the write check sees writes ---


def test_control_a_genuine_token_reads_and_writes(server: Server) -> None:
    """Without this, every assertion below could pass on a server that refuses everything."""
    token = server.token()
    assert send(server, "GET", bearer(token)).status_code == 200
    marker = f"control-{uuid.uuid4()}"
    assert send(server, "POST", bearer(token), body={"displayName": marker}).status_code == 201
    assert len(tasks_named(server, DEFAULT_TENANT, marker)) == 1


def test_control_a_hand_built_token_is_accepted(server: Server) -> None:
    """The hand-built tokens below differ from this one only in what each case changes."""
    assert send(server, "GET", bearer(own_signed(server, claims()))).status_code == 200


# --- 1. alg none ---


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_unsigned_token_is_refused(server: Server, alg: str) -> None:
    token = compact(header(server_kid(server), alg), claims(), unsigned)
    assert_refused(server, bearer(token), INVALID)


def test_alg_none_header_on_a_genuine_signature_is_refused(server: Server) -> None:
    _, payload, signature = parts(server.token())
    token = f"{segment(header(server_kid(server), 'none'))}.{segment(payload)}.{signature}"
    assert_refused(server, bearer(token), INVALID)


# --- 2. algorithm confusion: the public key as an HMAC secret ---


def _public_bytes(key: rsa.RSAPublicKey, encoding: str) -> bytes:
    formats = {
        "spki-pem": (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "pkcs1-pem": (serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "spki-der": (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
    }
    return key.public_bytes(*formats[encoding])


@pytest.mark.parametrize(
    ("alg", "encoding"),
    [("HS256", "spki-pem"), ("HS256", "pkcs1-pem"), ("HS256", "spki-der"), ("HS512", "spki-pem")],
)
def test_hmac_signed_with_the_servers_public_key_is_refused(server: Server, alg: str, encoding: str) -> None:
    kid = server_kid(server)
    secret = _public_bytes(public_key_of(server, kid), encoding)
    token = compact(header(kid, alg), claims(), hmac_signer(secret, f"sha{alg[2:]}"))
    assert_refused(server, bearer(token), INVALID)


# --- 3. lifetime, beyond the 60 s leeway ---


@pytest.mark.parametrize(
    ("offsets", "message"),
    [
        pytest.param({"exp": -90, "nbf": -3690, "iat": -3690}, EXPIRED, id="expired-90s-ago"),
        pytest.param({"exp": -86400, "nbf": -90000, "iat": -90000}, EXPIRED, id="expired-a-day-ago"),
        pytest.param({"nbf": 90, "exp": 3690}, NOT_YET_VALID, id="nbf-90s-ahead"),
        pytest.param({"nbf": 86400, "iat": 86400, "exp": 90000}, NOT_YET_VALID, id="nbf-a-day-ahead"),
        pytest.param({"iat": 3600}, NOT_YET_VALID, id="iat-an-hour-ahead"),
    ],
)
def test_token_outside_its_lifetime_is_refused(server: Server, offsets: dict[str, int], message: str) -> None:
    now = int(time.time())
    token = own_signed(server, claims() | {name: now + offset for name, offset in offsets.items()})
    assert_refused(server, bearer(token), message)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"exp": None}, INVALID, id="no-exp"),
        pytest.param({"exp": "never"}, MALFORMED, id="exp-not-a-number"),
    ],
)
def test_token_without_a_usable_expiry_is_refused(
    server: Server, overrides: dict[str, Any], message: str
) -> None:
    assert_refused(server, bearer(own_signed(server, claims(**overrides))), message)


# --- 4. audience and issuer (signed with the server's real key: only the claim is wrong) ---


@pytest.mark.parametrize(
    "audience",
    [
        "https://graph.microsoft.us",
        "api://something",
        "https://graph.windows.net",
        "https://graph.microsoft.com.evil.example",
        "https://management.azure.com/",
        ["api://something"],
    ],
)
def test_wrong_audience_is_refused(server: Server, audience: str | list[str]) -> None:
    assert_refused(server, bearer(own_signed(server, claims(aud=audience))), INVALID_AUDIENCE)


def test_token_without_an_audience_is_refused(server: Server) -> None:
    assert_refused(server, bearer(own_signed(server, claims(aud=None))), INVALID)


@pytest.mark.parametrize(
    "issuer",
    [
        pytest.param(f"https://login.evil.example/{DEFAULT_TENANT}/v2.0", id="another-host"),
        pytest.param(f"http://login.graphtasks.local/{DEFAULT_TENANT}/v2.0", id="http-scheme"),
        pytest.param(f"{DEFAULT_ISSUER}/{OTHER_TENANT}/v2.0", id="another-tenants-path"),
        pytest.param(f"https://login.microsoftonline.com/{DEFAULT_TENANT}/v2.0", id="entra-v2-untrusted"),
        pytest.param(f"https://sts.windows.net/{DEFAULT_TENANT}/", id="entra-v1-untrusted"),
        pytest.param(f"{DEFAULT_ISSUER}/{DEFAULT_TENANT}/", id="v1-shaped"),
        pytest.param(f"{DEFAULT_ISSUER}/{DEFAULT_TENANT}/v2.0/", id="trailing-slash"),
        pytest.param(DEFAULT_ISSUER + "/{tenantid}/v2.0", id="the-template-itself"),
        pytest.param(None, id="no-iss"),
    ],
)
def test_wrong_issuer_is_refused(server: Server, issuer: str | None) -> None:
    assert_refused(server, bearer(own_signed(server, claims(iss=issuer))), INVALID_ISSUER)


# --- 5. keys: unknown kid, no kid, a foreign key, other algorithms with the real key ---


@pytest.mark.parametrize("kid", ["not-a-key-of-this-server", None, "", " "])
def test_unknown_or_missing_kid_is_refused(server: Server, kid: str | None) -> None:
    """Signed with the server's real key, yet refused: only the key the kid names may verify."""
    assert_refused(server, bearer(own_signed(server, claims(), kid=kid)), INVALID)


def _foreign_jwk() -> dict[str, str]:
    return SigningKey("attacker", FOREIGN_KEY).public_jwk()


@pytest.mark.parametrize(
    "extra_header",
    [
        pytest.param({}, id="plain"),
        pytest.param({"jwk": _foreign_jwk()}, id="embedded-jwk"),
        pytest.param({"jku": "https://attacker.example/keys"}, id="jku"),
    ],
)
def test_foreign_key_claiming_the_servers_kid_is_refused(
    server: Server, extra_header: dict[str, Any]
) -> None:
    token = compact(header(server_kid(server), **extra_header), claims(), rs256(FOREIGN_KEY))
    assert_refused(server, bearer(token), INVALID)


@pytest.mark.parametrize("alg", ["RS512", "PS256"])
def test_other_algorithm_with_the_real_key_is_refused(server: Server, alg: str) -> None:
    """The algorithm is pinned to RS256, even for a signature the real key made."""
    signing = server.keys().signing
    token = jwt.encode(claims(), signing.private_key, algorithm=alg, headers={"kid": signing.kid})
    assert_refused(server, bearer(token), INVALID)


@pytest.mark.parametrize(
    "extra_header",
    [
        pytest.param({"kid": 1}, id="kid-a-number"),
        pytest.param({"kid": ["k"]}, id="kid-a-list"),
        pytest.param({"crit": ["exp"], "exp": 1}, id="crit-unsupported"),
    ],
)
def test_header_pyjwt_refuses_outright_is_a_401(server: Server, extra_header: dict[str, Any]) -> None:
    """PyJWT refuses these headers before any key is involved; they are malformed tokens, not a 500."""
    token = compact(header(None) | extra_header, claims(), rs256(FOREIGN_KEY))
    assert_refused(server, bearer(token), MALFORMED)


# --- 6. a genuine token edited after signing ---


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"roles": [APPS_READ, CONFIGURATION_READ_WRITE]}, INVALID, id="add-a-write-role"),
        pytest.param({"exp": int(time.time()) + 86400}, INVALID, id="extend-exp"),
        pytest.param({"tid": OTHER_TENANT}, INVALID_ISSUER, id="tid-only"),
        pytest.param(
            {"tid": OTHER_TENANT, "iss": f"{DEFAULT_ISSUER}/{OTHER_TENANT}/v2.0"}, INVALID, id="tid-and-iss"
        ),
    ],
)
def test_edited_payload_with_the_original_signature_is_refused(
    server: Server, changes: dict[str, Any], message: str
) -> None:
    genuine = server.token(roles=(APPS_READ,), expires_in=600)
    assert_refused(server, bearer(tampered(genuine, **changes)), message)


@pytest.mark.parametrize("damage", ["dropped", "shortened", "flipped"])
def test_damaged_signature_is_refused(server: Server, damage: str) -> None:
    head, payload, signature = server.token().split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    # Four characters out of the middle: still canonical base64url, three bytes short.
    shortened = signature[:100] + signature[104:]
    damaged = {"dropped": "", "shortened": shortened, "flipped": flipped}[damage]
    assert_refused(server, bearer(f"{head}.{payload}.{damaged}"), INVALID)


# --- 7. another tenant ---


def assert_item_not_found(response: httpx.Response, task_id: str) -> None:
    """Intune's 404: ResourceNotFound with its JSON-in-string message (test_isolation.py's shape)."""
    assert_graph_error(response, 404, "ResourceNotFound")
    document = json.loads(response.json()["error"]["message"])
    assert document["_version"] == 3
    assert document["Message"].startswith(
        f"An error has occurred - deviceAppManagementTask '{task_id}' was not found"
    )


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"displayName": "taken over"}),
        ("DELETE", "", None),
        ("POST", "/updateStatus", {"status": "rejected"}),
    ],
)
def test_genuine_token_of_another_tenant_gets_404_not_401(
    server: Server, method: str, suffix: str, body: Any
) -> None:
    """(a) Tenant A's token is genuine, so authentication succeeds: 401 would be wrong. Every request
    is scoped to the token's tenant, and in tenant A, B's task id names nothing, so A gets the 404 of
    any missing id -- not 403, which would tell A the id exists elsewhere. B's task is untouched."""
    tenant_a, tenant_b = str(uuid.uuid4()), str(uuid.uuid4())
    task = create_task(server, tenant_b)
    path = f"{TASKS_PATH}/{task['id']}{suffix}"
    response = send(server, method, bearer(server.token(tenant=tenant_a)), path=path, body=body)
    assert_item_not_found(response, task["id"])
    assert read_task(server, tenant_b, task["id"]) == task


@pytest.mark.parametrize(
    ("with_issuer", "message"),
    [pytest.param(False, INVALID_ISSUER, id="tid-only"), pytest.param(True, INVALID, id="tid-and-iss")],
)
def test_token_of_one_tenant_edited_to_another_is_401(
    server: Server, with_issuer: bool, message: str
) -> None:
    """(b) Tenant A's token with tid edited to B: the signature no longer covers the payload (or iss
    still names A), so the token is not genuine at all -- 401, before any tenant is looked at."""
    tenant_a, tenant_b = str(uuid.uuid4()), str(uuid.uuid4())
    task = create_task(server, tenant_b)
    changes = {"tid": tenant_b} | ({"iss": f"{DEFAULT_ISSUER}/{tenant_b}/v2.0"} if with_issuer else {})
    forged = bearer(tampered(server.token(tenant=tenant_a), **changes))
    path = f"{TASKS_PATH}/{task['id']}"
    for method, body in (("GET", None), ("PATCH", {"displayName": "taken over"}), ("DELETE", None)):
        assert_graph_401(send(server, method, forged, path=path, body=body), message)
    assert_refused(server, forged, message, tenants=(tenant_a, tenant_b))
    assert read_task(server, tenant_b, task["id"]) == task


# --- 8. oversized and malformed ---


def padded_token(server: Server, at_most: int) -> str:
    """A genuine token made `at_most` or 1 character shorter by a padding claim."""
    payload = claims()
    width = len(own_signed(server, payload | {"pad": ""}))
    length = (at_most - width) * 3 // 4 + 4
    while True:
        token = own_signed(server, payload | {"pad": "x" * length})
        if len(token) <= at_most:
            return token
        length -= 1


def test_genuine_token_at_the_size_limit_is_accepted(server: Server) -> None:
    """The control for the case below: a genuine token of MAX_TOKEN_CHARS (or one less) is fine."""
    token = padded_token(server, MAX_TOKEN_CHARS)
    assert len(token) >= MAX_TOKEN_CHARS - 1
    assert send(server, "GET", bearer(token)).status_code == 200


def test_genuine_token_over_the_size_limit_is_refused(server: Server) -> None:
    token = padded_token(server, MAX_TOKEN_CHARS + 2)
    assert len(token) > MAX_TOKEN_CHARS
    assert_refused(server, bearer(token), MALFORMED)


def test_huge_garbage_token_is_refused(server: Server) -> None:
    assert_refused(server, bearer("a" * 60_000 + ".b.c"), MALFORMED)


def test_a_token_past_the_header_limit_never_reaches_the_verifier(server: Server) -> None:
    answer = server.request(
        "GET", server.tasks_url, headers={"Authorization": bearer("a" * 200_000 + ".b.c")}
    )
    assert answer.status_code == 431
    assert answer.json()["error"]["code"] == "RequestHeaderFieldsTooLarge"


def _with_segment(token: str, index: int, value: str) -> str:
    pieces = token.split(".")
    pieces[index] = value
    return ".".join(pieces)


MALFORMED_TOKENS: list[Any] = [
    pytest.param(lambda genuine: "garbage", id="one-segment"),
    pytest.param(lambda genuine: genuine.rsplit(".", 1)[0], id="two-segments"),
    pytest.param(lambda genuine: genuine + ".AAAA", id="four-segments"),
    pytest.param(lambda genuine: "a.b.c", id="three-junk-segments"),
    pytest.param(lambda genuine: "eyJhbGciOiJSUzI1NiJ9." * 3, id="header-thrice-empty-signature"),
    pytest.param(lambda genuine: "!!!.@@@.###", id="non-base64"),
    pytest.param(
        lambda genuine: _with_segment(genuine, 1, "eyJ*" + genuine.split(".")[1]), id="non-base64-payload"
    ),
    pytest.param(lambda genuine: _with_segment(genuine, 0, b64url(b"{not json")), id="header-not-json"),
    pytest.param(lambda genuine: _with_segment(genuine, 0, segment(["RS256"])), id="header-a-json-array"),
    pytest.param(lambda genuine: _with_segment(genuine, 1, segment([claims()])), id="payload-a-json-array"),
    pytest.param(lambda genuine: _with_segment(genuine, 1, b64url(b"\xff\xfe")), id="payload-not-utf8"),
]


@pytest.mark.parametrize("make", MALFORMED_TOKENS)
def test_malformed_token_is_refused(server: Server, make: Callable[[str], str]) -> None:
    assert_refused(server, bearer(make(server.token())), MALFORMED)


EMPTY_AUTHORIZATIONS: list[Any] = [
    pytest.param(lambda genuine: None, id="no-header"),
    pytest.param(lambda genuine: "", id="empty-header"),
    pytest.param(lambda genuine: "Bearer", id="bearer-alone"),
    pytest.param(lambda genuine: "Bearer     ", id="bearer-and-spaces"),
    pytest.param(lambda genuine: "Basic dXNlcjpwYXNzd29yZA==", id="basic"),
    pytest.param(lambda genuine: f"Basic {genuine}", id="genuine-token-basic-scheme"),
    pytest.param(lambda genuine: f"Bearer{genuine}", id="genuine-token-no-space"),
    pytest.param(lambda genuine: genuine, id="genuine-token-no-scheme"),
]


@pytest.mark.parametrize("make", EMPTY_AUTHORIZATIONS)
def test_missing_bearer_token_is_refused(server: Server, make: Callable[[str], str | None]) -> None:
    assert_refused(server, make(server.token()), EMPTY)


# --- 9. clock skew ---


def test_control_strict_clock_server_accepts_a_fresh_token(strict_clock_server: Server) -> None:
    assert send(strict_clock_server, "GET", bearer(strict_clock_server.token())).status_code == 200


def test_no_leeway_refuses_a_token_expired_5s_ago(strict_clock_server: Server) -> None:
    assert_refused(strict_clock_server, bearer(strict_clock_server.token(expires_in=-5)), EXPIRED)


def test_no_leeway_refuses_a_token_valid_in_5s(strict_clock_server: Server) -> None:
    token = own_signed(strict_clock_server, claims(nbf=int(time.time()) + 5))
    assert_refused(strict_clock_server, bearer(token), NOT_YET_VALID)


def test_default_leeway_accepts_a_token_expired_5s_ago(server: Server) -> None:
    assert send(server, "GET", bearer(server.token(expires_in=-5))).status_code == 200


def test_default_leeway_accepts_a_token_valid_in_5s(server: Server) -> None:
    token = own_signed(server, claims(nbf=int(time.time()) + 5))
    assert send(server, "GET", bearer(token)).status_code == 200


def test_default_leeway_refuses_a_token_expired_90s_ago(server: Server) -> None:
    assert_refused(server, bearer(server.token(expires_in=-90)), EXPIRED)


# --- 10. a trusted external issuer: --trust-entra with a local JWKS ---


def entra_claims(version: str = "2.0", tenant: str = ENTRA_TENANT, **overrides: Any) -> dict[str, Any]:
    """An Entra access token for Graph: v1.0 (sts.windows.net, appid, aud the Graph URL) or v2.0
    (login.microsoftonline.com, azp, aud Graph's app id)."""
    now = int(time.time())
    shape: dict[str, Any] = (
        {"iss": f"https://sts.windows.net/{tenant}/", "aud": GRAPH, "appid": CLIENT_ID, "appidacr": "1"}
        if version == "1.0"
        else {
            "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
            "aud": GRAPH_APP_ID,
            "azp": CLIENT_ID,
            "azpacr": "1",
        }
    )
    common = {"iat": now, "nbf": now, "exp": now + 3600, "tid": tenant, "oid": CLIENT_ID, "sub": CLIENT_ID}
    base = shape | common | {"idtyp": "app", "roles": list(ALL_PERMISSIONS), "ver": version}
    return {name: value for name, value in (base | overrides).items() if value is not None}


def entra_signed(key: rsa.RSAPrivateKey, payload: dict[str, Any], kid: str = ENTRA_KID) -> str:
    return compact(header(kid), payload, rs256(key))


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_control_entra_token_is_accepted(
    entra_server: Server, entra_key: rsa.RSAPrivateKey, version: str
) -> None:
    token = entra_signed(entra_key, entra_claims(version))
    assert send(entra_server, "GET", bearer(token)).status_code == 200


def test_control_entra_server_still_accepts_its_own_tokens(entra_server: Server) -> None:
    assert send(entra_server, "GET", bearer(entra_server.token())).status_code == 200


def _entra_jwks_public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return _public_bytes(key.public_key(), "spki-pem")


EntraForge = Callable[[Server, rsa.RSAPrivateKey], str]

ENTRA_HOSTILE: list[Any] = [
    pytest.param(
        lambda server, key: entra_signed(FOREIGN_KEY, entra_claims()), INVALID, id="foreign-key-entra-kid-v2"
    ),
    pytest.param(
        lambda server, key: entra_signed(FOREIGN_KEY, entra_claims("1.0")),
        INVALID,
        id="foreign-key-entra-kid-v1",
    ),
    pytest.param(
        lambda server, key: entra_signed(
            key, entra_claims(iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0")
        ),
        INVALID_ISSUER,
        id="v2-issuer-names-another-tenant",
    ),
    pytest.param(
        lambda server, key: entra_signed(
            key, entra_claims("1.0", iss=f"https://sts.windows.net/{OTHER_TENANT}/")
        ),
        INVALID_ISSUER,
        id="v1-issuer-names-another-tenant",
    ),
    pytest.param(
        lambda server, key: entra_signed(key, claims(ENTRA_TENANT)), INVALID, id="entra-key-claims-own-issuer"
    ),
    pytest.param(
        lambda server, key: entra_signed(key, claims(ENTRA_TENANT), server_kid(server)),
        INVALID,
        id="entra-key-with-own-kid-claims-own-issuer",
    ),
    pytest.param(
        lambda server, key: own_signed(server, entra_claims()), INVALID, id="own-key-claims-entra-issuer"
    ),
    pytest.param(
        lambda server, key: compact(
            header(ENTRA_KID, "HS256"), entra_claims(), hmac_signer(_entra_jwks_public_pem(key))
        ),
        INVALID,
        id="hs256-with-the-jwks-public-key",
    ),
    pytest.param(
        lambda server, key: compact(header(ENTRA_KID, "none"), entra_claims(), unsigned),
        INVALID,
        id="alg-none-claims-entra",
    ),
    pytest.param(
        lambda server, key: entra_signed(key, entra_claims(aud="https://management.azure.com/")),
        INVALID_AUDIENCE,
        id="entra-token-for-another-resource",
    ),
    pytest.param(
        lambda server, key: entra_signed(key, entra_claims(exp=int(time.time()) - 90)),
        EXPIRED,
        id="expired-entra-token",
    ),
    pytest.param(
        lambda server, key: tampered(
            entra_signed(key, entra_claims(roles=[APPS_READ])), roles=[CONFIGURATION_READ_WRITE]
        ),
        INVALID,
        id="entra-token-given-a-write-role",
    ),
]


@pytest.mark.parametrize(("forge", "message"), ENTRA_HOSTILE)
def test_hostile_token_against_a_trusted_issuer_is_refused(
    entra_server: Server, entra_key: rsa.RSAPrivateKey, forge: EntraForge, message: str
) -> None:
    assert_refused(entra_server, bearer(forge(entra_server, entra_key)), message)
