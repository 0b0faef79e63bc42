"""The identity platform's face, per tenant: OpenID configuration, JWKS, and the v2.0 token endpoint
(client-credentials grant, auth/token_service.py). Paths are the Microsoft identity platform's:
/{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys and
/{tenant}/oauth2/v2.0/token, and the instance discovery MSAL asks first (/common/discovery/instance).
No bearer token needed, as there.

The token endpoint's URL is also a client assertion's audience, so the token service is told the URLs
the endpoint answers to.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graphtasks.auth.keys import KeyRing
from graphtasks.auth.token_service import OAuthError, TokenService
from graphtasks.auth.tokens import issuer_for
from graphtasks.config import Settings
from graphtasks.errors import PayloadTooLarge, Retryable
from graphtasks.web.blocking import BlockingCalls
from graphtasks.web.bodies import FORM_LIMIT, read_body
from graphtasks.web.hosts import allowed_hosts
from graphtasks.web.request_log import CALLER_STATE
from graphtasks.web.requests import base_url


def discovery_routes(
    keys: KeyRing, settings: Settings, tokens: TokenService, *, calls: BlockingCalls
) -> list[Route]:
    async def openid_configuration(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        root = base_url(request.scope, settings)
        base = f"{root}/{tenant}"
        return JSONResponse(
            {
                # Entra's issuer shares its authority's origin; identity clients (MSAL for Node) check it.
                "issuer": issuer_for(settings.issuer_base(root), tenant),
                "token_endpoint": _token_endpoint(root, tenant),
                # MSAL reads it although the client-credentials grant never goes there; not served.
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["token"],
                "subject_types_supported": ["pairwise"],
                "scopes_supported": [f"{settings.cloud.graph_url}/.default"],
                "grant_types_supported": ["client_credentials"],
                "tenant_region_scope": None,
            }
        )

    async def jwks(_request: Request) -> Response:
        return JSONResponse(keys.jwks())

    async def token(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        try:
            form = await _read_form(request)
        except OAuthError as error:
            return _oauth_error(error)
        request.scope["state"][CALLER_STATE] = (tenant, form.get("client_id"))
        audiences = _assertion_audiences(request, settings, tenant)
        try:
            issuer_base = settings.issuer_base(base_url(request.scope, settings))
            client = request.client.host if request.client else ""
            answer = await calls.run(
                tokens.token,
                tenant,
                form,
                audiences=audiences,
                issuer_base=issuer_base,
                client_address=client,
            )
        except OAuthError as error:
            return _oauth_error(error)
        except Retryable as outage:
            # Identity clients read OAuth errors, not Graph's: RFC 6749's temporarily_unavailable, with
            # the wait (an outage's 503, a statement's time limit's 504). AADSTS90033 ("a transient error
            # has occurred") is our guess at Entra's code.
            status = outage.status
            transient = OAuthError(
                status, "temporarily_unavailable", 90033, "A transient error has occurred."
            )
            headers = {"Cache-Control": "no-store", **outage.headers}
            return JSONResponse(transient.body(), status_code=status, headers=headers)
        return JSONResponse(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def instance_discovery(request: Request) -> Response:
        """What MSAL asks before it trusts an authority host it does not know: where the tenant's OpenID
        configuration is. Entra's answer names its own hosts; this one names graphtasks."""
        tenant = _tenant_of_authorize_url(request.query_params.get("authorization_endpoint", ""))
        if tenant is None:
            return JSONResponse(
                {
                    "error": "invalid_instance",
                    "error_description": "AADSTS50049: Unknown or invalid instance.",
                    "error_codes": [50049],
                },
                status_code=400,
            )
        root = base_url(request.scope, settings)
        host = urlsplit(root).netloc
        return JSONResponse(
            {
                "tenant_discovery_endpoint": f"{root}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            }
        )

    return [
        Route("/common/discovery/instance", instance_discovery, methods=["GET"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", jwks, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
    ]


async def _read_form(request: Request) -> dict[str, str]:
    """The token request's form, read within FORM_LIMIT as it arrives (web/bodies.py)."""
    try:
        body = await read_body(request, limit=FORM_LIMIT)
    except PayloadTooLarge as error:
        # In OAuth's shape, which identity clients read. RFC 6749 has no error for size, so its generic
        # invalid_request; AADSTS9002313 is the code Entra answers malformed token requests with. The
        # status is HTTP's for a body refused for its size (RFC 9110, "413 Content Too Large").
        raise OAuthError(
            413, "invalid_request", 9002313, f"Invalid request. Request is malformed or invalid. {error}"
        ) from None
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _oauth_error(error: OAuthError) -> Response:
    return JSONResponse(error.body(), status_code=error.status, headers={"Cache-Control": "no-store"})


def _tenant_of_authorize_url(url: str) -> str | None:
    """`contoso` of `https://host/contoso/oauth2/v2.0/authorize` (MSAL's form of the question)."""
    parts = urlsplit(url)
    segments = parts.path.strip("/").split("/")
    if parts.scheme != "https" or len(segments) < 2 or not segments[0] or segments[1] != "oauth2":
        return None
    return segments[0]


def _token_endpoint(base: str, tenant: str) -> str:
    return f"{base}/{tenant}/oauth2/v2.0/token"


def _assertion_audiences(request: Request, settings: Settings, tenant: str) -> tuple[str, ...]:
    """The token endpoint's URLs at the server's own origins: MSAL's assertion audience is the one the
    OpenID configuration published. Under --base-url only that one; without it, the endpoint at each
    allowed host (web/hosts.py), in the scheme the request came by. Never a header: a Host or
    X-Forwarded-Host must not make an assertion minted for another token endpoint (Entra's, say)
    acceptable here."""
    if settings.base_url is not None:
        return (_token_endpoint(settings.base_url.rstrip("/"), tenant),)
    origins = allowed_hosts(settings).own_origins(request.scope.get("scheme", "http"))
    return tuple(_token_endpoint(origin, tenant) for origin in origins)
