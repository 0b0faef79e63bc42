"""Limits on what one client may send and hold (web/connections.py, web/http_protocol.py) and on what a
query may ask (odata/filter.py, odata/options.py), against the real server on a real port.

Past each limit the client gets a Graph error body or a closed connection, and the server goes on
serving: every test here ends with a normal request. The protocol tests speak raw HTTP/1.1 over a
socket, since a client library would not send what they send. The server runs with one-second
timeouts and a limit of four connections, so that each timeout costs the suite about a second.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.server import TASKS_PATH, Server, sqlite_server
from tests.unit.test_filters_sql import DEEPEST_LAMBDA


@pytest.fixture(scope="module")
def server(real_server: Server) -> Server:
    """`graphtasks serve` as a process: the limits are the connection's and the HTTP parser's."""
    return real_server


MAX_CONNECTIONS = 4


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp("limits")
    flags = ("--header-timeout", "1", "--body-timeout", "1", "--max-connections", str(MAX_CONNECTIONS))
    with sqlite_server(directory, *flags) as server:
        yield server


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    # Seconds from the last byte sent to the connection's close.
    closed_after_s: float

    def error(self) -> dict[str, str]:
        error: dict[str, str] = orjson.loads(self.body)["error"]
        return error


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(10)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    started, data = time.monotonic(), b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - started


def _parse(data: bytes, closed_after_s: float) -> Answer:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = dict(field.lower().split(": ", 1) for field in fields)
    return Answer(int(status_line.split()[1]), headers, body, closed_after_s)


def exchange(server: Server, *chunks: bytes, pause_s: float = 0.0) -> Answer:
    """Send `chunks` (pausing between them), then read the answer until the server closes."""
    with _connect(server) as sock:
        for i, chunk in enumerate(chunks):
            if i and pause_s:
                time.sleep(pause_s)
            sock.sendall(chunk)
        return _parse(*_read_until_closed(sock))


def request(server: Server, *, target: str = TASKS_PATH, headers: str = "", token: bool = True) -> bytes:
    authorization = f"Authorization: Bearer {server.token()}\r\n" if token else ""
    return f"GET {target} HTTP/1.1\r\nHost: localhost\r\n{authorization}{headers}\r\n".encode()


def assert_graph_error(answer: Answer, status: int, code: str, message: str) -> None:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    error = answer.error()
    assert (error["code"], error["message"]) == (code, message)
    inner = orjson.loads(answer.body)["error"]["innerError"]
    assert inner["request-id"] == answer.headers["request-id"]
    assert inner["client-request-id"] == answer.headers["client-request-id"]


def assert_still_serving(server: Server) -> None:
    with server.client() as client:
        assert client.get(TASKS_PATH).status_code == 200


# --- sizes ---


@pytest.mark.parametrize("length", [16 * 1024 + 1, 70_000], ids=["just-past-16-kib", "past-uvicorn-64-kib"])
def test_a_url_past_the_limit_is_a_graph_414(limited: Server, length: int) -> None:
    target = TASKS_PATH + "?x=" + "a" * (length - len(TASKS_PATH) - 3)
    answer = exchange(limited, request(limited, target=target))
    message = "The request URL is longer than the limit of 16384 bytes."
    assert_graph_error(answer, 414, "RequestUriTooLong", message)
    assert_still_serving(limited)


def test_a_url_at_the_limit_is_served(limited: Server) -> None:
    target = TASKS_PATH + "?x=" + "a" * (16 * 1024 - len(TASKS_PATH) - 3)
    answer = exchange(limited, request(limited, target=target, headers="Connection: close\r\n"))
    assert answer.status == 200


_HEADERS_TOO_LARGE = "The request's header fields are larger than the limit of 65536 bytes."


def test_headers_past_the_limit_are_a_graph_431(limited: Server) -> None:
    headers = "client-request-id: mine\r\n" + "X-Padding: " + "a" * 70_000 + "\r\n"
    answer = exchange(limited, request(limited, headers=headers))
    assert_graph_error(answer, 431, "RequestHeaderFieldsTooLarge", _HEADERS_TOO_LARGE)
    assert answer.headers["client-request-id"] == "mine"
    assert_still_serving(limited)


def test_a_header_that_never_ends_is_a_431_before_it_is_all_sent(limited: Server) -> None:
    # 8 MiB used to be read whole; now the server stops reading past about 80 KiB, and answers.
    answer = exchange(limited, b"GET / HTTP/1.1\r\nX-Padding: ", *[b"a" * 65536] * 128)
    assert_graph_error(answer, 431, "RequestHeaderFieldsTooLarge", _HEADERS_TOO_LARGE)
    assert_still_serving(limited)


def test_headers_within_the_limit_are_served(limited: Server) -> None:
    headers = "Connection: close\r\n" + "X-Padding: " + "a" * 60_000 + "\r\n"
    assert exchange(limited, request(limited, headers=headers)).status == 200


def test_malformed_http_is_a_graph_400(limited: Server) -> None:
    answer = exchange(limited, b"NOT HTTP AT ALL\x00\r\n\r\n")
    assert_graph_error(answer, 400, "BadRequest", "Invalid HTTP request received.")
    assert_still_serving(limited)


# --- slow clients ---


def test_an_idle_connection_is_closed_without_an_answer(limited: Server) -> None:
    with _connect(limited) as sock:
        data, closed_after_s = _read_until_closed(sock)
    assert data == b""
    assert 0.9 <= closed_after_s < 3


def test_a_head_not_complete_in_time_is_a_408(limited: Server) -> None:
    answer = exchange(limited, b"GET / HTTP/1.1\r\nHost: localhost\r\n")
    message = "The request's headers did not arrive within 1 seconds."
    assert_graph_error(answer, 408, "RequestTimeout", message)
    assert answer.closed_after_s < 3


def test_dribbling_a_head_does_not_extend_its_time(limited: Server) -> None:
    # Slowloris: a header line every 0.2 s; the deadline counts from the connection's start.
    started = time.monotonic()
    answer = exchange(limited, b"GET / HTTP/1.1\r\n", *[b"X-A: b\r\n"] * 4, pause_s=0.2)
    assert answer.status == 408
    assert time.monotonic() - started < 3
    assert_still_serving(limited)


def _post_head(server: Server, length: int) -> bytes:
    return (
        f"POST {TASKS_PATH} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {server.token()}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


TASK = orjson.dumps({"@odata.type": "#microsoft.graph.securityConfigurationTask", "displayName": "slow"})


def test_a_body_that_pauses_too_long_is_a_408(limited: Server) -> None:
    answer = exchange(limited, _post_head(limited, len(TASK)) + TASK[:10])
    message = "The request body paused for more than 1 seconds."
    assert_graph_error(answer, 408, "RequestTimeout", message)
    assert answer.closed_after_s < 3
    assert_still_serving(limited)


def test_a_slow_body_that_never_pauses_long_is_served(limited: Server) -> None:
    # 2.4 s in all, more than the body timeout, but never more than 0.6 s between two pieces.
    pieces = [TASK[i : i + 20] for i in range(0, len(TASK), 20)]
    answer = exchange(limited, _post_head(limited, len(TASK)), *pieces[:4], TASK[80:], pause_s=0.6)
    assert answer.status == 201, answer


def _read_one_answer(sock: socket.socket) -> bytes:
    """One whole answer, head and Content-Length body: they may arrive in separate segments."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
    )
    while len(body) < length:
        body += sock.recv(65536)
    return data


def test_a_keep_alive_connection_serves_requests_then_closes_quietly(limited: Server) -> None:
    with _connect(limited) as sock:
        for _ in range(2):
            sock.sendall(request(limited))
            head = _read_one_answer(sock)
            assert head.startswith(b"HTTP/1.1 200 OK")
            time.sleep(0.5)  # less than the header timeout, counted from the end of the answer
        rest, closed_after_s = _read_until_closed(sock)
    assert rest == b""
    assert closed_after_s < 3


# --- connections ---


def test_past_the_connection_limit_a_request_gets_a_graph_503_with_retry_after(limited: Server) -> None:
    held = [_connect(limited) for _ in range(MAX_CONNECTIONS)]
    try:
        answer = exchange(limited, request(limited))
    finally:
        for sock in held:
            sock.close()
    message = "The server has as many connections as it serves; retry after the time in Retry-After."
    assert_graph_error(answer, 503, "ServiceUnavailable", message)
    assert answer.headers["retry-after"] == "1"
    time.sleep(0.2)  # the held connections' close reaches the server
    assert_still_serving(limited)


def test_far_past_the_connection_limit_connections_are_closed_at_once(limited: Server) -> None:
    # The hard limit is max_connections + 10 here (web/connections.py).
    held = [_connect(limited) for _ in range(MAX_CONNECTIONS + 10)]
    try:
        with _connect(limited) as extra:
            data, closed_after_s = _read_until_closed(extra)
        assert (data, closed_after_s < 0.5) == (b"", True)
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert_still_serving(limited)


# --- query limits, on each backend ---


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def _in_list(count: int) -> str:
    return "id in (" + ",".join(f"'{i}'" for i in range(count)) + ")"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_in_list(998), id="in-list-of-998"),
        pytest.param(" or ".join(f"id eq '{i}'" for i in range(250)), id="or-chain-of-250"),
        # The deepest operator nesting the parser accepts, in the shapes that cost SQLite's parser most.
        pytest.param("(displayName eq 'a') eq (" * 23 + "true" + ")" * 23, id="nested-boolean-comparisons"),
        pytest.param("not " * 23 + "(displayName eq 'a')", id="nested-not"),
        pytest.param("not (displayName eq 'a' and " * 11 + "displayName eq 'b'" + ")" * 11, id="not-and"),
        pytest.param(DEEPEST_LAMBDA, id="lambda-not-and-calls"),
    ],
)
def test_the_largest_filters_are_answered(client: httpx.Client, text: str) -> None:
    response = client.get(TASKS_PATH, params={"$filter": text})
    assert response.status_code == 200, response.text
    assert response.elapsed.total_seconds() < 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param(
            {"$filter": _in_list(1000)},
            "The query specified in the URI is not valid. The node count limit of '1000' has been exceeded. "
            "To increase the limit, set the 'MaxNodeCount' property on EnableQueryAttribute or "
            "ODataValidationSettings.",
            id="filter-nodes",
        ),
        pytest.param(
            {"$filter": "(" * 101 + "id eq 'a'" + ")" * 101},
            "The expression is nested more than 100 levels deep at position 100 in "
            f"'{'(' * 101}id eq 'a'{')' * 101}'.",
            id="filter-nesting",
        ),
        pytest.param(
            {"$filter": "not " * 25 + "(displayName eq 'a')"},
            "The expression nests operators more than 25 levels deep.",
            id="filter-operator-nesting",
        ),
        pytest.param(
            {"$top": "-1"},
            "Invalid value '-1' for $top query option found. "
            "The $top query option requires a non-negative integer value.",
            id="negative-top",
        ),
        pytest.param(
            {"$top": "99999999999"},
            "Invalid value '99999999999' for $top query option found. "
            "The $top query option requires a non-negative integer value.",
            id="top-past-int32",
        ),
        pytest.param(
            {"$expand": "managedDevices/x"},
            "The query specified in the URI is not valid. The request includes a $expand path which is too "
            "deep. The maximum depth allowed is 1. To increase the limit, set the 'MaxExpansionDepth' "
            "property on EnableQueryAttribute or ODataValidationSettings.",
            id="expand-depth",
        ),
    ],
)
def test_queries_past_a_limit_are_a_400(client: httpx.Client, params: dict[str, str], message: str) -> None:
    response = client.get(TASKS_PATH, params=params)
    assert response.status_code == 400, response.text
    assert (response.json()["error"]["code"], response.json()["error"]["message"]) == ("BadRequest", message)
