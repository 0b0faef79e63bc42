"""The server's RS256 signing keys: created once, kept in the database, published as a JWKS.

Keys live in the database (storage.base.KeyStore) rather than in a file so that every instance on one
database signs and verifies with the same keys, and deleting a SQLite file resets both together.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from graphtasks.storage.base import KeyStore


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @cached_property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        numbers = self.public_key.public_numbers()
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, **_rsa_members(numbers)}


@dataclass(frozen=True)
class KeyRing:
    """Signs with the oldest key; verifies with any of them (so a key can be rotated in)."""

    keys: tuple[SigningKey, ...]

    @property
    def signing(self) -> SigningKey:
        return self.keys[0]

    def find(self, kid: str | None) -> SigningKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys]}

    def derive_secret(self, purpose: str) -> bytes:
        """A symmetric secret for `purpose` (e.g. signing $skiptoken values), derived from the signing
        key, so every instance on one database shares it and nothing more has to be stored."""
        private = self.signing.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return hmac.new(private, purpose.encode(), hashlib.sha256).digest()


def load_key_ring(store: KeyStore) -> KeyRing:
    """The stored keys, creating the first one if there is none yet.

    Instances starting together on an empty database all end up with the same ring: the store keeps
    only the first key added (storage/registry.py), and each instance reads the keys back after adding.
    """
    stored = store.signing_keys()
    if not stored:
        # Made outside the store's lock (it takes tens of milliseconds); a key that loses the race is
        # simply not kept.
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        store.add_signing_key(thumbprint(key.public_key()), _pem(key))
        stored = store.signing_keys()
    return KeyRing(tuple(_load(kid, pem) for kid, pem in stored))


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint, used as the kid."""
    members = _rsa_members(public_key.public_numbers())
    canonical = json.dumps({"e": members["e"], "kty": "RSA", "n": members["n"]}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def _rsa_members(numbers: rsa.RSAPublicNumbers) -> dict[str, str]:
    return {"n": _b64url(_uint_bytes(numbers.n)), "e": _b64url(_uint_bytes(numbers.e))}


def _uint_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _load(kid: str, pem: str) -> SigningKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"signing key {kid} is not an RSA key")
    return SigningKey(kid, key)
