"""Tasks given as Graph JSON, read into the records an import writes: what `graphtasks import`,
`graphtasks serve --load` and the testing API's `load()` take (docs/testing.md, "The export format").

A document is any of:
- an export: `{"@graphtasks.export": 1, "tenant": ..., "tasks": [...]}`;
- a Graph collection answer: `{"value": [...]}` (a GET of the tasks, pasted as it came);
- a bare list of task bodies.

Each task body is what a create takes, and what a GET answers: `@odata.type`, the properties, and
also what a create ignores, kept here: `id` and `createdDateTime` (made as a create makes them when
absent), the navigation collections (`managedDevices`, `mobileApps`, each a list of entity bodies with
their own `id`), and `@graphtasks.statusNote`, the note of the last updateStatus (not a Graph property,
but part of what the task's ETag covers). Other annotations (`@odata.etag`, `@odata.context`) are
ignored, so an export or a GET answer reads back as it was written.

Pure: reads the model and model/validation.py, never HTTP or storage.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import cast

from graphtasks.errors import BadRequest
from graphtasks.model import edm
from graphtasks.model.records import STATUS_NOTE_ANNOTATION as STATUS_NOTE
from graphtasks.model.records import ChildRecord, StoredTask, TaskRecord
from graphtasks.model.schema import navigation_target
from graphtasks.model.types import EntityType
from graphtasks.model.validation import unstorable_character, validate_create, validate_entity_create

EXPORT_VERSION = 1
EXPORT_MARK = "@graphtasks.export"


def read_tasks(document: object, *, created: int | None = None) -> list[StoredTask]:
    """The tasks of `document`. A task without createdDateTime gets `created` (ticks; now, as a create
    would, when not given) plus its place in the document, so that such tasks list in the document's
    order, as if created one after another. BadRequest names the first task that is wrong, by its place
    in the document."""
    if created is None:
        created = edm.ticks_from_unix_ns(time.time_ns())
    tasks: list[StoredTask] = []
    seen: set[str] = set()
    for index, body in enumerate(_task_bodies(document)):
        try:
            task = _read_task(body, created + index)
        except BadRequest as error:  # the same error (ModelValidationFailure stays one), placed
            raise type(error)(f"tasks[{index}]: {error.message}") from None
        if task.record.id in seen:
            raise BadRequest(f"tasks[{index}]: the id {task.record.id} is given twice.")
        seen.add(task.record.id)
        tasks.append(task)
    return tasks


def named_tenant(document: object) -> str | None:
    """The tenant an export names, so that it goes back where it came from; None for other documents."""
    tenant = document.get("tenant") if isinstance(document, Mapping) else None
    return tenant if isinstance(tenant, str) else None


def _task_bodies(document: object) -> list[object]:
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping):
        if EXPORT_MARK in document:
            version = document[EXPORT_MARK]
            if isinstance(version, bool) or version != EXPORT_VERSION:
                raise BadRequest(f"This server reads exports of version {EXPORT_VERSION} only.")
            return _list_member(document, "tasks")
        if "value" in document:
            return _list_member(document, "value")
    raise BadRequest(
        'Tasks are given as a list of task bodies, a collection answer ({"value": [...]}) or an export.'
    )


def _list_member(document: Mapping[str, object], name: str) -> list[object]:
    member = document.get(name)
    if not isinstance(member, list):
        raise BadRequest(f"The document's '{name}' must be a list of task bodies.")
    return member


def _read_task(body: object, created: int) -> StoredTask:
    entity_type, values = validate_create(body)
    fields = cast(Mapping[str, object], body)  # validate_create accepted it as an object
    values["createdDateTime"] = _read_created(fields.get("createdDateTime"), created)
    record = TaskRecord(_read_id(fields.get("id")), entity_type, values, _read_note(fields.get(STATUS_NOTE)))
    children = {
        navigation.name: _read_children(fields.get(navigation.name, []), entity_type, navigation.name)
        for navigation in entity_type.navigation
    }
    return StoredTask(record, children)


def _read_children(raw: object, owner: EntityType, navigation: str) -> list[ChildRecord]:
    if not isinstance(raw, list):
        raise BadRequest(f"'{navigation}' must be a list of entity bodies.")
    target = navigation_target(owner, navigation)
    assert target is not None  # noqa: S101 - navigation is one of the owner's own
    children: list[ChildRecord] = []
    seen: set[str] = set()
    for index, body in enumerate(raw):
        try:
            values = validate_entity_create(body, target)
            child_id = _read_id(cast(Mapping[str, object], body).get("id"))
        except BadRequest as error:
            raise type(error)(f"{navigation}[{index}]: {error.message}") from None
        if child_id in seen:
            raise BadRequest(f"{navigation}[{index}]: the id {child_id} is given twice.")
        seen.add(child_id)
        children.append(ChildRecord(child_id, target, values))
    return children


def _read_id(raw: object) -> str:
    """A GUID in its canonical lower-case form (the only form the server makes), or a new one."""
    if raw is None:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(str(raw))) if isinstance(raw, str) else _not_an_id(raw)
    except ValueError:
        return _not_an_id(raw)


def _not_an_id(raw: object) -> str:
    raise BadRequest(f"The id {raw!r} is not a GUID.")


def _read_created(raw: object, default: int) -> int:
    if raw is None:
        return default
    try:
        return edm.parse_datetime_offset(raw) if isinstance(raw, str) else _not_a_date(raw)
    except ValueError:
        return _not_a_date(raw)


def _not_a_date(raw: object) -> int:
    raise BadRequest(f"The createdDateTime {raw!r} is not an Edm.DateTimeOffset.")


def _read_note(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise BadRequest(f"'{STATUS_NOTE}' must be a string.")
    character = unstorable_character(raw)
    if character is not None:
        raise BadRequest(f"'{STATUS_NOTE}' contains the character {character}, which cannot be stored.")
    return raw
