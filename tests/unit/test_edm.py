"""graphtasks.model.edm: Edm.DateTimeOffset literals <-> .NET ticks (100 ns since 0001-01-01T00:00:00Z).

Expected ticks are .NET's own constants (DateTimeOffset.MinValue/MaxValue, DateTime.UnixEpoch), not
values computed by the code under test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphtasks.model.edm import MAX_TICKS, MIN_TICKS, format_datetime_offset, parse_datetime_offset

# .NET: DateTimeOffset.MaxValue.UtcTicks, DateTime.UnixEpoch.Ticks, new DateTime(2017, 1, 1).Ticks.
DOTNET_MAX_TICKS = 3_155_378_975_999_999_999
DOTNET_UNIX_EPOCH_TICKS = 621_355_968_000_000_000
DOTNET_2017_TICKS = 636_188_256_000_000_000
TICKS_PER_SECOND = 10_000_000

EPOCH = datetime(1, 1, 1, tzinfo=UTC)
# A strict ISO 8601 UTC instant as Graph emits it: 4-digit year, real calendar fields, 'Z', and a
# fraction of 1..7 digits without trailing zeros (or none at all).
STRICT_UTC = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{0,6}[1-9])?Z"
)


def test_bounds_are_the_dotnet_ones() -> None:
    assert (MIN_TICKS, MAX_TICKS) == (0, DOTNET_MAX_TICKS)


@pytest.mark.parametrize(
    ("text", "ticks"),
    [
        ("0001-01-01T00:00:00Z", 0),
        ("0001-01-01T00:00:00.0000001Z", 1),
        ("9999-12-31T23:59:59.9999999Z", DOTNET_MAX_TICKS),
        ("1970-01-01T00:00:00Z", DOTNET_UNIX_EPOCH_TICKS),
        ("2017-01-01T00:00:00Z", DOTNET_2017_TICKS),
        ("2017-01-01T00:00:00", DOTNET_2017_TICKS),
        ("2017-01-01T00:00", DOTNET_2017_TICKS),
        ("2017-01-01T00:00:00+00:00", DOTNET_2017_TICKS),
        ("2017-01-01T00:00:00-00:00", DOTNET_2017_TICKS),
        ("2017-01-01T01:00:00+01:00", DOTNET_2017_TICKS),
        ("2016-12-31T16:00:00-08:00", DOTNET_2017_TICKS),
        ("2017-01-01T14:00:00+14:00", DOTNET_2017_TICKS),
        ("2016-12-31T10:00:00-14:00", DOTNET_2017_TICKS),
        ("2017-01-01T05:30:00+05:30", DOTNET_2017_TICKS),
        # The dueDateTime of the "Create securityConfigurationTask" page's example.
        (
            "2017-01-01T00:02:18.1994089-08:00",
            DOTNET_2017_TICKS + (8 * 3600 + 138) * TICKS_PER_SECOND + 1994089,
        ),
    ],
)
def test_parse_gives_ticks(text: str, ticks: int) -> None:
    assert parse_datetime_offset(text) == ticks


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2017-01-01T00:02:18.1994089-08:00", "2017-01-01T08:02:18.1994089Z"),
        ("2017-01-01T00:02:18Z", "2017-01-01T00:02:18Z"),
        ("2017-01-01T00:02:18", "2017-01-01T00:02:18Z"),
        ("2017-01-01T00:02", "2017-01-01T00:02:00Z"),
        ("2017-01-01T00:02+01:00", "2016-12-31T23:02:00Z"),
        ("2017-01-01T00:02:18.1Z", "2017-01-01T00:02:18.1Z"),
        ("2017-01-01T00:02:18.12Z", "2017-01-01T00:02:18.12Z"),
        ("2017-01-01T00:02:18.123Z", "2017-01-01T00:02:18.123Z"),
        ("2017-01-01T00:02:18.1234Z", "2017-01-01T00:02:18.1234Z"),
        ("2017-01-01T00:02:18.12345Z", "2017-01-01T00:02:18.12345Z"),
        ("2017-01-01T00:02:18.123456Z", "2017-01-01T00:02:18.123456Z"),
        ("2017-01-01T00:02:18.1234567Z", "2017-01-01T00:02:18.1234567Z"),
        ("2017-01-01T00:02:18.1000000Z", "2017-01-01T00:02:18.1Z"),
        ("2017-01-01T00:02:18.0000000Z", "2017-01-01T00:02:18Z"),
        ("2017-01-01T00:02:18.0Z", "2017-01-01T00:02:18Z"),
        ("2017-01-01T00:02:18.0000001Z", "2017-01-01T00:02:18.0000001Z"),
        ("2020-02-29T12:00:00+14:00", "2020-02-28T22:00:00Z"),
        ("2020-02-29T12:00:00-14:00", "2020-03-01T02:00:00Z"),
        ("2016-12-31T23:59:59.9999999-00:01", "2017-01-01T00:00:59.9999999Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ("0001-01-01T01:00:00+01:00", "0001-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999Z"),
        ("9999-12-31T22:59:59.9999999-01:00", "9999-12-31T23:59:59.9999999Z"),
    ],
)
def test_parse_then_format_gives_utc(text: str, utc: str) -> None:
    assert format_datetime_offset(parse_datetime_offset(text)) == utc


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2017-13-01T00:00:00Z", id="month-13"),
        pytest.param("2017-00-01T00:00:00Z", id="month-0"),
        pytest.param("2017-01-32T00:00:00Z", id="day-32"),
        pytest.param("2017-01-00T00:00:00Z", id="day-0"),
        pytest.param("2017-02-29T00:00:00Z", id="feb-29-non-leap"),
        pytest.param("2017-04-31T00:00:00Z", id="april-31"),
        pytest.param("0000-01-01T00:00:00Z", id="year-0"),
        pytest.param("2017-01-01T24:00:00Z", id="hour-24"),
        pytest.param("2017-01-01T23:60:00Z", id="minute-60"),
        pytest.param("2017-01-01T23:59:60Z", id="leap-second"),
        pytest.param("2017-01-01T00:00:00.12345678Z", id="8-fraction-digits"),
        pytest.param("2017-01-01T00:00:00.Z", id="dot-without-digits"),
        pytest.param("2017-01-01T00:00:00+15:00", id="offset-15h"),
        pytest.param("2017-01-01T00:00:00-15:00", id="offset-minus-15h"),
        pytest.param("2017-01-01T00:00:00+14:01", id="offset-just-over-14h"),
        pytest.param("2017-01-01T00:00:00+01:60", id="offset-minute-60"),
        pytest.param("2017-01-01T00:00:00+0100", id="offset-without-colon"),
        pytest.param("2017-01-01T00:00:00+01", id="offset-hours-only"),
        pytest.param("2017-01-01t00:00:00Z", id="lowercase-t"),
        pytest.param("2017-01-01T00:00:00z", id="lowercase-z"),
        pytest.param("2017-01-01 00:00:00Z", id="space-separator"),
        pytest.param("2017-01-01", id="date-only"),
        pytest.param("2017-01-01T00", id="hour-only"),
        pytest.param("2017-1-01T00:00:00Z", id="one-digit-month"),
        pytest.param("17-01-01T00:00:00Z", id="two-digit-year"),
        pytest.param("2017-01-01T00:00:00Zjunk", id="trailing-junk"),
        pytest.param("2017-01-01T00:00:00Z ", id="trailing-space"),
        pytest.param(" 2017-01-01T00:00:00Z", id="leading-space"),
        pytest.param("2017-01-01T00:00:00Z\n", id="trailing-newline"),
        pytest.param("\u0662\u0660\u0661\u0667-01-01T00:00:00Z", id="arabic-indic-digits"),
        pytest.param("", id="empty"),
        pytest.param("0001-01-01T00:00:00+00:01", id="before-min-after-offset"),
        pytest.param("0001-01-01T00:59:59.9999999+01:00", id="one-tick-before-min"),
        pytest.param("9999-12-31T23:59:59.9999999-00:01", id="after-max-after-offset"),
        pytest.param("9999-12-31T23:00:00-01:00", id="exactly-one-hour-past-max-day"),
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime_offset(text)


@given(st.integers(min_value=MIN_TICKS, max_value=MAX_TICKS))
def test_format_then_parse_round_trips(ticks: int) -> None:
    assert parse_datetime_offset(format_datetime_offset(ticks)) == ticks


# Offsets .NET DateTimeOffset accepts: whole minutes within +-14:00.
_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@settings(deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)), _OFFSETS
)
def test_parse_of_python_isoformat_matches_datetime_arithmetic(naive: datetime, offset: timezone) -> None:
    aware = naive.replace(tzinfo=offset)
    # Aware subtraction works on the UTC instants without building an out-of-range datetime.
    expected = (aware - EPOCH) // timedelta(microseconds=1) * 10
    if MIN_TICKS <= expected <= MAX_TICKS:
        assert parse_datetime_offset(aware.isoformat()) == expected
    else:
        with pytest.raises(ValueError, match=r"outside 0001-01-01\.\.9999-12-31 UTC"):
            parse_datetime_offset(aware.isoformat())


@given(st.integers(min_value=MIN_TICKS, max_value=MAX_TICKS))
def test_format_is_strict_utc_iso8601(ticks: int) -> None:
    text = format_datetime_offset(ticks)
    assert STRICT_UTC.fullmatch(text), text


@given(st.integers(min_value=MIN_TICKS, max_value=MAX_TICKS))
def test_format_is_read_back_by_python(ticks: int) -> None:
    text = format_datetime_offset(ticks)
    main, _, fraction = text.removesuffix("Z").partition(".")
    python_text = f"{main}.{fraction[:6]}+00:00" if fraction else f"{main}+00:00"
    assert datetime.fromisoformat(python_text) == EPOCH + timedelta(microseconds=ticks // 10)
