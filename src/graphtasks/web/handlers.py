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
from graphtasks.model import edm
from graphtasks.model.records import TaskRecord
from graphtasks.model.validation import validate_create, validate_update, validate_update_status
from graphtasks.odata.options import parse_query
from graphtasks.odata.paging import decode_skiptoken, encode_skiptoken
from graphtasks.storage.base import TaskStore
from graphtasks.web.bodies import read_json
from graphtasks.web.guard import principal_of
from graphtasks.web.middleware import GraphJSONResponse
from graphtasks.web.preferences import Preferences, read_preferences
from graphtasks.web.serialization import STATUS_NOTE_ANNOTATION, collection_json, entity_json, tasks_url

_LIST_OPTIONS = frozenset({"skiptoken"})
_NO_OPTIONS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TaskHandlers:
    settings: Settings
    store: TaskStore

    async def list_tasks(self, request: Request) -> Response:
        options = parse_query(request.query_params.multi_items(), allowed=_LIST_OPTIONS)
        after = None if options.skiptoken is None else decode_skiptoken(options.skiptoken)
        page = await run_in_threadpool(
            self.store.list, _tenant(request), after=after, limit=self.settings.page_size
        )
        base = self._base_url(request)
        next_link = None if page.next_after is None else _next_link(request, base, page.next_after)
        note = _wants_status_note(read_preferences(request.headers))
        return GraphJSONResponse(collection_json(page.tasks, base, next_link=next_link, status_note=note))

    async def count_tasks(self, request: Request) -> Response:
        parse_query(request.query_params.multi_items(), allowed=_NO_OPTIONS)
        count = await run_in_threadpool(self.store.count, _tenant(request))
        return PlainTextResponse(str(count))

    async def get_task(self, request: Request) -> Response:
        parse_query(request.query_params.multi_items(), allowed=_NO_OPTIONS)
        record = await run_in_threadpool(self.store.get, _tenant(request), _task_id(request))
        return self._entity(request, record)

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
        note = _wants_status_note(read_preferences(request.headers))
        body = entity_json(record, self._base_url(request), status_note=note)
        return GraphJSONResponse(body, status_code=status_code)

    def _base_url(self, request: Request) -> str:
        if self.settings.base_url is not None:
            return self.settings.base_url.rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}"


def _tenant(request: Request) -> str:
    return principal_of(request).tenant_id


def _task_id(request: Request) -> str:
    task_id = request.path_params["task_id"]
    assert isinstance(task_id, str)  # noqa: S101 - the route's {task_id} is a str parameter
    return task_id


def _wants_status_note(preferences: Preferences) -> bool:
    return preferences.includes_annotation(STATUS_NOTE_ANNOTATION.removeprefix("@"))


def _next_link(request: Request, base_url: str, last_id: str) -> str:
    """The same request with every option kept but $skiptoken, which moves past `last_id`."""
    kept = [
        (k, v) for k, v in request.query_params.multi_items() if k.removeprefix("$").lower() != "skiptoken"
    ]
    query = urlencode([*kept, ("$skiptoken", encode_skiptoken(last_id))], quote_via=quote, safe="$,'()")
    return f"{tasks_url(base_url)}?{query}"
