"""System query options: read them from a query string, with OData's and Graph's rules.

- On /beta the `$` prefix is optional (docs/graph-behaviour.md, "Query options"); names are
  matched case-insensitively.
- A system option given twice, or a `$name` OData does not define, is a 400; custom options (no `$`,
  not a system name) are ignored, as OData says.
- Each operation names the options it serves; any other system option gets Intune's
  "Query option 'X' is not allowed" 400, `$search` included (Intune enables it on no collection here).
- `$top` is the page size, as on Graph: at most 1000; a larger value is capped to 1000, never refused
  (but one past Int32, negative or not a number is a 400).
- `$expand` is one level deep: a navigation, after an optional type cast; nested options are refused.
- `$filter` has its own limits (length, nesting, node count: odata/filter.py).
- Values are checked here (syntax only); names are resolved against the model later.

Pure: no HTTP, no storage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from graphtasks.errors import BadRequest, QueryOptionNotAllowed
from graphtasks.odata.ast import Node
from graphtasks.odata.filter import parse_filter

MAX_PAGE_SIZE = 1000
# Navigation segments in one $expand path: the tasks' navigations lead to entities with none of their
# own, so a deeper path can never resolve. ASP.NET OData's default is 2 and Intune's own setting is not
# published; the wording is ASP.NET's.
MAX_EXPAND_DEPTH = 1

# OData 4.01 system query options (lower case, without `$`).
SYSTEM_OPTIONS = frozenset(
    {
        "filter", "select", "orderby", "top", "skip", "count", "expand", "search", "skiptoken",
        "format", "levels", "apply", "compute", "index", "schemaversion", "deltatoken", "id",
    }
)  # fmt: skip
_PATH = re.compile(r"[A-Za-z_][\w.]*(?:/[A-Za-z_][\w.]*)*", re.ASCII)
_ORDER_ITEM = re.compile(rf"\s*({_PATH.pattern})(?:\s+(asc|desc))?\s*", re.ASCII)

Path = tuple[str, ...]


@dataclass(frozen=True)
class OrderKey:
    path: Path
    descending: bool = False

    def __str__(self) -> str:
        return "/".join(self.path) + (" desc" if self.descending else "")


@dataclass(frozen=True)
class QueryOptions:
    filter: Node | None = None
    filter_text: str | None = None
    # None: every property; otherwise the selected paths in the order written.
    select: tuple[Path, ...] | None = None
    orderby: tuple[OrderKey, ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    expand: tuple[Path, ...] = ()
    skiptoken: str | None = None


LIST_OPTIONS = frozenset({"filter", "select", "orderby", "top", "skip", "count", "expand", "skiptoken"})
ENTITY_OPTIONS = frozenset({"select", "expand"})
COUNT_OPTIONS = frozenset({"filter"})


def parse_query(params: Iterable[tuple[str, str]], *, allowed: frozenset[str]) -> QueryOptions:
    """Parse the (name, value) pairs of a query string; `allowed` names the options the operation serves."""
    raw = _system_options(params, allowed)
    filter_text = raw.get("filter")
    return QueryOptions(
        filter=None if filter_text is None else parse_filter(filter_text),
        filter_text=filter_text,
        select=None if "select" not in raw else _select(raw["select"]),
        orderby=() if "orderby" not in raw else _orderby(raw["orderby"]),
        top=None if "top" not in raw else min(_non_negative("top", raw["top"]), MAX_PAGE_SIZE),
        skip=0 if "skip" not in raw else _non_negative("skip", raw["skip"]),
        count=_count(raw.get("count", "false")),
        expand=() if "expand" not in raw else _expand(raw["expand"]),
        skiptoken=raw.get("skiptoken"),
    )


def _system_options(params: Iterable[tuple[str, str]], allowed: frozenset[str]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for raw_name, value in params:
        name = raw_name.removeprefix("$").lower()
        if name not in SYSTEM_OPTIONS:
            if raw_name.startswith("$"):
                raise BadRequest(f"The query parameter '{raw_name}' is not supported.")
            continue
        if name in seen:
            raise BadRequest(
                f"Query option '${name}' was specified more than once, but it must be specified at most once."
            )
        if name not in allowed:
            # Intune names the option in Pascal case: 'Filter', 'Select', 'SkipToken'.
            raise QueryOptionNotAllowed(_pascal(name))
        seen[name] = value
    return seen


def _pascal(name: str) -> str:
    return {"orderby": "OrderBy", "skiptoken": "SkipToken", "deltatoken": "DeltaToken"}.get(
        name, name.capitalize()
    )


def _items(option: str, value: str) -> list[str]:
    items = [item.strip() for item in value.split(",")]
    if not value.strip() or any(not item for item in items):
        raise BadRequest(f"The ${option} query option '{value}' has an empty item.")
    return items


def _select(value: str) -> tuple[Path, ...] | None:
    items = _items("select", value)
    if "*" in items:
        return None
    for item in items:
        if not _PATH.fullmatch(item):
            raise BadRequest(f"Syntax error in the $select query option at '{item}'.")
    return tuple(tuple(item.split("/")) for item in dict.fromkeys(items))


def _orderby(value: str) -> tuple[OrderKey, ...]:
    keys = []
    for item in _items("orderby", value):
        match = _ORDER_ITEM.fullmatch(item)
        if match is None:
            raise BadRequest(f"Syntax error in the $orderby query option at '{item}'.")
        keys.append(OrderKey(tuple(match.group(1).split("/")), descending=match.group(2) == "desc"))
    return tuple(keys)


def _expand(value: str) -> tuple[Path, ...]:
    items = _items("expand", value)
    for item in items:
        if "(" in item:
            raise BadRequest(f"Query options inside $expand are not supported: '{item}'.")
        if item != "*" and not _PATH.fullmatch(item):
            raise BadRequest(f"Syntax error in the $expand query option at '{item}'.")
        if _expand_depth(item) > MAX_EXPAND_DEPTH:
            raise BadRequest(
                "The query specified in the URI is not valid. The request includes a $expand path which "
                f"is too deep. The maximum depth allowed is {MAX_EXPAND_DEPTH}. To increase the limit, set "
                "the 'MaxExpansionDepth' property on EnableQueryAttribute or ODataValidationSettings."
            )
    return tuple(tuple(item.split("/")) for item in dict.fromkeys(items))


def _expand_depth(item: str) -> int:
    """Navigation segments of an $expand path; a leading type cast (a qualified name) is not one."""
    segments = item.split("/")
    return len(segments) - ("." in segments[0])


_DIGITS = re.compile(r"\d{1,10}", re.ASCII)
_INT32_MAX = 2**31 - 1


def _non_negative(option: str, value: str) -> int:
    # ASCII digits within Int32, as ODataLib reads $top and $skip.
    if not _DIGITS.fullmatch(value) or int(value) > _INT32_MAX:
        raise BadRequest(
            f"Invalid value '{value}' for ${option} query option found. "
            f"The ${option} query option requires a non-negative integer value."
        )
    return int(value)


def _count(value: str) -> bool:
    if value not in {"true", "false"}:
        raise BadRequest(f"'{value}' is not a valid count option.")
    return value == "true"
