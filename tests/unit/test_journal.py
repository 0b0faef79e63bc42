"""The request journal (web/journal.py; docs/testing.md, "The request journal"): Journal's bounds, per
tenant and in bytes across tenants, and its clearing; and the entries the context middleware files, driven
as an ASGI layer around a small application that plays the guard: which requests are kept, and what an
entry holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from graphtasks.auth.tokens import Principal
from graphtasks.errors import BadRequest
from graphtasks.web.journal import BODY_LIMIT, Entry, Journal
from graphtasks.web.middleware import GraphContextMiddleware
from graphtasks.web.request_log import BATCH_ITEM, CALLER_STATE

TENANT = "8f1c7e5a-3b2d-4c6e-9a1f-0d2b4c6e8a10"
OTHER = "0e0f7a3c-4b1d-4e57-9b8a-2c5f6d7e8f90"
APP = "2f6b6cd1-4a34-4ef3-9c3e-6a8a6c2e7d10"
TASKS = "/beta/deviceAppManagement/deviceAppManagementTasks"
PRINCIPAL = Principal(TENANT, APP, "5d630f12-0f12-5d63-120f-635d120f635d", frozenset({"x"}), False)
ENTRY_OVERHEAD = 512


def entry(tenant: str, number: int, *, body: bytes = b"") -> Entry:
    return Entry(
        time_ns=number,
        method="GET",
        path=f"/beta/{number}",
        query="",
        status=200,
        duration_ms=1.0,
        tenant=tenant,
        app=None,
        request_id=None,
        in_batch=False,
        request_body=body,
        request_truncated=False,
        response_body=b"",
        response_truncated=False,
    )


def numbers(journal: Journal, tenant: str) -> list[int]:
    return [kept.time_ns for kept in journal.entries(tenant)]


def filled(journal: Journal, *added: tuple[str, int]) -> Journal:
    for tenant, number in added:
        journal.add(entry(tenant, number))
    return journal


# --- Journal ---


def test_a_tenant_keeps_its_most_recent_entries_oldest_first() -> None:
    journal = filled(Journal(3), *((TENANT, n) for n in range(5)), (OTHER, 9))
    assert numbers(journal, TENANT) == [2, 3, 4]
    assert numbers(journal, OTHER) == [9]


def test_an_unknown_tenant_has_no_entries() -> None:
    assert Journal(3).entries(TENANT) == []


def test_entries_is_a_copy() -> None:
    journal = filled(Journal(3), (TENANT, 1))
    journal.entries(TENANT).clear()
    assert numbers(journal, TENANT) == [1]


def test_past_the_byte_bound_the_oldest_entries_of_any_tenant_go_first() -> None:
    journal = Journal(100, total_bytes=3 * ENTRY_OVERHEAD)
    filled(journal, (TENANT, 1), (OTHER, 2), (TENANT, 3), (OTHER, 4), (OTHER, 5))
    assert numbers(journal, TENANT) == [3]
    assert numbers(journal, OTHER) == [4, 5]


def test_the_byte_bound_counts_the_bodies() -> None:
    journal = Journal(100, total_bytes=4 * ENTRY_OVERHEAD)
    journal.add(entry(TENANT, 1))
    journal.add(entry(OTHER, 2))
    journal.add(entry(OTHER, 3, body=b"x" * (2 * ENTRY_OVERHEAD)))
    assert numbers(journal, TENANT) == []
    assert numbers(journal, OTHER) == [2, 3]


def test_an_entry_larger_than_the_byte_bound_is_not_kept() -> None:
    journal = filled(Journal(100, total_bytes=2 * ENTRY_OVERHEAD), (OTHER, 1))
    journal.add(entry(TENANT, 2, body=b"x" * (2 * ENTRY_OVERHEAD)))
    assert journal.entries(TENANT) == []
    assert journal.entries(OTHER) == []


def test_entries_dropped_by_the_size_free_their_bytes() -> None:
    journal = filled(Journal(1, total_bytes=2 * ENTRY_OVERHEAD), (TENANT, 1), (TENANT, 2), (OTHER, 3))
    assert numbers(journal, TENANT) == [2]
    assert numbers(journal, OTHER) == [3]


@pytest.mark.parametrize(
    ("cleared", "tenant_left", "other_left"),
    [
        pytest.param(TENANT, [], [2], id="one-tenant"),
        pytest.param(OTHER, [1], [], id="the-other-tenant"),
        pytest.param(None, [], [], id="every-tenant"),
        pytest.param("5d630f12-0f12-5d63-120f-635d120f635d", [1], [2], id="a-tenant-without-entries"),
    ],
)
def test_clear_forgets_a_tenant_or_all(
    cleared: str | None, tenant_left: list[int], other_left: list[int]
) -> None:
    journal = filled(Journal(10), (TENANT, 1), (OTHER, 2))
    journal.clear(cleared)
    assert (numbers(journal, TENANT), numbers(journal, OTHER)) == (tenant_left, other_left)


@pytest.mark.parametrize("cleared", [TENANT, None])
def test_cleared_entries_free_their_bytes(cleared: str | None) -> None:
    journal = filled(Journal(10, total_bytes=2 * ENTRY_OVERHEAD), (TENANT, 1), (TENANT, 2))
    journal.clear(cleared)
    filled(journal, (OTHER, 3), (OTHER, 4))
    assert numbers(journal, OTHER) == [3, 4]


def test_a_tenant_fills_again_after_being_cleared() -> None:
    journal = filled(Journal(2), (TENANT, 1), (TENANT, 2))
    journal.clear(TENANT)
    filled(journal, (TENANT, 3), (TENANT, 4), (TENANT, 5))
    assert numbers(journal, TENANT) == [4, 5]


# --- the context middleware's entries ---


@dataclass
class Guarded:
    """An application that reads the whole request body, establishes the caller as the guard does and
    answers `status` with `chunks` as its body (or raises `error` before answering)."""

    state: dict[str, Any] = field(default_factory=lambda: {"principal": PRINCIPAL})
    status: int = 200
    chunks: tuple[bytes, ...] = (b'{"value":[]}',)
    delay_s: float = 0.0
    error: Exception | None = None
    received: bytearray = field(default_factory=bytearray)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        more = True
        while more:
            message = await receive()
            self.received += message.get("body", b"")
            more = message.get("more_body", False)
        scope["state"].update(self.state)
        await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        for index, chunk in enumerate(self.chunks):
            more_body = index < len(self.chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more_body})


def http_scope(path: str = TASKS, *, method: str = "GET", query: bytes = b"", **extra: Any) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(b"authorization", b"Bearer secret-token")],
        "client": ("127.0.0.1", 5000),
        "state": {},
        **extra,
    }


def through(
    app: Guarded,
    scope: Scope | None = None,
    *,
    body: tuple[bytes, ...] = (b"",),
    journal: Journal | None = None,
) -> tuple[Journal, list[Message]]:
    """Send a request through the context middleware around `app`, with a journal; the journal and what
    reached the client."""
    journal = journal or Journal(10)
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": index < len(body) - 1}
        for index, chunk in enumerate(body)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(GraphContextMiddleware(app, journal=journal)(scope or http_scope(), receive, send))
    return journal, sent


def recorded(app: Guarded, scope: Scope | None = None, *, body: tuple[bytes, ...] = (b"",)) -> dict[str, Any]:
    journal, _ = through(app, scope, body=body)
    [kept] = journal.entries(TENANT)
    return kept.to_json()


def answered_body(sent: list[Message]) -> bytes:
    return b"".join(message.get("body", b"") for message in sent[1:])


def test_a_graph_request_is_kept_with_what_was_sent_and_answered() -> None:
    app = Guarded(status=201, chunks=(b'{"id":', b'"t1"}'))
    scope = http_scope(method="POST", query=b"%24select=id&x=%C3%A9")
    journal, sent = through(app, scope, body=(b'{"displayName":', b'"x"}'))
    kept = journal.entries(TENANT)[0].to_json()
    assert {name: kept[name] for name in kept if name not in ("time", "durationMs")} == {
        "method": "POST",
        "path": TASKS,
        "query": "%24select=id&x=%C3%A9",
        "status": 201,
        "tenant": TENANT,
        "appId": APP,
        "requestId": dict(sent[0]["headers"])[b"request-id"].decode(),
        "inBatch": False,
        "requestBody": {"displayName": "x"},
        "responseBody": {"id": "t1"},
        "truncated": False,
    }


def test_the_request_and_the_answer_pass_through_whole() -> None:
    app = Guarded(status=202, chunks=(b"a", b"b"))
    _, sent = through(app, body=(b"one", b"two"))
    assert bytes(app.received) == b"onetwo"
    assert (sent[0]["status"], answered_body(sent)) == (202, b"ab")


def test_the_path_is_kept_in_its_canonical_form() -> None:
    assert (
        recorded(Guarded(), http_scope("/beta//deviceAppManagement/deviceAppManagementTasks/"))["path"]
        == TASKS
    )


def test_headers_are_not_kept() -> None:
    journal, _ = through(Guarded())
    assert b"secret-token" not in orjson.dumps(journal.entries(TENANT)[0].to_json())


def test_the_time_is_when_the_request_came_in_to_the_millisecond() -> None:
    now = datetime.now(UTC)
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)
    kept = recorded(Guarded(delay_s=0.05))
    after = datetime.now(UTC)
    stamp = datetime.strptime(kept["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert len(kept["time"]) == len("2026-12-07T11:37:11.698Z")
    assert before <= stamp <= after - timedelta(milliseconds=50)


def test_the_duration_is_the_time_the_answer_took_in_milliseconds() -> None:
    started = time.perf_counter()
    kept = recorded(Guarded(delay_s=0.1))
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert isinstance(kept["durationMs"], float)
    assert 100 <= kept["durationMs"] <= elapsed_ms


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        pytest.param(BadRequest("no good"), 400, "BadRequest", id="graph-error"),
        pytest.param(RuntimeError("the handler failed"), 500, "InternalServerError", id="unexpected-error"),
    ],
)
def test_an_error_answer_is_kept(error: Exception, status: int, code: str) -> None:
    kept = recorded(Guarded(error=error))
    assert (kept["status"], kept["responseBody"]["error"]["code"]) == (status, code)


def test_a_request_whose_client_left_is_kept_without_a_status() -> None:
    journal, sent = through(Guarded(error=ClientDisconnect()))
    [kept] = journal.entries(TENANT)
    assert (sent, kept.status, kept.response_body) == ([], None, b"")


@pytest.mark.parametrize(
    ("extra", "in_batch"),
    [
        pytest.param({}, False, id="a-request-of-its-own"),
        pytest.param({BATCH_ITEM: True}, True, id="inside-a-batch"),
    ],
)
def test_in_batch_says_whether_the_request_came_inside_a_batch(extra: dict[str, Any], in_batch: bool) -> None:
    assert recorded(Guarded(), http_scope(**extra))["inBatch"] is in_batch


def test_the_app_id_is_none_when_the_token_has_none() -> None:
    anonymous_app = Principal(TENANT, "", "", frozenset(), True)
    assert recorded(Guarded(state={"principal": anonymous_app}))["appId"] is None


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(TASKS, id="the-tasks"),
        pytest.param("/beta", id="the-version-alone"),
        pytest.param("/beta/$batch", id="a-batch"),
        pytest.param("/beta/deviceAppManagement/x/y", id="a-path-no-route-serves"),
    ],
)
def test_graph_paths_are_kept(path: str) -> None:
    assert recorded(Guarded(), http_scope(path))["path"] == path


@pytest.mark.parametrize(
    ("path", "state"),
    [
        pytest.param("/graphtasks/admin/tokens", {"principal": PRINCIPAL}, id="admin"),
        pytest.param(f"/{TENANT}/oauth2/v2.0/token", {CALLER_STATE: (TENANT, APP)}, id="token-endpoint"),
        pytest.param("/common/discovery/v2.0/keys", {"principal": PRINCIPAL}, id="discovery"),
        pytest.param("/", {"principal": PRINCIPAL}, id="root"),
    ],
)
def test_requests_outside_graph_are_not_kept(path: str, state: dict[str, Any]) -> None:
    journal, sent = through(Guarded(state=state), http_scope(path))
    assert journal.entries(TENANT) == []
    assert sent[0]["status"] == 200


@pytest.mark.parametrize(
    "state",
    [
        pytest.param({}, id="no-principal"),
        pytest.param({"principal": None}, id="principal-none"),
        pytest.param({"principal": TENANT}, id="not-a-principal"),
    ],
)
def test_a_request_without_an_accepted_token_is_not_kept(state: dict[str, Any]) -> None:
    journal, _ = through(Guarded(state=state, status=401))
    assert journal.entries(TENANT) == []


def test_the_entry_is_filed_under_the_principals_tenant() -> None:
    other = Principal(OTHER, APP, "", frozenset(), False)
    journal, _ = through(Guarded(state={"principal": other}))
    assert (journal.entries(TENANT), len(journal.entries(OTHER))) == ([], 1)


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
def test_other_scopes_pass_through_unrecorded(kind: str) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def nothing() -> Message:
        return {}

    async def ignore(message: Message) -> None:
        pass

    journal = Journal(10)
    middleware = GraphContextMiddleware(app, journal=journal)
    asyncio.run(middleware({"type": kind, "state": {"principal": PRINCIPAL}}, nothing, ignore))
    assert (seen, journal.entries(TENANT)) == ([kind], [])


# --- bodies ---


@pytest.mark.parametrize(
    ("chunks", "shown"),
    [
        pytest.param((b'{"a": [1, "\xc3\xa9"]}',), {"a": [1, "é"]}, id="json-object"),
        pytest.param((b"[1,", b"2]"), [1, 2], id="json-in-chunks"),
        pytest.param((b"42",), 42, id="json-scalar"),
        pytest.param((b"null",), None, id="json-null"),
        pytest.param((b"plain text \xc3\xa9",), "plain text é", id="text"),
        pytest.param((b"{not json",), "{not json", id="broken-json-as-text"),
        pytest.param((b"bad \xff byte",), "bad \ufffd byte", id="not-utf-8"),
        pytest.param((b"",), None, id="empty"),
        pytest.param((), None, id="no-body-message"),
    ],
)
def test_a_body_reads_back_as_json_text_or_nothing(chunks: tuple[bytes, ...], shown: Any) -> None:
    kept = recorded(Guarded(chunks=chunks), body=chunks or (b"",))
    assert (kept["requestBody"], kept["responseBody"], kept["truncated"]) == (shown, shown, False)


def json_of_size(size: int) -> bytes:
    text = b'{"a":"' + b"x" * (size - 8) + b'"}'
    assert len(text) == size
    return text


Split = Callable[[bytes], tuple[bytes, ...]]


def whole(body: bytes) -> tuple[bytes, ...]:
    return (body,)


def across_the_limit(body: bytes) -> tuple[bytes, ...]:
    return body[: BODY_LIMIT - 10], body[BODY_LIMIT - 10 :], b""


def in_small_chunks(body: bytes) -> tuple[bytes, ...]:
    return tuple(body[i : i + 4096] for i in range(0, len(body), 4096))


SPLITS = [
    pytest.param(whole, id="one-chunk"),
    pytest.param(across_the_limit, id="a-chunk-across-the-limit"),
    pytest.param(in_small_chunks, id="small-chunks"),
]


@pytest.mark.parametrize("split", SPLITS)
def test_a_body_of_exactly_the_limit_is_kept_whole(split: Split) -> None:
    body = json_of_size(BODY_LIMIT)
    journal, _ = through(Guarded(chunks=split(body)), body=split(body))
    [kept] = journal.entries(TENANT)
    assert (kept.request_body, kept.request_truncated, kept.response_body, kept.response_truncated) == (
        body,
        False,
        body,
        False,
    )
    assert kept.to_json()["requestBody"] == {"a": "x" * (BODY_LIMIT - 8)}


@pytest.mark.parametrize("split", SPLITS)
def test_a_longer_request_body_is_cut_at_the_limit_and_shown_as_text(split: Split) -> None:
    body = json_of_size(BODY_LIMIT + 1)
    app = Guarded(chunks=(b"{}",))
    journal, _ = through(app, body=split(body))
    [kept] = journal.entries(TENANT)
    assert bytes(app.received) == body
    assert (kept.request_body, kept.request_truncated, kept.response_truncated) == (
        body[:BODY_LIMIT],
        True,
        False,
    )
    shown = kept.to_json()
    assert (shown["requestBody"], shown["responseBody"], shown["truncated"]) == (
        body[:BODY_LIMIT].decode(),
        {},
        True,
    )


@pytest.mark.parametrize("split", SPLITS)
def test_a_longer_response_body_is_cut_at_the_limit_and_shown_as_text(split: Split) -> None:
    body = json_of_size(3 * BODY_LIMIT)
    journal, sent = through(Guarded(chunks=split(body)), body=(b"[]",))
    [kept] = journal.entries(TENANT)
    assert b"".join(message.get("body", b"") for message in sent) == body
    assert (kept.response_body, kept.response_truncated, kept.request_truncated) == (
        body[:BODY_LIMIT],
        True,
        False,
    )
    shown = kept.to_json()
    assert (shown["requestBody"], shown["responseBody"], shown["truncated"]) == (
        [],
        body[:BODY_LIMIT].decode(),
        True,
    )


def test_a_body_cut_inside_a_character_shows_the_character_replaced() -> None:
    body = b"x" * (BODY_LIMIT - 1) + "é".encode()
    kept = recorded(Guarded(chunks=(body,)))
    assert kept["responseBody"] == "x" * (BODY_LIMIT - 1) + "\ufffd"
