"""Graph operations on deviceAppManagementTasks: request -> validated input -> store -> Graph JSON.

No SQL and no JWT here: the guard (web/guard.py) has already put the caller's principal on the request,
and every store call is scoped to that principal's tenant. Status codes follow graph-surface.md §2.1:
create 201 with Location, PATCH 204 (200 under Prefer: return=representation), delete and
updateStatus 204, $count text/plain.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from graphtasks.config import Settings
from graphtasks.errors import BadRequest
from graphtasks.model import edm
from graphtasks.model.records import TaskRecord
from graphtasks.model.schema import DEVICE_APP_MANAGEMENT_TASK, TASK_TYPES, TASK_TYPES_BY_NAME, EntityType
from graphtasks.model.validation import validate_create, validate_update, validate_update_status
from graphtasks.odata.options import COUNT_OPTIONS, ENTITY_OPTIONS, LIST_OPTIONS, QueryOptions, parse_query
from graphtasks.odata.paging import SkiptokenSigner
from graphtasks.odata.selection import resolve_select
from graphtasks.storage.base import TaskQuery, TaskStore
from graphtasks.storage.sql import task_not_found
from graphtasks.web.bodies import read_json
from graphtasks.web.guard import principal_of
from graphtasks.web.middleware import GraphJSONResponse
from graphtasks.web.preferences import read_preferences
from graphtasks.web.serialization import (
    STATUS_NOTE_ANNOTATION,
    Shape,
    collection_context,
    collection_json,
    entity_context,
    entity_json,
    tasks_url,
)


@dataclass(frozen=True)
class TaskHandlers:
    settings: Settings
    store: TaskStore
    skiptokens: SkiptokenSigner

    async def list_tasks(self, request: Request) -> Response:
        cast = _cast_segment(request)
        options = _options(request, LIST_OPTIONS)
        shape = _shape(request, options, cast)
        query = self._task_query(request, options, cast)
        page = await run_in_threadpool(self.store.query, query)
        base = self._base_url(request)
        next_link = None
        if page.next_keys is not None:
            next_link = _next_link(request, base, self.skiptokens.encode(page.next_keys, scope=_scope(query)))
        context = collection_context(base, cast=cast, selection=shape.selection)
        return GraphJSONResponse(
            collection_json(page.tasks, context, shape, next_link=next_link, count=page.count)
        )

    async def count_tasks(self, request: Request) -> Response:
        options = _options(request, COUNT_OPTIONS)
        query = TaskQuery(_tenant(request), cast=_cast_segment(request), filter=options.filter)
        count = await run_in_threadpool(self.store.count, query)
        return PlainTextResponse(str(count))

    async def get_task(self, request: Request) -> Response:
        cast = _cast_segment(request)
        options = _options(request, ENTITY_OPTIONS)
        shape = _shape(request, options, cast)
        record = await run_in_threadpool(self.store.get, _tenant(request), _task_id(request))
        if cast is not None and cast not in record.type.ancestors():
            raise task_not_found(record.id)
        context = entity_context(self._base_url(request), cast=cast, selection=shape.selection)
        return GraphJSONResponse(entity_json(record, context, shape))

    async def create_task(self, request: Request) -> Response:
        body = await read_json(request, limit=self.settings.max_body_bytes)
        entity_type, values = validate_create(body)
        created = edm.ticks_from_unix_ns(time.time_ns())
        record = TaskRecord(str(uuid.uuid4()), entity_type, {**values, "createdDateTime": created})
        await run_in_threadpool(self.store.create, _tenant(request), record)
        location = f"{tasks_url(self._base_url(request))}/{record.id}"
        if read_preferences(request.headers).return_minimal:
            headers = {
                "Location": location,
                "OData-EntityId": location,
                "Preference-Applied": "return=minimal",
            }
            return Response(status_code=204, headers=headers)
        response = self._entity(request, record, status_code=201)
        response.headers["Location"] = location
        return response

    async def update_task(self, request: Request) -> Response:
        body = await read_json(request, limit=self.settings.max_body_bytes)
        tenant, task_id = _tenant(request), _task_id(request)
        current = await run_in_threadpool(self.store.get, tenant, task_id)
        changes = validate_update(body, current.type)
        updated = await run_in_threadpool(self.store.update, tenant, task_id, changes, task_type=current.type)
        if read_preferences(request.headers).return_representation:
            response = self._entity(request, updated)
            response.headers["Preference-Applied"] = "return=representation"
            return response
        return Response(status_code=204)

    async def delete_task(self, request: Request) -> Response:
        await run_in_threadpool(self.store.delete, _tenant(request), _task_id(request))
        return Response(status_code=204)

    async def update_status(self, request: Request) -> Response:
        body = await read_json(request, limit=self.settings.max_body_bytes)
        status, note = validate_update_status(body)
        await run_in_threadpool(self.store.update_status, _tenant(request), _task_id(request), status, note)
        return Response(status_code=204)

    def _entity(self, request: Request, record: TaskRecord, *, status_code: int = 200) -> Response:
        shape = Shape(status_note=_wants_status_note(request))
        body = entity_json(record, entity_context(self._base_url(request)), shape)
        return GraphJSONResponse(body, status_code=status_code)

    def _task_query(self, request: Request, options: QueryOptions, cast: EntityType | None) -> TaskQuery:
        query = TaskQuery(
            _tenant(request),
            cast=cast,
            filter=options.filter,
            orderby=options.orderby,
            limit=self.settings.page_size if options.top is None else options.top,
            skip=options.skip,
            count=options.count,
        )
        if options.skiptoken is None:
            return query
        after = self.skiptokens.decode(options.skiptoken, scope=_scope(query))
        return TaskQuery(**{**query.__dict__, "after": after})

    def _base_url(self, request: Request) -> str:
        if self.settings.base_url is not None:
            return self.settings.base_url.rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}"


def _options(request: Request, allowed: frozenset[str]) -> QueryOptions:
    return parse_query(request.query_params.multi_items(), allowed=allowed)


def _shape(request: Request, options: QueryOptions, cast: EntityType | None) -> Shape:
    selection = resolve_select(options.select, cast or DEVICE_APP_MANAGEMENT_TASK, TASK_TYPES)
    return Shape(selection=selection, status_note=_wants_status_note(request))


def _scope(query: TaskQuery) -> str:
    """What a $skiptoken is only valid for: this tenant, collection, cast, filter and order."""
    cast = "" if query.cast is None else query.cast.qualified_name
    order = ",".join(map(str, query.orderby))
    return f"tasks\n{query.tenant_id}\n{cast}\n{query.filter}\n{order}"


def _cast_segment(request: Request) -> EntityType | None:
    """The type of a type-cast segment (`.../microsoft.graph.appVulnerabilityTask`), if the route has one."""
    name = request.path_params.get("type_name")
    if name is None:
        return None
    entity_type = TASK_TYPES_BY_NAME.get(f"microsoft.graph.{name}")
    if entity_type is None:
        raise BadRequest(f"Resource not found for the segment 'microsoft.graph.{name}'.")
    return entity_type


def _tenant(request: Request) -> str:
    return principal_of(request).tenant_id


def _task_id(request: Request) -> str:
    task_id = request.path_params["task_id"]
    assert isinstance(task_id, str)  # noqa: S101 - the route's {task_id} is a str parameter
    return task_id


def _wants_status_note(request: Request) -> bool:
    return read_preferences(request.headers).includes_annotation(STATUS_NOTE_ANNOTATION.removeprefix("@"))


def _next_link(request: Request, base_url: str, skiptoken: str) -> str:
    """The same request with every option kept but $skip (applied once) and $skiptoken (replaced)."""
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k.removeprefix("$").lower() not in {"skiptoken", "skip"}
    ]
    query = urlencode([*kept, ("$skiptoken", skiptoken)], quote_via=quote, safe="$,'()")
    return f"{base_url}{request.url.path}?{query}"
