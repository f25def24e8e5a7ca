"""SMPP time strings (section 7.1.1): "YYMMDDhhmmsstnnp", 16 characters, or empty.

`p` is '+' or '-' for an absolute time, `nn` its offset from UTC in quarter hours and `t`
tenths of a second; 'R' makes it relative: YY years, MM months, DD days... from now (t and
nn unused). Years are 2000 + YY: the format has no century.

The codec only validates (`is_valid_time`, no clock, no I/O); the gateway parses with a
`now` it passes in, so tests never depend on the real clock.
"""
from __future__ import annotations

import calendar
import functools
from datetime import datetime, timedelta, timezone

TIME_LENGTH = 16
QUARTER_HOUR = timedelta(minutes=15)
MAX_OFFSET_QUARTERS = 48  # section 7.1.1.1: nn is 00-48
MAX_RELATIVE_DAYS = 99  # DD has two digits; longer spans would need calendar years/months


@functools.lru_cache(maxsize=4096)
def is_valid_time(text: str) -> bool:
    """True when `text` is empty or a well-formed absolute or relative SMPP time. (Cached:
    the codec checks every time field of every PDU, and a stream of submits repeats the
    same few validity periods.)"""
    if not text:
        return True
    if len(text) != TIME_LENGTH or not text[:15].isdigit() or not text[:15].isascii():
        return False
    sign = text[15]
    if sign == "R":
        return True
    if sign != "+" and sign != "-":
        return False
    # Field by field, no calendar call: the codec checks every time field it decodes.
    month, day = int(text[2:4]), int(text[4:6])
    if not 1 <= month <= 12 or day < 1:
        return False
    # Years are 2000-2099: every fourth is a leap year (2000 too, being a 400th).
    days = 29 if month == 2 and int(text[0:2]) % 4 == 0 else _DAYS_IN_MONTH[month]
    return (day <= days and int(text[6:8]) < 24 and int(text[8:10]) < 60 and int(text[10:12]) < 60
            and int(text[13:15]) <= MAX_OFFSET_QUARTERS)


_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse_time(text: str, now: datetime) -> datetime | None:
    """The moment an SMPP time names: None when empty, an aware datetime with the
    string's UTC offset when absolute, `now` plus the span when relative. ValueError
    when the string is not a valid SMPP time."""
    if not text:
        return None
    if not is_valid_time(text):
        raise ValueError(f"not an SMPP time: {text!r}")
    year, month, day, hour, minute, second = (int(text[i:i + 2]) for i in range(0, 12, 2))
    if text[15] == "R":
        return _add_months(now, year * 12 + month) + timedelta(
            days=day, hours=hour, minutes=minute, seconds=second
        )
    offset = int(text[13:15]) * QUARTER_HOUR
    tz = timezone(offset if text[15] == "+" else -offset)
    return datetime(2000 + year, month, day, hour, minute, second, int(text[12]) * 100_000, tzinfo=tz)


def _add_months(moment: datetime, months: int) -> datetime:
    # Calendar months, the day clamped to the month's end (Jan 31 + 1 month = Feb 28/29).
    years, month0 = divmod(moment.month - 1 + months, 12)
    year = moment.year + years
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def format_absolute(moment: datetime) -> str:
    """`moment` as an absolute SMPP time. A naive datetime is taken as UTC; an offset that
    is not whole quarter hours (or beyond 12 hours) is converted to UTC, which the format
    can express. Years must be 2000-2099."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    offset = moment.utcoffset() or timedelta(0)
    quarters, rest = divmod(abs(offset), QUARTER_HOUR)
    if rest or quarters > MAX_OFFSET_QUARTERS:
        moment, offset, quarters = moment.astimezone(timezone.utc), timedelta(0), 0
    if not 2000 <= moment.year <= 2099:
        raise ValueError(f"year {moment.year} cannot be written as an SMPP time")
    sign = "-" if offset < timedelta(0) else "+"
    return f"{moment:%y%m%d%H%M%S}{moment.microsecond // 100_000}{quarters:02d}{sign}"


def format_relative(span: timedelta) -> str:
    """`span` as a relative SMPP time, in days/hours/minutes/seconds (fractions of a
    second dropped: t is unused in relative times). ValueError when negative or 100 days
    or more (longer spans need calendar years and months, which are not fixed lengths)."""
    if span < timedelta(0) or span.days > MAX_RELATIVE_DAYS:
        raise ValueError(f"relative SMPP time must be 0 to {MAX_RELATIVE_DAYS} days: {span}")
    hours, rest = divmod(span.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"0000{span.days:02d}{hours:02d}{minutes:02d}{seconds:02d}000R"
