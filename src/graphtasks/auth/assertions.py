"""Client assertions (RFC 7523): the JWT an app signs with its certificate's private key instead of
sending a secret. This module reads one without trusting it and tells whether a registered certificate
signed it. Which claims must hold what, and the identity platform's error for each fault, belong to the
token service (auth/token_service.py).
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from graphtasks.storage.base import StoredCertificate

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# What MSAL Python (and azure-identity through it) signs with: RS256 naming the certificate by its SHA-1
# thumbprint (x5t), or PS256 by its SHA-256 one (x5t#S256; MSAL >= 1.35 given the public certificate).
# A signature verifies with these algorithms only, whatever the header names: never none or HS*.
ALGORITHMS = ("RS256", "PS256")
# MSAL's assertions are about 1 KiB, or a few with an x5c chain; anything far larger is not one.
MAX_ASSERTION_CHARS = 16 * 1024

_JWS = jwt.PyJWS(algorithms=list(ALGORITHMS))
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class MalformedAssertion(ValueError):
    """Not a compact JWS whose header and claims are JSON objects with claims of the right types."""


@dataclass(frozen=True)
class ClientAssertion:
    """An assertion as read, nothing verified yet. Thumbprints are upper-case hex; times are seconds
    since the epoch. A claim the assertion leaves out is None."""

    token: str
    alg: str
    sha1_thumbprint: str | None
    sha256_thumbprint: str | None
    iss: str | None
    sub: str | None
    aud: str | None
    jti: str | None
    exp: float | None
    nbf: float | None

    @property
    def thumbprint(self) -> str | None:
        """The thumbprint that picks the certificate: SHA-256 when both are given, as the stronger."""
        return self.sha256_thumbprint or self.sha1_thumbprint


def read_assertion(token: str) -> ClientAssertion:
    """The header and claims of an assertion, unverified. MalformedAssertion for anything else."""
    if len(token) > MAX_ASSERTION_CHARS:
        raise MalformedAssertion("too long")
    try:
        parts = _JWS.decode_complete(token, options={"verify_signature": False})
        claims = json.loads(parts["payload"])
    except (jwt.PyJWTError, ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise MalformedAssertion("not a JWS") from None
    header = parts["header"]
    if not isinstance(claims, dict):
        raise MalformedAssertion("the claims are not a JSON object")
    return ClientAssertion(
        token,
        alg=_text(header, "alg") or "",
        sha1_thumbprint=_thumbprint(header, "x5t", size=20),
        sha256_thumbprint=_thumbprint(header, "x5t#S256", size=32),
        iss=_text(claims, "iss"),
        sub=_text(claims, "sub"),
        # An array is malformed too: Entra answers one with AADSTS50027 (seen by users of openid-client).
        aud=_text(claims, "aud"),
        jti=_text(claims, "jti"),
        exp=_time(claims, "exp"),
        nbf=_time(claims, "nbf"),
    )


def signed_by(assertion: ClientAssertion, certificate: StoredCertificate) -> bool:
    """Whether the certificate's key made the assertion's signature, by the algorithm its header names
    when that is one of ALGORITHMS."""
    key = _certificate(certificate).public_key()
    if assertion.alg not in ALGORITHMS or not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        _JWS.decode_complete(assertion.token, key, algorithms=[assertion.alg])
    except jwt.PyJWTError:
        return False
    return True


def validity(certificate: StoredCertificate) -> tuple[datetime, datetime]:
    """The certificate's notBefore and notAfter: Entra takes them as the key credential's lifetime."""
    loaded = _certificate(certificate)
    return loaded.not_valid_before_utc, loaded.not_valid_after_utc


def _certificate(certificate: StoredCertificate) -> x509.Certificate:
    return x509.load_pem_x509_certificate(certificate.pem.encode("ascii"))


def _text(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedAssertion(f"{name} is not a string")
    return value


def _time(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate (RFC 7519 §2): a finite number; MSAL writes floats."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedAssertion(f"{name} is not a NumericDate")
    try:
        seconds = float(value)
    except OverflowError:  # an integer beyond any float
        raise MalformedAssertion(f"{name} is not a NumericDate") from None
    if not math.isfinite(seconds):  # JSON as Python reads it allows NaN and Infinity
        raise MalformedAssertion(f"{name} is not a NumericDate")
    return seconds


def _thumbprint(header: dict[str, Any], name: str, *, size: int) -> str | None:
    """A thumbprint header, base64url of the hash (MSAL pads it with '='), as upper-case hex."""
    value = _text(header, name)
    if value is None:
        return None
    digits = value.rstrip("=")
    if not _BASE64URL.fullmatch(digits) or len(digits) % 4 == 1:
        raise MalformedAssertion(f"{name} is not base64url")
    raw = base64.urlsafe_b64decode(digits + "=" * (-len(digits) % 4))
    if len(raw) != size:
        raise MalformedAssertion(f"{name} is not a thumbprint")
    return raw.hex().upper()
