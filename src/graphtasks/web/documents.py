"""Documents that describe the service rather than serve tasks: `GET /beta/$metadata` (the OData CSDL,
model/csdl.py) and `GET /beta/openapi.json` (OpenAPI 3.0.3, web/openapi.py). Like Graph's $metadata,
they need no token.

Each is built once per process. The OpenAPI document names the server's address, which varies with the
request; it is built once around a placeholder and the address spliced in per request, so that no
Host value, however new, costs a rebuild or a cache entry.
"""

from __future__ import annotations

import functools

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphtasks.config import Settings
from graphtasks.model.csdl import metadata_document
from graphtasks.web.openapi import openapi_document
from graphtasks.web.requests import base_url


def document_routes(settings: Settings) -> list[Route]:
    async def metadata(_request: Request) -> Response:
        return Response(metadata_document().encode("utf-8"), media_type="application/xml")

    async def openapi(request: Request) -> Response:
        # Its server URL is the address the client used (or --base-url), so generated clients reach us.
        return Response(openapi_json(base_url(request.scope, settings)), media_type="application/json")

    return [
        Route("/beta/$metadata", metadata, methods=["GET"]),
        Route("/beta/openapi.json", openapi, methods=["GET"]),
    ]


# Stands for the server URL while the document is built: a URL, so the builder treats it as one, in a
# reserved domain (RFC 2606), so that it cannot also occur as text of its own.
_SERVER_URL_MARK = "http://server-url.graphtasks.invalid"


def openapi_json(server_url: str) -> bytes:
    """The OpenAPI document for a server at `server_url`, as openapi_document builds it, serialized:
    the cached pieces joined by the URL, escaped as a JSON string's contents."""
    escaped = orjson.dumps(server_url.rstrip("/"))[1:-1]
    return escaped.join(_openapi_pieces())


@functools.cache
def _openapi_pieces() -> list[bytes]:
    """The document built once (a few milliseconds of work), cut where the server URL goes."""
    return orjson.dumps(openapi_document(_SERVER_URL_MARK)).split(_SERVER_URL_MARK.encode())
