"""Client assertions (auth/assertions.py) as the token service judges them (auth/token_service.py):
claims, signature, lifetime and replays from another address; and client certificates as `graphtasks
apps` registers them (auth/apps.py).

Assertions are made here the way MSAL Python makes them: RS256 naming the certificate by `x5t`, or PS256
by `x5t#S256`, with float `exp`/`iat`/`nbf`. The helpers are shared with the HTTP and SDK tests.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from graphtasks.auth.apps import certificate_from_pem, new_secret, parse_thumbprint
from graphtasks.auth.assertions import JWT_BEARER, MalformedAssertion, read_assertion
from graphtasks.auth.keys import KeyRing, SigningKey
from graphtasks.auth.token_service import OAuthError, TokenService
from graphtasks.clouds import CLOUDS
from graphtasks.storage.base import AppRegistration

TENANT = "3c7d2a1e-5b4f-4e6a-8c9d-0a1b2c3d4e5f"
CLIENT_ID = "6f8e1d2c-3b4a-4c5d-9e6f-7a8b9c0d1e2f"
ISSUER = "https://login.example"
ENDPOINT = f"{ISSUER}/{TENANT}/oauth2/v2.0/token"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
ROLES = ("DeviceManagementApps.Read.All",)


@dataclass(frozen=True)
class Credential:
    """A self-signed certificate (RSA 2048) and its private key, as an app holds them."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def sha1_hex(self) -> str:
        return self.certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - x5t is SHA-1 (RFC 7515)


def make_credential(
    *, valid_from: datetime | None = None, lifetime: timedelta = timedelta(days=30)
) -> Credential:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "graphtasks test app")])
    start = valid_from or datetime.now(UTC) - timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .sign(key, hashes.SHA256())
    )
    return Credential(key, certificate)


def sign_assertion(
    credential: Credential,
    *,
    client_id: str,
    audience: Any,
    alg: str = "RS256",
    claims: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    """An assertion as MSAL signs one; `claims` and `headers` override (None removes the entry)."""
    now = time.time()
    payload = {"aud": audience, "iss": client_id, "sub": client_id, "exp": now + 600, "iat": now,
               "nbf": now, "jti": str(uuid.uuid4())} | (claims or {})  # fmt: skip
    digest = hashes.SHA1() if alg == "RS256" else hashes.SHA256()  # noqa: S303 - x5t is SHA-1
    thumbprint = base64.urlsafe_b64encode(credential.certificate.fingerprint(digest)).decode()
    header = {"x5t" if alg == "RS256" else "x5t#S256": thumbprint} | (headers or {})
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not None},
        credential.key,
        algorithm=alg,
        headers={k: v for k, v in header.items() if v is not None},
    )


@functools.cache
def registered() -> Credential:
    """The certificate registered for the app of these tests."""
    return make_credential()


@functools.cache
def unregistered() -> Credential:
    return make_credential()


@functools.cache
def expired() -> Credential:
    """Registered too, but its validity ended yesterday."""
    return make_credential(valid_from=datetime.now(UTC) - timedelta(days=30), lifetime=timedelta(days=29))


class MemoryLedger:
    """The assertion ledger the token service is given, in a dict (the database's is
    storage/registry.py's SqlAssertionStore, tested in tests/integration/test_assertion_replay.py)."""

    def __init__(self) -> None:
        self.uses: dict[tuple[str, str, str], tuple[str, int]] = {}

    def first_use(
        self, tenant_id: str, client_id: str, jti_digest: str, *, address: str, expires_at: int
    ) -> str:
        return self.uses.setdefault((tenant_id, client_id, jti_digest), (address, expires_at))[0]


@functools.cache
def service() -> TokenService:
    certificates = (certificate_from_pem(registered().certificate_pem),
                    certificate_from_pem(expired().certificate_pem))  # fmt: skip
    app = AppRegistration(TENANT, CLIENT_ID, "app", ROLES, "abc", certificates)
    apps = {(TENANT, CLIENT_ID): (app, new_secret()[1])}
    ring = KeyRing((SigningKey("test-key", rsa.generate_private_key(public_exponent=65537, key_size=2048)),))
    return TokenService(ring, CLOUDS["global"], lambda t, c: apps.get((t, c)), MemoryLedger())


def form(assertion: str, **changes: str | None) -> dict[str, str]:
    fields = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": GRAPH_DEFAULT,
              "client_assertion_type": JWT_BEARER, "client_assertion": assertion} | changes  # fmt: skip
    return {k: v for k, v in fields.items() if v is not None}


ADDRESS = "192.0.2.10"


def request_token(fields: dict[str, str], *, address: str = ADDRESS) -> dict[str, Any]:
    return service().token(TENANT, fields, audiences=(ENDPOINT,), issuer_base=ISSUER, client_address=address)


def good(**overrides: Any) -> str:
    return sign_assertion(registered(), client_id=CLIENT_ID, audience=ENDPOINT, **overrides)


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_an_assertion_signed_with_a_registered_certificate_buys_a_token(alg: str) -> None:
    answer = request_token(form(good(alg=alg)))
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert (claims["tid"], claims["azp"], claims["roles"]) == (TENANT, CLIENT_ID, list(ROLES))


def test_a_msal_assertion_is_good_for_repeated_requests_from_one_address() -> None:
    # MSAL reuses one assertion for up to ~9 minutes (oauth2cli AutoRefresher), so jti is no nonce.
    assertion = good()
    for _ in range(3):
        assert request_token(form(assertion))["access_token"]


REPLAYED = "Client assertion has already been used, from another address."


def test_an_assertion_replayed_from_another_address_is_refused() -> None:
    assertion = good()
    assert request_token(form(assertion), address="192.0.2.10")["access_token"]
    with pytest.raises(OAuthError) as raised:
        request_token(form(assertion), address="198.51.100.7")
    found = raised.value
    assert (found.status, found.error, found.code) == (401, "invalid_client", 50012)
    assert found.description.startswith(REPLAYED)
    # The first address keeps its use of it.
    assert request_token(form(assertion), address="192.0.2.10")["access_token"]


def test_each_jti_is_its_own_assertion() -> None:
    assert request_token(form(good()), address="192.0.2.10")["access_token"]
    assert request_token(form(good()), address="198.51.100.7")["access_token"]


def test_a_refused_assertion_is_not_remembered() -> None:
    """Only an assertion that passed every other check is recorded: a forged one cannot take a jti."""
    jti = str(uuid.uuid4())
    with pytest.raises(OAuthError):
        request_token(form(forged_with({"jti": jti})), address="198.51.100.7")
    assert request_token(form(good(claims={"jti": jti})), address="192.0.2.10")["access_token"]


def test_the_ledger_keeps_the_assertion_until_it_expires() -> None:
    exp = time.time() + 300
    request_token(form(good(claims={"exp": exp, "jti": "kept-until"})))
    ledger = service().assertions
    assert isinstance(ledger, MemoryLedger)
    digest = hashlib.sha256(b"kept-until").hexdigest()
    assert ledger.uses[(TENANT, CLIENT_ID, digest)] == (ADDRESS, math.ceil(exp + 60))


@pytest.mark.parametrize(
    ("lifetime_s", "accepted"),
    [
        pytest.param(600, True, id="MSAL's ten minutes"),
        pytest.param(660, True, id="ten minutes and the clock skew"),
        pytest.param(700, False, id="past it"),
        pytest.param(10 * 365 * 86400, False, id="ten years"),
    ],
)
def test_an_assertion_lives_ten_minutes_at_most(lifetime_s: int, accepted: bool) -> None:
    fields = form(good(claims={"exp": time.time() + lifetime_s - 1}))
    if accepted:
        assert request_token(fields)["access_token"]
        return
    with pytest.raises(OAuthError) as raised:
        request_token(fields)
    found = raised.value
    assert (found.status, found.error, found.code) == (401, "invalid_client", 700024)
    assert found.description.startswith(NOT_IN_TIME)
    assert "An assertion must expire within 600 seconds of its use." in found.description


def test_the_clock_skew_is_forgiven() -> None:
    now = time.time()
    assert request_token(form(good(claims={"exp": now - 30, "nbf": now + 30})))


def registered_x5t() -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(registered().sha1_hex)).decode()


def hs256() -> str:
    """Names the registered certificate, but is an HMAC."""
    claims = {"aud": ENDPOINT, "iss": CLIENT_ID, "sub": CLIENT_ID, "exp": time.time() + 600, "jti": "1"}
    return jwt.encode(claims, "k" * 64, algorithm="HS256", headers={"x5t": registered_x5t()})


def unsigned() -> str:
    _, claims, _ = good().split(".")
    header = json.dumps({"alg": "none", "x5t": registered_x5t()}).encode()
    return f"{base64.urlsafe_b64encode(header).decode().rstrip('=')}.{claims}."


def forged() -> str:
    """Names the registered certificate, signed by another key."""
    return forged_with({})


def forged_with(claims: dict[str, Any]) -> str:
    return sign_assertion(
        unregistered(),
        client_id=CLIENT_ID,
        audience=ENDPOINT,
        claims=claims,
        headers={"x5t": registered_x5t()},
    )


def by(credential: Credential) -> str:
    return sign_assertion(credential, client_id=CLIENT_ID, audience=ENDPOINT)


INVALID_SIGNATURE = "Client assertion contains an invalid signature. [Reason - "
NOT_IN_TIME = "Client assertion is not within its valid time range. Current time: "
ELSEWHERE = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
NOW = time.time()


@pytest.mark.parametrize(
    ("make", "status", "error", "code", "description"),
    [
        pytest.param(lambda: "not-a-jwt", 400, "invalid_request", 50027, "JWT token is invalid or malformed.",
                     id="garbage"),
        pytest.param(lambda: good(claims={"aud": [ENDPOINT]}), 400, "invalid_request", 50027, "JWT token is",
                     id="audience array"),
        pytest.param(lambda: good(claims={"exp": "soon"}), 400, "invalid_request", 50027, "JWT token is",
                     id="exp not a number"),
        pytest.param(lambda: good(headers={"x5t": "!!"}), 400, "invalid_request", 50027, "JWT token is",
                     id="x5t not base64url"),
        pytest.param(lambda: compact({"alg": "RS256"}, {"exp": math.nan}, registered().key), 400,
                     "invalid_request", 50027, "JWT token is", id="exp NaN"),
        pytest.param(hs256, 401, "invalid_client", 5002738, "Invalid JWT token. 'HS256' is not a supported",
                     id="HS256"),
        pytest.param(unsigned, 401, "invalid_client", 5002738, "Invalid JWT token. 'none' is not a supported",
                     id="alg none"),
        pytest.param(lambda: good(headers={"x5t": None}), 401, "invalid_client", 5002723,
                     "Invalid JWT token. No certificate SHA-1 thumbprint", id="no thumbprint"),
        pytest.param(lambda: good(claims={"jti": None}), 400, "invalid_request", 90014,
                     "The required field 'jti' is missing from the credential.", id="no jti"),
        pytest.param(lambda: good(claims={"aud": None}), 400, "invalid_request", 90014,
                     "The required field 'aud' is missing", id="no aud"),
        pytest.param(lambda: good(claims={"iss": str(uuid.uuid4())}), 401, "invalid_client", 700021,
                     "Client assertion application identifier doesn't match 'client_id' parameter.",
                     id="another issuer"),
        pytest.param(lambda: good(claims={"sub": "someone"}), 401, "invalid_client", 50048,
                     "Subject must match the issuer claim in the client assertion.", id="another subject"),
        pytest.param(lambda: good(claims={"aud": ELSEWHERE}), 401, "invalid_client", 700023,
                     "Client assertion audience claim does not match Realm issuer.", id="another audience"),
        pytest.param(lambda: good(claims={"exp": NOW - 3600}), 401, "invalid_client", 700024, NOT_IN_TIME,
                     id="expired"),
        pytest.param(lambda: good(claims={"nbf": NOW + 3600}), 401, "invalid_client", 700024, NOT_IN_TIME,
                     id="not yet valid"),
        pytest.param(lambda: good(claims={"exp": None}), 401, "invalid_client", 700024, NOT_IN_TIME,
                     id="no exp"),
        pytest.param(lambda: by(unregistered()), 401, "invalid_client", 700027,
                     f"{INVALID_SIGNATURE}The key was not found., Thumbprint of key used by client: '",
                     id="unregistered certificate"),
        pytest.param(forged, 401, "invalid_client", 700027,
                     f"{INVALID_SIGNATURE}The provided signature value did not match the expected signature",
                     id="forged signature"),
        pytest.param(lambda: by(expired()), 401, "invalid_client", 700027,
                     f"{INVALID_SIGNATURE}The key used is expired.", id="expired certificate"),
    ],
)  # fmt: skip
def test_bad_assertions_get_the_identity_platforms_errors(
    make: Any, status: int, error: str, code: int, description: str
) -> None:
    with pytest.raises(OAuthError) as raised:
        request_token(form(make()))
    found = raised.value
    assert (found.status, found.error, found.code) == (status, error, code)
    assert found.description.startswith(description), found.description


def test_the_time_range_error_says_when_as_entra_does() -> None:
    with pytest.raises(OAuthError) as raised:
        request_token(form(good(claims={"exp": 1_700_000_000.5, "nbf": None})))
    expected = (
        "valid from 1970-01-01T00:00:00.0000000Z, expiry time of assertion 2023-11-14T22:13:20.5000000Z."
    )
    assert expected in raised.value.description


def test_the_unknown_key_error_names_the_thumbprint_the_client_used() -> None:
    with pytest.raises(OAuthError) as raised:
        request_token(form(sign_assertion(unregistered(), client_id=CLIENT_ID, audience=ENDPOINT)))
    assert (
        f"Thumbprint of key used by client: '{unregistered().sha1_hex.upper()}'" in raised.value.description
    )


@pytest.mark.parametrize(
    ("changes", "status", "error", "code"),
    [
        pytest.param({"client_secret": "s3cret"}, 400, "invalid_request", 90023, id="secret and assertion"),
        pytest.param({"client_assertion_type": "urn:other"}, 400, "invalid_request", 90011, id="other type"),
        pytest.param({"client_assertion_type": None}, 400, "invalid_request", 900144, id="no type"),
        pytest.param({"client_assertion": ""}, 401, "invalid_client", 7000218, id="empty assertion"),
        pytest.param({"client_id": str(uuid.uuid4())}, 400, "unauthorized_client", 700016, id="unknown app"),
    ],
)
def test_requests_that_cannot_carry_an_assertion(
    changes: dict[str, str | None], status: int, error: str, code: int
) -> None:
    with pytest.raises(OAuthError) as raised:
        request_token(form(good(), **changes))
    assert (raised.value.status, raised.value.error, raised.value.code) == (status, error, code)


def test_an_assertion_for_another_endpoint_is_refused_and_one_for_any_of_ours_taken() -> None:
    mirror = ENDPOINT.replace("login.example", "127.0.0.1:8000")
    fields = form(good(claims={"aud": mirror}))
    answer = service().token(
        TENANT, fields, audiences=(ENDPOINT, mirror), issuer_base=ISSUER, client_address=ADDRESS
    )
    assert answer["access_token"]
    with pytest.raises(OAuthError):
        service().token(TENANT, fields, audiences=(ENDPOINT,), issuer_base=ISSUER, client_address=ADDRESS)


@given(st.text(max_size=300))
def test_garbage_assertions_only_ever_get_oauth_errors(assertion: str) -> None:
    with pytest.raises(OAuthError):
        request_token(form(assertion))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
CLAIM_NAMES = st.sampled_from(["aud", "iss", "sub", "exp", "nbf", "jti", "iat"])


def compact(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """An RS256 JWS of any JSON, NaN included, which PyJWT would refuse to encode."""

    def segment(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


@given(
    st.dictionaries(CLAIM_NAMES, JSON),
    st.dictionaries(st.sampled_from(["alg", "x5t", "x5t#S256", "kid"]), JSON),
)
def test_signed_assertions_with_any_claims_get_a_token_or_an_oauth_error(
    changes: dict[str, Any], header_changes: dict[str, Any]
) -> None:
    """Valid claims and header with any of them replaced by any JSON value."""
    claims = jwt.decode(good(), options={"verify_signature": False}) | changes
    header = {"alg": "RS256", "typ": "JWT", "x5t": registered_x5t()} | header_changes
    try:
        answer = request_token(form(compact(header, claims, registered().key)))
    except OAuthError as error:
        assert error.status in (400, 401)
    else:
        assert answer["access_token"]


def test_json_nested_beyond_any_limit_is_malformed() -> None:
    deep = base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("=")
    header = good().split(".")[0]
    with pytest.raises(MalformedAssertion):
        read_assertion(f"{header}.{deep}.c2ln")


@pytest.mark.parametrize("padded", [True, False])
def test_thumbprints_are_read_with_or_without_base64_padding(padded: bool) -> None:
    raw = registered().certificate.fingerprint(hashes.SHA1())  # noqa: S303 - x5t is SHA-1
    x5t = base64.urlsafe_b64encode(raw).decode()
    assertion = good(headers={"x5t": x5t if padded else x5t.rstrip("=")})
    assert read_assertion(assertion).sha1_thumbprint == raw.hex().upper()


# --- registering certificates (graphtasks apps add-certificate) ---


def test_a_certificate_is_stored_with_its_thumbprints_in_upper_case_hex() -> None:
    credential = registered()
    stored = certificate_from_pem(credential.certificate_pem)
    assert stored.sha1_thumbprint == credential.sha1_hex.upper()
    assert stored.sha256_thumbprint == credential.certificate.fingerprint(hashes.SHA256()).hex().upper()
    assert stored.pem.encode() == credential.certificate_pem


def ec_certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec")])
    now = datetime.now(UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    built = builder.serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
    return built.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(lambda: registered().key_pem, "holds a private key", id="private key"),
        pytest.param(lambda: registered().certificate_pem + registered().key_pem, "holds a private key",
                     id="certificate and key"),
        pytest.param(lambda: b"hello", "is not a PEM certificate", id="garbage"),
        pytest.param(lambda: registered().certificate.public_bytes(serialization.Encoding.DER),
                     "is not a PEM certificate", id="DER"),
        pytest.param(lambda: registered().certificate_pem + unregistered().certificate_pem,
                     "holds 2 certificates", id="two certificates"),
        pytest.param(ec_certificate, "has no RSA key", id="EC key"),
    ],
)  # fmt: skip
def test_only_one_public_rsa_certificate_is_taken(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        certificate_from_pem(data(), source="cert.pem")


@pytest.mark.parametrize(
    ("text", "thumbprint"),
    [
        ("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"),
        (
            "A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:12:34:56:78",
            "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
        ),
        (" " + "ab" * 32 + " ", "AB" * 32),
    ],
)
def test_thumbprints_are_typed_in_any_case(text: str, thumbprint: str) -> None:
    assert parse_thumbprint(text) == thumbprint


@pytest.mark.parametrize("text", ["", "xyz", "ab" * 19, "ab" * 21, "g" * 40])
def test_anything_else_is_not_a_thumbprint(text: str) -> None:
    with pytest.raises(ValueError, match="is not a certificate thumbprint"):
        parse_thumbprint(text)
