"""App registrations: the confidential clients the token service knows, per tenant, and their
credentials: client secrets and client certificates.

A secret is shown once, when made; only a salted SHA-256 of it is stored, and it is checked in
constant time. One salted hash round is enough here: secrets are 240 random bits made by the server,
not passwords a person chose, so there is nothing for a slow hash to protect against guessing.

A certificate is registered as Entra takes one: the public certificate alone (PEM), RSA, since the
assertions it verifies are RS256 or PS256 (auth/assertions.py). A file holding a private key is refused
rather than trimmed, so a private key never reaches the server, not even by accident.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from graphtasks.storage.base import AppRegistration, StoredCertificate, StoredSecret

_THUMBPRINT = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")


def new_secret() -> tuple[str, StoredSecret]:
    """A fresh client secret and what is stored of it."""
    secret = secrets.token_urlsafe(30)
    salt = secrets.token_hex(16)
    return secret, StoredSecret(salt, _digest(salt, secret))


def secret_matches(secret: str, stored: StoredSecret) -> bool:
    return hmac.compare_digest(_digest(stored.salt, secret), stored.digest)


def hint(secret: str) -> str:
    return secret[:3]


def app_json(app: AppRegistration) -> dict[str, object]:
    """An app registration as `graphtasks apps` and the admin API show it: the secret's hint, never the
    secret, nor anything stored of it."""
    return {
        "tenantId": app.tenant_id,
        "clientId": app.client_id,
        "displayName": app.display_name,
        "permissions": list(app.permissions),
        "secretHint": app.secret_hint,
        # SHA-1 thumbprints, upper-case hex, as the Entra portal lists an app's certificates.
        "certificates": [certificate.sha1_thumbprint for certificate in app.certificates],
    }


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def read_certificate(path: str | Path) -> StoredCertificate:
    """The certificate in a PEM file, for registration; ValueError, saying why, for anything else."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    return certificate_from_pem(data, source=str(path))


def certificate_from_pem(data: bytes, *, source: str = "the certificate") -> StoredCertificate:
    """One PEM certificate with an RSA key, as stored: the certificate in normal form and its
    thumbprints. ValueError for a private key, garbage, several certificates or another key type."""
    if b"PRIVATE KEY-----" in data:
        raise ValueError(
            f"{source} holds a private key; register the public certificate only "
            "(openssl x509 -in FILE -out cert.pem writes it alone)"
        )
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{source} is not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    if len(certificates) != 1:
        raise ValueError(f"{source} holds {len(certificates)} certificates; give one")
    certificate = certificates[0]
    if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
        raise ValueError(f"{source} has no RSA key; client assertions are signed with RS256 or PS256")
    return StoredCertificate(
        certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - x5t is SHA-1 by definition (RFC 7515)
        certificate.fingerprint(hashes.SHA256()).hex().upper(),
        certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )


def parse_thumbprint(text: str) -> str:
    """A SHA-1 or SHA-256 thumbprint as typed (any case, colons or spaces allowed), in upper-case hex."""
    thumbprint = re.sub(r"[\s:]", "", text).upper()
    if not _THUMBPRINT.fullmatch(thumbprint):
        raise ValueError(f"{text!r} is not a certificate thumbprint (40 or 64 hex digits)")
    return thumbprint
