"""The query benchmark's names and records: the queries' labels and paths, the nextLink walk, the page
checks and what one backend's pass measured. Shared by query.py (which fills them) and query_report.py
(which prints them); no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.tasks import FIRST_PAGE_PATH, PAGE_OPTIONS, PAGE_SIZE, STATUS, query_path
from bench.wrk import TASKS_PATH, Result

ANALYZED = "graphtasks seed ends with ANALYZE (SQLite) / VACUUM ANALYZE (PostgreSQL)"
GET_BY_ID = "get by id"
FIRST_PAGE = "page 1: $filter + $orderby, $top=100"
COUNT = "/$count with $filter"
SELECT = "$select=displayName,status, $top=100"


COUNT_PATH = query_path(f"{TASKS_PATH}/$count", PAGE_OPTIONS[:1])
SELECT_PATH = query_path(TASKS_PATH, [("$select", "displayName,status"), ("$top", str(PAGE_SIZE))])


@dataclass
class Walk:
    """Following @odata.nextLink from page 1 to the deep page; the time is the requests' alone."""

    requested_page: int
    reached_page: int = 1
    links_followed: int = 0
    seconds: float = 0.0
    path: str = FIRST_PAGE_PATH

    @property
    def per_page_ms(self) -> float:
        return self.seconds * 1000 / self.links_followed if self.links_followed else 0.0

    @property
    def label(self) -> str:
        return f"page {self.reached_page} via nextLink, $top=100"


def instant(value: str) -> str:
    """A UTC DateTimeOffset as text that sorts in time order: graphtasks writes up to 7 fractional
    digits with trailing zeros trimmed ('...:06.79Z'), so the fraction is padded back to 7."""
    seconds, _, fraction = value.removesuffix("Z").partition(".")
    return f"{seconds}.{fraction:0<7}"


@dataclass
class PageChecker:
    """Checks the pages of the filtered query in order: full (but the last), pending, createdDateTime
    descending, no id twice."""

    seen: set[str] = field(default_factory=set)
    last_created: str | None = None

    def check(self, number: int, body: dict[str, Any], problems: list[str]) -> None:
        items: list[dict[str, Any]] = body.get("value", [])
        if len(items) != PAGE_SIZE and "@odata.nextLink" in body:
            problems.append(f"page {number}: {len(items)} tasks and a nextLink, expected {PAGE_SIZE}")
        if not 0 < len(items) <= PAGE_SIZE:
            problems.append(f"page {number}: {len(items)} tasks, expected 1 to {PAGE_SIZE}")
        for item in items:
            if item.get("status") != STATUS:
                problems.append(f"page {number}: task {item.get('id')} has status {item.get('status')!r}")
            if item["id"] in self.seen:
                problems.append(f"page {number}: task {item['id']} was already on an earlier page")
            created = instant(str(item.get("createdDateTime")))
            if self.last_created is not None and created > self.last_created:
                problems.append(f"page {number}: createdDateTime {created} after {self.last_created}")
            self.seen.add(item["id"])
            self.last_created = created


@dataclass
class BackendRun:
    """Everything measured and checked on one backend, as printed and written to the JSON file."""

    backend: str
    tasks: int
    seed_seconds: float = 0.0
    seed_rows_per_s: float = 0.0
    matching: int | None = None
    walk: Walk | None = None
    database: dict[str, Any] = field(default_factory=dict)
    load_average_before_wrk: float = 0.0
    results: list[Result] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Not failures: e.g. too few tasks for the deep page asked for.
    notes: list[str] = field(default_factory=list)
    serial_first_page_ms: float | None = None
    serial_deep_page_ms: float | None = None

    def p50(self, query: str) -> float | None:
        return next((r.p50_ms for r in self.results if r.target == query), None)
