"""The export document (docs/testing.md, "The export format"), written a chunk of tasks at a time:

    {"@graphtasks.export": 1, "tenant": "...", "exportedDateTime": "...", "tasks": [ task, ... ]}

Each task is its Graph JSON as a GET answers it, without the derived `@odata.etag`, with its status
note (`@graphtasks.statusNote`) when it has one and each navigation collection its type has, whole.
model/fixtures.py reads it back. The admin API streams it (web/admin_state.py) and `graphtasks export`
writes it from the database; both walk the tenant's tasks in keyset order, EXPORT_CHUNK at a time, so
no export is ever held whole.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import orjson

from graphtasks.model import edm
from graphtasks.model.fixtures import EXPORT_MARK, EXPORT_VERSION
from graphtasks.model.records import STATUS_NOTE_ANNOTATION, ChildRecord, StoredTask
from graphtasks.web.serialization import entity_body, task_json

EXPORT_CHUNK = 200
# Where a chunk ends: the (createdDateTime, id) of its last task; None to start.
After = tuple[int, str] | None


def export_stream(tenant: str, read: Callable[[After], list[StoredTask]]) -> Iterator[bytes]:
    """The document, reading the tasks with `read(after)` (blocking)."""
    after: After = None
    yield _header(tenant)
    while True:
        chunk = read(after)
        yield _tasks(chunk, first=after is None)
        after = _end_of(chunk)
        if after is None:
            yield b"]}"
            return


async def export_stream_async(
    tenant: str, read: Callable[[After], Awaitable[list[StoredTask]]]
) -> AsyncIterator[bytes]:
    """export_stream, with `read` a coroutine (the storage call run off the event loop)."""
    after: After = None
    yield _header(tenant)
    while True:
        chunk = await read(after)
        yield _tasks(chunk, first=after is None)
        after = _end_of(chunk)
        if after is None:
            yield b"]}"
            return


def export_json(task: StoredTask) -> dict[str, Any]:
    body = task_json(task.record)
    body.pop("@odata.etag", None)
    if task.record.status_note is not None:
        body[STATUS_NOTE_ANNOTATION] = task.record.status_note
    for navigation, children in task.children.items():
        body[navigation] = [_child_json(child) for child in children]
    return body


def _child_json(child: ChildRecord) -> dict[str, Any]:
    body = entity_body(child)
    body.pop("@odata.etag", None)
    return body


def _header(tenant: str) -> bytes:
    now = edm.format_datetime_offset(edm.ticks_from_unix_ns(time.time_ns()))
    header = {EXPORT_MARK: EXPORT_VERSION, "tenant": tenant, "exportedDateTime": now}
    return orjson.dumps(header)[:-1] + b',"tasks":['


def _tasks(chunk: list[StoredTask], *, first: bool) -> bytes:
    text = b",".join(orjson.dumps(export_json(task)) for task in chunk)
    return text if first or not text else b"," + text


def _end_of(chunk: list[StoredTask]) -> After:
    """Where the next chunk starts; None when this one was the last (short)."""
    if len(chunk) < EXPORT_CHUNK:
        return None
    last = chunk[-1].record
    created = last.values["createdDateTime"]
    assert isinstance(created, int)  # noqa: S101 - every task has one
    return created, last.id
