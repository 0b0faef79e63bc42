"""graphtasks.web.bodies: the one reader of request bodies, driven through ASGI messages.

What matters is how much it takes in before it refuses: nothing past a declared length over the
limit, and no chunk past the limit when none is declared. Over a real socket: tests/integration/
test_body_limits.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from starlette.requests import Request
from starlette.types import Message

from graphtasks.errors import BadRequest, GraphError, PayloadTooLarge, UnsupportedMediaType
from graphtasks.web.bodies import FORM_LIMIT, PLAN_LIMIT, largest_limit, read_body, read_json

LIMIT = 1000


@dataclass
class Body:
    """The ASGI receive channel of one request: its chunks, and how many the reader asked for."""

    chunks: Sequence[bytes]
    taken: int = field(default=0)

    async def receive(self) -> Message:
        self.taken += 1
        index = self.taken - 1
        if index >= len(self.chunks):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": self.chunks[index], "more_body": index + 1 < len(self.chunks)}


def request(body: Body, *, length: str | None = None, content_type: str = "application/json") -> Request:
    headers = [(b"content-type", content_type.encode())]
    if length is not None:
        headers.append((b"content-length", length.encode("latin-1")))
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, body.receive)


def read(body: Body, *, length: str | None = None) -> bytes:
    return bytes(asyncio.run(read_body(request(body, length=length), limit=LIMIT)))


@pytest.mark.parametrize(
    ("chunks", "length", "read_back"),
    [
        ([b"a" * LIMIT], str(LIMIT), b"a" * LIMIT),  # exactly at the limit
        ([b"a" * 400, b"b" * 600], None, b"a" * 400 + b"b" * 600),  # chunked, at the limit
        ([b""], "0", b""),
        ([b"abc"], "²", b"abc"),  # a Content-Length int() cannot read is left to the bytes
    ],
    ids=["declared-at-limit", "chunked-at-limit", "empty", "odd-length"],
)
def test_a_body_within_the_limit_is_read_whole(
    chunks: list[bytes], length: str | None, read_back: bytes
) -> None:
    assert read(Body(chunks), length=length) == read_back


MESSAGE = f"The request body is larger than the limit of {LIMIT} bytes."


@pytest.mark.parametrize(
    ("chunks", "length", "taken"),
    [
        ([b"a" * 10] * 1000, str(LIMIT + 1), 0),  # declared past the limit: not a byte read
        ([b"a" * 10] * 1000, str(2**70), 0),
        ([b"a" * 100] * 1000, None, 11),  # chunked: stops at the chunk that would pass the limit
        ([b"a" * 999, b"bb"], None, 2),
        ([b"a" * (LIMIT + 1)], None, 1),
        ([b"a" * 100] * 1000, "50", 11),  # a Content-Length that lies is not believed either
    ],
    ids=["declared", "declared-huge", "chunked", "chunked-just-past", "one-chunk-past", "lying-length"],
)
def test_a_body_past_the_limit_is_refused_as_soon_as_it_is_known(
    chunks: list[bytes], length: str | None, taken: int
) -> None:
    body = Body(chunks)
    with pytest.raises(PayloadTooLarge) as refused:
        read(body, length=length)
    assert (refused.value.status, refused.value.code, str(refused.value)) == (
        413,
        "RequestEntityTooLarge",
        MESSAGE,
    )
    assert body.taken == taken


@pytest.mark.parametrize(
    ("chunks", "content_type", "error", "message"),
    [
        (
            [b'{"a": 1}'],
            "text/plain",
            UnsupportedMediaType,
            "The content type 'text/plain' is not supported.",
        ),
        ([b" \n "], "application/json", BadRequest, "The request body is empty; a JSON object was expected."),
        ([b"{"], "application/json", BadRequest, "Invalid JSON."),
        ([b"a" * (LIMIT + 1)], "application/json", PayloadTooLarge, MESSAGE),
    ],
    ids=["media-type", "empty", "malformed", "too-large"],
)
def test_read_json_refuses_what_is_not_a_json_body(
    chunks: list[bytes], content_type: str, error: type[GraphError], message: str
) -> None:
    with pytest.raises(error) as refused:
        asyncio.run(read_json(request(Body(chunks), content_type=content_type), limit=LIMIT))
    assert str(refused.value).startswith(message)


def test_read_json_decodes_a_body_sent_in_chunks() -> None:
    body = Body([b'{"displayName": ', b'"x", "n": [1, 2]}'])
    assert asyncio.run(read_json(request(body), limit=LIMIT)) == {"displayName": "x", "n": [1, 2]}


@pytest.mark.parametrize(
    ("max_body_bytes", "largest"),
    [(4 * 1024 * 1024, 4 * 1024 * 1024), (1024, max(FORM_LIMIT, PLAN_LIMIT))],
)
def test_the_largest_limit_covers_every_route(max_body_bytes: int, largest: int) -> None:
    assert largest_limit(max_body_bytes) == largest
