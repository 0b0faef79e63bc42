"""Task records -> Graph JSON: @odata.context, @odata.type, property order, ISO 8601 datetimes.

Properties appear in the docs' order (model/schema.py); under $select only the selected ones do.
Every task carries its `@odata.type` with the leading '#', which the SDK needs to pick the subtype
(docs/graph-behaviour.md, "Response bodies"); complex values carry theirs too, in the '#' form OData
JSON requires (the docs' examples leave the '#' out). A null item of a collection is written as null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphtasks.model import edm
from graphtasks.model.records import ChildRecord, TaskRecord
from graphtasks.model.schema import DATETIME_OFFSET, TASKS_PATH, ComplexType, EntityType, Property
from graphtasks.model.validation import ComplexValue, Value
from graphtasks.odata.selection import Selection
from graphtasks.web.etags import etag_of

JSON = dict[str, Any]
# $expand: navigation name -> the task's entities in it.
Expanded = dict[str, list[ChildRecord]]
STATUS_NOTE_ANNOTATION = "@graphtasks.statusNote"


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
    for navigation, children in (expanded or {}).items():
        body[navigation] = [entity_body(child) for child in children]
    return body


def entity_body(record: TaskRecord | ChildRecord, selection: Selection | None = None) -> JSON:
    """`@odata.type` and `@odata.etag`, then the (selected) properties in the model's order."""
    body: JSON = {"@odata.type": record.type.odata_type, "@odata.etag": etag_of(record)}
    selected = None if selection is None else selection.names_for(record.type)
    for prop in record.type.properties:
        if selected is not None and prop.name not in selected:
            continue
        body[prop.name] = record.id if prop.name == "id" else _property_json(prop, record.values[prop.name])
    return body


def entity_json(context: str, body: JSON) -> JSON:
    return {"@odata.context": context, **body}


def collection_json(bodies: list[JSON], context: str, *, next_link: str | None, count: int | None) -> JSON:
    envelope: JSON = {"@odata.context": context}
    if count is not None:
        envelope["@odata.count"] = count
    if next_link is not None:
        envelope["@odata.nextLink"] = next_link
    envelope["value"] = bodies
    return envelope


def navigation_context(
    graph_url: str, task_id: str, owner: EntityType, navigation: str, selection: Selection | None = None
) -> str:
    """`...#deviceAppManagement/deviceAppManagementTasks('id')/microsoft.graph.x/managedDevices`."""
    key = task_id.replace("'", "''")
    path = f"{TASKS_PATH}('{key}')/{owner.qualified_name}/{navigation}"
    return f"{graph_url}/beta/$metadata#{path}" + ("" if selection is None else f"({selection.text})")


def _property_json(prop: Property, value: Value) -> Any:
    if isinstance(value, list):
        assert isinstance(prop.type, ComplexType)  # noqa: S101 - collections are complex in this model
        complex_type = prop.type
        # A null item stays null, in its place (the model says which collections may hold one).
        return [None if item is None else _complex_json(complex_type, item) for item in value]
    if prop.type is DATETIME_OFFSET and isinstance(value, int):
        return edm.format_datetime_offset(value)
    return value


def _complex_json(complex_type: ComplexType, value: ComplexValue) -> JSON:
    body: JSON = {"@odata.type": f"#{complex_type.qualified_name}"}
    for prop in complex_type.properties:
        body[prop.name] = _property_json(prop, value.get(prop.name))
    return body
