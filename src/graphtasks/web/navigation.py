"""The derived types' navigation collections (docs/graph-behaviour.md, "Navigation collections"):
list, get, create (201), update, delete of `managedDevices` and `mobileApps` entities, at
`/{id}/{navigation}` and at the OData cast form `/{id}/microsoft.graph.<type>/{navigation}`.

A navigation the task's type does not have is a 400 ("Resource not found for the segment"), an item
cast to a type it does not have is a 404; everything else (query options, validation, permissions,
tenant isolation) is as for tasks, a list's byte budget too (docs/resilience.md, "Response size").
No SQL and no JWT here.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from graphtasks.config import Settings
from graphtasks.errors import BadRequest
from graphtasks.model.records import ChildRecord, StoredDocument
from graphtasks.model.schema import NAVIGATION_NAMES, navigation_target
from graphtasks.model.validation import validate_entity_create, validate_entity_update
from graphtasks.odata.options import COUNT_OPTIONS, LIST_OPTIONS, QueryOptions
from graphtasks.odata.paging import PageBudget, SkiptokenSigner
from graphtasks.odata.selection import resolve_select
from graphtasks.storage.base import ChildQuery, TaskStore
from graphtasks.web.blocking import BlockingCalls
from graphtasks.web.bodies import read_json
from graphtasks.web.etags import conditional_answer, if_match
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
)
from graphtasks.web.responses import GraphResponse
from graphtasks.web.serialization import (
    PageWriter,
    collection_response,
    entity_body,
    entity_json,
    navigation_context,
    tasks_url,
)

_CHILD_LIST_OPTIONS = LIST_OPTIONS - {"expand"}
_CHILD_ENTITY_OPTIONS = frozenset({"select"})


@dataclass(frozen=True)
class NavigationHandlers:
    settings: Settings
    store: TaskStore
    skiptokens: SkiptokenSigner
    calls: BlockingCalls

    async def list_children(self, request: GraphRequest) -> GraphResponse:
        options = query_options(request, _CHILD_LIST_OPTIONS)
        task, query = await self._query(request, options)
        query = resumed(query, options, self.skiptokens, scope=child_scope(query))
        selection = resolve_select(options.select, query.entity_type, (query.entity_type,))
        writer = PageWriter[ChildRecord](
            lambda child: entity_body(child, selection), PageBudget(self.settings.max_response_bytes)
        )
        page = await self.calls.run(self.store.query_children, dataclasses.replace(query, sink=writer))
        base = base_url(request.scope, self.settings)
        next_keys = writer.finish(page.next_keys)
        link = continuation(request, base, self.skiptokens, next_keys, scope=child_scope(query))
        context = navigation_context(self._graph_url, task.id, task.type, query.navigation, selection)
        return collection_response(writer.bodies, context, next_link=link, count=page.count)

    async def count_children(self, request: GraphRequest) -> GraphResponse:
        _, query = await self._query(request, query_options(request, COUNT_OPTIONS))
        return GraphResponse.text(str(await self.calls.run(self.store.count_children, query)))

    async def get_child(self, request: GraphRequest) -> GraphResponse:
        options = query_options(request, _CHILD_ENTITY_OPTIONS)
        task, query = await self._query(request, options)
        child = await self.calls.point_read(self.store.get_child, query, path_key(request, "child_id"))
        selection = resolve_select(options.select, query.entity_type, (query.entity_type,))
        context = navigation_context(self._graph_url, task.id, task.type, query.navigation, selection)
        body = entity_json(f"{context}/$entity", entity_body(child, selection))
        return conditional_answer(request, body, body["@odata.etag"])

    async def create_child(self, request: GraphRequest) -> GraphResponse:
        body = await read_json(request, limit=self.settings.max_body_bytes)
        task, query = await self._query(request, QueryOptions())
        child = ChildRecord(
            str(uuid.uuid4()), query.entity_type, validate_entity_create(body, query.entity_type)
        )
        await self.calls.run(self.store.create_child, query, child)
        response = self._entity(task, query, child, status_code=201)
        base = tasks_url(base_url(request.scope, self.settings))
        response.headers["location"] = f"{base}/{task.id}/{query.navigation}/{child.id}"
        return response

    async def update_child(self, request: GraphRequest) -> GraphResponse:
        body = await read_json(request, limit=self.settings.max_body_bytes)
        task, query = await self._query(request, QueryOptions())
        changes = validate_entity_update(body, query.entity_type)
        child = await self.calls.run(
            self.store.update_child, query, path_key(request, "child_id"), changes, check=if_match(request)
        )
        if read_preferences(request.headers).return_representation:
            return as_represented(self._entity(task, query, child))
        return GraphResponse.empty()

    async def delete_child(self, request: GraphRequest) -> GraphResponse:
        _, query = await self._query(request, QueryOptions())
        child_id, check = path_key(request, "child_id"), if_match(request)
        await self.calls.run(self.store.delete_child, query, child_id, check=check)
        return GraphResponse.empty()

    async def _query(self, request: GraphRequest, options: QueryOptions) -> tuple[StoredDocument, ChildQuery]:
        """The parent task (404 if missing, or cast to a type it does not have) and the query for its
        navigation collection (400 if its type has no such navigation)."""
        navigation = path_key(request, "navigation")
        cast = cast_segment(request)
        if navigation not in NAVIGATION_NAMES:
            raise BadRequest(f"Resource not found for the segment '{navigation}'.")
        # The stored document says the parent's id and type, all a child request needs of it.
        task = await self.calls.point_read(
            self.store.document, tenant_of(request), path_key(request, "task_id")
        )
        require_cast(cast, task.type, task.id)
        target = navigation_target(cast or task.type, navigation)
        if target is None:
            raise BadRequest(f"Resource not found for the segment '{navigation}'.")
        query = page_query(
            ChildQuery,
            options,
            self.settings,
            tenant_id=tenant_of(request),
            task_id=task.id,
            navigation=navigation,
            entity_type=target,
        )
        return task, query

    @property
    def _graph_url(self) -> str:
        """@odata.context names the cloud's Graph, as Graph's own answers do; links stay followable."""
        return self.settings.cloud.graph_url

    def _entity(
        self, task: StoredDocument, query: ChildQuery, child: ChildRecord, *, status_code: int = 200
    ) -> GraphResponse:
        context = navigation_context(self._graph_url, task.id, task.type, query.navigation)
        body = entity_json(f"{context}/$entity", entity_body(child))
        return GraphResponse.json(body, status_code=status_code, headers={"ETag": body["@odata.etag"]})


def child_scope(query: ChildQuery) -> str:
    """What a $skiptoken is only valid for: this tenant, task, navigation, filter and order."""
    return skiptoken_scope("children", query.tenant_id, query.task_id, query.navigation, query=query)
