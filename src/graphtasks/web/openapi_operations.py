"""The Graph operations graphtasks serves under /beta, as web/openapi.py describes them: read from the
route table (web/routes.py: `graph_routes`, called with stand-in endpoints and a guard that records each
route's access level), each type-cast and navigation segment expanded into the concrete paths the model
serves, each handler given its kind (what it does, the query options it reads, the Prefer values it
honours). HEAD, which Starlette answers for every GET, is left out.

Serves nothing: its endpoints are stand-ins that are never called.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from graphtasks.auth.permissions import Access
from graphtasks.model import schema as model
from graphtasks.model.schema import EntityType
from graphtasks.odata.options import COUNT_OPTIONS, ENTITY_OPTIONS, LIST_OPTIONS
from graphtasks.web.routes import CAST, NAVIGATION, GraphHandler, graph_routes
from graphtasks.web.serialization import STATUS_NOTE_ANNOTATION

VERSION = "/beta"  # every route starts with it; the server URL carries it, the paths do not
MINIMAL, REPRESENTATION = "return=minimal", "return=representation"
STATUS_NOTE = f'odata.include-annotations="{STATUS_NOTE_ANNOTATION.removeprefix("@")}"'
_NAVIGATIONS = tuple(dict.fromkeys(n.name for t in model.TASK_TYPES for n in t.navigation))


def template(path: str) -> str:
    """OpenAPI templates name parameters only: `{task_id:graphkey}` -> `{task_id}`."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


@dataclass(frozen=True)
class Kind:
    """What a handler does, as far as its description goes."""

    verb: str
    options: frozenset[str] = frozenset()  # the system query options it reads
    prefer: tuple[str, ...] = ()  # the Prefer values it honours


# One line per handler of web/handlers.py and web/navigation.py.
KINDS = {
    "list_tasks": Kind("list", LIST_OPTIONS, (STATUS_NOTE,)),
    "create_task": Kind("create", prefer=(MINIMAL, STATUS_NOTE)),
    "count_tasks": Kind("count", COUNT_OPTIONS),
    "get_task": Kind("get", ENTITY_OPTIONS, (STATUS_NOTE,)),
    "update_task": Kind("update", prefer=(REPRESENTATION, STATUS_NOTE)),
    "delete_task": Kind("delete"),
    "update_status": Kind("action"),
    # A navigation collection has no $expand below it, and its entity takes $select alone.
    "list_children": Kind("list", LIST_OPTIONS - {"expand"}),
    "create_child": Kind("create"),
    "count_children": Kind("count", COUNT_OPTIONS),
    "get_child": Kind("get", frozenset({"select"})),
    "update_child": Kind("update", prefer=(REPRESENTATION,)),
    "delete_child": Kind("delete"),
}


@dataclass(frozen=True)
class Operation:
    path: str  # below /beta, with the cast and navigation segments made concrete
    method: str
    handler: str
    access: Access
    cast: EntityType | None
    navigation: str | None
    qualified: bool  # the namespace-qualified spelling of an action

    @property
    def kind(self) -> Kind:
        return KINDS[self.handler]

    @property
    def operation_id(self) -> str:
        parts = (self.handler, self.cast and self.cast.name, self.navigation, self.qualified and "qualified")
        return "_".join(part for part in parts if part)

    @property
    def read_types(self) -> tuple[EntityType, ...]:
        """The entity types an answer holds: a union where a navigation's target depends on the task."""
        if self.navigation is not None:
            return _targets(self.cast, self.navigation)
        return (self.cast or model.DEVICE_APP_MANAGEMENT_TASK,)

    @property
    def write_types(self) -> tuple[EntityType, ...]:
        return model.TASK_TYPES if self.navigation is None else _targets(self.cast, self.navigation)


@dataclass(frozen=True)
class _Recorded:
    """What the recording guard leaves in a route in place of the guarded handler."""

    access: Access | None
    handler: GraphHandler

    async def __call__(self, request: Request) -> Response:
        return await self.handler(request)


class _StandIn:
    """Stands in for the task and navigation handlers: each attribute is a handler with just a name."""

    def __getattr__(self, name: str) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        async def handler(request: Request) -> Response:
            raise NotImplementedError(name)

        handler.__name__ = name
        return handler


def operations() -> list[Operation]:
    stand_in = _StandIn()
    operations: list[Operation] = []
    for route in graph_routes(stand_in, stand_in, _Recorded):
        recorded = route.endpoint
        assert isinstance(recorded, _Recorded) and recorded.access is not None  # noqa: S101 - Graph routes
        assert route.path.startswith(VERSION)  # noqa: S101 - Graph routes are beta ones
        path = template(route.path.removeprefix(VERSION))
        for method in sorted((route.methods or set()) - {"HEAD"}):
            operations += _expand(path, method, route.name, recorded.access)
    return operations


def _expand(path: str, method: str, handler: str, access: Access) -> Iterator[Operation]:
    """One operation per type-cast and navigation segment the model serves at a templated path."""
    last = path.rsplit("/", 1)[-1]
    qualified = last.startswith(f"{model.NAMESPACE}.") and "{" not in last
    for cast in model.TASK_TYPES if template(CAST) in path else (None,):
        for navigation in _NAVIGATIONS if template(NAVIGATION) in path else (None,):
            if navigation is not None and not _targets(cast, navigation):
                continue  # the cast type has no such navigation: a 400
            concrete = path.replace(template(CAST), cast.qualified_name) if cast else path
            concrete = concrete.replace(template(NAVIGATION), navigation) if navigation else concrete
            yield Operation(concrete, method, handler, access, cast, navigation, qualified)


def _targets(cast: EntityType | None, navigation: str) -> tuple[EntityType, ...]:
    owners = (cast,) if cast else model.TASK_TYPES
    return tuple(dict.fromkeys(t for owner in owners if (t := model.navigation_target(owner, navigation))))


def tag(op: Operation) -> str:
    return model.TASKS_SEGMENT if op.navigation is None else f"{model.TASKS_SEGMENT}.{op.navigation}"
