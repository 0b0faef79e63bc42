"""The client-credentials grant of the Microsoft identity platform's v2.0 token endpoint
(`POST /{tenant}/oauth2/v2.0/token`): an app registration's secret in, a Graph access token whose
`roles` are the app's permissions out. Errors are the identity platform's, not Graph's: an OAuth
`error`, an AADSTS code and description.

No HTTP here: the web layer hands over the form fields and renders the result.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphtasks.auth.apps import secret_matches
from graphtasks.auth.keys import KeyRing
from graphtasks.auth.tokens import TokenRequest, is_guid, issue_token
from graphtasks.clouds import Cloud
from graphtasks.storage.base import AppRegistration, StoredSecret

# Entra's app-only tokens for Graph live an hour; it reports one second less.
TOKEN_LIFETIME_S = 3599

FindApp = Callable[[str, str], tuple[AppRegistration, StoredSecret] | None]


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
    issuer: str
    cloud: Cloud
    find_app: FindApp

    def token(self, tenant: str, form: Mapping[str, str]) -> dict[str, Any]:
        tenant_id = _tenant_id(tenant)
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(
                400, "unsupported_grant_type", 70003,
                f"The app requested an unsupported grant type '{form.get('grant_type', '')}'.",
            )  # fmt: skip
        app = self._authenticate(tenant_id, form.get("client_id", ""), form.get("client_secret"))
        _check_scope(form.get("scope", ""), self.cloud)
        request = TokenRequest(
            tenant_id, roles=app.permissions, expires_in=TOKEN_LIFETIME_S, client_id=app.client_id
        )
        token = issue_token(self.keys, request, issuer_base=self.issuer, audience=self.cloud.graph_url)
        return {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "ext_expires_in": TOKEN_LIFETIME_S,
            "access_token": token,
        }

    def _authenticate(self, tenant_id: str, client_id: str, secret: str | None) -> AppRegistration:
        found = self.find_app(tenant_id, client_id) if is_guid(client_id) else None
        if found is None:
            raise OAuthError(
                400, "unauthorized_client", 700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant_id}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant.",
            )  # fmt: skip
        app, stored = found
        if secret is None:
            raise OAuthError(
                401, "invalid_client", 7000218,
                "The request body must contain the following parameter: "
                "'client_assertion' or 'client_secret'.",
            )  # fmt: skip
        if not secret_matches(secret, stored):
            raise OAuthError(
                401, "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )  # fmt: skip
        return app


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
