"""System query options: read them from a query string, with OData's and Graph's rules.

On /beta the `$` prefix is optional (graph-surface.md §3). A system option given twice, or a `$name`
OData does not define, is a 400; custom options (no `$`, not a system name) are ignored, as OData says.
This release serves `$skiptoken` (the server's own paging); the other system options are refused
with Intune's "Query option 'X' is not allowed" until the OData query issue lands.

Pure: no HTTP, no storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from graphtasks.errors import BadRequest, QueryOptionNotAllowed

# OData 4.01 system query options (lower case, without `$`).
SYSTEM_OPTIONS = frozenset(
    {
        "filter",
        "select",
        "orderby",
        "top",
        "skip",
        "count",
        "expand",
        "search",
        "skiptoken",
        "format",
        "levels",
        "apply",
        "compute",
        "index",
        "schemaversion",
        "deltatoken",
        "id",
    }
)


@dataclass(frozen=True)
class QueryOptions:
    skiptoken: str | None = None


def parse_query(params: Iterable[tuple[str, str]], *, allowed: frozenset[str]) -> QueryOptions:
    """Parse the (name, value) pairs of a query string; `allowed` names the options the operation serves."""
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
    return QueryOptions(skiptoken=seen.get("skiptoken"))


def _pascal(name: str) -> str:
    return {"orderby": "OrderBy", "skiptoken": "SkipToken", "deltatoken": "DeltaToken"}.get(
        name, name.capitalize()
    )
