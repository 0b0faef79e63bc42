"""A stored task as the rest of the server sees it: its key, its type and its canonical values.

Storage builds these from rows; serialization turns them into Graph JSON. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphtasks.model.types import EntityType
from graphtasks.model.validation import Values

# The annotation a task's status note is shown as, when asked for (Prefer: odata.include-annotations), and
# kept as in exports: not a Graph property (docs/graph-behaviour.md, "updateStatus").
STATUS_NOTE_ANNOTATION = "@graphtasks.statusNote"


@dataclass(frozen=True)
class TaskRecord:
    id: str
    type: EntityType
    # Every property of `type` but `id`, canonical (see model/validation.py), createdDateTime included.
    values: Values
    # The note of the last updateStatus call: kept, but not a Graph property
    # (docs/graph-behaviour.md, "updateStatus").
    status_note: str | None = field(default=None)


@dataclass(frozen=True)
class ChildRecord:
    """An entity of a task's navigation collection (managedDevices, mobileApps)."""

    id: str
    type: EntityType
    # Every property of `type` but `id`, canonical.
    values: Values


@dataclass(frozen=True)
class StoredDocument:
    """An entity as a plain read answers it: its Graph JSON document and ETag (model/documents.py), as
    storage keeps them since the entity was last written."""

    id: str
    type: EntityType
    document: bytes
    etag: str


@dataclass(frozen=True)
class StoredTask:
    """A task with its navigation collections: what an export holds and an import writes."""

    record: TaskRecord
    # Navigation name -> its entities, for each navigation the task's type has.
    children: dict[str, list[ChildRecord]] = field(default_factory=dict)
