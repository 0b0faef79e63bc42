"""JSON batching (`POST /beta/$batch`): up to 20 requests in one call, as docs/graph-behaviour.md,
"JSON batching" describes Graph's.

Reading a batch is pure (`read_batch`): a malformed batch is one 400 for the whole call. Each inner
request is then sent through the whole application, exactly as if it had come alone (same middleware,
token check with the outer request's token, permissions, validation, errors), in the order given,
each after the requests it depends on. A request whose dependency failed is not run: it answers 424.
The outer answer is 200 whatever the inner ones are.

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
import heapq
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from graphtasks.config import DEFAULT_MAX_HEADER_BYTES, Settings
from graphtasks.errors import BadRequest, FailedDependency, GraphError, HeadersTooLarge, ServiceUnavailable
from graphtasks.web.bodies import read_json
from graphtasks.web.error_bodies import error_body
from graphtasks.web.request_log import BATCH_ITEM
from graphtasks.web.responses import ODATA_JSON
from graphtasks.web.routes import GraphHandler

MAX_REQUESTS = 20
# Header fields one item may carry. The HTTP layer counts only bytes (its 64 KiB hold some 16,000 tiny
# fields); 100 is what servers that count allow by default (Apache's LimitRequestFields, Tomcat's
# maxHeaderCount), far above the handful clients send, and keeps each lookup in the item's headers short.
MAX_ITEM_HEADERS = 100
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
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
# RFC 9110, "Field Names" and "Field Values": a token; visible characters, spaces, tabs or obs-text.
# Anything else (CR, LF, NUL, text beyond Latin-1) no HTTP request could carry.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


# Characters a query keeps as they are; everything else (spaces, non-ASCII text) is percent-encoded.
_QUERY_SAFE = "&=+$,;:@/?'()!*-._~%"


@dataclass(frozen=True)
class BatchItem:
    id: str
    method: str
    # The path the application serves, with its query: "/beta/deviceAppManagement/...?$top=1".
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    # Each id once, as first spelled.
    depends_on: tuple[str, ...]
    # Why this request is answered with an error without being run (its headers), if it is.
    refusal: GraphError | None = None


def read_batch(
    document: object, *, version: str, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
) -> list[BatchItem]:
    """The requests of a batch body, in an order where each comes after its dependencies."""
    if not isinstance(document, dict) or not isinstance(document.get("requests"), list):
        raise BadRequest("Invalid batch payload format: a JSON object with a 'requests' array was expected.")
    entries: list[object] = document["requests"]
    if not entries:
        raise BadRequest("Invalid batch payload format: the batch holds no requests.")
    if len(entries) > MAX_REQUESTS:
        raise BadRequest(f"The batch holds {len(entries)} requests; at most {MAX_REQUESTS} are allowed.")
    items = [_read_item(entry, version, max_header_bytes) for entry in entries]
    _check_ids(items)
    return dependency_order(items)


def _read_item(entry: object, version: str, max_header_bytes: int) -> BatchItem:
    if not isinstance(entry, dict):
        raise BadRequest("Invalid batch payload format: each request must be a JSON object.")
    request_id, method, url = entry.get("id"), entry.get("method"), entry.get("url")
    if not isinstance(request_id, str) or not request_id:
        raise BadRequest("Invalid batch payload format: each request needs an 'id' string.")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise BadRequest(f"Request '{request_id}' has an invalid method: {method!r}.")
    headers = _read_headers(request_id, entry.get("headers"))
    body = _read_body(request_id, entry.get("body"), headers)
    depends_on = _read_depends_on(request_id, entry.get("dependsOn", []))
    url = _read_url(request_id, url, version)
    refusal = _header_refusal(headers, max_header_bytes)
    return BatchItem(request_id, method.upper(), url, headers, body, depends_on, refusal)


def _read_depends_on(request_id: str, depends_on: object) -> tuple[str, ...]:
    """Each id once, as first spelled: a list naming one id a million times is one dependency."""
    if not isinstance(depends_on, list) or not all(map(isinstance, depends_on, repeat(str))):
        raise BadRequest(f"Request '{request_id}' has an invalid 'dependsOn': a list of ids was expected.")
    spellings: dict[str, str] = {}
    for dependency in dict.fromkeys(depends_on):  # exact repeats dropped first, at C speed
        spellings.setdefault(dependency.lower(), dependency)
    return tuple(spellings.values())


def _read_url(request_id: str, url: object, version: str) -> str:
    """The path the application serves, with its query: `/beta/...`."""
    if not isinstance(url, str) or not url.strip():
        raise BadRequest(f"Request '{request_id}' needs a 'url'.")
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. an unclosed IPv6 host
        raise BadRequest(f"Request '{request_id}' has an invalid URL: {url}") from None
    path = parts.path if parts.path.startswith("/") else f"/{parts.path}"
    if not parts.scheme:
        path = f"/{version}{path}"
    elif parts.scheme not in {"http", "https"}:
        raise BadRequest(f"Request '{request_id}' has an invalid URL: {url}")
    return f"{path}?{parts.query}" if parts.query else path


def _read_headers(request_id: str, headers: object) -> tuple[tuple[str, str], ...]:
    if headers is None:
        return ()
    if not isinstance(headers, dict) or not all(_is_field(v) for v in headers.values()):
        raise BadRequest(f"Request '{request_id}' has invalid 'headers': a JSON object was expected.")
    # msgraph-core sends multi-valued headers as lists.
    return tuple(
        (name, value if isinstance(value, str) else ", ".join(value)) for name, value in headers.items()
    )


def _is_field(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _header_refusal(headers: tuple[tuple[str, str], ...], limit: int) -> GraphError | None:
    """What a real request with these header fields would get from the HTTP layer, if not served."""
    if len(headers) > MAX_ITEM_HEADERS:
        return HeadersTooLarge(
            f"The request has {len(headers)} header fields; at most {MAX_ITEM_HEADERS} are allowed."
        )
    # Counted as web/http_protocol.py counts a real request's: "name: value\r\n" for each field.
    if sum(len(name) + len(value) + 4 for name, value in headers) > limit:
        return HeadersTooLarge(f"The request's header fields are larger than the limit of {limit} bytes.")
    for name, value in headers:
        if not _FIELD_NAME.fullmatch(name):
            return BadRequest(f"The header name {name[:100]!r} is not a valid HTTP field name.")
        if not _FIELD_VALUE.fullmatch(value):
            return BadRequest(f"The header '{name}' has a value that HTTP cannot carry.")
    return None


def _read_body(request_id: str, body: object, headers: tuple[tuple[str, str], ...]) -> bytes | None:
    if body is None:
        return None
    if not any(name.lower() == "content-type" for name, _ in headers):
        raise BadRequest(f"Request '{request_id}' has a body but no Content-Type header.")
    try:
        # b64decode raises ValueError, not only binascii.Error, for text that is not ASCII; orjson
        # refuses integers beyond 64 bits.
        return base64.b64decode(body, validate=True) if isinstance(body, str) else orjson.dumps(body)
    except (ValueError, orjson.JSONEncodeError):
        raise BadRequest(f"Request '{request_id}' has a body that is neither JSON nor base64.") from None


def _check_ids(items: list[BatchItem]) -> None:
    seen: set[str] = set()
    for item in items:
        key = item.id.lower()  # ids are not case-sensitive
        if key in seen:
            raise BadRequest(f"The batch holds more than one request with the id '{item.id}'.")
        seen.add(key)
    for item in items:
        for dependency in item.depends_on:
            if dependency.lower() not in seen:
                raise BadRequest(f"Request '{item.id}' depends on '{dependency}', which is not in the batch.")


def dependency_order(items: Sequence[BatchItem]) -> list[BatchItem]:
    """The items in their given order, except that each waits for its dependencies; a cycle is a 400.

    Kahn's algorithm, taking each time the first ready item in the given order (a heap of positions):
    O((items + dependencies) log items), and the same order as scanning for that item each time."""
    position = {item.id.lower(): index for index, item in enumerate(items)}
    dependents: list[list[int]] = [[] for _ in items]
    waiting = [0] * len(items)
    for index, item in enumerate(items):
        for dependency in {d.lower() for d in item.depends_on}:
            dependents[position[dependency]].append(index)
            waiting[index] += 1
    ready = [index for index, count in enumerate(waiting) if count == 0]
    ordered: list[BatchItem] = []
    while ready:
        index = heapq.heappop(ready)  # a list of increasing positions is already a heap
        ordered.append(items[index])
        for dependent in dependents[index]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, dependent)
    if len(ordered) < len(items):
        stuck = next(item for index, item in enumerate(items) if waiting[index])
        raise BadRequest(f"The dependencies of request '{stuck.id}' form a cycle.")
    return ordered


# --- running a batch ---


def batch_handler(
    max_body_bytes: int,
    *,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_answer_bytes: int = Settings.max_batch_response_bytes,
) -> GraphHandler:
    """`POST /{version}/$batch`; the route's guard has authenticated the caller."""

    async def batch(request: Request) -> Response:
        if request.scope.get(BATCH_ITEM):
            raise BadRequest("A batch cannot hold another batch.")
        version = request.url.path.strip("/").split("/")[0]
        document = await read_json(request, limit=max_body_bytes)
        items = read_batch(document, version=version, max_header_bytes=max_header_bytes)
        return _BatchAnswer(_Run(request, max_answer_bytes), items)

    return batch


class _BatchAnswer(Response):
    """The batch's 200, sent item by item as each is answered (chunked: it has no Content-Length), so the
    server holds one item's answer at a time however large the whole. A client that leaves does not stop
    the batch: its requests run on, as they did when the answer was written whole at the end."""

    media_type = ODATA_JSON

    def __init__(self, run: _Run, items: list[BatchItem]) -> None:
        self.status_code = 200
        self.background = None
        self._run, self._items = run, items
        self.init_headers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for part in self._run.answers(self._items):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _Run:
    """One batch's run: each item's outcome, and the bytes of the answer so far against its budget."""

    def __init__(self, request: Request, budget: int) -> None:
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


async def _dispatch(request: Request, item: BatchItem) -> tuple[int, list[tuple[str, str]], list[bytes]]:
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

    await request.app(scope, receive, send)
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
