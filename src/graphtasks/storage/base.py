"""The storage seam: what the web layer may ask of a task store, and the page type it gets back.

Implementations raise graphtasks.errors.NotFound for a task (or child) that does not exist in the
caller's tenant, and BadRequest for a query that does not fit the model; they never learn about HTTP.

A page query may carry a sink (docs/resilience.md, "Response size"): the store then hands it each entity
as the row is read, keeps none of them, and ends the page after the one the sink says filled it, so
that no page is read much past what its answer can hold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeAlias, TypeVar

from graphtasks.model.records import ChildRecord, StoredDocument, StoredTask, TaskRecord
from graphtasks.model.types import EntityType
from graphtasks.model.validation import Values
from graphtasks.odata.ast import Node
from graphtasks.odata.options import OrderKey
from graphtasks.odata.paging import KeyValue

Item = TypeVar("Item", TaskRecord, ChildRecord, StoredDocument)
# Called with the entity as it stands, inside the write's transaction, before the write; raises to stop
# it (If-Match, web/etags.py). So no other write can come between the check and the change.
Precondition: TypeAlias = Callable[[Item], None]
# The sort-key values of one row: what a $skiptoken holds (odata/paging.py).
SortKeys: TypeAlias = tuple[KeyValue, ...]
Taken_contra = TypeVar("Taken_contra", contravariant=True)


class PageSink(Protocol[Taken_contra]):
    """Takes a page's entities as they are read (module docstring)."""

    def __call__(self, item: Taken_contra, keys: SortKeys, /) -> bool:
        """The next entity, with its sort keys; True ends the page after it."""
        ...

    def room(self) -> int | None:
        """About how many more entities fit, judged by those taken so far; None before the first."""
        ...


@dataclass(frozen=True, kw_only=True)
class PageRequest:
    """One page of a collection: filtered, ordered, resumed after a keyset position."""

    filter: Node | None = None
    orderby: tuple[OrderKey, ...] = ()
    limit: int = 1000
    skip: int = 0
    # The sort-key values of the last row of the previous page (from a $skiptoken).
    after: SortKeys | None = None
    count: bool = False


@dataclass(frozen=True, kw_only=True)
class TaskQuery(PageRequest):
    tenant_id: str
    # A type-cast segment: only tasks of this type, and its properties usable by name.
    cast: EntityType | None = None
    # Given, the page's tasks go to it as they are read, not into Page.items (module docstring).
    sink: PageSink[TaskRecord] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class ChildQuery(PageRequest):
    tenant_id: str
    task_id: str
    navigation: str  # managedDevices or mobileApps
    entity_type: EntityType  # what the parent's type says the children are
    sink: PageSink[ChildRecord] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Page(Generic[Item]):
    # Empty when the query had a sink, which took them.
    items: list[Item]
    # The sort-key values of the page's last row, when another page follows; None on the last page.
    next_keys: SortKeys | None
    # The number of items the query matches over all pages, when asked for.
    count: int | None = None


class TaskStore(Protocol):
    def create(self, tenant_id: str, task: TaskRecord) -> StoredDocument:
        """Store a new task; its document as stored."""
        ...

    def get(self, tenant_id: str, task_id: str) -> TaskRecord: ...

    def document(self, tenant_id: str, task_id: str) -> StoredDocument:
        """The task as a plain GET shows it: its stored document, without reading its columns."""
        ...

    def update(
        self,
        tenant_id: str,
        task_id: str,
        changes: Values,
        *,
        task_type: EntityType,
        check: Precondition[TaskRecord] | None = None,
    ) -> TaskRecord: ...

    def update_status(
        self,
        tenant_id: str,
        task_id: str,
        status: str,
        note: str | None,
        *,
        check: Precondition[TaskRecord] | None = None,
    ) -> None: ...

    def delete(self, tenant_id: str, task_id: str, *, check: Precondition[TaskRecord] | None = None) -> None:
        """Deletes the task and its navigation collections' entities."""
        ...

    def query(self, query: TaskQuery) -> Page[TaskRecord]: ...

    def query_documents(self, query: TaskQuery, sink: PageSink[StoredDocument]) -> Page[StoredDocument]:
        """A page as a plain list shows it: the tasks' stored documents, handed to `sink`."""
        ...

    def count(self, query: TaskQuery) -> int: ...

    # --- navigation collections ---

    def query_children(self, query: ChildQuery) -> Page[ChildRecord]: ...

    def count_children(self, query: ChildQuery) -> int: ...

    def get_child(self, query: ChildQuery, child_id: str) -> ChildRecord: ...

    def create_child(self, query: ChildQuery, child: ChildRecord) -> None:
        """Adds a child to an existing task; NotFound if the task is gone."""
        ...

    def update_child(
        self,
        query: ChildQuery,
        child_id: str,
        changes: Values,
        *,
        check: Precondition[ChildRecord] | None = None,
    ) -> ChildRecord: ...

    def delete_child(
        self, query: ChildQuery, child_id: str, *, check: Precondition[ChildRecord] | None = None
    ) -> None: ...

    def children_of(
        self, tenant_id: str, navigation: str, parents: dict[str, EntityType], *, limit: int | None = None
    ) -> dict[str, list[ChildRecord]]:
        """$expand: the children of each parent task id, typed as its entry in `parents` says, in id
        order; with `limit`, at most that many of each."""
        ...

    # --- a tenant's whole state: exports, imports, resets ---

    def tasks_of(
        self, tenant_id: str, *, after: tuple[int, str] | None = None, limit: int = 500
    ) -> list[StoredTask]:
        """Up to `limit` of the tenant's tasks with their navigation collections, oldest first
        (createdDateTime, then id), after the one whose (createdDateTime, id) is `after`."""
        ...

    def add_tasks(self, tenant_id: str, stored: Sequence[StoredTask], *, skip_existing: bool = False) -> int:
        """Write the tasks and their collections in one transaction, ids and createdDateTime as given:
        all or nothing; how many were written. Conflict if the tenant has a task with one of their ids,
        or, with `skip_existing`, those are left as they are."""
        ...

    def remove_tasks(self, tenant_id: str | None) -> int:
        """Delete a tenant's tasks (every tenant's, for None) and their collections; how many tasks."""
        ...


@dataclass(frozen=True)
class StoredCertificate:
    """A client certificate of an app registration (auth/apps.py): the public certificate only, with
    its thumbprints in upper-case hex as Entra shows them."""

    sha1_thumbprint: str
    sha256_thumbprint: str
    pem: str


@dataclass(frozen=True)
class AppRegistration:
    """A confidential client of the token service (auth/apps.py)."""

    tenant_id: str
    client_id: str
    display_name: str
    permissions: tuple[str, ...]
    # The secret's first characters, as Entra shows them, to tell secrets apart.
    secret_hint: str
    # The certificates whose keys may sign the app's client assertions, oldest first.
    certificates: tuple[StoredCertificate, ...] = ()


@dataclass(frozen=True)
class StoredSecret:
    """What is kept of a client secret: a salt and the salted hash."""

    salt: str
    digest: str


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    display_name: str
    intune_license: bool


class KeyStore(Protocol):
    def signing_keys(self) -> list[tuple[str, str]]:
        """Every (kid, private key PEM), oldest first."""
        ...

    def add_signing_key(self, kid: str, private_key_pem: str) -> None:
        """Store the first signing key; a no-op once any key exists (instances starting together on an
        empty database would otherwise each add their own)."""
        ...
