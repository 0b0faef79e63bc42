"""The dispatcher (web/dispatch.py) against a reference: the route table (web/routes.py) compiled into
Starlette routes whose regular expressions take exactly the segments web/dispatch.py's rules describe,
tried in table order the way Starlette's router tries routes (the first route serving the path and the
method; else a 405 allowing every method of the routes serving the path)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphtasks.auth.permissions import Access
from graphtasks.errors import MethodNotAllowed
from graphtasks.web.dispatch import GraphDispatcher, PathTable, graph_endpoints
from graphtasks.web.requests import GraphRequest
from graphtasks.web.responses import GraphResponse
from graphtasks.web.routes import GRAPH_OPERATIONS, OPERATIONS, GraphHandler, Operation

TASKS = "/beta/deviceAppManagement/deviceAppManagementTasks"
KEY = "8d5b8f2e-2f7a-4f5e-9d7c-0a1b2c3d4e5f"

# Each parameter's regular expression: a key is no system segment ($count) and no cast; a navigation
# is not the updateStatus action either; a cast's type name is anything but the action's name.
_KEY = r"(?!\$|microsoft\.graph\.)[^/]+"
REGEXES = {
    "task_id": _KEY,
    "child_id": _KEY,
    "navigation": r"(?!\$|microsoft\.graph\.|updateStatus(?:/|$))[^/]+",
    "type_name": r"(?!updateStatus(?:/|$))[^/]+",
}


async def _never(request: Request) -> Response:
    raise NotImplementedError


def reference_route(operation: Operation) -> Route:
    route = Route(operation.path, _never, methods=[operation.method], name=operation.handler)
    parts = re.split(r"\{(\w+)\}", operation.path)  # literal, name, literal, name, ..., literal
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{REGEXES[p]})" for i, p in enumerate(parts))
    route.path_regex = re.compile(f"^{regex}$")
    return route


def reference_routes() -> list[Route]:
    return [reference_route(operation) for operation in OPERATIONS]


REFERENCE = reference_routes()
TABLE = PathTable((operation, operation.handler) for operation in OPERATIONS)

Outcome = tuple[str, dict[str, str]] | list[str] | None  # (handler, path parameters), a 405's methods, 404


def reference(method: str, path: str) -> Outcome:
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    allowed: set[str] = set()
    for route in REFERENCE:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return route.name, child["path_params"]
        if match is Match.PARTIAL:
            allowed |= route.methods or set()
    return sorted(allowed) or None


def dispatched(method: str, path: str) -> Outcome:
    return TABLE.find(method, path) or TABLE.allowed(path) or None


@pytest.mark.parametrize(
    ("method", "below", "outcome"),
    [
        ("GET", "", ("list_tasks", {})),
        ("HEAD", "", ("list_tasks", {})),
        ("POST", "", ("create_task", {})),
        ("PUT", "", ["GET", "HEAD", "POST"]),
        ("GET", "/$count", ("count_tasks", {})),
        ("POST", "/$count", ["GET", "HEAD"]),
        ("GET", "/$value", None),
        (
            "GET",
            "/microsoft.graph.appVulnerabilityTask",
            ("list_tasks", {"type_name": "appVulnerabilityTask"}),
        ),
        ("GET", "/microsoft.graph.x/$count", ("count_tasks", {"type_name": "x"})),
        ("GET", "/microsoft.graph.", None),
        ("GET", "/microsoft.graph.updateStatus", None),
        ("GET", f"/{KEY}", ("get_task", {"task_id": KEY})),
        ("PATCH", f"/{KEY}", ("update_task", {"task_id": KEY})),
        ("DELETE", f"/{KEY}", ("delete_task", {"task_id": KEY})),
        ("POST", f"/{KEY}", ["DELETE", "GET", "HEAD", "PATCH"]),
        ("GET", "/updateStatus", ("get_task", {"task_id": "updateStatus"})),
        ("POST", "/k/updateStatus", ("update_status", {"task_id": "k"})),
        ("POST", "/k/microsoft.graph.updateStatus", ("update_status", {"task_id": "k"})),
        ("GET", "/k/updateStatus", ["POST"]),
        ("GET", "/k/microsoft.graph.t", ("get_task", {"task_id": "k", "type_name": "t"})),
        ("POST", "/k/microsoft.graph.t/updateStatus", ("update_status", {"task_id": "k", "type_name": "t"})),
        ("GET", "/k/$count", None),
        ("GET", "/k/mobileApps", ("list_children", {"task_id": "k", "navigation": "mobileApps"})),
        ("POST", "/k/mobileApps", ("create_child", {"task_id": "k", "navigation": "mobileApps"})),
        ("GET", "/k/n/$count", ("count_children", {"task_id": "k", "navigation": "n"})),
        ("DELETE", "/k/n/c", ("delete_child", {"task_id": "k", "navigation": "n", "child_id": "c"})),
        ("PUT", "/k/n/c", ["DELETE", "GET", "HEAD", "PATCH"]),
        (
            "GET",
            "/k/microsoft.graph.t/n/c",
            ("get_child", {"task_id": "k", "type_name": "t", "navigation": "n", "child_id": "c"}),
        ),
        ("GET", "/k/n/c/more", None),
        # A final newline: dropped where the last segment is compared, kept in a parameter.
        ("GET", "\n", ("list_tasks", {})),
        ("GET", "/$count\n", ("count_tasks", {})),
        ("GET", "/$count\n\n", None),
        ("POST", "/k/updateStatus\n", ("update_status", {"task_id": "k"})),
        ("GET", "/k/updateStatus\n", ["POST"]),
        ("GET", "/k\n", ("get_task", {"task_id": "k\n"})),
        ("GET", "/\n", ("get_task", {"task_id": "\n"})),
        ("GET", "/microsoft.graph.updateStatus\n", None),
        ("GET", "/microsoft.graph.\n", ("list_tasks", {"type_name": "\n"})),
    ],
)
def test_dispatch(method: str, below: str, outcome: Outcome) -> None:
    assert (dispatched(method, TASKS + below), reference(method, TASKS + below)) == (outcome, outcome)


def test_other_paths_are_left_to_the_router() -> None:
    for path in ("/", "/beta/$batch", "/beta/deviceAppManagement", "/v1.0" + TASKS.removeprefix("/beta")):
        assert dispatched("GET", path) is None


_SEGMENTS = st.sampled_from(
    [
        "k",
        "$count",
        "$",
        "updateStatus",
        "microsoft.graph.updateStatus",
        "microsoft.graph.",
        "microsoft.graph.appVulnerabilityTask",
        "microsoft.graph.x",
        "mobileApps",
        "managedDevices",
        "deviceAppManagementTasks",
        "\n",
    ]
)
_SUFFIXES = st.sampled_from(["", "", "\n", "\n\n", "x", ".", "$"])
_METHODS = st.sampled_from(["GET", "HEAD", "POST", "PATCH", "DELETE", "PUT", "get"])


@given(
    _METHODS,
    st.sampled_from([TASKS, TASKS.removesuffix("Tasks"), "/beta/deviceAppManagement"]),
    st.lists(st.tuples(_SEGMENTS, _SUFFIXES).map("".join), max_size=6),
)
def test_dispatcher_agrees_with_the_reference(method: str, base: str, segments: list[str]) -> None:
    path = "/".join([base, *segments])
    assert dispatched(method, path) == reference(method, path)


@given(_METHODS, st.text(st.sampled_from("ab$./\nmicrosoft.graph.updateStatus"), max_size=40))
def test_dispatcher_agrees_with_the_reference_on_any_text(method: str, below: str) -> None:
    path = f"{TASKS}/{below}"
    assert dispatched(method, path) == reference(method, path)


def test_fault_injection_names_every_handler_of_the_table() -> None:
    assert {operation.handler for operation in OPERATIONS} == GRAPH_OPERATIONS
    assert "list_tasks" in GRAPH_OPERATIONS and "batch" not in GRAPH_OPERATIONS


# --- the ASGI layer ---


def _call(app: Any, method: str, path: str) -> list[Message]:
    scope: Scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def _echo(name: str) -> GraphHandler:
    async def handler(request: GraphRequest) -> ASGIApp:
        return GraphResponse.text(f"{name} {sorted(request.path_params.items())}")

    handler.__name__ = name
    return handler


async def _fallback(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("fallback", status_code=404)(scope, receive, send)


DISPATCHER = GraphDispatcher(((op, _echo(op.handler)) for op in OPERATIONS), fallback=_fallback)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{TASKS}/k", b"get_task [('task_id', 'k')]"),
        ("HEAD", f"{TASKS}/k/microsoft.graph.t", b"get_task [('task_id', 'k'), ('type_name', 't')]"),
        ("POST", f"{TASKS}/k/n", b"create_child [('navigation', 'n'), ('task_id', 'k')]"),
        ("POST", "/beta/$batch", b"fallback"),
        ("GET", f"{TASKS}/k/$count", b"fallback"),
    ],
)
def test_dispatcher_calls_the_rows_handler_with_its_path_parameters(
    method: str, path: str, body: bytes
) -> None:
    assert _call(DISPATCHER, method, path)[-1]["body"] == body


def test_a_served_path_with_another_method_is_a_405_allowing_the_others() -> None:
    with pytest.raises(MethodNotAllowed) as raised:
        _call(DISPATCHER, "PUT", f"{TASKS}/k/managedDevices")
    assert raised.value.headers == {"Allow": "GET, HEAD, POST"}


def test_non_http_scopes_go_to_the_fallback() -> None:
    seen: list[str] = []

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    dispatcher = GraphDispatcher([], fallback=fallback)
    asyncio.run(dispatcher({"type": "lifespan"}, _never_receive, _never_send))
    assert seen == ["lifespan"]


async def _never_receive() -> Message:
    raise AssertionError


async def _never_send(message: Message) -> None:
    raise AssertionError


class _Tasks:
    async def list_tasks(self, request: GraphRequest) -> ASGIApp:
        raise NotImplementedError


def test_graph_endpoints_guard_each_row_for_its_access() -> None:
    guarded: list[tuple[Access | None, str]] = []

    def guard(access: Access | None, handler: GraphHandler) -> GraphHandler:
        guarded.append((access, handler.__name__))
        return handler

    class Everything:
        def __getattr__(self, name: str) -> GraphHandler:
            return _echo(name)

    endpoints = graph_endpoints(guard, Everything())
    assert [operation for operation, _ in endpoints] == list(OPERATIONS)
    assert guarded == [(operation.access, operation.handler) for operation in OPERATIONS]


def test_graph_endpoints_need_one_handler_per_name() -> None:
    with pytest.raises(LookupError, match="'create_task' is a method of 0 handler objects"):
        graph_endpoints(lambda access, handler: handler, _Tasks())
    with pytest.raises(LookupError, match="'list_tasks' is a method of 2 handler objects"):
        graph_endpoints(lambda access, handler: handler, _Tasks(), _Tasks())
