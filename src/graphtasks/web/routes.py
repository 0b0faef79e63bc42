"""The URL table: one line per Graph operation, each with the access it needs, plus what to answer
for a path that no line serves (Graph's gateway and Intune wording, graph-surface.md §4.5 and §6).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphtasks.auth.permissions import Access
from graphtasks.errors import BadRequest, GraphError, InvalidVersion, NoRouteMatch
from graphtasks.model.schema import SINGLETON, TASKS_SEGMENT, UPDATE_STATUS

GraphHandler = Callable[[Request], Awaitable[Response]]
Guard = Callable[[Access, GraphHandler], GraphHandler]

TASKS = f"/beta/{SINGLETON}/{TASKS_SEGMENT}"
TASK = f"{TASKS}/{{task_id}}"
# A type-cast segment; the namespace is fixed, so {type_name} is the bare type name.
CAST = "microsoft.graph.{type_name}"


_SLASHES = re.compile(r"/{2,}")
# OData's parenthesized key form, deviceAppManagementTasks('id'), with '' standing for one quote.
_PAREN_KEY = re.compile(rf"/{TASKS_SEGMENT}\('((?:[^']|'')*)'\)")


def canonical_path(path: str) -> str:
    """The path the route table matches: duplicate and trailing slashes removed (the SDK's default
    base URL yields /beta//...), and a parenthesized key turned into the key segment the SDK uses."""
    path = _SLASHES.sub("/", path)
    path = _PAREN_KEY.sub(lambda m: f"/{TASKS_SEGMENT}/{m.group(1).replace(chr(39) * 2, chr(39))}", path)
    return path.rstrip("/") or "/"


def graph_routes(handlers: object, guard: Guard) -> list[Route]:
    """`handlers` provides list_tasks, create_task, ...; `guard` wraps each with authentication and
    the permission check for its access level."""

    def op(path: str, method: str, access: Access, name: str) -> Route:
        return Route(path, guard(access, getattr(handlers, name)), methods=[method], name=name)

    return [
        op(TASKS, "GET", Access.READ, "list_tasks"),
        op(TASKS, "POST", Access.WRITE, "create_task"),
        op(f"{TASKS}/$count", "GET", Access.READ, "count_tasks"),
        op(f"{TASKS}/{CAST}", "GET", Access.READ, "list_tasks"),
        op(f"{TASKS}/{CAST}/$count", "GET", Access.READ, "count_tasks"),
        op(TASK, "GET", Access.READ, "get_task"),
        op(TASK, "PATCH", Access.WRITE, "update_task"),
        op(TASK, "DELETE", Access.WRITE, "delete_task"),
        op(f"{TASK}/{UPDATE_STATUS.name}", "POST", Access.WRITE, "update_status"),
        op(f"{TASK}/{UPDATE_STATUS.qualified_name}", "POST", Access.WRITE, "update_status"),
        op(f"{TASK}/{CAST}", "GET", Access.READ, "get_task"),
    ]


# The segments each version serves, in order; None stands for a key segment.
_SERVED: dict[str, list[frozenset[str] | None]] = {
    "beta": [
        frozenset({SINGLETON}),
        frozenset({TASKS_SEGMENT}),
        None,
        frozenset({UPDATE_STATUS.name, UPDATE_STATUS.qualified_name}),
    ],
    # deviceAppManagement exists in v1.0, but the tasks are beta-only (graph-surface.md §6).
    "v1.0": [frozenset({SINGLETON})],
}


def unmatched_path_error(path: str) -> GraphError:
    """The error Graph gives for a path that no route serves."""
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
