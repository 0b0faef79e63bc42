"""Reading the body of a `$batch` (web/batch.py runs it): the document and each request in it
checked, its URL made a path the application serves, its headers held to the limits of the HTTP layer,
and the requests put in an order where each comes after its dependencies.

Pure: reads no HTTP and runs nothing. A malformed batch is one BadRequest for the whole call; headers
that no real request could carry refuse their own item only (`BatchItem.refusal`).
"""

from __future__ import annotations

import base64
import heapq
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from urllib.parse import urlsplit

import orjson

from graphtasks.config import DEFAULT_MAX_HEADER_BYTES
from graphtasks.errors import BadRequest, GraphError, HeadersTooLarge

MAX_REQUESTS = 20
# Header fields one item may carry. The HTTP layer counts only bytes (its 64 KiB hold some 16,000 tiny
# fields); 100 is what servers that count allow by default (Apache's LimitRequestFields, Tomcat's
# maxHeaderCount), far above the handful clients send, and keeps each lookup in the item's headers short.
MAX_ITEM_HEADERS = 100
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
# RFC 9110, "Field Names" and "Field Values": a token; visible characters, spaces, tabs or obs-text.
# Anything else (CR, LF, NUL, text beyond Latin-1) no HTTP request could carry.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


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
