"""JSON batching (`POST /beta/$batch`): up to 20 requests in one call, as docs/graph-behaviour.md,
"JSON batching" describes Graph's.

Reading a batch is pure (`read_batch`, web/batch_reading.py): a malformed batch is one 400 for the
whole call. Each inner request is then sent through the whole application, exactly as if it had come
alone (same middleware, token check with the outer request's token, permissions, validation, errors),
in the order given, each after the requests it depends on. A request whose dependency failed is not
run: it answers 424. The outer answer is 200 whatever the inner ones are.

Silent in Graph's docs, decided here: requests run one after another (Graph may run independent ones
in parallel; one at a time is one of the orders it may pick); inner `Authorization` headers are
ignored in favour of the outer one; a URL may be relative (`/deviceAppManagement/...`, the documented
form) or absolute with its version (what msgraph-core's BatchRequestItem sends); a nested `$batch` is a
400 for that request. The wording of the batch-level 400s is a guess.

Bounded, like a request sent alone (docs/resilience.md, "Prefer and $batch headers" and "$batch
answers"): an item's headers obey the header limits of the HTTP layer, or that item alone answers
431 (or 400 for a header HTTP could not carry); dependencies are ordered in time linear in their
number; and the answer is written out item by item within a byte budget, past which the remaining
items are not run and answer 503.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, unquote

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphtasks.config import DEFAULT_MAX_HEADER_BYTES, Settings
from graphtasks.errors import BadRequest, FailedDependency, GraphError, ServiceUnavailable
from graphtasks.web.batch_reading import BatchItem, read_batch
from graphtasks.web.bodies import read_json
from graphtasks.web.error_bodies import error_body
from graphtasks.web.request_log import BATCH_ITEM
from graphtasks.web.requests import GraphRequest
from graphtasks.web.responses import ODATA_JSON
from graphtasks.web.routes import GraphHandler

# Response headers a batch item leaves out: they describe the outer HTTP message, not the item.
_OMITTED_HEADERS = frozenset({"content-length", "date", "server", "transfer-encoding", "connection"})
# Graph's spelling of the headers an item may carry (the SDK looks them up case-sensitively).
_HEADER_NAMES = {
    "odata-version": "OData-Version",
    "odata-entityid": "OData-EntityId",
    "www-authenticate": "WWW-Authenticate",
    "request-id": "request-id",
    "client-request-id": "client-request-id",
}
# Characters a query keeps as they are; everything else (spaces, non-ASCII text) is percent-encoded.
_QUERY_SAFE = "&=+$,;:@/?'()!*-._~%"


def batch_handler(
    max_body_bytes: int,
    *,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_answer_bytes: int = Settings.max_batch_response_bytes,
) -> GraphHandler:
    """`POST /{version}/$batch`; the route's guard has authenticated the caller."""

    async def batch(request: GraphRequest) -> ASGIApp:
        if request.scope.get(BATCH_ITEM):
            raise BadRequest("A batch cannot hold another batch.")
        version = request.path.strip("/").split("/")[0]
        document = await read_json(request, limit=max_body_bytes)
        items = read_batch(document, version=version, max_header_bytes=max_header_bytes)
        return _BatchAnswer(_Run(request, max_answer_bytes), items)

    return batch


class _BatchAnswer:
    """The batch's 200, sent item by item as each is answered (chunked: it has no Content-Length), so the
    server holds one item's answer at a time however large the whole. A client that leaves does not stop
    the batch: its requests run on, as they did when the answer was written whole at the end."""

    def __init__(self, run: _Run, items: list[BatchItem]) -> None:
        self._run, self._items = run, items

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", ODATA_JSON.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for part in self._run.answers(self._items):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _Run:
    """One batch's run: each item's outcome, and the bytes of the answer so far against its budget."""

    def __init__(self, request: GraphRequest, budget: int) -> None:
        self.request, self.budget = request, budget
        self.outcomes: dict[str, int] = {}
        self.written = 0
        self.full = False

    async def answers(self, items: list[BatchItem]) -> AsyncIterator[bytes]:
        """`{"responses": [...]}`, in pieces: each item's answer (with the comma before it) is one."""
        yield b'{"responses":['
        for index, item in enumerate(items):
            status, answer = await self._answer(item)
            self.outcomes[item.id.lower()] = status
            self.written += _length(answer) + 1
            if index:
                yield b","
            for part in answer:
                yield part
        yield b"]}"

    async def _answer(self, item: BatchItem) -> tuple[int, list[bytes]]:
        failed = next((d for d in item.depends_on if not 200 <= self.outcomes[d.lower()] < 300), None)
        if failed is not None:
            error = FailedDependency(f"The request depends on request '{failed}', which failed.")
            return self._error(item, error)
        if item.refusal is not None:
            return self._error(item, item.refusal)
        if self.full:  # not run: nothing was done, so the client may simply send it again
            return self._error(item, self._over_budget("before this request was run"))
        status, headers, body = await _dispatch(self.request, item)
        answer = _item(item.id, status, headers, body)
        # The first answer always comes whole, so that any request can be answered in a batch of its own.
        if self.written == 0 or self.written + _length(answer) <= self.budget:
            return status, answer
        self.full = True
        if item.method == "GET":  # nothing changed: its client may ask again
            return self._error(item, self._over_budget("with this request's answer"))
        # A write that was done must not read as one that was not, or retrying it would repeat it: its
        # status and headers stay, its body is left out.
        return status, _item(item.id, status, [h for h in headers if h[0].lower() != "content-type"], [])

    def _over_budget(self, when: str) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"The batch's answer reached its limit of {self.budget} bytes {when}; nothing was done. "
            "Send the request again in another batch.",
            retry_after_s=1,
        )

    def _error(self, item: BatchItem, error: GraphError) -> tuple[int, list[bytes]]:
        state = self.request.scope.get("state", {})
        body = error_body(
            error,
            request_id=state.get("request_id", ""),
            client_request_id=state.get("client_request_id", ""),
            url=item.url,
        )
        headers = {"Content-Type": "application/json", **error.headers}
        answer = {"id": item.id, "status": error.status, "headers": headers, "body": body}
        return error.status, [orjson.dumps(answer)]


async def _dispatch(request: GraphRequest, item: BatchItem) -> tuple[int, list[tuple[str, str]], list[bytes]]:
    """Send one item through the whole application and collect its answer, in the parts it was sent in."""
    scope = _inner_scope(request.scope, item)
    pending: list[Message] = [{"type": "http.request", "body": item.body or b"", "more_body": False}]
    status, headers, parts = 500, [], []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            if body := message.get("body", b""):
                parts.append(bytes(body))

    await request.scope["app"](scope, receive, send)
    return status, headers, parts


def _inner_scope(outer: Scope, item: BatchItem) -> Scope:
    """The ASGI scope of an inner request: `path` percent-decoded as ASGI wants it, the query
    percent-encoded (a batch URL may hold raw non-ASCII text), marked as inner."""
    path, _, query = item.url.partition("?")
    outer_headers = [(name, value) for name, value in outer["headers"] if name in {b"authorization", b"host"}]
    inner_headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in item.headers
        if name.lower() not in {"authorization", "host", "content-length"}
    ]
    length = [(b"content-length", str(len(item.body)).encode())] if item.body is not None else []
    return {
        "type": "http",
        "asgi": outer.get("asgi", {"version": "3.0"}),
        "http_version": outer.get("http_version", "1.1"),
        "method": item.method,
        "scheme": outer.get("scheme", "http"),
        "server": outer.get("server"),
        "client": outer.get("client"),
        "root_path": "",
        "path": unquote(path),
        "query_string": quote(query, safe=_QUERY_SAFE).encode("ascii"),
        "headers": [*outer_headers, *inner_headers, *length],
        BATCH_ITEM: True,
    }


def _item(request_id: str, status: int, headers: list[tuple[str, str]], body: list[bytes]) -> list[bytes]:
    """An item's answer, in parts: a JSON body goes in as the parts it was sent in."""
    shown = {_header_name(name): value for name, value in headers if name.lower() not in _OMITTED_HEADERS}
    answer: dict[str, Any] = {"id": request_id, "status": status, "headers": shown}
    if not _length(body):
        return [orjson.dumps(answer)]
    content_type = shown.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        answer["body"] = base64.b64encode(b"".join(body)).decode("ascii")
        return [orjson.dumps(answer)]
    # JSON answers come from this application (orjson's own output), so they go in as they are, never
    # parsed again nor copied whole: a page costs its bytes once, not a tree of Python objects.
    return [orjson.dumps(answer)[:-1] + b',"body":', *body, b"}"]


def _length(parts: list[bytes]) -> int:
    return sum(len(part) for part in parts)


def _header_name(name: str) -> str:
    lowered = name.lower()
    return _HEADER_NAMES.get(lowered) or "-".join(part.capitalize() for part in lowered.split("-"))
