"""The issuer's public face: OpenID configuration and JWKS, so tools can verify our tokens.

Paths follow the Microsoft identity platform's: /{tenant}/v2.0/.well-known/openid-configuration and
/{tenant}/discovery/v2.0/keys. No authentication, as there.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graphtasks.auth.keys import KeyRing
from graphtasks.auth.tokens import issuer_for
from graphtasks.config import Settings


def discovery_routes(keys: KeyRing, settings: Settings) -> list[Route]:
    async def openid_configuration(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        base = settings.base_url or f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse(
            {
                "issuer": issuer_for(settings.issuer, tenant),
                "jwks_uri": f"{base.rstrip('/')}/{tenant}/discovery/v2.0/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [],
                "response_types_supported": [],
                "subject_types_supported": ["pairwise"],
                "tenant_region_scope": None,
            }
        )

    async def jwks(_request: Request) -> Response:
        return JSONResponse(keys.jwks())

    return [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", jwks, methods=["GET"]),
    ]
