"""The Graph operations' dispatcher: the ASGI layer that finds a request's row of the route table
(web/routes.py: OPERATIONS) and calls that row's guarded handler, with no Starlette router in between.

A path, already canonical (web/middleware.py), is split into segments and compared with the templates
of the same length that serve its method, in table order: a literal segment must be equal, and a
parameter takes the segments its name allows, the rules the handlers rely on:

  {task_id}, {child_id}   a key: any segment but one starting with `$` (such as $count) or with
                          `microsoft.graph.` (a cast, the qualified action), which have rows of their
                          own, so that a wrong method on those is a 405 and never reaches a key's row
  {navigation}            the same, and not `updateStatus`, the action's short spelling
  microsoft.graph.{type_name}
                          a cast: any type name but `updateStatus`, the action's qualified spelling

The path's parameters become `scope["path_params"]`, where Starlette's router put them and the handlers
read them (web/requests.py: GraphRequest, the request a handler is given; no Starlette Request or
Response is made on the way). A path some row serves, but not for the request's method, is a 405 that
allows every method the path is served with (HEAD with GET, as Starlette has it). Any other path goes on
to the next application: the Starlette router of the service's other endpoints, whose 404 becomes
Graph's answer for an unknown path (web/middleware.py).

One rule kept from the regular expressions the table was first matched with, which ended in `$`: that
also matches before a final newline, so the last segment compares as a literal (or as `updateStatus`)
with one final newline dropped, while a parameter still takes the whole segment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, NamedTuple, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from graphtasks.errors import MethodNotAllowed
from graphtasks.model.schema import UPDATE_STATUS
from graphtasks.model.types import NAMESPACE
from graphtasks.web.routes import OPERATIONS, Endpoint, GraphHandler, Guard, Operation

Target = TypeVar("Target")


class _Parameter(NamedTuple):
    """What a parameter never takes: a value starting with one of `refused_starts`, or one of `refused`."""

    refused_starts: tuple[str, ...]
    refused: tuple[str, ...] = ()


_KEY = _Parameter(("$", f"{NAMESPACE}."))
_PARAMETERS = {
    "task_id": _KEY,
    "child_id": _KEY,
    "navigation": _Parameter(_KEY.refused_starts, (UPDATE_STATUS.name,)),
    "type_name": _Parameter((), (UPDATE_STATUS.name,)),
}


class _Check(NamedTuple):
    """How one segment of a template is checked: a literal must be one of `spellings`; a parameter's
    segment must start with `text` and go on with a value the parameter takes."""

    position: int  # from the end: -1 is the last segment
    text: str
    name: str | None  # the parameter's; None for a literal segment
    spellings: frozenset[str]
    refused_starts: tuple[str, ...]
    refused: frozenset[str]

    @classmethod
    def parse(cls, segment: str, position: int) -> _Check:
        last = position == -1
        text, brace, rest = segment.partition("{")
        if not brace:
            return cls(position, text, None, _spellings(text, last=last), (), frozenset())
        name = rest.removesuffix("}")
        parameter = _PARAMETERS.get(name)
        if parameter is None or not rest.endswith("}"):
            raise ValueError(f"a route template segment the dispatcher cannot match: {segment!r}")
        return cls(
            position,
            text,
            name,
            frozenset(),
            parameter.refused_starts,
            _spellings(*parameter.refused, last=last),
        )


def _spellings(*values: str, last: bool) -> frozenset[str]:
    """`values`, and in the last segment each with a final newline too (see the module docstring)."""
    return frozenset((*values, *(f"{value}\n" for value in values)) if last else values)


class _Template:
    """A row's path template: its leading literal segments (`head`), compared at once, and the checks
    of the others, the last segment's first: the end of a path is what tells templates apart."""

    def __init__(self, path: str) -> None:
        segments = path.split("/")
        self.length = len(segments)
        # The last segment is never in the head: a literal there has two spellings.
        width = next(i for i, segment in enumerate(segments) if "{" in segment or i == self.length - 1)
        self.head = segments[:width]
        self.checks = tuple(_Check.parse(segments[p], p) for p in range(-1, width - self.length - 1, -1))

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """The path parameters of a path of this template's length, or None if it does not fit."""
        params: dict[str, str] = {}
        for position, text, name, spellings, refused_starts, refused in self.checks:
            segment = segments[position]
            if name is None:
                if segment not in spellings:
                    return None
                continue
            value = segment[len(text) :]
            if (
                not value
                or not segment.startswith(text)
                or value.startswith(refused_starts)
                or value in refused
            ):
                return None
            params[name] = value
        return params if segments[: len(self.head)] == self.head else None


def _methods(operation: Operation) -> frozenset[str]:
    """The methods a row answers: a GET answers HEAD too, as a Starlette route does."""
    return frozenset({operation.method, "HEAD"} if operation.method == "GET" else {operation.method})


class PathTable(Generic[Target]):
    """The rows of a route table by path length and method, each with its target (a handler, say)."""

    def __init__(self, rows: Iterable[tuple[Operation, Target]]) -> None:
        self._targets: dict[tuple[int, str], list[tuple[_Template, Target]]] = {}
        self._served: dict[int, list[tuple[_Template, frozenset[str]]]] = {}
        for operation, target in rows:
            template = _Template(operation.path)
            length = template.length
            self._served.setdefault(length, []).append((template, _methods(operation)))
            for method in _methods(operation):
                self._targets.setdefault((length, method), []).append((template, target))

    def find(self, method: str, path: str) -> tuple[Target, dict[str, str]] | None:
        """The first row serving `method` at `path`, its target and the path's parameters."""
        segments = path.split("/")
        for template, target in self._targets.get((len(segments), method), ()):
            params = template.match(segments)
            if params is not None:
                return target, params
        return None

    def allowed(self, path: str) -> list[str]:
        """Every method some row serves at `path`, sorted; none if no row serves it."""
        segments = path.split("/")
        methods: set[str] = set()
        for template, served in self._served.get(len(segments), ()):
            if template.match(segments) is not None:
                methods |= served
        return sorted(methods)


def graph_endpoints(guard: Guard, *handlers: object) -> list[tuple[Operation, GraphHandler]]:
    """Each row of the route table with its handler, the method of that name of one of `handlers`,
    wrapped by `guard` for the row's access. A row naming no handler, or one that two of `handlers`
    have, fails here, when the application is made."""
    return [(row, guard(row.access, _handler(row.handler, handlers))) for row in OPERATIONS]


def _handler(name: str, owners: tuple[object, ...]) -> GraphHandler:
    found = [getattr(owner, name) for owner in owners if hasattr(owner, name)]
    if len(found) != 1:
        raise LookupError(f"the route table's handler {name!r} is a method of {len(found)} handler objects")
    handler: GraphHandler = found[0]
    return handler


class GraphDispatcher:
    """Serves the rows of the route table; passes every other request to `fallback`."""

    def __init__(self, endpoints: Iterable[tuple[Operation, GraphHandler]], *, fallback: ASGIApp) -> None:
        self.table = PathTable((operation, Endpoint(handler)) for operation, handler in endpoints)
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.table.find(scope["method"], scope["path"])
            if found is not None:
                endpoint, scope["path_params"] = found
                await endpoint(scope, receive, send)
                return
            if allowed := self.table.allowed(scope["path"]):
                raise MethodNotAllowed(allowed)
        await self.fallback(scope, receive, send)
