"""The answers of the Graph API: their media type, and GraphResponse, an answer sent as the ASGI
messages it comes down to, its body already bytes (a stored document) or rendered with orjson.

GraphResponse is an ASGI application, as Starlette's responses are, so the router's endpoints (admin,
identity) return it too. It writes its headers as Starlette's Response does: names in lower case, a
Content-Length for any answer that may have a body, none for 204 and 304, and no Content-Type unless
given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
PLAIN_TEXT = "text/plain; charset=utf-8"
_BODILESS = frozenset({204, 304})


class GraphResponse:
    """An answer: its status, headers, and body in `parts`, sent in that many messages (a page is sent
    in the parts it was made of, never copied into one buffer). `headers` holds each name in lower case,
    Content-Length and Content-Type included, as the answer will send them."""

    __slots__ = ("headers", "parts", "status_code")

    def __init__(
        self,
        status_code: int = 200,
        parts: Sequence[bytes] = (),
        *,
        media_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code, self.parts = status_code, parts
        self.headers = {name.lower(): value for name, value in (headers or {}).items()}
        if status_code not in _BODILESS:
            self.headers.setdefault("content-length", str(sum(map(len, parts))))
        if media_type is not None:
            self.headers.setdefault("content-type", media_type)

    @classmethod
    def json(
        cls, content: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> GraphResponse:
        """A JSON answer: a value, or bytes already rendered (an answer made from a stored document)."""
        body = content if isinstance(content, bytes) else orjson.dumps(content)
        return cls(status_code, (body,), media_type=ODATA_JSON, headers=headers)

    @classmethod
    def text(cls, content: str) -> GraphResponse:
        return cls(200, (content.encode(),), media_type=PLAIN_TEXT)

    @classmethod
    def empty(cls, status_code: int = 204, *, headers: Mapping[str, str] | None = None) -> GraphResponse:
        return cls(status_code, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        last = len(self.parts) - 1
        if last < 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        for index, part in enumerate(self.parts):
            await send({"type": "http.response.body", "body": part, "more_body": index < last})
