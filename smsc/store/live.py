"""The rows of live messages as last committed, kept by the store's writer for its own
change batches.

A message's life in the writer is an accept, its sent record (upstream and carrier id)
a moment later, then its receipt: each of those batches used to read the row back (and
the receipt its carrier id) with a SELECT, about a fifth of the writer's SQL. Rows the
writer has just written are kept here instead, newest last; the oldest go once there are
`limit`, and a row not here is read from the table as before. A row leaves when its
message reaches a final state: nothing changes it after that.

Only committed rows come in (the store puts a batch's rows after its commit), so a batch
that rolls back leaves nothing of itself here. Rows are tuples (never changed in place):
a batch works on its own list copies.

Carrier ids: `find(upstream, carrier_id)` is the newest message (the highest id) among
the rows kept with that carrier id; the table's answer is the newest live message with it
(smsc.store.changes). They differ only when a carrier reused an id and a newer live
message with it is no longer kept (the oldest went past `limit`).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable

from smsc.store.columns import CARRIER_ID, FINAL, ID, UPSTREAM

Row = tuple[Any, ...]


class LiveRows:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        # message number -> row, least recently put first. An OrderedDict, not a dict: a
        # dict's first key is found past every key popped before it (the slots stay until
        # it is resized), so evicting the oldest this way made each put O(limit).
        self._rows: OrderedDict[int, Row] = OrderedDict()
        self._carriers: dict[tuple[str, str], int] = {}  # (upstream, carrier id) -> message number

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, number: int) -> Row | None:
        return self._rows.get(number)

    def find(self, upstream: str, carrier_id: str) -> int | None:
        return self._carriers.get((upstream, carrier_id))

    def put(self, rows: Iterable[Row]) -> None:
        """Rows as just committed: kept as the newest, or let go once final."""
        kept, carriers = self._rows, self._carriers
        for row in rows:
            number = row[ID]
            self.drop(number)
            if row[FINAL] is not None:
                continue
            kept[number] = row
            if row[CARRIER_ID] is not None:
                key = (row[UPSTREAM], row[CARRIER_ID])
                if carriers.get(key, -1) < number:
                    carriers[key] = number
        while len(kept) > self.limit:
            self._forget(*kept.popitem(last=False))

    def drop(self, number: int) -> None:
        row = self._rows.pop(number, None)
        if row is not None:
            self._forget(number, row)

    def _forget(self, number: int, row: Row) -> None:
        if row[CARRIER_ID] is not None:
            key = (row[UPSTREAM], row[CARRIER_ID])
            if self._carriers.get(key) == number:
                del self._carriers[key]
