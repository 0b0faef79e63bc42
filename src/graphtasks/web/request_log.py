"""The request log: one line per request (method, path, status, milliseconds, tenant, app id, request-id),
as text or as one JSON object, on the `graphtasks.requests` logger.

Never a token, a secret, a body or a query string: only the path, and the tenant and app a request spoke
for (the guard's principal, or the token endpoint's tenant and client id). The CLI decides where the
logger writes (cli/serve.py); this module only composes the line.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.types import Scope

from graphtasks.auth.tokens import Principal
from graphtasks.config import REQUEST_LOGGER

# Set by a handler that knows who called without a bearer token (the token endpoint): (tenant, app id).
CALLER_STATE = "caller"
# Marks the scope of a request inside a $batch (web/batch.py), so that a batch inside a batch is refused
# however it is spelled, and the journal can tell such requests apart.
BATCH_ITEM = "graphtasks.batch_item"


class RequestLog:
    def __init__(self, log_format: str) -> None:
        self._json = log_format == "json"
        self._logger = logging.getLogger(REQUEST_LOGGER)
        self._clock = _UtcClock()

    def record(self, scope: Scope, status: int | None, elapsed_s: float) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        state = scope.get("state", {})
        tenant, app = caller_of(state)
        fields: dict[str, Any] = {
            "time": self._clock.now(),
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "ms": round(elapsed_s * 1000, 1),
            "tenant": tenant,
            "app": app,
            "requestId": state.get("request_id"),
        }
        self._logger.info(orjson.dumps(fields).decode() if self._json else _text(fields))


def caller_of(state: dict[str, Any]) -> tuple[str | None, str | None]:
    """The tenant and app id a request spoke for, as far as they are known."""
    principal = state.get("principal")
    if isinstance(principal, Principal):
        return principal.tenant_id, principal.client_id or None
    caller = state.get(CALLER_STATE)
    if isinstance(caller, tuple):
        return caller[0], caller[1] or None
    return None, None


def _text(fields: dict[str, Any]) -> str:
    status = "-" if fields["status"] is None else fields["status"]
    return (
        f"{fields['time']} {fields['method']} {_one_word(fields['path'])} {status} {fields['ms']}ms"
        f" tenant={_one_word(fields['tenant'] or '-')} app={_one_word(fields['app'] or '-')}"
        f" request-id={fields['requestId']}"
    )


class _UtcClock:
    """The time as ISO 8601 UTC with milliseconds; the part up to the second is formatted once a second,
    which is most of the cost of formatting a time."""

    def __init__(self) -> None:
        self._second, self._prefix = -1, ""

    def now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1000):03d}Z"


def _one_word(path: str) -> str:
    """A decoded path (or a client id from a form) may hold spaces and line breaks (%20, %0A):
    percent-encode them again, so that no field can split its line or forge another."""
    if " " not in path and path.isprintable():  # nearly always: nothing to encode
        return path
    return "".join(f"%{ord(c):02X}" if c <= " " or c == "\x7f" else c for c in path)
