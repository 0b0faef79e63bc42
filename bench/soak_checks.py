"""What the soak counts and how it judges one answer: outcomes by operation, status and code, and the
three kinds of failure it exists to find (unexpected answers, lost writes, cross-tenant leaks).

Knows the shape of Graph's error body and the tenant marker every task carries; never sends a request.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

# Statuses a client must retry after Retry-After; the server answers them only before any change of
# state (errors.py, Retryable), so such an attempt is never counted as a write.
RETRYABLE = frozenset({429, 503, 504})
# The Graph error code each error status must carry (docs/graph-behaviour.md, "Errors"; 412 and 503 are
# graphtasks' own).
CODES = {
    404: "ResourceNotFound",
    412: "PreconditionFailed",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
# Problems kept word for word per kind; beyond that only counted.
KEEP = 20


@dataclass
class Tally:
    """Every answer by (operation, status, code), and every problem by kind."""

    outcomes: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    unexpected: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    retried: Counter[tuple[str, int]] = field(default_factory=Counter)
    problems: dict[str, list[str]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    def answer(self, op: str, response: httpx.Response | None, *, expected: bool) -> None:
        key = (op, 0 if response is None else response.status_code, code_of(response))
        self.outcomes[key] += 1
        if not expected:
            self.unexpected[key] += 1

    def problem(self, kind: str, text: str) -> None:
        """kind: 'lost write', 'leak', 'stale read', 'phantom write' or 'unexpected'."""
        self.counts[kind] += 1
        kept = self.problems.setdefault(kind, [])
        if len(kept) < KEEP:
            kept.append(text)

    @property
    def lost_writes(self) -> int:
        return self.counts["lost write"]

    @property
    def leaks(self) -> int:
        return self.counts["leak"]

    @property
    def server_errors(self) -> int:
        """5xx answers that were not retryable ones (those are retried, and fine)."""
        return sum(
            n for (_, status, _), n in self.outcomes.items() if status >= 500 and status not in RETRYABLE
        )

    @property
    def failures(self) -> int:
        return sum(self.counts.values()) + sum(self.unexpected.values())


def code_of(response: httpx.Response | None) -> str:
    """The Graph error code of an error answer ('' for a success, 'transport' for no answer)."""
    if response is None:
        return "transport"
    if response.status_code < 400:
        return ""
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "not-graph-shaped"


def error_problem(response: httpx.Response) -> str | None:
    """Why an error answer is not the Graph error its status calls for, or None when it is."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"{response.status_code} with content-type {response.headers.get('content-type')!r}"
    try:
        error = response.json()["error"]
        inner = error["innerError"]
        shaped = isinstance(error["code"], str) and isinstance(error["message"], str)
        shaped = shaped and "request-id" in inner and "date" in inner
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} body is not Graph's error shape: {response.text[:200]!r}"
    if not shaped:
        return f"{response.status_code} error fields of the wrong types: {response.text[:200]!r}"
    wanted = CODES.get(response.status_code)
    if wanted is not None and error["code"] != wanted:
        return f"{response.status_code} with code {error['code']!r}, not {wanted!r}"
    return None


def retry_after(response: httpx.Response) -> float:
    """Seconds to wait before retrying: Retry-After when given, else a short pause of our own."""
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return 0.5


def ownership_problem(item: Any, marker: str) -> str | None:
    """Why an entity is not the caller's tenant's (every task the soak writes carries its marker)."""
    if not isinstance(item, dict):
        return f"not an entity: {item!r:.200}"
    creator, name = item.get("creator"), item.get("displayName")
    if creator != marker or not (isinstance(name, str) and name.startswith(marker)):
        return f"task {item.get('id')} of creator {creator!r}, name {name!r} seen by tenant {marker}"
    return None
