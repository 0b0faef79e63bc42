"""The client-credentials grant of the Microsoft identity platform's v2.0 token endpoint
(`POST /{tenant}/oauth2/v2.0/token`): an app registration's secret, or a client assertion signed with
one of its certificates (auth/assertions.py), in; a Graph access token whose `roles` are the app's
permissions out. Errors are the identity platform's, not Graph's: an OAuth `error`, an AADSTS code and
description.

No HTTP here: the web layer hands over the form fields, the URLs this endpoint answers to (an
assertion's audience must be one of them) and the client's address, and renders the result.

An assertion lives at most MAX_ASSERTION_LIFETIME_S, and its `jti` is remembered until it expires, with
the address that first used it (an AssertionLedger, in the database: every worker and instance sees
it). The same assertion from that address again is accepted, since MSAL sends one assertion with every
token request for nine minutes; from another address it is a replay, and refused (docs/resilience.md,
"Client assertions").
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from graphtasks.auth.apps import secret_matches
from graphtasks.auth.assertions import (
    ALGORITHMS,
    JWT_BEARER,
    ClientAssertion,
    MalformedAssertion,
    read_assertion,
    signed_by,
    validity,
)
from graphtasks.auth.keys import KeyRing
from graphtasks.auth.tokens import TokenRequest, is_guid, issue_token
from graphtasks.clouds import Cloud
from graphtasks.storage.base import AppRegistration, StoredSecret

# Entra's app-only tokens for Graph live an hour; it reports one second less.
TOKEN_LIFETIME_S = 3599
# Clock skew forgiven on an assertion's exp and nbf: the bearer tokens' default (config.clock_skew_s).
ASSERTION_LEEWAY_S = 60
# The longest an assertion may still be good for when it arrives. Entra sets no limit, but asks for
# "5-10 minutes after nbf at most" ("Microsoft identity platform application authentication
# certificate credentials"); MSAL's assertions live 10 minutes. A longer one is a longer replay window.
MAX_ASSERTION_LIFETIME_S = 600
# The longest client address remembered with an assertion (an IPv6 address is at most 45 characters).
_MAX_ADDRESS_CHARS = 64
_CERTIFICATE_DOCS = (
    "Review the documentation at https://learn.microsoft.com/entra/identity-platform/"
    "certificate-credentials ."
)

FindApp = Callable[[str, str], tuple[AppRegistration, StoredSecret] | None]


class AssertionLedger(Protocol):
    def first_use(
        self, tenant_id: str, client_id: str, jti_digest: str, *, address: str, expires_at: int
    ) -> str:
        """Records that the app's assertion with this `jti` (its SHA-256, hex) was used from `address`,
        to be remembered until `expires_at` (seconds since the epoch), unless it was used before; the
        address of its first use, either way."""
        ...


class OAuthError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description

    def body(self) -> dict[str, Any]:
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        timestamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        description = (
            f"AADSTS{self.code}: {self.description} Trace ID: {trace_id} Correlation ID: {correlation_id} "
            f"Timestamp: {timestamp}"
        )
        return {
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        }


@dataclass(frozen=True)
class TokenService:
    keys: KeyRing
    cloud: Cloud
    find_app: FindApp
    assertions: AssertionLedger

    def token(
        self,
        tenant: str,
        form: Mapping[str, str],
        *,
        audiences: Collection[str],
        issuer_base: str,
        client_address: str,
    ) -> dict[str, Any]:
        """The token response for a token request's form; `audiences` are this endpoint's URLs, the
        token is issued as `issuer_base` (what this tenant's OpenID configuration names), and
        `client_address` is where the request came from ("" if unknown)."""
        tenant_id = _tenant_id(tenant)
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(
                400, "unsupported_grant_type", 70003,
                f"The app requested an unsupported grant type '{form.get('grant_type', '')}'.",
            )  # fmt: skip
        secret, assertion = _client_credential(form)
        app, stored = self._app(tenant_id, form.get("client_id", ""))
        if assertion is not None:
            self._check_replay(app, _check_assertion(app, assertion, audiences), client_address)
        else:
            _check_secret(app, stored, secret)
        _check_scope(form.get("scope", ""), self.cloud)
        request = TokenRequest(
            tenant_id, roles=app.permissions, expires_in=TOKEN_LIFETIME_S, client_id=app.client_id
        )
        token = issue_token(self.keys, request, issuer_base=issuer_base, audience=self.cloud.graph_url)
        return {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "ext_expires_in": TOKEN_LIFETIME_S,
            "access_token": token,
        }

    def _app(self, tenant_id: str, client_id: str) -> tuple[AppRegistration, StoredSecret]:
        found = self.find_app(tenant_id, client_id) if is_guid(client_id) else None
        if found is None:
            raise OAuthError(
                400, "unauthorized_client", 700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant_id}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant.",
            )  # fmt: skip
        return found

    def _check_replay(self, app: AppRegistration, assertion: ClientAssertion, address: str) -> None:
        """A verified assertion from the address that used it first, or never used before. Entra does
        not refuse a reused assertion (MSAL's reuse relies on it), so it has no error for one: this is
        AADSTS50012, "AuthenticationFailed", which "Microsoft Entra authentication and authorization
        error codes" gives for a client assertion it cannot accept."""
        jti = assertion.jti or ""
        # A jti is any JSON string, lone surrogates included: hashed, it fits a key column as it is.
        digest = hashlib.sha256(jti.encode("utf-8", "surrogatepass")).hexdigest()
        address = address[:_MAX_ADDRESS_CHARS]
        expires_at = math.ceil((assertion.exp or 0.0) + ASSERTION_LEEWAY_S)
        first = self.assertions.first_use(
            app.tenant_id, app.client_id, digest, address=address, expires_at=expires_at
        )
        if first != address:
            raise OAuthError(
                401, "invalid_client", 50012,
                "Client assertion has already been used, from another address. Each client must sign "
                f"its own assertions, with a new 'jti' for each. {_CERTIFICATE_DOCS}",
            )  # fmt: skip


def _check_secret(app: AppRegistration, stored: StoredSecret, secret: str | None) -> None:
    if secret is None:
        raise OAuthError(
            401, "invalid_client", 7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )  # fmt: skip
    if not secret_matches(secret, stored):
        raise OAuthError(
            401, "invalid_client", 7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client "
            f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'.",
        )  # fmt: skip


def _client_credential(form: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The request's secret or its assertion (never both), checked as far as the form alone allows."""
    secret, assertion = form.get("client_secret"), form.get("client_assertion") or None
    if assertion is None:
        return secret, None
    if secret is not None:
        # A guess at Entra's answer: its generic invalid-request code, with the reason spelled out.
        raise OAuthError(
            400, "invalid_request", 90023,
            "The authentication service request is not valid: send 'client_secret' or 'client_assertion', "
            "not both.",
        )  # fmt: skip
    assertion_type = form.get("client_assertion_type")
    if assertion_type is None:
        raise OAuthError(
            400, "invalid_request", 900144,
            "The request body must contain the following parameter: 'client_assertion_type'.",
        )  # fmt: skip
    if assertion_type != JWT_BEARER:
        raise OAuthError(400, "invalid_request", 90011, "Unexpected client assertion type.")
    return None, assertion


def _check_assertion(app: AppRegistration, token: str, audiences: Collection[str]) -> ClientAssertion:
    """A client assertion for `app`: well formed, its claims right for this request and now, and signed
    by one of the app's certificates."""
    try:
        assertion = read_assertion(token)
    except MalformedAssertion:
        raise OAuthError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from None
    now = time.time()
    _check_assertion_header(assertion)
    _check_assertion_claims(assertion, app.client_id, audiences)
    _check_assertion_lifetime(assertion, now)
    _check_assertion_signature(assertion, app, datetime.fromtimestamp(now, UTC))
    return assertion


def _check_assertion_header(assertion: ClientAssertion) -> None:
    if assertion.alg not in ALGORITHMS:
        raise OAuthError(
            401, "invalid_client", 5002738,
            f"Invalid JWT token. '{assertion.alg}' is not a supported signature algorithm. "
            f"Supported signing algorithms are: '{','.join(ALGORITHMS)}'",
        )  # fmt: skip
    if assertion.thumbprint is None:
        raise OAuthError(
            401, "invalid_client", 5002723,
            "Invalid JWT token. No certificate SHA-1 thumbprint, certificate SHA-256 thumbprint, nor keyId "
            "specified in token header.",
        )  # fmt: skip


def _check_assertion_claims(assertion: ClientAssertion, client_id: str, audiences: Collection[str]) -> None:
    claims = {"aud": assertion.aud, "iss": assertion.iss, "sub": assertion.sub, "jti": assertion.jti}
    missing = next((name for name, value in claims.items() if value is None), None)
    if missing is not None:
        raise OAuthError(
            400, "invalid_request", 90014,
            f"The required field '{missing}' is missing from the credential. Ensure that you have all the "
            "necessary parameters for the login request.",
        )  # fmt: skip
    if assertion.iss != client_id:
        raise OAuthError(
            401, "invalid_client", 700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. "
            f"{_CERTIFICATE_DOCS}",
        )  # fmt: skip
    if assertion.sub != assertion.iss:
        raise OAuthError(
            401, "invalid_client", 50048, "Subject must match the issuer claim in the client assertion."
        )
    if assertion.aud not in audiences:
        raise OAuthError(
            401, "invalid_client", 700023,
            f"Client assertion audience claim does not match Realm issuer. {_CERTIFICATE_DOCS}",
        )  # fmt: skip


def _check_assertion_lifetime(assertion: ClientAssertion, now: float) -> None:
    # Entra reports an absent nbf as the epoch; an absent exp is read the same way, so it has expired.
    not_before, expires = assertion.nbf or 0.0, assertion.exp or 0.0
    if not not_before - ASSERTION_LEEWAY_S <= now <= expires + ASSERTION_LEEWAY_S:
        raise _not_in_time(now, not_before, expires, "")
    if expires - now > MAX_ASSERTION_LIFETIME_S + ASSERTION_LEEWAY_S:
        # Entra's code for the time range, with our reason spelled out, since Entra has none.
        reason = f"An assertion must expire within {MAX_ASSERTION_LIFETIME_S} seconds of its use. "
        raise _not_in_time(now, not_before, expires, reason)


def _not_in_time(now: float, not_before: float, expires: float, reason: str) -> OAuthError:
    return OAuthError(
        401, "invalid_client", 700024,
        f"Client assertion is not within its valid time range. Current time: {_entra_time(now)}, "
        f"assertion valid from {_entra_time(not_before)}, expiry time of assertion "
        f"{_entra_time(expires)}. {reason}{_CERTIFICATE_DOCS}",
    )  # fmt: skip


def _check_assertion_signature(assertion: ClientAssertion, app: AppRegistration, now: datetime) -> None:
    thumbprint = assertion.thumbprint
    certificate = next(
        (c for c in app.certificates if thumbprint in (c.sha1_thumbprint, c.sha256_thumbprint)), None
    )
    if certificate is None:
        raise _invalid_signature(
            "The key was not found.", thumbprint,
            f"Run 'graphtasks apps list' to see the keys configured for app Id '{app.client_id}'.",
        )  # fmt: skip
    start, end = validity(certificate)
    found = f"Found key 'Start={start:%m/%d/%Y %H:%M:%S}, End={end:%m/%d/%Y %H:%M:%S}'"
    if not start <= now <= end:
        raise _invalid_signature("The key used is expired.", thumbprint, found)
    if not signed_by(assertion, certificate):
        raise _invalid_signature(
            "The provided signature value did not match the expected signature value.", thumbprint, found
        )


def _invalid_signature(reason: str, thumbprint: str | None, detail: str) -> OAuthError:
    return OAuthError(
        401, "invalid_client", 700027,
        f"Client assertion contains an invalid signature. [Reason - {reason}, Thumbprint of key used by "
        f"client: '{thumbprint}', {detail}]",
    )  # fmt: skip


def _entra_time(seconds: float) -> str:
    """A time as Entra writes one in AADSTS700024: ISO 8601 with seven fractional digits, in UTC."""
    clamped = min(max(seconds, 0.0), 253402300799.0)  # what a datetime holds: 1970 to 9999
    return datetime.fromtimestamp(clamped, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _tenant_id(tenant: str) -> str:
    if not is_guid(tenant):
        raise OAuthError(
            400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Use a tenant id (GUID)."
        )
    return tenant.lower()


def _check_scope(scope: str, cloud: Cloud) -> None:
    scopes = scope.split()
    if len(scopes) != 1 or scopes[0] not in cloud.default_scopes:
        raise OAuthError(
            400, "invalid_scope", 1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
            "value with /.default suffixed to the resource identifier (application ID URI).",
        )  # fmt: skip
