"""Edm.DateTimeOffset literals: parsing and formatting.

Instants are held as .NET ticks (100 ns since 0001-01-01T00:00:00Z), the precision Graph uses (seven
fractional digits). Ticks are plain integers, so they order and compare the same in Python, SQLite and
PostgreSQL. The offset a client sent is not kept: every instant is emitted in UTC with a 'Z'.

Pure functions; knows nothing of properties or HTTP.
"""

from __future__ import annotations

import re
from datetime import date

TICKS_PER_SECOND = 10_000_000
SECONDS_PER_DAY = 86_400
# 9999-12-31T23:59:59.9999999Z, DateTimeOffset.MaxValue.
MAX_TICKS = date(9999, 12, 31).toordinal() * SECONDS_PER_DAY * TICKS_PER_SECOND - 1
# The "unset" value Intune emits for non-nullable dates: 0001-01-01T00:00:00Z.
MIN_TICKS = 0

# ISO 8601 extended format as OData's dateTimeOffsetValue (OData ABNF), with two leniencies clients
# rely on: seconds may be left out, and a missing offset means UTC (the SDK sends naive datetimes
# without one: docs/graph-behaviour.md, "Requests the SDK sends").
_DATETIME_OFFSET = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,7}))?)?"
    r"(?P<offset>Z|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def parse_datetime_offset(text: str) -> int:
    """Return the instant `text` names, in ticks; ValueError if it is not a valid DateTimeOffset."""
    match = _DATETIME_OFFSET.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    parts = match.groupdict()
    hour, minute, second = int(parts["hour"]), int(parts["minute"]), int(parts["second"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"time of day out of range: {text!r}")
    day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))  # validates the calendar date
    seconds = (day.toordinal() - 1) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second
    seconds -= _offset_seconds(parts["offset"])
    fraction = int((parts["fraction"] or "").ljust(7, "0"))
    ticks = seconds * TICKS_PER_SECOND + fraction
    if not MIN_TICKS <= ticks <= MAX_TICKS:
        raise ValueError(f"date-time outside 0001-01-01..9999-12-31 UTC: {text!r}")
    return ticks


def _offset_seconds(offset: str | None) -> int:
    if offset is None or offset == "Z":
        return 0
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    # .NET DateTimeOffset allows offsets up to ±14:00.
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        raise ValueError(f"offset out of range: {offset!r}")
    sign = -1 if offset[0] == "-" else 1
    return sign * (hours * 3600 + minutes * 60)


def format_datetime_offset(ticks: int) -> str:
    """The ISO 8601 UTC form of `ticks`, with up to seven fractional digits (trailing zeros cut)."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    days, second_of_day = divmod(seconds, SECONDS_PER_DAY)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    text = f"{date.fromordinal(days + 1).isoformat()}T{hour:02d}:{minute:02d}:{second:02d}"
    digits = f"{fraction:07d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def ticks_from_unix_ns(nanoseconds: int) -> int:
    """Ticks for a Unix time in nanoseconds (as time.time_ns() gives it)."""
    return _UNIX_EPOCH_TICKS + nanoseconds // 100


_UNIX_EPOCH_TICKS = (date(1970, 1, 1).toordinal() - 1) * SECONDS_PER_DAY * TICKS_PER_SECOND
