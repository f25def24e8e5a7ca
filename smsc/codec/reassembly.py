"""Reassembly of concatenated messages: pure, the caller passes `now` (any monotonic
number of seconds), nothing reads a clock.

    r = Reassembler(timeout=300.0, max_pending=10_000)
    r.add(source, concat, value, now) -> Completed | None
    r.expire(now) -> list[Incomplete]
    join_parts(parts, data_coding, ...) -> str     # the text of a Completed's ReceivedParts

Parts may come in any order, more than once (a duplicate is counted and dropped: the
first copy wins) or never. Duplicates are recognised while their message is pending: a
part repeated after its message completed starts a new one, which expire() reports as
incomplete (references are reused, so completed ones are not remembered). A message is keyed by (source, reference, total, wide):
`source` is whatever tells senders apart for the caller, e.g. (bind, source_addr,
destination_addr), so two messages with the same reference from different sources
never mix, and neither do an 8-bit and a 16-bit reference of the same value.

A message is incomplete `timeout` seconds after its first part arrived; `expire`
reports it once, with the parts it got and the sequence numbers it misses, and forgets
it. Beyond `max_pending` messages the oldest is given up early the same way.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from types import ModuleType
from typing import Any

import msgspec

from smsc.codec.decoding import ReceivedPart, part_text
from smsc.codec.udh import Concat


class Completed(msgspec.Struct, frozen=True):
    source: Any
    reference: int
    values: tuple[Any, ...]  # in sequence order
    duplicates: int = 0


class Incomplete(msgspec.Struct, frozen=True):
    source: Any
    reference: int
    total: int
    received: dict[int, Any]  # sequence number -> value
    missing: tuple[int, ...]
    duplicates: int = 0


class _Pending:
    __slots__ = ("first_seen", "values", "duplicates")

    def __init__(self, now: float) -> None:
        self.first_seen = now
        self.values: dict[int, Any] = {}
        self.duplicates = 0


class Reassembler:
    def __init__(self, timeout: float = 300.0, max_pending: int = 10_000) -> None:
        if timeout <= 0 or max_pending < 1:
            raise ValueError("timeout must be positive and max_pending at least 1")
        self.timeout = timeout
        self.max_pending = max_pending
        self._pending: dict[tuple, _Pending] = {}  # insertion order = first arrival
        self._given_up: list[Incomplete] = []

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, source: Hashable, concat: Concat, value: Any, now: float) -> Completed | None:
        """Take part `concat.seq` of `concat.total`; the whole message once complete."""
        if not 1 <= concat.seq <= concat.total:
            raise ValueError(f"part {concat.seq} of {concat.total} is not a valid part number")
        key = (source, concat.reference, concat.total, concat.wide)
        pending = self._pending.get(key)
        if pending is None:
            if concat.total == 1:
                return Completed(source, concat.reference, (value,))
            if len(self._pending) >= self.max_pending:
                oldest = next(iter(self._pending))
                self._given_up.append(_incomplete(oldest, self._pending.pop(oldest)))
            pending = self._pending[key] = _Pending(now)
        if concat.seq in pending.values:
            pending.duplicates += 1
            return None
        pending.values[concat.seq] = value
        if len(pending.values) < concat.total:
            return None
        del self._pending[key]
        ordered = tuple(pending.values[seq] for seq in range(1, concat.total + 1))
        return Completed(source, concat.reference, ordered, pending.duplicates)

    def expire(self, now: float) -> list[Incomplete]:
        """Messages whose time is up (and any given up for room), each reported once."""
        out, self._given_up = self._given_up, []
        deadline = now - self.timeout
        for key in [k for k, p in self._pending.items() if p.first_seen <= deadline]:
            out.append(_incomplete(key, self._pending.pop(key)))
        return out


def _incomplete(key: tuple, pending: _Pending) -> Incomplete:
    source, reference, total, _ = key
    missing = tuple(seq for seq in range(1, total + 1) if seq not in pending.values)
    return Incomplete(source, reference, total, dict(sorted(pending.values.items())),
                      missing, pending.duplicates)


def join_parts(parts: Sequence[ReceivedPart], data_coding: int, *, default: str = "gsm7",
               errors: str = "replace", twin: ModuleType | None = None) -> str:
    """The text of a message's parts, in order: their units joined, then decoded once
    with the first part's national tables."""
    if not parts:
        return ""
    joined = ReceivedPart(b"".join(p.units for p in parts), parts[0].alphabet, parts[0].udh)
    return part_text(joined, data_coding, default=default, errors=errors, twin=twin)
