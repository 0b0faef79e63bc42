"""Documents that describe the service rather than serve tasks: `GET /beta/$metadata` (the OData CSDL,
model/csdl.py). Like Graph's, it needs no token.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphtasks.model.csdl import metadata_document


def document_routes() -> list[Route]:
    async def metadata(_request: Request) -> Response:
        return Response(metadata_document().encode("utf-8"), media_type="application/xml")

    return [Route("/beta/$metadata", metadata, methods=["GET"])]
