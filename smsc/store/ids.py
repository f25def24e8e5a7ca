"""Message ids: 16 lowercase hex digits of a 64-bit number, time-ordered.

Why this format: ESMEs store our ids (often in fixed-width columns, some as a 64-bit
integer after reading the hex), so they should be short, fixed width and fit an int64;
16 characters sit well inside message_id's 65 octets and every client's column. The high
bits are milliseconds since 2020, the low 20 bits a counter: ids sort by acceptance time,
stay unique across restarts (and across a deleted-and-recreated store file, unlike a bare
row counter), and the number is SQLite's rowid, so inserts append to the table's B-tree.
"""
from __future__ import annotations

EPOCH = 1577836800.0  # 2020-01-01T00:00:00Z
SEQUENCE_BITS = 20  # a million ids per millisecond before borrowing from the next one
WIDTH = 16


class IdGenerator:
    """Strictly increasing ids; `last` is the largest id already stored."""

    __slots__ = ("last",)

    def __init__(self, last: int = 0) -> None:
        self.last = last

    def next(self, now: float) -> int:
        return self.reserve(1, now)

    def reserve(self, count: int, now: float) -> int:
        """The first of `count` consecutive new ids (a batch numbers its rows at once)."""
        # A clock that steps back (NTP) must not repeat an id: keep counting from the last.
        first = max(self.last + 1, first_id_at(now))
        self.last = first + count - 1
        return first


def first_id_at(moment: float) -> int:
    """The smallest id issued at or after `moment`: ids below it are older (purge by age)."""
    return max(0, int((moment - EPOCH) * 1000)) << SEQUENCE_BITS


def format_id(number: int) -> str:
    return "%016x" % number  # WIDTH digits; %-formatting is twice as fast as an f-string here


def parse_id(message_id: str) -> int | None:
    """The number behind an id we issued; None for anything we could not have issued."""
    if not 0 < len(message_id) <= WIDTH:
        return None
    try:
        number = int(message_id, 16)
    except ValueError:
        return None
    # SQLite integers are signed 64-bit: anything above is not ours (and would overflow).
    if not 0 < number < _LIMIT:
        return None
    written = format_id(number)  # as we write it: mostly the id itself, no other form to make
    return number if written == message_id or written == message_id.lower().rjust(WIDTH, "0") else None


_LIMIT = 1 << 63
