"""The soak's client-side model: what every acknowledged write says the server must now hold.

Pure bookkeeping, no I/O. Times are the client's monotonic clock: a write is *sent* just before its
request goes out and *acknowledged* just after its answer came back, so the server applied it at some
instant between the two. Under the concurrency model (docs/concurrency.md: last writer wins per
property) each property is a register, and a read that ran from `start` to `end` may return:

- the value of any write sent before `end` (it may have been applied before the read),
- except a write W acknowledged before another write W2 was sent, when W2 was itself acknowledged
  before the read started: W2 then certainly overwrote W before the read looked.

That is the linearizability check of a register, applied to every GET, every list item and, at the
end, to the database itself (a read that starts after every write was answered: only the writes not
overwritten by a later acknowledged one remain). A write answered 429/503/504 was never applied (the
server promises a retryable answer changes nothing) and leaves the register; a write whose answer never
came (a transport error) stays possible for ever.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

Value = str | int | None

# Properties the soak writes: every one exists on both task types it creates.
PATCHABLE = (
    "displayName",
    "description",
    "assignedTo",
    "creatorNotes",
    "insights",
    "managedDeviceCount",
    "priority",
    "status",
)
# updateStatus's note: not a Graph property, read through Prefer: odata.include-annotations.
NOTE = "@graphtasks.statusNote"
REGISTERS = (*PATCHABLE, NOTE)


@dataclass(eq=False)
class Write:
    """One attempt at writing one value into one register."""

    value: Value
    sent: float
    acked: float | None = None  # None while in flight, and for ever when the answer was lost
    uncertain: bool = False


@dataclass
class Register:
    """The writes of one property of one task that a read may still observe."""

    writes: list[Write] = field(default_factory=list)

    def allowed(self, start: float, end: float) -> list[Value]:
        """The values a read that ran from `start` to `end` may return (module docstring)."""
        overwritten_before = max(
            (w.sent for w in self.writes if w.acked is not None and w.acked < start), default=-math.inf
        )
        return [
            w.value
            for w in self.writes
            if w.sent < end and (w.acked is None or w.acked >= overwritten_before)
        ]

    def prune(self, cutoff: float) -> None:
        """Forget writes no read starting at `cutoff` or later can observe any more."""
        overwritten_before = max(
            (w.sent for w in self.writes if w.acked is not None and w.acked < cutoff), default=-math.inf
        )
        self.writes = [w for w in self.writes if w.acked is None or w.acked >= overwritten_before]


@dataclass(eq=False)
class TaskModel:
    """One task as the client knows it: its registers, reads in flight, and its deletion."""

    task_id: str
    tenant: int
    registers: dict[str, Register] = field(default_factory=dict)
    reads: dict[int, float] = field(default_factory=dict)  # in-flight reads: token -> start
    delete_sent: float | None = None
    deleted: float | None = None  # when the delete was acknowledged
    delete_uncertain: bool = False
    etag: str | None = None  # the last one seen, for If-Match (stale ones are welcome: a 412)

    @classmethod
    def created(
        cls, task_id: str, tenant: int, *, values: dict[str, Value], sent: float, acked: float
    ) -> TaskModel:
        registers = {name: Register([Write(values.get(name), sent, acked)]) for name in REGISTERS}
        return cls(task_id, tenant, registers)

    def deletable_by(self, end: float) -> bool:
        """Whether a request answered at `end` may have found the task gone (404)."""
        return self.delete_sent is not None and self.delete_sent < end

    def check_read(self, body: dict[str, object], *, start: float, end: float) -> list[str]:
        """What in an entity read from `start` to `end` no acknowledged write explains."""
        problems = []
        for name in REGISTERS:
            if name not in body:
                continue
            value = body[name]
            allowed = self.registers[name].allowed(start, end)
            if value not in allowed:
                problems.append(f"{self.task_id} {name}={value!r}, expected one of {allowed[-4:]!r}")
        return problems


_tokens = itertools.count()


@dataclass
class TenantModel:
    """One tenant's tasks: the live ones (the soak picks targets among them), those being deleted, and
    the deleted ones (which must stay gone)."""

    index: int
    tenant_id: str
    marker: str
    live: list[TaskModel] = field(default_factory=list)
    tasks: dict[str, TaskModel] = field(default_factory=dict)  # live and being deleted
    deleted: dict[str, TaskModel] = field(default_factory=dict)
    lists: dict[int, float] = field(default_factory=dict)  # list reads in flight: token -> start
    uncertain_creates: int = 0
    unknown_listed: set[str] = field(default_factory=set)  # ids listed before their create's answer

    def add(self, task: TaskModel) -> None:
        self.tasks[task.task_id] = task
        self.live.append(task)

    def retire(self, task: TaskModel) -> None:
        """Out of the pool the soak picks from (a delete is under way); still in `tasks`."""
        index = self.live.index(task)
        self.live[index] = self.live[-1]
        self.live.pop()

    def restore(self, task: TaskModel) -> None:
        task.delete_sent = None
        self.live.append(task)

    def gone(self, task: TaskModel, acked: float) -> None:
        task.deleted = acked
        self.tasks.pop(task.task_id, None)
        self.deleted[task.task_id] = task

    def find(self, task_id: str) -> TaskModel | None:
        return self.tasks.get(task_id) or self.deleted.get(task_id)

    def begin_list(self, start: float) -> int:
        token = next(_tokens)
        self.lists[token] = start
        return token

    def end_list(self, token: int) -> None:
        del self.lists[token]


def begin_read(task: TaskModel, start: float) -> int:
    token = next(_tokens)
    task.reads[token] = start
    return token


def end_read(task: TaskModel, token: int) -> None:
    del task.reads[token]


def prune(task: TaskModel, tenant: TenantModel, *, now: float) -> None:
    """Drop the task's overwritten writes that no read in flight (a GET or a list) can still see."""
    cutoff = min(itertools.chain(task.reads.values(), tenant.lists.values(), (now,)))
    for register in task.registers.values():
        register.prune(cutoff)


def record_writes(task: TaskModel, values: dict[str, Value], *, sent: float) -> list[tuple[Register, Write]]:
    """Put an attempt's values in their registers (it is in flight from now on)."""
    placed = []
    for name, value in values.items():
        write = Write(value, sent)
        task.registers[name].writes.append(write)
        placed.append((task.registers[name], write))
    return placed


def settle(placed: Iterable[tuple[Register, Write]], *, acked: float | None, applied: bool | None) -> None:
    """An attempt's outcome: applied (acknowledged at `acked`), not applied, or unknown (None)."""
    for register, write in placed:
        if applied is None:
            write.uncertain = True
        elif applied:
            write.acked = acked
        else:
            register.writes.remove(write)
