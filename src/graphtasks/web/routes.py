"""The URL table: one row per Graph operation (method, path template, the access it needs, its
handler's name), plain data read by the dispatcher (web/dispatch.py), the OpenAPI generator
(web/openapi_operations.py) and fault injection (GRAPH_OPERATIONS); the canonical form of a path, which
the table is matched against; $batch's routes; and what to answer for a path that no row serves
(Graph's gateway and Intune wording, docs/graph-behaviour.md, "URL space").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from graphtasks.auth.permissions import Access
from graphtasks.errors import BadRequest, GraphError, InvalidVersion, NoRouteMatch
from graphtasks.model.schema import SINGLETON, TASKS_SEGMENT, UPDATE_STATUS
from graphtasks.web.requests import GraphRequest

# A handler answers with an ASGI application: a GraphResponse (web/responses.py), or $batch's answer,
# which runs its requests as it is sent.
GraphHandler = Callable[[GraphRequest], Awaitable[ASGIApp]]
Guard = Callable[[Access | None, GraphHandler], GraphHandler]


@dataclass(frozen=True)
class Operation:
    """One Graph operation. In `path`, a parameter's name says which segments it takes (web/dispatch.py)
    and is the name its handler reads it by (web/requests.py): `{task_id}` and `{child_id}` are keys,
    `{navigation}` a navigation property, `{type_name}` the type a cast segment names."""

    method: str
    path: str
    access: Access
    handler: str  # a method of web/handlers.py's or web/navigation.py's handlers, as fault rules name it


TASKS = f"/beta/{SINGLETON}/{TASKS_SEGMENT}"
TASK = f"{TASKS}/{{task_id}}"
# A type-cast segment; the namespace is fixed, so {type_name} is the bare type name.
CAST = "microsoft.graph.{type_name}"
NAVIGATION = "{navigation}"
_CHILD = f"{NAVIGATION}/{{child_id}}"
# The updateStatus action's path segment, short and namespace-qualified (both are Graph's).
_ACTION_SPELLINGS = (UPDATE_STATUS.name, UPDATE_STATUS.qualified_name)


def _children(task: str) -> tuple[Operation, ...]:
    """The operations on a task's navigation collections, below `task`."""
    return (
        Operation("GET", f"{task}/{NAVIGATION}", Access.READ, "list_children"),
        Operation("POST", f"{task}/{NAVIGATION}", Access.WRITE, "create_child"),
        Operation("GET", f"{task}/{NAVIGATION}/$count", Access.READ, "count_children"),
        Operation("GET", f"{task}/{_CHILD}", Access.READ, "get_child"),
        Operation("PATCH", f"{task}/{_CHILD}", Access.WRITE, "update_child"),
        Operation("DELETE", f"{task}/{_CHILD}", Access.WRITE, "delete_child"),
    )


def _actions(task: str) -> tuple[Operation, ...]:
    return tuple(
        Operation("POST", f"{task}/{spelling}", Access.WRITE, "update_status")
        for spelling in _ACTION_SPELLINGS
    )


# The action is bound to the base type, so a derived type inherits it (CSDL: a bound action applies to
# its binding type's derived types), and a type-cast segment to the task's type or an ancestor's
# addresses the same task (OData URL conventions, addressing derived types): both reach it. Were two
# rows of one method to take the same path, the first would win; the segment rules let none do.
OPERATIONS = (
    Operation("GET", TASKS, Access.READ, "list_tasks"),
    Operation("POST", TASKS, Access.WRITE, "create_task"),
    Operation("GET", f"{TASKS}/$count", Access.READ, "count_tasks"),
    Operation("GET", f"{TASKS}/{CAST}", Access.READ, "list_tasks"),
    Operation("GET", f"{TASKS}/{CAST}/$count", Access.READ, "count_tasks"),
    Operation("GET", TASK, Access.READ, "get_task"),
    Operation("PATCH", TASK, Access.WRITE, "update_task"),
    Operation("DELETE", TASK, Access.WRITE, "delete_task"),
    *_actions(TASK),
    Operation("GET", f"{TASK}/{CAST}", Access.READ, "get_task"),
    *_actions(f"{TASK}/{CAST}"),
    *_children(f"{TASK}/{CAST}"),
    *_children(TASK),
)

# The name of every Graph operation (its handler's), as fault injection rules name them.
GRAPH_OPERATIONS = frozenset(operation.handler for operation in OPERATIONS)


_SLASHES = re.compile(r"/{2,}")
# OData's parenthesized key form, deviceAppManagementTasks('id'), with '' standing for one quote.
_PAREN_KEY = re.compile(rf"/{TASKS_SEGMENT}\('((?:[^']|'')*)'\)")


def canonical_path(path: str) -> str:
    """The path the route table matches: duplicate and trailing slashes removed (the SDK's default
    base URL yields /beta//...), and a parenthesized key turned into the key segment the SDK uses."""
    path = _SLASHES.sub("/", path)
    path = _PAREN_KEY.sub(lambda m: f"/{TASKS_SEGMENT}/{m.group(1).replace(chr(39) * 2, chr(39))}", path)
    return path.rstrip("/") or "/"


class Endpoint:
    """A Graph handler as an ASGI application: what the dispatcher calls for a row of the table, and
    what the router calls for $batch. Its request is a GraphRequest, never Starlette's."""

    __slots__ = ("handler",)

    def __init__(self, handler: GraphHandler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = await self.handler(GraphRequest(scope, receive))
        await answer(scope, receive, send)


def batch_routes(batch: GraphHandler, guard: Guard) -> list[Route]:
    """JSON batching in both versions (inner requests keep the batch's version). The batch itself
    only needs a valid token: each inner request is checked for its own permission."""
    endpoint = Endpoint(guard(None, batch))
    return [Route(f"/{version}/$batch", endpoint, methods=["POST"]) for version in _SERVED]


# The segments each version serves, in order; None stands for a key segment.
_SERVED: dict[str, list[frozenset[str] | None]] = {
    # Below a task: an action, a navigation or a cast, then a navigation key, a navigation or an
    # action, then a key or $count; the route table has answered every path of a served shape before
    # this is asked.
    "beta": [frozenset({SINGLETON}), frozenset({TASKS_SEGMENT}), None, None, None, None],
    # deviceAppManagement exists in v1.0, but the tasks are beta-only (docs/graph-behaviour.md, "URL space").
    "v1.0": [frozenset({SINGLETON})],
}


def unmatched_path_error(path: str) -> GraphError:
    """The error Graph gives for a path that nothing serves."""
    version, *segments = [s for s in path.split("/") if s] or [""]
    served = _SERVED.get(version)
    if served is None:
        return InvalidVersion(version)
    for depth, segment in enumerate(segments):
        allowed = served[depth] if depth < len(served) else frozenset()
        if allowed is not None and segment not in allowed:
            return BadRequest(f"Resource not found for the segment '{segment}'.")
    # A prefix of a served path, such as the deviceAppManagement singleton itself.
    return NoRouteMatch(f"No OData route exists that match the request {path}.")
