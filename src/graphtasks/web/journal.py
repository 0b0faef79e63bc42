"""The request journal: what each tenant's clients sent and what they got back, the most recent
`--journal-size` requests per tenant, in this process's memory (docs/testing.md, "The request journal").

The context middleware (web/middleware.py), through an Exchange, keeps a copy of a Graph request's body
as it is read and of its answer's as it is sent (error answers included), each up to BODY_LIMIT bytes,
and files the entry under the tenant the guard established (GraphRequest.principal, kept in the scope's
state): a request refused before its token was judged has no tenant and is not kept. Headers are not
kept, so neither are tokens; nor is anything of the identity endpoints (client secrets, assertions),
which are not Graph requests.

What the hot path pays: the middleware's wrapped receive and send, a few list appends; bodies are kept
as bytes and decoded only when the journal is read. Memory is bounded twice: per tenant by the size, and
for all tenants together by TOTAL_BYTES, past which the oldest entries of any tenant go first (a test
session makes a tenant per test)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from graphtasks.web.request_log import BATCH_ITEM, caller_of

BODY_LIMIT = 64 * 1024
TOTAL_BYTES = 64 * 1024 * 1024
# Graph requests: a version segment, alone or with what follows ($batch is answered under both versions).
GRAPH_VERSIONS = ("/beta", "/v1.0")
GRAPH_PATHS = tuple(version + "/" for version in GRAPH_VERSIONS)


@dataclass(slots=True)
class Entry:
    time_ns: int
    method: str
    path: str
    query: str
    status: int | None
    duration_ms: float
    tenant: str
    app: str | None
    request_id: str | None
    in_batch: bool
    request_body: bytes
    request_truncated: bool
    response_body: bytes
    response_truncated: bool

    @property
    def size(self) -> int:
        return len(self.request_body) + len(self.response_body) + 512

    def to_json(self) -> dict[str, Any]:
        return {
            "time": _iso(self.time_ns),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "durationMs": self.duration_ms,
            "tenant": self.tenant,
            "appId": self.app,
            "requestId": self.request_id,
            "inBatch": self.in_batch,
            "requestBody": _body(self.request_body, self.request_truncated),
            "responseBody": _body(self.response_body, self.response_truncated),
            "truncated": self.request_truncated or self.response_truncated,
        }


class Journal:
    def __init__(self, size: int, *, total_bytes: int = TOTAL_BYTES) -> None:
        self.size = size
        self._total_limit = total_bytes
        self._tenants: dict[str, deque[Entry]] = {}
        # Every kept entry, oldest first, to evict across tenants once TOTAL_BYTES is passed.
        self._order: OrderedDict[int, tuple[str, Entry]] = OrderedDict()
        self._total = 0

    def add(self, entry: Entry) -> None:
        entries = self._tenants.get(entry.tenant)
        if entries is None:
            entries = self._tenants[entry.tenant] = deque()
        if len(entries) == self.size:
            self._forget(entries.popleft())
        entries.append(entry)
        self._order[id(entry)] = (entry.tenant, entry)
        self._total += entry.size
        while self._total > self._total_limit and self._order:
            _, (tenant, oldest) = self._order.popitem(last=False)
            self._total -= oldest.size
            self._tenants[tenant].popleft()
            if not self._tenants[tenant]:
                del self._tenants[tenant]

    def _forget(self, entry: Entry) -> None:
        self._order.pop(id(entry), None)
        self._total -= entry.size

    def entries(self, tenant: str) -> list[Entry]:
        """The tenant's entries, oldest first."""
        return list(self._tenants.get(tenant, ()))

    def clear(self, tenant: str | None) -> None:
        """Forget a tenant's entries (every tenant's, for None)."""
        tenants = list(self._tenants) if tenant is None else [tenant]
        for name in tenants:
            for entry in self._tenants.pop(name, ()):
                self._forget(entry)


class Exchange:
    """One request as the context middleware sees it go by: its status, and, for the journal, the first
    BODY_LIMIT bytes of its body and of its answer's. `receive` and `send` stand in for the server's."""

    __slots__ = ("_receive", "_send", "request_body", "response_body", "status")

    def __init__(self, receive: Receive, send: Send, *, keep_bodies: bool) -> None:
        self._receive, self._send = receive, send
        self.status: int | None = None
        self.request_body = _Capture() if keep_bodies else None
        self.response_body = _Capture() if keep_bodies else None

    async def receive(self) -> Message:
        message = await self._receive()
        if self.request_body is not None and message["type"] == "http.request":
            self.request_body.add(message.get("body", b""))
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif self.response_body is not None:
            self.response_body.add(message.get("body", b""))
        await self._send(message)

    def file_in(self, journal: Journal, scope: Scope, started_ns: int, elapsed_s: float) -> None:
        """Add the exchange to `journal` if it was a Graph request with a known tenant (judged after the
        answer: the path is canonical by then, and the tenant known)."""
        state = scope.get("state", {})
        tenant, app = caller_of(state)
        path = scope["path"]
        if tenant is None or not (path.startswith(GRAPH_PATHS) or path in GRAPH_VERSIONS):
            return
        assert self.request_body is not None and self.response_body is not None  # noqa: S101 - kept
        journal.add(
            Entry(
                started_ns,
                scope["method"],
                scope["path"],
                scope.get("query_string", b"").decode("latin-1"),
                self.status,
                round(elapsed_s * 1000, 2),
                tenant,
                app,
                state.get("request_id"),
                bool(scope.get(BATCH_ITEM)),
                *self.request_body.kept(),
                *self.response_body.kept(),
            )
        )


class _Capture:
    """The first BODY_LIMIT bytes of a body, and whether there was more."""

    __slots__ = ("parts", "size", "truncated")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        if self.size >= BODY_LIMIT:
            self.truncated = self.truncated or bool(chunk)
            return
        room = BODY_LIMIT - self.size
        if len(chunk) > room:
            chunk, self.truncated = chunk[:room], True
        self.parts.append(bytes(chunk))
        self.size += len(chunk)

    def kept(self) -> tuple[bytes, bool]:
        return b"".join(self.parts), self.truncated


def _body(body: bytes, truncated: bool) -> Any:
    """JSON as JSON; other text as a string; nothing as None. A truncated body is its text so far."""
    if not body:
        return None
    if not truncated:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return body.decode("utf-8", errors="replace")


def _iso(time_ns: int) -> str:
    seconds, rest = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}Z"
