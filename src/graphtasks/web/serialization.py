"""Graph answers: entity documents (model/documents.py) with their @odata.context, $select, $expand,
and collections with their envelope. Under $select only the selected properties appear.

A collection's entities are rendered one by one as the store reads them (PageWriter), so that the page
ends once they pass its byte budget (docs/resilience.md, "Response size"); the answer is then put
together from their bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from graphtasks.model import documents
from graphtasks.model.records import STATUS_NOTE_ANNOTATION, ChildRecord, StoredDocument, TaskRecord
from graphtasks.model.schema import TASKS_PATH
from graphtasks.model.types import EntityType
from graphtasks.odata.paging import KeyValue, PageBudget
from graphtasks.odata.selection import Selection
from graphtasks.web.responses import ODATA_JSON, GraphResponse

JSON = dict[str, Any]
Rendered = TypeVar("Rendered", TaskRecord, ChildRecord)


@dataclass(frozen=True)
class ExpandedCollection:
    """A task's entities in one expanded navigation collection: its first page, and the link to the
    next one (OData JSON Format, "Expanded Navigation Property") when there are more."""

    items: list[ChildRecord]
    next_link: str | None = None


# $expand: navigation name -> the task's entities in it.
Expanded = dict[str, ExpandedCollection]


@dataclass(frozen=True)
class Shape:
    """How each task is shown: which properties, and whether with its updateStatus note."""

    selection: Selection | None = None
    status_note: bool = False


def tasks_url(base_url: str) -> str:
    return f"{base_url}/beta/{TASKS_PATH}"


def collection_context(
    graph_url: str, *, cast: EntityType | None = None, selection: Selection | None = None
) -> str:
    path = TASKS_PATH if cast is None else f"{TASKS_PATH}/{cast.qualified_name}"
    return f"{graph_url}/beta/$metadata#{path}" + ("" if selection is None else f"({selection.text})")


def entity_context(
    graph_url: str, *, cast: EntityType | None = None, selection: Selection | None = None
) -> str:
    return f"{collection_context(graph_url, cast=cast, selection=selection)}/$entity"


def task_json(record: TaskRecord, shape: Shape = Shape(), expanded: Expanded | None = None) -> JSON:
    body = entity_body(record, shape.selection)
    if shape.status_note:
        body[STATUS_NOTE_ANNOTATION] = record.status_note
    body.update(expanded_json(expanded or {}))
    return body


def expanded_json(expanded: Expanded) -> JSON:
    """Each expanded collection, followed by its nextLink when it has more, where OData JSON Format's
    example under "Expanded Navigation Property" places it."""
    members: JSON = {}
    for navigation, collection in expanded.items():
        members[navigation] = [entity_body(child) for child in collection.items]
        if collection.next_link is not None:
            members[f"{navigation}@odata.nextLink"] = collection.next_link
    return members


def entity_body(record: TaskRecord | ChildRecord, selection: Selection | None = None) -> JSON:
    """The entity's document (model/documents.py), or under $select its selected properties only."""
    return documents.entity_body(record, None if selection is None else selection.names_for(record.type))


def entity_json(context: str, body: JSON) -> JSON:
    return {"@odata.context": context, **body}


def stored_entity(context: str, document: bytes) -> bytes:
    """A stored document (model/documents.py) with its `@odata.context` first: a plain GET's answer."""
    return b'{"@odata.context":' + orjson.dumps(context) + b"," + document[1:]


PLAIN = Shape()


def collection_json(bodies: list[JSON], context: str, *, next_link: str | None, count: int | None) -> JSON:
    envelope: JSON = {"@odata.context": context}
    if count is not None:
        envelope["@odata.count"] = count
    if next_link is not None:
        envelope["@odata.nextLink"] = next_link
    envelope["value"] = bodies
    return envelope


def collection_response(
    bodies: list[bytes], context: str, *, next_link: str | None, count: int | None
) -> GraphResponse:
    """collection_json's document with its entities already rendered: its envelope ends with the empty
    `"value":[]}`, which they are put into. Sent in the parts it was made of, with its whole
    Content-Length."""
    envelope = orjson.dumps(collection_json([], context, next_link=next_link, count=count))
    pieces = [envelope[:-2]]
    for index, body in enumerate(bodies):
        pieces += (body,) if index == 0 else (b",", body)
    pieces.append(b"]}")
    return GraphResponse(200, list(_joined(pieces)), media_type=ODATA_JSON)


# A page's answer is sent in parts of about this size, so that a page of large entities is never copied
# into one buffer (its entities are already the bytes to send).
PART_BYTES = 1024 * 1024


def _joined(pieces: list[bytes]) -> Iterator[bytes]:
    """The pieces, small ones joined into parts of about PART_BYTES; a larger piece is a part alone."""
    group: list[bytes] = []
    size = 0
    for piece in pieces:
        if len(piece) >= PART_BYTES and group:
            yield b"".join(group)
            group, size = [], 0
        group.append(piece)
        size += len(piece)
        if size >= PART_BYTES:
            yield b"".join(group)
            group, size = [], 0
    if group:
        yield b"".join(group)


def with_members(body: bytes, members: JSON) -> bytes:
    """A rendered entity with more members at its end (its expanded collections)."""
    if not members:
        return body
    return b"".join((body[:-1], b",", orjson.dumps(members)[1:]))


@dataclass
class DocumentPage:
    """A page of stored documents (no $select, $expand or annotation: nothing to render), taken as the
    store reads them until their bytes pass the budget: the store's sink (storage/base.py, PageSink).
    The page ends right after the document that passes it, so the store's next keys stand as they are."""

    budget: PageBudget
    bodies: list[bytes] = field(default_factory=list)

    def __call__(self, item: StoredDocument, keys: tuple[KeyValue, ...], /) -> bool:
        self.bodies.append(item.document)
        return self.budget.add(len(item.document) + 1)  # and its comma

    def room(self) -> int | None:
        return self.budget.room()


# The most entities a PageWriter renders at once, and about how many bytes of them it holds unrendered.
RENDER_GROUP = 32
PENDING_BYTES = 64 * 1024


@dataclass
class PageWriter(Generic[Rendered]):
    """A page's entities rendered as the store reads them, until their bytes pass the budget: the
    store's sink (storage/base.py, PageSink).

    Entities are rendered a group at a time, which measured a fifth cheaper than one by one: one
    orjson call per entity costs ten times its share of a call for many, and rendering between the
    reads of rows costs more than after them. A group closes at `group` entities, or once their
    estimated size reaches PENDING_BYTES, so that the entities held unrendered stay few and small
    whatever their size. A group that passes the budget is serialized again one entity at a time to
    find the one the page ends after; the store has then read the rest of the group, and `trimmed` says
    so. With `group=1` (a page with $expand), `bodies` holds one entity each."""

    render: Callable[[Rendered], JSON]
    budget: PageBudget
    group: int = RENDER_GROUP
    bodies: list[bytes] = field(default_factory=list)
    keys: list[tuple[KeyValue, ...]] = field(default_factory=list)
    entities: list[tuple[str, EntityType]] = field(default_factory=list)
    trimmed: bool = False
    _pending: list[Rendered] = field(default_factory=list)
    _pending_size: int = 0

    def __call__(self, item: Rendered, keys: tuple[KeyValue, ...], /) -> bool:
        self.keys.append(keys)
        self.entities.append((item.id, item.type))
        self._pending.append(item)
        if self.group > 1:
            self._pending_size += _estimated_size(item)
            if len(self._pending) < self.group and self._pending_size < PENDING_BYTES:
                return False
        return self.flush()

    def flush(self) -> bool:
        """Serialize the entities held; True once the page is full."""
        pending = [self.render(item) for item in self._pending]
        self._pending, self._pending_size = [], 0
        if not pending:
            return self.budget.used > self.budget.max_bytes
        if len(pending) > 1:
            chunk = orjson.dumps(pending)  # [a,b,c]: each entity and a comma, and one byte more
            if not self.budget.add(len(chunk) - 1, count=len(pending)):
                self.bodies.append(chunk[1:-1])
                return False
            self.budget.remove(len(chunk) - 1, count=len(pending))
        return self._one_by_one(pending)

    def room(self) -> int | None:
        """About how many more entities fit: judged by those rendered, or while none is, by the
        estimated sizes of those held."""
        if self.budget.taken:
            room = self.budget.room()
            return None if room is None else max(0, room - len(self._pending))
        if not self._pending:
            return None
        guess = PageBudget(self.budget.max_bytes)
        guess.add(self._pending_size, count=len(self._pending))
        return guess.room()

    def finish(self, next_keys: tuple[KeyValue, ...] | None) -> tuple[KeyValue, ...] | None:
        """Once the store is done: serialize what is held. Returns where the next page starts: after the
        entity the page ended on if that was inside the last group read, else where the store said."""
        self.flush()
        return self.keys[-1] if self.trimmed else next_keys

    def _one_by_one(self, pending: list[JSON]) -> bool:
        first = len(self.keys) - len(pending)
        for index, entity in enumerate(pending, first):
            self.bodies.append(orjson.dumps(entity))
            if self.budget.add(len(self.bodies[-1]) + 1):  # and its comma
                self.trimmed = index + 1 < len(self.keys)
                del self.keys[index + 1 :], self.entities[index + 1 :]
                return True
        return False


def _estimated_size(item: TaskRecord | ChildRecord) -> int:
    """An entity's rendered size, roughly and cheaply: its text, and a guess per collection item."""
    size = 200
    for value in item.values.values():
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, list):
            size += 100 * len(value)
    if isinstance(item, TaskRecord) and item.status_note is not None:
        size += len(item.status_note)
    return size


def navigation_context(
    graph_url: str, task_id: str, owner: EntityType, navigation: str, selection: Selection | None = None
) -> str:
    """`...#deviceAppManagement/deviceAppManagementTasks('id')/microsoft.graph.x/managedDevices`."""
    key = task_id.replace("'", "''")
    path = f"{TASKS_PATH}('{key}')/{owner.qualified_name}/{navigation}"
    return f"{graph_url}/beta/$metadata#{path}" + ("" if selection is None else f"({selection.text})")
