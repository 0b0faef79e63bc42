"""What a Graph handler reads from a request: the caller's tenant, path keys, the type-cast segment,
query options, preferences, the public base URL, and the nextLink that continues the request.

Shared by the task handlers (web/handlers.py) and the navigation handlers (web/navigation.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from starlette.requests import Request

from graphtasks.config import Settings
from graphtasks.errors import BadRequest, task_not_found
from graphtasks.model.records import STATUS_NOTE_ANNOTATION
from graphtasks.model.schema import TASK_TYPES_BY_NAME
from graphtasks.model.types import EntityType
from graphtasks.odata.options import QueryOptions, parse_query
from graphtasks.odata.paging import KeyValue, SkiptokenSigner
from graphtasks.storage.base import ChildQuery, PageRequest, TaskQuery
from graphtasks.web.guard import principal_of
from graphtasks.web.preferences import read_preferences


def query_options(request: Request, allowed: frozenset[str]) -> QueryOptions:
    if not request.scope["query_string"]:
        return _NO_OPTIONS  # most requests: no query string to parse
    return parse_query(request.query_params.multi_items(), allowed=allowed)


_NO_OPTIONS = QueryOptions()


def tenant_of(request: Request) -> str:
    return principal_of(request).tenant_id


def path_key(request: Request, name: str) -> str:
    key = request.path_params[name]
    assert isinstance(key, str)  # noqa: S101 - route parameters are str parameters
    return key


def cast_segment(request: Request) -> EntityType | None:
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


def wants_status_note(request: Request) -> bool:
    return read_preferences(request.headers).includes_annotation(STATUS_NOTE_ANNOTATION.removeprefix("@"))


def base_url(request: Request, settings: Settings) -> str:
    if settings.base_url is not None:
        return settings.base_url.rstrip("/")
    host = request.headers.get("host")
    if host is None:  # HTTP/1.0 without Host: from the address the server listens on
        return f"{request.url.scheme}://{request.url.netloc}"
    # The origin alone; request.url would build and parse the whole URL to get it.
    return f"{request.scope.get('scheme', 'http')}://{host}"


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
    request: Request, base: str, skiptokens: SkiptokenSigner, keys: tuple[KeyValue, ...] | None, *, scope: str
) -> str | None:
    """The @odata.nextLink after a page whose last row had sort keys `keys`; None after the last page."""
    return None if keys is None else next_link(request, base, skiptokens.encode(keys, scope=scope))


def next_link(request: Request, base: str, skiptoken: str) -> str:
    """The same request with every option kept but $skip (applied once) and $skiptoken (replaced)."""
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k.removeprefix("$").lower() not in {"skiptoken", "skip"}
    ]
    query = urlencode([*kept, ("$skiptoken", skiptoken)], quote_via=quote, safe="$,'()")
    return f"{base}{request.url.path}?{query}"
