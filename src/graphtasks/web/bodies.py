"""Read a request body within a limit, checked as it arrives, and JSON bodies within Graph's rules
(content type, size, well-formed JSON).

Every route that takes a body reads it here, so none ever holds more than its limit: a declared
Content-Length past the limit is refused before a byte is read, and a body sent without one (chunked)
is refused as soon as the bytes received pass it. The limits of the bodies outside Graph's routes are
here too, so that the HTTP protocol's backstop (web/http_protocol.py) is the largest of them all.
What a JSON body must contain is model/validation.py's business; this module never parses one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import orjson
from starlette.datastructures import Headers

from graphtasks.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

# A token request is a few hundred bytes, a few KiB with a client assertion; anything far larger is not
# one.
FORM_LIMIT = 64 * 1024
# A fault plan of hundreds of rules fits (a rule is 20 to 150 bytes). Every Graph request walks every
# rule of the plan in force: the 1,600 smallest rules 64 KiB holds cost 0.3 ms a request, the 25,000
# that 1 MiB would hold 5.5 ms, for every tenant.
PLAN_LIMIT = 64 * 1024


class BodySource(Protocol):
    """What a body is read from: a Graph operation's GraphRequest (web/requests.py), or the Starlette
    Request of the router's endpoints."""

    @property
    def headers(self) -> Headers: ...

    def stream(self) -> AsyncIterator[bytes]: ...


def largest_limit(max_body_bytes: int) -> int:
    """The most any route reads, given Settings.max_body_bytes (Graph's routes and $batch)."""
    return max(max_body_bytes, FORM_LIMIT, PLAN_LIMIT)


async def read_body(request: BodySource, *, limit: int) -> bytearray:
    """The whole body, or PayloadTooLarge as soon as it is known to be longer than `limit` bytes."""
    declared = request.headers.get("content-length")
    # isascii: str.isdigit also takes digits int() refuses, such as "²".
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise _too_large(limit)
        body += chunk
    return body


async def read_json(request: BodySource, *, limit: int) -> object:
    _check_content_type(request.headers.get("content-type"))
    body = await read_body(request, limit=limit)
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
