"""Entra ID's token and key-set shapes, made with locally generated keys: what the tests of trusted
issuers (graphtasks serve --trust-entra / --trust-issuer) impersonate (docs/graph-behaviour.md,
"Access tokens"; the issuer forms per cloud are in its "National clouds")."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from graphtasks.clouds import CLOUDS, GRAPH_APP_ID, TENANT_PLACEHOLDER, Cloud


def public_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    """The JWKS entry of `key`'s public half."""
    entry: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return entry | {"kid": kid} | extra


@dataclass(frozen=True)
class EntraApp:
    """Who a token is for: the tenant, the app (client) and the application permissions granted it."""

    tenant: str
    client_id: str
    roles: tuple[str, ...]


def entra_token(
    key: rsa.RSAPrivateKey,
    kid: str,
    app: EntraApp,
    *,
    version: str,
    cloud: Cloud = CLOUDS["global"],
    **overrides: Any,
) -> str:
    """An app-only token shaped as Entra issues it for Graph in `cloud`, in token format `version`
    ("1.0": sts issuer, Graph URL audience, appid; "2.0": login issuer, Graph app id audience, azp)."""
    v1_issuer, v2_issuer = (issuer.replace(TENANT_PLACEHOLDER, app.tenant) for issuer in cloud.entra_issuers)
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": cloud.graph_url if version == "1.0" else GRAPH_APP_ID,
        "iss": v1_issuer if version == "1.0" else v2_issuer,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": app.tenant,
        "oid": str(uuid.uuid4()),
        "idtyp": "app",
        "roles": list(app.roles),
        "ver": version,
        ("appid" if version == "1.0" else "azp"): app.client_id,
    }
    return jwt.encode(claims | overrides, key, algorithm="RS256", headers={"kid": kid})
