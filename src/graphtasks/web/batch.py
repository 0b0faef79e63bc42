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
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Scope

from graphtasks.errors import BadRequest, FailedDependency, GraphError
from graphtasks.web.bodies import read_json
from graphtasks.web.middleware import GraphJSONResponse, error_body
from graphtasks.web.routes import GraphHandler

MAX_REQUESTS = 20
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


# Marks the scope of an inner request, so that a batch inside a batch is refused however it is spelled.
_INNER = "graphtasks.batch_item"
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
    depends_on: tuple[str, ...]


def read_batch(document: object, *, version: str) -> list[BatchItem]:
    """The requests of a batch body, in an order where each comes after its dependencies."""
    if not isinstance(document, dict) or not isinstance(document.get("requests"), list):
        raise BadRequest("Invalid batch payload format: a JSON object with a 'requests' array was expected.")
    entries: list[object] = document["requests"]
    if not entries:
        raise BadRequest("Invalid batch payload format: the batch holds no requests.")
    if len(entries) > MAX_REQUESTS:
        raise BadRequest(f"The batch holds {len(entries)} requests; at most {MAX_REQUESTS} are allowed.")
    items = [_read_item(entry, version) for entry in entries]
    _check_ids(items)
    return _dependency_order(items)


def _read_item(entry: object, version: str) -> BatchItem:
    if not isinstance(entry, dict):
        raise BadRequest("Invalid batch payload format: each request must be a JSON object.")
    request_id, method, url = entry.get("id"), entry.get("method"), entry.get("url")
    if not isinstance(request_id, str) or not request_id:
        raise BadRequest("Invalid batch payload format: each request needs an 'id' string.")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise BadRequest(f"Request '{request_id}' has an invalid method: {method!r}.")
    headers = _read_headers(request_id, entry.get("headers"))
    body = _read_body(request_id, entry.get("body"), headers)
    depends_on = entry.get("dependsOn", [])
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise BadRequest(f"Request '{request_id}' has an invalid 'dependsOn': a list of ids was expected.")
    return BatchItem(
        request_id, method.upper(), _read_url(request_id, url, version), headers, body, tuple(depends_on)
    )


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
    if not isinstance(headers, dict) or not all(isinstance(v, str | list) for v in headers.values()):
        raise BadRequest(f"Request '{request_id}' has invalid 'headers': a JSON object was expected.")
    # msgraph-core sends multi-valued headers as lists.
    pairs = tuple(
        (str(name), value if isinstance(value, str) else ", ".join(map(str, value)))
        for name, value in headers.items()
    )
    if not all(_is_latin1(name) and _is_latin1(value) for name, value in pairs):
        raise BadRequest(f"Request '{request_id}' has a header that HTTP cannot carry (not Latin-1).")
    return pairs


def _is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


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


def _dependency_order(items: list[BatchItem]) -> list[BatchItem]:
    """The items in their given order, except that each waits for its dependencies; a cycle is a 400."""
    ordered: list[BatchItem] = []
    done: set[str] = set()
    pending = list(items)
    while pending:
        ready = next((i for i in pending if all(d.lower() in done for d in i.depends_on)), None)
        if ready is None:
            raise BadRequest(f"The dependencies of request '{pending[0].id}' form a cycle.")
        ordered.append(ready)
        done.add(ready.id.lower())
        pending.remove(ready)
    return ordered


# --- running a batch ---


def batch_handler(max_body_bytes: int) -> GraphHandler:
    """`POST /{version}/$batch`; the route's guard has authenticated the caller."""

    async def batch(request: Request) -> Response:
        if request.scope.get(_INNER):
            raise BadRequest("A batch cannot hold another batch.")
        version = request.url.path.strip("/").split("/")[0]
        items = read_batch(await read_json(request, limit=max_body_bytes), version=version)
        outcomes: dict[str, int] = {}
        responses = []
        for item in items:
            answer = await _answer(request, item, outcomes)
            outcomes[item.id.lower()] = answer["status"]
            responses.append(answer)
        return GraphJSONResponse({"responses": responses})

    return batch


async def _answer(request: Request, item: BatchItem, outcomes: Mapping[str, int]) -> dict[str, Any]:
    failed = [d for d in item.depends_on if not 200 <= outcomes[d.lower()] < 300]
    if failed:
        error = FailedDependency(f"The request depends on request '{failed[0]}', which failed.")
        return _error_item(request, item, error)
    status, headers, body = await _dispatch(request, item)
    return _item(item.id, status, headers, body)


def _error_item(request: Request, item: BatchItem, error: GraphError) -> dict[str, Any]:
    state = request.scope.get("state", {})
    body = error_body(
        error,
        request_id=state.get("request_id", ""),
        client_request_id=state.get("client_request_id", ""),
        url=item.url,
    )
    return {
        "id": item.id,
        "status": error.status,
        "headers": {"Content-Type": "application/json"},
        "body": body,
    }


async def _dispatch(request: Request, item: BatchItem) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send one item through the whole application and collect its answer."""
    scope = _inner_scope(request.scope, item)
    pending: list[Message] = [{"type": "http.request", "body": item.body or b"", "more_body": False}]
    status, headers, body = 500, [], bytearray()

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await request.app(scope, receive, send)
    return status, headers, bytes(body)


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
        _INNER: True,
    }


def _item(request_id: str, status: int, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    shown = {_header_name(name): value for name, value in headers if name.lower() not in _OMITTED_HEADERS}
    answer: dict[str, Any] = {"id": request_id, "status": status, "headers": shown}
    if body:
        content_type = shown.get("Content-Type", "")
        is_json = content_type.split(";")[0].strip().lower() == "application/json"
        answer["body"] = orjson.loads(body) if is_json else base64.b64encode(body).decode("ascii")
    return answer


def _header_name(name: str) -> str:
    lowered = name.lower()
    return _HEADER_NAMES.get(lowered) or "-".join(part.capitalize() for part in lowered.split("-"))
