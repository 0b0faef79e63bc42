"""Task records -> Graph JSON: @odata.context, @odata.type, property order, ISO 8601 datetimes.

Properties appear in the docs' order (model/schema.py). Every task carries its `@odata.type` with the
leading '#', which the SDK needs to pick the subtype (sdk-wire.md §0.7); complex values carry theirs
too, in the '#' form OData JSON requires (the docs' examples leave the '#' out).
"""

from __future__ import annotations

from typing import Any

from graphtasks.model import edm
from graphtasks.model.records import TaskRecord
from graphtasks.model.schema import DATETIME_OFFSET, TASKS_PATH, ComplexType, Property
from graphtasks.model.validation import ComplexValue, Value

JSON = dict[str, Any]
STATUS_NOTE_ANNOTATION = "@graphtasks.statusNote"


def tasks_url(base_url: str) -> str:
    return f"{base_url}/beta/{TASKS_PATH}"


def collection_context(base_url: str) -> str:
    return f"{base_url}/beta/$metadata#{TASKS_PATH}"


def entity_context(base_url: str) -> str:
    return f"{collection_context(base_url)}/$entity"


def task_json(record: TaskRecord, *, status_note: bool = False) -> JSON:
    body: JSON = {"@odata.type": record.type.odata_type, "id": record.id}
    for prop in record.type.properties:
        if prop.name != "id":
            body[prop.name] = _property_json(prop, record.values[prop.name])
    if status_note:
        body[STATUS_NOTE_ANNOTATION] = record.status_note
    return body


def entity_json(record: TaskRecord, base_url: str, *, status_note: bool = False) -> JSON:
    return {"@odata.context": entity_context(base_url), **task_json(record, status_note=status_note)}


def collection_json(
    records: list[TaskRecord], base_url: str, *, next_link: str | None, status_note: bool
) -> JSON:
    body: JSON = {"@odata.context": collection_context(base_url)}
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    body["value"] = [task_json(r, status_note=status_note) for r in records]
    return body


def _property_json(prop: Property, value: Value) -> Any:
    if isinstance(value, list):
        assert isinstance(prop.type, ComplexType)  # noqa: S101 - collections are complex in this model
        complex_type = prop.type
        return [_complex_json(complex_type, item) for item in value]
    if prop.type is DATETIME_OFFSET and isinstance(value, int):
        return edm.format_datetime_offset(value)
    return value


def _complex_json(complex_type: ComplexType, value: ComplexValue) -> JSON:
    body: JSON = {"@odata.type": f"#{complex_type.qualified_name}"}
    for prop in complex_type.properties:
        body[prop.name] = _property_json(prop, value.get(prop.name))
    return body
