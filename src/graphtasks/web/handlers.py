"""Graph operations on deviceAppManagementTasks: request -> validated input -> store -> Graph JSON.

No SQL and no JWT here: the guard (web/guard.py) has already put the caller's principal on the request,
and every store call is scoped to that principal's tenant. Status codes (docs/graph-behaviour.md,
"Operations and status codes"): create 201 with Location, PATCH 204 (200 under
Prefer: return=representation), delete and updateStatus 204, $count text/plain.

A list is rendered as the store reads it and ends once it passes the response budget (docs/resilience.md,
"Response size"); with $expand, each task shows the first EXPANDED_PAGE_SIZE entities of a collection
and a nextLink to the rest (docs/resilience.md, "$expand").
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass

from graphtasks.config import Settings
from graphtasks.model import edm
from graphtasks.model.records import ChildRecord, StoredDocument, TaskRecord
from graphtasks.model.schema import DEVICE_APP_MANAGEMENT_TASK, TASK_TYPES, navigation_target
from graphtasks.model.types import EntityType
from graphtasks.model.validation import validate_create, validate_update, validate_update_status
from graphtasks.odata.options import COUNT_OPTIONS, ENTITY_OPTIONS, LIST_OPTIONS, QueryOptions
from graphtasks.odata.paging import KeyValue, PageBudget, SkiptokenSigner
from graphtasks.odata.selection import (
    EXPANDED_PAGE_SIZE,
    Expansion,
    expands,
    resolve_expand,
    resolve_select,
)
from graphtasks.storage.base import ChildQuery, TaskQuery, TaskStore
from graphtasks.web.blocking import BlockingCalls
from graphtasks.web.bodies import read_json
from graphtasks.web.etags import conditional_answer, if_match
from graphtasks.web.navigation import child_scope
from graphtasks.web.preferences import as_represented, read_preferences
from graphtasks.web.requests import (
    GraphRequest,
    base_url,
    cast_segment,
    continuation,
    page_query,
    path_key,
    query_options,
    require_cast,
    resumed,
    skiptoken_scope,
    tenant_of,
    wants_status_note,
)
from graphtasks.web.responses import GraphResponse
from graphtasks.web.serialization import (
    PLAIN,
    RENDER_GROUP,
    DocumentPage,
    Expanded,
    ExpandedCollection,
    PageWriter,
    Shape,
    collection_context,
    collection_response,
    entity_context,
    entity_json,
    expanded_json,
    stored_entity,
    task_json,
    tasks_url,
    with_members,
)

# Tasks whose expanded collections are read with one query per navigation.
_EXPAND_GROUP = 100


@dataclass(frozen=True)
class TaskHandlers:
    settings: Settings
    store: TaskStore
    skiptokens: SkiptokenSigner
    calls: BlockingCalls

    async def list_tasks(self, request: GraphRequest) -> GraphResponse:
        cast = cast_segment(request)
        options = query_options(request, LIST_OPTIONS)
        shape = _shape(request, options, cast)
        expansion = resolve_expand(options.expand, cast or DEVICE_APP_MANAGEMENT_TASK, TASK_TYPES)
        query = self._task_query(request, options, cast)
        budget = PageBudget(self.settings.max_response_bytes)
        base = base_url(request.scope, self.settings)
        context = collection_context(self.settings.cloud.graph_url, cast=cast, selection=shape.selection)
        if shape == PLAIN and not expansion:  # each task as stored: nothing to render
            documents = DocumentPage(budget)
            found = await self.calls.run(self.store.query_documents, query, documents)
            link = continuation(request, base, self.skiptokens, found.next_keys, scope=task_scope(query))
            return collection_response(documents.bodies, context, next_link=link, count=found.count)
        # With $expand each task's collections are added to its JSON afterwards: one entity a body.
        writer = PageWriter[TaskRecord](
            lambda record: task_json(record, shape), budget, group=1 if expansion else RENDER_GROUP
        )
        page = await self.calls.run(self.store.query, dataclasses.replace(query, sink=writer))
        bodies, next_keys = writer.bodies, writer.finish(page.next_keys)
        if expansion:
            bodies, next_keys = await self.calls.run(
                self._expand_page, query.tenant_id, writer, next_keys, expansion, base
            )
        link = continuation(request, base, self.skiptokens, next_keys, scope=task_scope(query))
        return collection_response(bodies, context, next_link=link, count=page.count)

    async def count_tasks(self, request: GraphRequest) -> GraphResponse:
        options = query_options(request, COUNT_OPTIONS)
        query = TaskQuery(tenant_id=tenant_of(request), cast=cast_segment(request), filter=options.filter)
        count = await self.calls.run(self.store.count, query)
        return GraphResponse.text(str(count))

    async def get_task(self, request: GraphRequest) -> GraphResponse:
        cast = cast_segment(request)
        options = query_options(request, ENTITY_OPTIONS)
        shape = _shape(request, options, cast)
        expansion = resolve_expand(options.expand, cast or DEVICE_APP_MANAGEMENT_TASK, TASK_TYPES)
        tenant, task_id = tenant_of(request), path_key(request, "task_id")
        context = entity_context(self.settings.cloud.graph_url, cast=cast, selection=shape.selection)
        if shape == PLAIN and not expansion:  # the task as stored: nothing to render
            stored = await self.calls.point_read(self.store.document, tenant, task_id)
            require_cast(cast, stored.type, task_id)
            return conditional_answer(request, stored_entity(context, stored.document), stored.etag)
        record = await self.calls.point_read(self.store.get, tenant, task_id)
        require_cast(cast, record.type, task_id)
        expanded = await self._expanded(
            tenant_of(request), record, expansion, base_url(request.scope, self.settings)
        )
        body = entity_json(context, task_json(record, shape, expanded))
        if expansion:  # the answer holds the children too: the task's ETag does not cover it, no 304
            return GraphResponse.json(body, headers={"ETag": body["@odata.etag"]})
        return conditional_answer(request, body, body["@odata.etag"])

    async def create_task(self, request: GraphRequest) -> GraphResponse:
        body = await read_json(request, limit=self.settings.max_body_bytes)
        entity_type, values = validate_create(body)
        created = edm.ticks_from_unix_ns(time.time_ns())
        record = TaskRecord(str(uuid.uuid4()), entity_type, {**values, "createdDateTime": created})
        stored = await self.calls.run(self.store.create, tenant_of(request), record)
        location = f"{tasks_url(base_url(request.scope, self.settings))}/{record.id}"
        if read_preferences(request.headers).return_minimal:
            headers = {
                "Location": location,
                "OData-EntityId": location,
                "Preference-Applied": "return=minimal",
            }
            return GraphResponse.empty(headers=headers)
        response = self._entity(request, record, stored, status_code=201)
        response.headers["location"] = location
        return response

    async def update_task(self, request: GraphRequest) -> GraphResponse:
        body = await read_json(request, limit=self.settings.max_body_bytes)
        tenant, task_id = tenant_of(request), path_key(request, "task_id")
        # Its stored document says its type, which is all the body is judged against; the write reads
        # the task itself, locked.
        current = await self.calls.point_read(self.store.document, tenant, task_id)
        changes = validate_update(body, current.type)
        updated = await self.calls.run(
            self.store.update, tenant, task_id, changes, task_type=current.type, check=if_match(request)
        )
        if read_preferences(request.headers).return_representation:
            return as_represented(self._entity(request, updated))
        return GraphResponse.empty()

    async def delete_task(self, request: GraphRequest) -> GraphResponse:
        task_id, check = path_key(request, "task_id"), if_match(request)
        await self.calls.run(self.store.delete, tenant_of(request), task_id, check=check)
        return GraphResponse.empty()

    async def update_status(self, request: GraphRequest) -> GraphResponse:
        cast = cast_segment(request)  # the path first: an unknown type is a 400 whatever the body
        body = await read_json(request, limit=self.settings.max_body_bytes)
        status, note = validate_update_status(body)
        tenant, task_id = tenant_of(request), path_key(request, "task_id")
        if cast is not None:
            # Through a cast the task must have the cast's type, or derive from it: as for a GET, a
            # cast to a type the task does not have finds nothing. A task's type never changes, so
            # this read cannot go stale before the write.
            stored = await self.calls.point_read(self.store.document, tenant, task_id)
            require_cast(cast, stored.type, task_id)
        await self.calls.run(self.store.update_status, tenant, task_id, status, note, check=if_match(request))
        return GraphResponse.empty()

    def _entity(
        self,
        request: GraphRequest,
        record: TaskRecord,
        stored: StoredDocument | None = None,
        *,
        status_code: int = 200,
    ) -> GraphResponse:
        """The task as a write left it: its stored document when the storage returned it and no
        annotation is asked for, else rendered."""
        context = entity_context(self.settings.cloud.graph_url)
        shape = Shape(status_note=wants_status_note(request))
        if stored is not None and shape == PLAIN:
            body = stored_entity(context, stored.document)
            return GraphResponse.json(body, status_code=status_code, headers={"ETag": stored.etag})
        rendered = entity_json(context, task_json(record, shape))
        return GraphResponse.json(
            rendered, status_code=status_code, headers={"ETag": rendered["@odata.etag"]}
        )

    async def _expanded(
        self, tenant_id: str, record: TaskRecord, expansion: Expansion, base: str
    ) -> Expanded | None:
        """The expanded collections of one task; without $expand, none (and no trip to the thread pool)."""
        if not expansion:
            return None
        expanded = await self.calls.run(
            self._load_expanded, tenant_id, [(record.id, record.type)], expansion, base
        )
        return expanded.get(record.id)

    def _expand_page(
        self,
        tenant_id: str,
        page: PageWriter[TaskRecord],
        next_keys: tuple[KeyValue, ...] | None,
        expansion: Expansion,
        base: str,
    ) -> tuple[list[bytes], tuple[KeyValue, ...] | None]:
        """A page's tasks with their expanded collections, read for a group of tasks at a time. The
        collections count against the budget too: past it, the page ends after that task."""
        budget, bodies = PageBudget(self.settings.max_response_bytes), []
        for start in range(0, len(page.bodies), _EXPAND_GROUP):
            group = page.entities[start : start + _EXPAND_GROUP]
            expanded = self._load_expanded(tenant_id, group, expansion, base)
            for index, (task_id, _) in enumerate(group, start):
                bodies.append(with_members(page.bodies[index], expanded_json(expanded.get(task_id, {}))))
                if budget.add(len(bodies[-1]) + 1) and index + 1 < len(page.bodies):
                    return bodies, page.keys[index]
        return bodies, next_keys

    def _load_expanded(
        self, tenant_id: str, tasks: list[tuple[str, EntityType]], expansion: Expansion, base: str
    ) -> dict[str, Expanded]:
        """The first EXPANDED_PAGE_SIZE entities of each collection $expand asks for, one query per
        navigation for all `tasks`; a task with none shows an empty collection."""
        expanded: dict[str, Expanded] = {}
        for navigation in dict.fromkeys(name for _, name in expansion):
            parents = {
                task_id: target
                for task_id, task_type in tasks
                if expands(expansion, task_type, navigation)
                and (target := navigation_target(task_type, navigation))
            }
            # One more than shown tells whether the collection continues.
            found = self.store.children_of(tenant_id, navigation, parents, limit=EXPANDED_PAGE_SIZE + 1)
            for task_id, target in parents.items():
                query = ChildQuery(
                    tenant_id=tenant_id, task_id=task_id, navigation=navigation, entity_type=target
                )
                expanded.setdefault(task_id, {})[navigation] = self._expanded_page(
                    query, found.get(task_id, []), base
                )
        return expanded

    def _expanded_page(self, query: ChildQuery, children: list[ChildRecord], base: str) -> ExpandedCollection:
        """A collection's inline page; past it, a nextLink that lists the rest of the collection as a GET
        of the collection would, continuing after the last one shown (its order is by id)."""
        if len(children) <= EXPANDED_PAGE_SIZE:
            return ExpandedCollection(children)
        shown = children[:EXPANDED_PAGE_SIZE]
        token = self.skiptokens.encode((shown[-1].id,), scope=child_scope(query))
        link = f"{tasks_url(base)}/{query.task_id}/{query.navigation}?$skiptoken={token}"
        return ExpandedCollection(shown, link)

    def _task_query(self, request: GraphRequest, options: QueryOptions, cast: EntityType | None) -> TaskQuery:
        query = page_query(TaskQuery, options, self.settings, tenant_id=tenant_of(request), cast=cast)
        return resumed(query, options, self.skiptokens, scope=task_scope(query))


def _shape(request: GraphRequest, options: QueryOptions, cast: EntityType | None) -> Shape:
    selection = resolve_select(options.select, cast or DEVICE_APP_MANAGEMENT_TASK, TASK_TYPES)
    return Shape(selection=selection, status_note=wants_status_note(request))


def task_scope(query: TaskQuery) -> str:
    """What a $skiptoken is only valid for: this tenant, collection, cast, filter and order."""
    cast = "" if query.cast is None else query.cast.qualified_name
    return skiptoken_scope("tasks", query.tenant_id, cast, query=query)
