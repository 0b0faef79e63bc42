"""Read a JSON request body within Graph's limits: content type, size, and well-formed JSON.

Returns the decoded value; what it must contain is model/validation.py's business.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request

from graphtasks.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


async def read_json(request: Request, *, limit: int) -> object:
    _check_content_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    if not body.strip():
        raise BadRequest("The request body is empty; a JSON object was expected.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"Invalid JSON. {error}") from None


def _check_content_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        shown = content_type or "(none)"
        raise UnsupportedMediaType(
            f"The content type '{shown}' is not supported. "
            "The request body must be sent as 'application/json'."
        )


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
