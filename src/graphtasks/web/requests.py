"""What a Graph handler reads from a request: the request itself (GraphRequest, made from the raw ASGI
scope), the caller's tenant, path keys, the type-cast segment, query options, preferences, the public
base URL, and the nextLink that continues the request.

Shared by the task handlers (web/handlers.py), the navigation handlers (web/navigation.py), $batch and
the guard in front of them all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from starlette.datastructures import URL, Headers, QueryParams
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope

from graphtasks.auth.tokens import Principal
from graphtasks.config import Settings
from graphtasks.errors import BadRequest, task_not_found
from graphtasks.model.records import STATUS_NOTE_ANNOTATION
from graphtasks.model.schema import TASK_TYPES_BY_NAME
from graphtasks.model.types import EntityType
from graphtasks.odata.options import QueryOptions, parse_query
from graphtasks.odata.paging import KeyValue, SkiptokenSigner
from graphtasks.storage.base import ChildQuery, PageRequest, TaskQuery
from graphtasks.web.preferences import read_preferences


class GraphRequest:
    """A request as the Graph operations read it: the ASGI scope and receive, with the headers and
    query parsed when first asked for. Starlette's Request holds more than a handler needs (its URL,
    cookies, form parsing) and cost more to make than the dispatcher's whole match.

    The path's parameters are the dispatcher's (or the router's) `scope["path_params"]`; the caller's
    Principal is kept in `scope["state"]`, where the request log and the journal find it whatever
    became of the request."""

    __slots__ = ("_headers", "_query", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope, self.receive = scope, receive
        self._headers: Headers | None = None
        self._query: QueryParams | None = None

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    @property
    def path(self) -> str:
        path: str = self.scope["path"]
        return path

    @property
    def path_params(self) -> dict[str, str]:
        params: dict[str, str] = self.scope.get("path_params", {})
        return params

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(scope=self.scope)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        if self._query is None:
            self._query = QueryParams(self.scope["query_string"])
        return self._query

    @property
    def principal(self) -> Principal:
        principal = self.scope.get("state", {}).get("principal")
        assert isinstance(principal, Principal)  # noqa: S101 - every Graph route is guarded
        return principal

    @principal.setter
    def principal(self, principal: Principal) -> None:
        self.scope.setdefault("state", {})["principal"] = principal

    def with_receive(self, receive: Receive) -> GraphRequest:
        """The same request, its body read through `receive`; the headers already parsed are kept."""
        request = GraphRequest(self.scope, receive)
        request._headers = self._headers
        return request

    async def stream(self) -> AsyncIterator[bytes]:
        """The body as it arrives; ClientDisconnect if the client leaves before it is all there."""
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            if body := message.get("body", b""):
                yield body
            if not message.get("more_body", False):
                return


def query_options(request: GraphRequest, allowed: frozenset[str]) -> QueryOptions:
    if not request.scope["query_string"]:
        return _NO_OPTIONS  # most requests: no query string to parse
    return parse_query(request.query_params.multi_items(), allowed=allowed)


_NO_OPTIONS = QueryOptions()


def tenant_of(request: GraphRequest) -> str:
    return request.principal.tenant_id


def path_key(request: GraphRequest, name: str) -> str:
    return request.path_params[name]


def cast_segment(request: GraphRequest) -> EntityType | None:
    """The type of a type-cast segment (`.../microsoft.graph.appVulnerabilityTask`), if the route has one."""
    name = request.path_params.get("type_name")
    if name is None:
        return None
    entity_type = TASK_TYPES_BY_NAME.get(f"microsoft.graph.{name}")
    if entity_type is None:
        raise BadRequest(f"Resource not found for the segment 'microsoft.graph.{name}'.")
    return entity_type


def require_cast(cast: EntityType | None, task_type: EntityType, task_id: str) -> None:
    """Through a cast, a task of another type (and not derived from it) is not found, as in Graph."""
    if cast is not None and cast not in task_type.ancestors():
        raise task_not_found(task_id)


def wants_status_note(request: GraphRequest) -> bool:
    return read_preferences(request.headers).includes_annotation(STATUS_NOTE_ANNOTATION.removeprefix("@"))


def base_url(scope: Scope, settings: Settings) -> str:
    """The origin a request reached (the server's public URL when configured): every endpoint's links
    start with it, a Graph operation's or the router's."""
    if settings.base_url is not None:
        return settings.base_url.rstrip("/")
    for name, value in scope["headers"]:
        if name == b"host":
            # The origin alone; a URL would build and parse the whole URL to get it.
            return f"{scope.get('scheme', 'http')}://{value.decode('latin-1')}"
    url = URL(scope=scope)  # HTTP/1.0 without Host: from the address the server listens on
    return f"{url.scheme}://{url.netloc}"


def page_size(options: QueryOptions, settings: Settings) -> int:
    """$top is the page size, as on Graph; without it, the server's (Intune's 1000 by default)."""
    return settings.page_size if options.top is None else options.top


Query = TypeVar("Query", TaskQuery, ChildQuery)


def page_query(kind: type[Query], options: QueryOptions, settings: Settings, **what: Any) -> Query:
    """A list's query (TaskQuery or ChildQuery): `what` says which collection, the options which page."""
    return kind(
        filter=options.filter,
        orderby=options.orderby,
        limit=page_size(options, settings),
        skip=options.skip,
        count=options.count,
        **what,
    )


def skiptoken_scope(kind: str, *collection: str, query: PageRequest) -> str:
    """What a $skiptoken is only valid for: this kind of collection, which one (`collection`), its
    filter and its order."""
    return "\n".join((kind, *collection, str(query.filter), ",".join(map(str, query.orderby))))


def resumed(query: Query, options: QueryOptions, skiptokens: SkiptokenSigner, *, scope: str) -> Query:
    """The query continued after the position its $skiptoken names, if it has one."""
    if options.skiptoken is None:
        return query
    return dataclasses.replace(query, after=skiptokens.decode(options.skiptoken, scope=scope))


def continuation(
    request: GraphRequest,
    base: str,
    skiptokens: SkiptokenSigner,
    keys: tuple[KeyValue, ...] | None,
    *,
    scope: str,
) -> str | None:
    """The @odata.nextLink after a page whose last row had sort keys `keys`; None after the last page."""
    return None if keys is None else next_link(request, base, skiptokens.encode(keys, scope=scope))


def next_link(request: GraphRequest, base: str, skiptoken: str) -> str:
    """The same request with every option kept but $skip (applied once) and $skiptoken (replaced)."""
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k.removeprefix("$").lower() not in {"skiptoken", "skip"}
    ]
    query = urlencode([*kept, ("$skiptoken", skiptoken)], quote_via=quote, safe="$,'()")
    # The path as a URL holds it (`?`, `#` and backslash escaped), as the client would send it again.
    return f"{base}{URL(scope=request.scope).path}?{query}"
