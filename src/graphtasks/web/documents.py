"""Documents that describe the service rather than serve tasks: `GET /beta/$metadata` (the OData CSDL,
model/csdl.py) and `GET /beta/openapi.json` (OpenAPI 3.0.3, web/openapi.py). Like Graph's $metadata,
they need no token.
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
        return Response(_openapi_json(base_url(request, settings)), media_type="application/json")

    return [
        Route("/beta/$metadata", metadata, methods=["GET"]),
        Route("/beta/openapi.json", openapi, methods=["GET"]),
    ]


@functools.lru_cache(maxsize=16)
def _openapi_json(server_url: str) -> bytes:
    """Built once per address it is asked at (a few milliseconds of work)."""
    return orjson.dumps(openapi_document(server_url))
