"""The order in which the parts of messages leave for one upstream. Pure (no I/O, no clock).

    queue = PartQueue()
    queue.add(item, parts=2, destination="4477...")     # its parts 0 and 1, in turn
    item, part = queue.next()                           # or None
    queue.back(item, part)      # not sent after all, or the carrier said "slow down": first again
    queue.done(item)            # every part settled: the next message to its destination may go

Parts leave in the order their messages were added, a part given back (a throttled
answer, a lost link) before anything added after it. One message per destination is with
the carrier at a time: a later message to a destination that has one in flight waits
(without holding up other destinations) until that one is done, so a carrier's
throttling or a lost link cannot swap two messages to one handset.
"""
from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import Any

Entry = tuple[int, int, Any]  # (order of its message, part, item)


class PartQueue:
    def __init__(self) -> None:
        self._new: deque[Entry] = deque()
        self._again: list[Entry] = []
        self._waiting: dict[str, list[Entry]] = {}
        self._owner: dict[str, Any] = {}  # destination -> the item with the carrier
        self._placed: dict[int, tuple[int, str]] = {}  # id(item) -> (its order, its destination)
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._new) + len(self._again) + sum(map(len, self._waiting.values()))

    def add(self, item: Any, parts: int | list[int], destination: str) -> None:
        order = next(self._counter)
        self._placed[id(item)] = (order, destination)
        if parts == 1:  # the common message, sent whole
            self._new.append((order, 0, item))
            return
        for part in (range(parts) if isinstance(parts, int) else parts):
            self._new.append((order, part, item))

    def next(self) -> tuple[Any, int] | None:
        """The next part that may go now (taken from the queue), or None."""
        new, again, owner = self._new, self._again, self._owner
        while True:
            if again and (not new or again[0][:2] < new[0][:2]):
                entry = heapq.heappop(again)
            elif new:
                entry = new.popleft()
            else:
                return None
            _, part, item = entry
            destination = self._placed[id(item)][1]
            # Its destination's owner now, unless another message holds it: one dict step.
            if owner.setdefault(destination, item) is not item:
                self._waiting.setdefault(destination, []).append(entry)
                continue
            return item, part

    def back(self, item: Any, part: int) -> None:
        """A part taken by `next` goes back, ahead of everything added after its message."""
        heapq.heappush(self._again, (self._placed[id(item)][0], part, item))

    def done(self, item: Any) -> None:
        """The item's parts are all settled (or it left): its destination is free."""
        placed = self._placed.pop(id(item), None)
        if placed is None:
            return
        destination = placed[1]
        if self._owner.get(destination) is item:
            del self._owner[destination]
            for entry in self._waiting.pop(destination, ()):
                heapq.heappush(self._again, entry)

    def remove(self, item: Any) -> None:
        """Drop every queued part of `item` (it expired, or its upstream went away)."""
        self._new = deque(entry for entry in self._new if entry[2] is not item)
        self._again = [entry for entry in self._again if entry[2] is not item]
        heapq.heapify(self._again)
        for destination, entries in list(self._waiting.items()):
            self._waiting[destination] = [entry for entry in entries if entry[2] is not item]
        self.done(item)

    def items(self) -> list[Any]:
        """Every item with a part queued (each once)."""
        entries = list(self._new) + self._again + [e for entries in self._waiting.values() for e in entries]
        return list({id(entry[2]): entry[2] for entry in entries}.values())
