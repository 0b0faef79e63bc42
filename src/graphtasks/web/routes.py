"""The URL table: one line per Graph operation, each with the access it needs, plus what to answer
for a path that no line serves (Graph's gateway and Intune wording, docs/graph-behaviour.md, "URL space").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.convertors import StringConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphtasks.auth.permissions import Access
from graphtasks.errors import BadRequest, GraphError, InvalidVersion, NoRouteMatch
from graphtasks.model.schema import SINGLETON, TASKS_SEGMENT, UPDATE_STATUS

GraphHandler = Callable[[Request], Awaitable[Response]]
Guard = Callable[[Access | None, GraphHandler], GraphHandler]


class TaskEndpoints(Protocol):
    async def list_tasks(self, request: Request) -> Response: ...
    async def create_task(self, request: Request) -> Response: ...
    async def count_tasks(self, request: Request) -> Response: ...
    async def get_task(self, request: Request) -> Response: ...
    async def update_task(self, request: Request) -> Response: ...
    async def delete_task(self, request: Request) -> Response: ...
    async def update_status(self, request: Request) -> Response: ...


class NavigationEndpoints(Protocol):
    async def list_children(self, request: Request) -> Response: ...
    async def create_child(self, request: Request) -> Response: ...
    async def count_children(self, request: Request) -> Response: ...
    async def get_child(self, request: Request) -> Response: ...
    async def update_child(self, request: Request) -> Response: ...
    async def delete_child(self, request: Request) -> Response: ...


def _endpoint_names(protocol: type) -> frozenset[str]:
    return frozenset(name for name in vars(protocol) if not name.startswith("_"))


# The name of every Graph operation (its handler's), as fault injection rules name them.
GRAPH_OPERATIONS = _endpoint_names(TaskEndpoints) | _endpoint_names(NavigationEndpoints)


class _KeyConvertor(StringConvertor):
    """A key segment: never `$count` and the like, nor a type cast, which have routes of their own; so
    a wrong method on those gets 405 instead of reaching the key's route."""

    regex = r"(?!\$|microsoft\.graph\.)[^/]+"


class _NavigationConvertor(StringConvertor):
    """A navigation segment: not a key-like system segment, a cast or the updateStatus action."""

    regex = r"(?!\$|microsoft\.graph\.|updateStatus(?:/|$))[^/]+"


class _CastConvertor(StringConvertor):
    """The type name of a cast segment: anything after `microsoft.graph.` but the updateStatus action."""

    regex = r"(?!updateStatus(?:/|$))[^/]+"


register_url_convertor("graphkey", _KeyConvertor())
register_url_convertor("navigation", _NavigationConvertor())
register_url_convertor("castname", _CastConvertor())

TASKS = f"/beta/{SINGLETON}/{TASKS_SEGMENT}"
TASK = f"{TASKS}/{{task_id:graphkey}}"
# A type-cast segment; the namespace is fixed, so {type_name} is the bare type name.
CAST = "microsoft.graph.{type_name:castname}"
NAVIGATION = "{navigation:navigation}"
# The updateStatus action's path segment, short and namespace-qualified (both are Graph's).
_ACTION_SPELLINGS = (UPDATE_STATUS.name, UPDATE_STATUS.qualified_name)


_SLASHES = re.compile(r"/{2,}")
# OData's parenthesized key form, deviceAppManagementTasks('id'), with '' standing for one quote.
_PAREN_KEY = re.compile(rf"/{TASKS_SEGMENT}\('((?:[^']|'')*)'\)")


def canonical_path(path: str) -> str:
    """The path the route table matches: duplicate and trailing slashes removed (the SDK's default
    base URL yields /beta//...), and a parenthesized key turned into the key segment the SDK uses."""
    path = _SLASHES.sub("/", path)
    path = _PAREN_KEY.sub(lambda m: f"/{TASKS_SEGMENT}/{m.group(1).replace(chr(39) * 2, chr(39))}", path)
    return path.rstrip("/") or "/"


def graph_routes(tasks: TaskEndpoints, navigation: NavigationEndpoints, guard: Guard) -> list[Route]:
    """Every Graph operation, each wrapped by `guard` with authentication and the permission check
    for its access level. Order matters where paths overlap: a cast segment before a key segment."""

    def op(path: str, method: str, access: Access, handler: GraphHandler) -> Route:
        return Route(path, guard(access, handler), methods=[method], name=handler.__name__)

    child = f"{NAVIGATION}/{{child_id:graphkey}}"
    children = [  # (path below a task, method, access, handler)
        (NAVIGATION, "GET", Access.READ, navigation.list_children),
        (NAVIGATION, "POST", Access.WRITE, navigation.create_child),
        (f"{NAVIGATION}/$count", "GET", Access.READ, navigation.count_children),
        (child, "GET", Access.READ, navigation.get_child),
        (child, "PATCH", Access.WRITE, navigation.update_child),
        (child, "DELETE", Access.WRITE, navigation.delete_child),
    ]
    # The action is bound to the base type, so a derived type inherits it (CSDL: a bound action applies
    # to its binding type's derived types), and a type-cast segment to the task's type or an ancestor's
    # addresses the same task (OData URL conventions, addressing derived types): both reach it.
    actions = [(spelling, "POST", Access.WRITE, tasks.update_status) for spelling in _ACTION_SPELLINGS]
    return [
        op(TASKS, "GET", Access.READ, tasks.list_tasks),
        op(TASKS, "POST", Access.WRITE, tasks.create_task),
        op(f"{TASKS}/$count", "GET", Access.READ, tasks.count_tasks),
        op(f"{TASKS}/{CAST}", "GET", Access.READ, tasks.list_tasks),
        op(f"{TASKS}/{CAST}/$count", "GET", Access.READ, tasks.count_tasks),
        op(TASK, "GET", Access.READ, tasks.get_task),
        op(TASK, "PATCH", Access.WRITE, tasks.update_task),
        op(TASK, "DELETE", Access.WRITE, tasks.delete_task),
        *(op(f"{TASK}/{path}", method, access, h) for path, method, access, h in actions),
        op(f"{TASK}/{CAST}", "GET", Access.READ, tasks.get_task),
        *(op(f"{TASK}/{CAST}/{path}", method, access, h) for path, method, access, h in actions),
        *(op(f"{TASK}/{CAST}/{path}", method, access, h) for path, method, access, h in children),
        *(op(f"{TASK}/{path}", method, access, h) for path, method, access, h in children),
    ]


def batch_routes(batch: GraphHandler, guard: Guard) -> list[Route]:
    """JSON batching in both versions (inner requests keep the batch's version). The batch itself
    only needs a valid token: each inner request is checked for its own permission."""
    return [Route(f"/{version}/$batch", guard(None, batch), methods=["POST"]) for version in _SERVED]


# The segments each version serves, in order; None stands for a key segment.
_SERVED: dict[str, list[frozenset[str] | None]] = {
    # Below a task: an action, a navigation or a cast, then a navigation key, a navigation or an
    # action, then a key or $count; the routes have answered every path of a served shape before this
    # is asked.
    "beta": [frozenset({SINGLETON}), frozenset({TASKS_SEGMENT}), None, None, None, None],
    # deviceAppManagement exists in v1.0, but the tasks are beta-only (docs/graph-behaviour.md, "URL space").
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
