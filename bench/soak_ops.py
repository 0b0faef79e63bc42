"""The soak's requests: a mixed load of creates, PATCHes (plain, If-Match, return=representation),
updateStatus, GETs, lists, counts, deletes and cross-tenant probes, every answer checked against the
model (soak_model.py) as it arrives.

Owns the request bodies and the retry of 429/503/504 (after Retry-After: the attempt did nothing, so
it is never a write); never starts a server and never reads the database.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bench.soak_checks import RETRYABLE, Tally, code_of, error_problem, ownership_problem, retry_after
from bench.soak_model import (
    NOTE,
    PATCHABLE,
    Register,
    TaskModel,
    TenantModel,
    Value,
    Write,
    begin_read,
    end_read,
    prune,
    record_writes,
    settle,
)

TASKS_PATH = "/beta/deviceAppManagement/deviceAppManagementTasks"
NOTE_PREFER = 'odata.include-annotations="graphtasks.statusNote"'
TYPES = ("#microsoft.graph.securityConfigurationTask", "#microsoft.graph.appVulnerabilityTask")
ENUMS: dict[str, tuple[str, ...]] = {
    "priority": ("none", "high", "low"),
    "status": ("unknown", "pending", "active", "completed", "rejected"),
}
# Operation weights while a tenant holds fewer live tasks than the target, and once it holds more:
# creates and deletes trade places, so the table (and what a list costs) stays about the same size.
GROW = {
    "create": 14,
    "patch": 24,
    "update_status": 14,
    "get": 16,
    "list": 8,
    "count": 3,
    "delete": 4,
    "probe": 8,
}
SHRINK = {**GROW, "create": 6, "delete": 12}
# Writes go to a tenant's first few live tasks this often, so that many requests race on one task.
HOT_SHARE, HOT_TASKS = 0.3, 4
# How long past the end of the load a write may keep retrying a 429/503/504.
RETRY_GRACE_S = 30.0

Placed = list[tuple[Register, Write]]
# Each worker sends on its own one-connection client: httpcore's pool scans every connection of the
# pool for each request, which with one shared pool of 32 took more client CPU than the requests did.
_HTTP: contextvars.ContextVar[httpx.AsyncClient] = contextvars.ContextVar("soak_http")


@dataclass(frozen=True)
class Lane:
    """A tenant and the bearer header of one of its apps."""

    tenant: TenantModel
    headers: dict[str, str]


@dataclass(frozen=True)
class Call:
    """One request of one operation, sent as often as a retryable answer asks."""

    op: str
    method: str
    url: str
    headers: dict[str, str]
    body: Any = None


@dataclass(frozen=True)
class Answer:
    response: httpx.Response | None  # None: no answer (a transport error)
    sent: float
    end: float

    @property
    def status(self) -> int:
        return 0 if self.response is None else self.response.status_code

    @property
    def inconclusive(self) -> bool:
        """No answer, or a 500: the write may or may not have happened (429/503/504 promise it did not)."""
        return self.response is None or (self.status >= 500 and self.status not in RETRYABLE)


def now() -> float:
    return time.monotonic()


class SoakRun:
    """The load: `concurrency` workers, each picking a tenant, an app and an operation at random."""

    def __init__(self, base_url: str, lanes: list[Lane], *, deadline: float, target_live: int) -> None:
        self.base_url = base_url
        self.lanes = lanes
        self.tenants = list({id(lane.tenant): lane.tenant for lane in lanes}.values())
        self.deadline = deadline
        self.target_live = target_live
        self.tally = Tally()
        self._seq = itertools.count(1)
        self._ops: dict[str, Callable[[Lane, random.Random], Awaitable[None]]] = {
            "create": self.create,
            "patch": self.patch,
            "update_status": self.update_status,
            "get": self.get,
            "list": self.list,
            "count": self.count,
            "delete": self.delete,
            "probe": self.probe,
        }

    async def worker(self, seed: int) -> None:
        rng = random.Random(seed)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=60.0) as http:
            _HTTP.set(http)
            while now() < self.deadline:
                lane = rng.choice(self.lanes)
                weights = GROW if len(lane.tenant.live) < self.target_live else SHRINK
                op = rng.choices(list(weights), weights=list(weights.values()))[0]
                await self._ops[op](lane, rng)

    # --- sending ---

    async def _send(self, call: Call) -> httpx.Response | None:
        self.tally.requests += 1
        try:
            return await _HTTP.get().request(call.method, call.url, headers=call.headers, json=call.body)
        except httpx.TransportError:
            return None

    async def attempts(
        self, call: Call, *, task: TaskModel | None = None, values: dict[str, Value] | None = None
    ) -> tuple[Answer, Placed]:
        """Send until the answer is not a retryable one (or the grace after the load has run out); the
        values the call writes into `task` are placed in the model afresh for each attempt."""
        while True:
            sent = now()
            placed = record_writes(task, values, sent=sent) if task is not None and values else []
            response = await self._send(call)
            end = now()
            if (
                response is None
                or response.status_code not in RETRYABLE
                or end > self.deadline + RETRY_GRACE_S
            ):
                return Answer(response, sent, end), placed
            settle(placed, acked=None, applied=False)
            self.tally.retried[(call.op, response.status_code)] += 1
            self._check_error(call.op, response)
            await asyncio.sleep(retry_after(response))

    def judge(self, op: str, answer: Answer, *, ok: bool) -> bool:
        """Count the answer; a retryable one that outlived the grace is 'not done', never an error."""
        expected = ok or answer.status in RETRYABLE
        self.tally.answer(op, answer.response, expected=expected)
        if answer.response is not None and answer.status >= 400:
            self._check_error(op, answer.response)
        return expected

    def _check_error(self, op: str, response: httpx.Response) -> None:
        problem = error_problem(response)
        if problem is not None:
            self.tally.problem("unexpected", f"{op}: {problem}")

    def _fate(self, answer: Answer, placed: Placed, *, applied: bool) -> None:
        """Settle an attempt's writes: an answer that says nothing (none, or a 500) leaves them possible."""
        settle(placed, acked=answer.end, applied=None if answer.inconclusive and not applied else applied)

    # --- values ---

    def values(self, tenant: TenantModel, names: list[str], *, rng: random.Random) -> dict[str, Value]:
        """Fresh values: unique strings and numbers (so a read names the write it saw), any enum member."""
        seq = next(self._seq)
        chosen: dict[str, Value] = {}
        for name in names:
            if name in ENUMS:
                chosen[name] = rng.choice(ENUMS[name])
            elif name == "managedDeviceCount":
                # graphtasks accepts 0..65536 here; wrapping can only hide a stale read, never invent one.
                chosen[name] = seq % 65536
            else:
                chosen[name] = f"{tenant.marker} {name} {seq}"
        return chosen

    def pick(self, tenant: TenantModel, rng: random.Random) -> TaskModel | None:
        if not tenant.live:
            return None
        pool = tenant.live[:HOT_TASKS] if rng.random() < HOT_SHARE else tenant.live
        return rng.choice(pool)

    def check_entity(self, lane: Lane, task: TaskModel, *, body: Any, answer: Answer) -> None:
        problem = ownership_problem(body, lane.tenant.marker)
        if problem is not None:
            self.tally.problem("leak", problem)
            return
        for text in task.check_read(body, start=answer.sent, end=answer.end):
            self.tally.problem("stale read", text)

    # --- operations ---

    async def create(self, lane: Lane, rng: random.Random) -> None:
        tenant = lane.tenant
        values = self.values(tenant, list(PATCHABLE), rng=rng)
        body = {"@odata.type": rng.choice(TYPES), **values, "creator": tenant.marker}
        answer, _ = await self.attempts(Call("create", "POST", TASKS_PATH, lane.headers, body))
        self.judge("create", answer, ok=answer.status == 201)
        if answer.inconclusive:
            tenant.uncertain_creates += 1
        if answer.status != 201 or answer.response is None:
            return
        created = answer.response.json()
        problem = ownership_problem(created, tenant.marker)
        if problem is not None or any(created.get(k) != v for k, v in values.items()):
            self.tally.problem("leak" if problem else "unexpected", problem or f"create answered {created}")
            return
        task = TaskModel.created(
            created["id"], tenant.index, values=values, sent=answer.sent, acked=answer.end
        )
        tenant.add(task)

    async def patch(self, lane: Lane, rng: random.Random) -> None:
        task = self.pick(lane.tenant, rng)
        if task is None:
            return
        values = self.values(lane.tenant, rng.sample(PATCHABLE, rng.randint(1, 3)), rng=rng)
        headers, mode = dict(lane.headers), rng.random()
        if mode < 0.15 and task.etag:
            headers["If-Match"] = task.etag
        elif mode < 0.35:
            headers["Prefer"] = f"return=representation,{NOTE_PREFER}"
        url = f"{TASKS_PATH}/{task.task_id}"
        # Registered as a read too: return=representation answers the task as it stood after this write.
        token = begin_read(task, now())
        answer, placed = await self.attempts(
            Call("patch", "PATCH", url, headers, values), task=task, values=values
        )
        end_read(task, token)
        self._settle_write("patch", task, answer=answer, placed=placed, precondition="If-Match" in headers)
        if answer.status == 200 and answer.response is not None:
            task.etag = answer.response.headers.get("etag")
            body = answer.response.json()
            if any(body.get(name) != value for name, value in values.items()):
                self.tally.problem("lost write", f"PATCH {task.task_id} {values} answered {body}")
            self.check_entity(lane, task, body=body, answer=answer)
        prune(task, lane.tenant, now=now())

    async def update_status(self, lane: Lane, rng: random.Random) -> None:
        task = self.pick(lane.tenant, rng)
        if task is None:
            return
        seq = next(self._seq)
        status, note = rng.choice(ENUMS["status"]), f"{lane.tenant.marker} note {seq}"
        values: dict[str, Value] = {"status": status, NOTE: note}
        url = f"{TASKS_PATH}/{task.task_id}/updateStatus"
        body = {"status": status, "note": note}
        call = Call("update_status", "POST", url, lane.headers, body)
        answer, placed = await self.attempts(call, task=task, values=values)
        self._settle_write("update_status", task, answer=answer, placed=placed, precondition=False)
        prune(task, lane.tenant, now=now())

    def _settle_write(
        self, op: str, task: TaskModel, *, answer: Answer, placed: Placed, precondition: bool
    ) -> None:
        status = answer.status
        gone = status == 404 and task.deletable_by(answer.end)
        ok = status in {200, 204} or gone or (status == 412 and precondition)
        self.judge(op, answer, ok=ok)
        self._fate(answer, placed, applied=status in {200, 204})
        if status == 404 and not gone:
            self.tally.problem(
                "lost write", f"{op} {task.task_id}: 404 for an acknowledged task never deleted"
            )

    async def get(self, lane: Lane, rng: random.Random) -> None:
        task = self.pick(lane.tenant, rng)
        if task is None:
            return
        token = begin_read(task, now())
        headers = {**lane.headers, "Prefer": NOTE_PREFER}
        answer, _ = await self.attempts(Call("get", "GET", f"{TASKS_PATH}/{task.task_id}", headers))
        end_read(task, token)
        gone = answer.status == 404 and task.deletable_by(answer.end)
        self.judge("get", answer, ok=answer.status == 200 or gone)
        if answer.status == 404 and not gone:
            self.tally.problem(
                "lost write", f"GET {task.task_id}: 404 for an acknowledged task never deleted"
            )
        if answer.status == 200 and answer.response is not None:
            task.etag = answer.response.headers.get("etag")
            self.check_entity(lane, task, body=answer.response.json(), answer=answer)

    async def list(self, lane: Lane, rng: random.Random) -> None:
        tenant = lane.tenant
        params = {"$top": "100"}
        if rng.random() < 0.5:
            params = {
                "$filter": f"status eq '{rng.choice(ENUMS['status'])}'",
                "$orderby": "createdDateTime desc",
                **params,
            }
        token = tenant.begin_list(now())
        headers = {**lane.headers, "Prefer": NOTE_PREFER}
        url = str(httpx.URL(TASKS_PATH, params=params))
        answer, _ = await self.attempts(Call("list", "GET", url, headers))
        tenant.end_list(token)
        if not self.judge("list", answer, ok=answer.status == 200) or answer.status != 200:
            return
        assert answer.response is not None  # noqa: S101 - a 200 has a response
        for item in answer.response.json()["value"]:
            self._check_listed(lane, item, answer=answer)

    def _check_listed(self, lane: Lane, item: Any, *, answer: Answer) -> None:
        problem = ownership_problem(item, lane.tenant.marker)
        if problem is not None:
            self.tally.problem("leak", problem)
            return
        task = lane.tenant.find(item["id"])
        if task is None:  # its create may not have been answered yet: checked again at the end
            lane.tenant.unknown_listed.add(item["id"])
        elif task.deleted is not None and task.deleted < answer.sent:
            self.tally.problem("lost write", f"task {task.task_id} listed after its delete was acknowledged")
        else:
            self.check_entity(lane, task, body=item, answer=answer)

    async def count(self, lane: Lane, rng: random.Random) -> None:
        answer, _ = await self.attempts(Call("count", "GET", f"{TASKS_PATH}/$count", lane.headers))
        ok = answer.status == 200 and answer.response is not None and answer.response.text.isdigit()
        self.judge("count", answer, ok=ok)

    async def delete(self, lane: Lane, rng: random.Random) -> None:
        tenant = lane.tenant
        task = self.pick(tenant, rng)
        if task is None:
            return
        tenant.retire(task)
        task.delete_sent = now()
        answer, _ = await self.attempts(
            Call("delete", "DELETE", f"{TASKS_PATH}/{task.task_id}", lane.headers)
        )
        self.judge("delete", answer, ok=answer.status == 204)
        if answer.status == 204:
            tenant.gone(task, answer.end)
        elif answer.inconclusive:
            task.delete_uncertain = True
            tenant.gone(task, answer.end)
        else:
            if answer.status == 404:
                self.tally.problem("lost write", f"DELETE {task.task_id}: 404 for a task never deleted")
            tenant.restore(task)

    async def probe(self, lane: Lane, rng: random.Random) -> None:
        """Another tenant's task, through this tenant's token: it must not exist (404), whatever the verb."""
        others = [t for t in self.tenants if t is not lane.tenant and t.live]
        if not others:
            return
        victim = rng.choice(rng.choice(others).live)
        url = f"{TASKS_PATH}/{victim.task_id}"
        method, suffix, body = rng.choice(
            [
                ("GET", "", None),
                ("PATCH", "", {"displayName": f"{lane.tenant.marker} probe"}),
                ("POST", "/updateStatus", {"status": "rejected", "note": lane.tenant.marker}),
                ("DELETE", "", None),
            ]
        )
        answer, _ = await self.attempts(Call("probe", method, url + suffix, lane.headers, body))
        not_found = answer.status == 404 and code_of(answer.response) == "ResourceNotFound"
        self.judge("probe", answer, ok=not_found)
        if 200 <= answer.status < 300:
            self.tally.problem(
                "leak",
                f"{method} {url + suffix} of tenant {victim.tenant} by {lane.tenant.marker}: {answer.status}",
            )
