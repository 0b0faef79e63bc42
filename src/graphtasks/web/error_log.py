"""Unexpected errors on the `graphtasks` logger, in lines bounded however often they strike
(docs/resilience.md, "Internal errors in the log").

No line carries an exception's message: a database error's names the SQL and its parameters (tenant
ids, the values a client sent), and others may echo request data.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("graphtasks")

# At most one line per this many seconds for a site's repeated errors; a site's first error is
# written at once, with its traceback.
ERROR_COUNT_INTERVAL_S = 60.0
# Sites told apart; errors at any site past these share one entry, "other sites".
MAX_ERROR_SITES = 256
# Causes and contexts shown with an error, innermost first, as Python prints them.
_MAX_CHAIN = 8
_OTHER_SITES: tuple[object, ...] = ("other sites",)


@dataclass
class _Site:
    name: str
    last_written: float
    unwritten: int = 0


class ErrorLog:
    """Unexpected errors on the `graphtasks` logger, in lines bounded however often they strike.

    A site is where an error was raised: its type and the code lines its traceback passed through. The
    first error at a site is written with its traceback (frames and exception types: never a message,
    see the module's docstring); later ones at that site are only counted, and the count is written
    with the next of them once `interval_s` has passed since the site's last line. Called on the event
    loop only, so it holds no lock."""

    def __init__(
        self,
        *,
        interval_s: float = ERROR_COUNT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        max_sites: int = MAX_ERROR_SITES,
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._max_sites = max_sites
        self._sites: dict[tuple[object, ...], _Site] = {}

    def record(self, error: BaseException, *, method: str, request_id: str) -> None:
        now, key = self._clock(), _site_key(error)
        if key not in self._sites and len(self._sites) >= self._max_sites:
            key = _OTHER_SITES
        site = self._sites.get(key)
        if site is None:
            site = self._sites[key] = _Site(hashlib.sha256(repr(key).encode()).hexdigest()[:8], now)
            logger.error(
                "unhandled %s in %s request %s (error site %s)\n%s",
                _type_name(error), method, request_id, site.name, _scrubbed_traceback(error),
            )  # fmt: skip
            return
        site.unwritten += 1
        if now - site.last_written >= self._interval_s:
            logger.error(
                "unhandled %s at error site %s: %d more in the last %.0f s (latest: %s request %s)",
                _type_name(error), site.name, site.unwritten, now - site.last_written, method, request_id,
            )  # fmt: skip
            site.last_written, site.unwritten = now, 0


def _site_key(error: BaseException) -> tuple[object, ...]:
    """The error's type and the (file, line) of each frame it was raised through; frames only, never
    their source text or locals, so that building it costs next to nothing."""
    frames = tuple((frame.f_code.co_filename, line) for frame, line in traceback.walk_tb(error.__traceback__))
    return (_type_name(error), frames)


def _scrubbed_traceback(error: BaseException) -> str:
    """Python's traceback text for the error and what caused it, innermost first, with each exception
    named by its type (and its SQLSTATE, for a database error) instead of its message."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < _MAX_CHAIN:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        + _described(exc)
        for exc in reversed(chain)
    ]
    return "\nwhich led to\n".join(parts)


def _described(error: BaseException) -> str:
    code = getattr(error, "sqlstate", None) or getattr(error, "sqlite_errorname", None)
    return f"{_type_name(error)}{f' ({code})' if isinstance(code, str) else ''}: message not logged"


def _type_name(error: BaseException) -> str:
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
