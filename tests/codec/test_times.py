"""SMPP time strings (smsc.smpp.times): validation, parsing with a given `now`, formatting."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from smsc.smpp.times import format_absolute, format_relative, is_valid_time, parse_time

NOW = datetime(2026, 1, 31, 10, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["", "261123120000000+", "261123120000948-", "000229235959900+",
                                  "000000000000000R", "991299235959000R"])
def test_valid(text):
    assert is_valid_time(text)


@pytest.mark.parametrize("text", [
    "26112312000000+",     # 15 characters
    "2611231200000000+",   # 17
    "261123120000000X",    # bad sign
    "261323120000000+",    # month 13
    "261100120000000+",    # day 0
    "260230120000000+",    # 30 February
    "261123240000000+",    # hour 24
    "261123126000000+",    # minute 60
    "261123120060000+",    # second 60
    "261123120000049+",    # offset over 48 quarter hours
    "2611231200000 0+",    # not a digit
    "26112312000000\u00b2+",  # a digit, but not ASCII
    "00000a000000000R",
])
def test_invalid(text):
    assert not is_valid_time(text)
    with pytest.raises(ValueError):
        parse_time(text, NOW)


def test_parse_absolute_keeps_its_offset():
    moment = parse_time("261123120000508-", NOW)
    assert moment == datetime(2026, 11, 23, 12, 0, 0, 500_000, tzinfo=timezone(-timedelta(hours=2)))
    assert moment == datetime(2026, 11, 23, 14, 0, 0, 500_000, tzinfo=timezone.utc)


def test_parse_relative_adds_to_now_in_calendar_months():
    assert parse_time("000001020304000R", NOW) == NOW + timedelta(days=1, hours=2, minutes=3, seconds=4)
    # 31 January + 1 month is the end of February, then + 1 year.
    assert parse_time("010100000000000R", NOW) == datetime(2027, 2, 28, 10, 0, tzinfo=timezone.utc)


def test_parse_empty_is_none():
    assert parse_time("", NOW) is None


def test_format_absolute():
    tz = timezone(timedelta(hours=5, minutes=45))  # Nepal: a whole number of quarter hours
    assert format_absolute(datetime(2026, 3, 4, 5, 6, 7, 800_000, tzinfo=tz)) == "260304050607823+"
    assert format_absolute(datetime(2026, 3, 4, 5, 6, 7)) == "260304050607000+"  # naive = UTC
    odd = timezone(timedelta(minutes=10))  # not a quarter hour: written in UTC
    assert format_absolute(datetime(2026, 3, 4, 5, 6, 7, tzinfo=odd)) == "260304045607000+"
    with pytest.raises(ValueError):
        format_absolute(datetime(1999, 12, 31, tzinfo=timezone.utc))


def test_format_relative():
    assert format_relative(timedelta(days=2, hours=3, minutes=4, seconds=5, milliseconds=600)) == "000002030405000R"
    for bad in (timedelta(days=100), timedelta(seconds=-1)):
        with pytest.raises(ValueError):
            format_relative(bad)


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                       timezones=st.integers(-48, 48).map(lambda q: timezone(q * timedelta(minutes=15))))


@settings(max_examples=200)
@given(moment=moments)
def test_absolute_round_trip_to_the_tenth_of_a_second(moment):
    text = format_absolute(moment)
    assert is_valid_time(text)
    assert parse_time(text, NOW) == moment.replace(microsecond=moment.microsecond // 100_000 * 100_000)


@settings(max_examples=200)
@given(span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=99, hours=23, minutes=59, seconds=59)))
def test_relative_round_trip_to_the_second(span):
    text = format_relative(span)
    assert is_valid_time(text)
    assert parse_time(text, NOW) - NOW == timedelta(days=span.days, seconds=span.seconds)
