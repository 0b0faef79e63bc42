"""An entity's Graph JSON document and its ETag, from its record: what a GET of it answers, apart from
`@odata.context`.

Properties appear in the docs' order (model/schema.py). Every entity carries its `@odata.type` with the
leading '#', which the SDK needs to pick the subtype (docs/graph-behaviour.md, "Response bodies");
complex values carry theirs too, in the '#' form OData JSON requires (the docs' examples leave the '#'
out). A null item of a collection is written as null. Datetimes are ISO 8601 (model/edm.py).

The ETag (a graphtasks extension: Intune's tasks carry none) is weak and computed from the entity's
whole state: its id, type, every property, and a task's updateStatus note, so it changes whenever the
entity does.

Pure: no I/O. Storage keeps each entity's document beside its columns, made here when it is written.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Collection
from typing import Any

import orjson

from graphtasks.model import edm
from graphtasks.model.records import ChildRecord, TaskRecord
from graphtasks.model.types import DATETIME_OFFSET, ComplexType, Property
from graphtasks.model.validation import ComplexValue, Value

JSON = dict[str, Any]
Entity = TaskRecord | ChildRecord

# A complex collection longer than this is rendered to JSON text a chunk at a time, so that a task with
# 100,000 settings never holds 100,000 rendered dicts at once (docs/resilience.md, "Response size").
COLLECTION_CHUNK = 1024


def etag_of(record: Entity) -> str:
    note = record.status_note if isinstance(record, TaskRecord) else None
    state = [record.id, record.type.qualified_name, record.values, note]
    digest = hashlib.sha256(orjson.dumps(state, option=orjson.OPT_SORT_KEYS)).digest()
    return f'W/"{base64.urlsafe_b64encode(digest[:15]).decode()}"'


def entity_body(record: Entity, selected: Collection[str] | None = None) -> JSON:
    """`@odata.type` and `@odata.etag`, then the properties in the model's order: all of them, or those
    named in `selected`."""
    body: JSON = {"@odata.type": record.type.odata_type, "@odata.etag": etag_of(record)}
    for prop in record.type.properties:
        if selected is not None and prop.name not in selected:
            continue
        body[prop.name] = record.id if prop.name == "id" else property_json(prop, record.values[prop.name])
    return body


def property_json(prop: Property, value: Value) -> Any:
    if isinstance(value, list):
        assert isinstance(prop.type, ComplexType)  # noqa: S101 - collections are complex in this model
        if len(value) > COLLECTION_CHUNK:
            return _collection_fragment(prop.type, value)
        return _items_json(prop.type, value)
    if prop.type is DATETIME_OFFSET and isinstance(value, int):
        return edm.format_datetime_offset(value)
    return value


def complex_json(complex_type: ComplexType, value: ComplexValue) -> JSON:
    body: JSON = {"@odata.type": f"#{complex_type.qualified_name}"}
    for prop in complex_type.properties:
        body[prop.name] = property_json(prop, value.get(prop.name))
    return body


def _items_json(complex_type: ComplexType, items: list[ComplexValue | None]) -> list[JSON | None]:
    # A null item stays null, in its place (the model says which collections may hold one).
    return [None if item is None else complex_json(complex_type, item) for item in items]


def _collection_fragment(complex_type: ComplexType, items: list[ComplexValue | None]) -> orjson.Fragment:
    """The collection's JSON text, rendered and written a chunk of items at a time."""
    text = io.BytesIO()
    text.write(b"[")
    for start in range(0, len(items), COLLECTION_CHUNK):
        chunk = orjson.dumps(_items_json(complex_type, items[start : start + COLLECTION_CHUNK]))
        text.write(chunk[1:-1] if start == 0 else b"," + chunk[1:-1])
    text.write(b"]")
    return orjson.Fragment(text.getvalue())
