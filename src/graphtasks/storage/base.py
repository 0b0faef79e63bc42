"""The storage seam: what the web layer may ask of a task store, and the page type it gets back.

Implementations raise graphtasks.errors.NotFound for a task that does not exist in the caller's
tenant; they never learn about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from graphtasks.model.records import TaskRecord
from graphtasks.model.schema import EntityType
from graphtasks.model.validation import Values


@dataclass(frozen=True)
class Page:
    tasks: list[TaskRecord]
    # The id after which the next page starts, or None on the last page.
    next_after: str | None


class TaskStore(Protocol):
    def create(self, tenant_id: str, task: TaskRecord) -> None: ...

    def get(self, tenant_id: str, task_id: str) -> TaskRecord: ...

    def update(
        self, tenant_id: str, task_id: str, changes: Values, *, task_type: EntityType
    ) -> TaskRecord: ...

    def update_status(self, tenant_id: str, task_id: str, status: str, note: str | None) -> None: ...

    def delete(self, tenant_id: str, task_id: str) -> None: ...

    def list(self, tenant_id: str, *, after: str | None, limit: int) -> Page: ...

    def count(self, tenant_id: str) -> int: ...


class KeyStore(Protocol):
    def signing_keys(self) -> list[tuple[str, str]]:
        """Every (kid, private key PEM), oldest first."""
        ...

    def add_signing_key(self, kid: str, private_key_pem: str) -> None: ...
