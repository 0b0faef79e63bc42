"""The storage seam: what the web layer may ask of a task store, and the page type it gets back.

Implementations raise graphtasks.errors.NotFound for a task that does not exist in the caller's
tenant, and BadRequest for a query that does not fit the model; they never learn about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from graphtasks.model.records import TaskRecord
from graphtasks.model.schema import EntityType
from graphtasks.model.validation import Values
from graphtasks.odata.ast import Node
from graphtasks.odata.options import OrderKey
from graphtasks.odata.paging import KeyValue


@dataclass(frozen=True)
class TaskQuery:
    """One page of a tenant's tasks: filtered, ordered, resumed after a keyset position."""

    tenant_id: str
    # A type-cast segment: only tasks of this type, and its properties usable by name.
    cast: EntityType | None = None
    filter: Node | None = None
    orderby: tuple[OrderKey, ...] = ()
    limit: int = 1000
    skip: int = 0
    # The sort-key values of the last row of the previous page (from a $skiptoken).
    after: tuple[KeyValue, ...] | None = None
    count: bool = False


@dataclass(frozen=True)
class Page:
    tasks: list[TaskRecord]
    # The sort-key values of the last row, when another page follows; None on the last page.
    next_keys: tuple[KeyValue, ...] | None
    # The number of tasks the query matches over all pages, when asked for.
    count: int | None = None


class TaskStore(Protocol):
    def create(self, tenant_id: str, task: TaskRecord) -> None: ...

    def get(self, tenant_id: str, task_id: str) -> TaskRecord: ...

    def update(
        self, tenant_id: str, task_id: str, changes: Values, *, task_type: EntityType
    ) -> TaskRecord: ...

    def update_status(self, tenant_id: str, task_id: str, status: str, note: str | None) -> None: ...

    def delete(self, tenant_id: str, task_id: str) -> None: ...

    def query(self, query: TaskQuery) -> Page: ...

    def count(self, query: TaskQuery) -> int: ...


class KeyStore(Protocol):
    def signing_keys(self) -> list[tuple[str, str]]:
        """Every (kid, private key PEM), oldest first."""
        ...

    def add_signing_key(self, kid: str, private_key_pem: str) -> None: ...
