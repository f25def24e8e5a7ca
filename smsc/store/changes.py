"""The state changes (sent records, receipts, moves, cancels, replaces, expiries) of one
transaction of the store's writer (smsc.store.store)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from smsc.smpp.constants import FINAL_STATES, MessageState
from smsc.store.blobs import pack, unpack
from smsc.store.columns import (
    ACCOUNT,
    BODY,
    CARRIER_ID,
    COLUMNS,
    ERROR,
    EXPIRES,
    FINAL,
    ID,
    REGISTERED_DELIVERY,
    SCHEDULED,
    SEGMENTS,
    SOURCE,
    STATE,
    UPDATED,
    UPSTREAM,
    to_message,
)
from smsc.store.ids import format_id
from smsc.store.statements import INSERT_HISTORY, chunks, update_rows
from smsc.store.types import ATTEMPTED, Message, MessageFinal, ReceiptOutcome, StoreError, UnknownMessage

if TYPE_CHECKING:
    from smsc.store.store import Store

# Read for every receipt: globals are quicker than the enums' attributes (~0.1 us each).
_APPLIED, _REPEATED, _UNKNOWN, _PARTS, _REROUTED = (ReceiptOutcome.APPLIED, ReceiptOutcome.REPEATED,
                                                    ReceiptOutcome.UNKNOWN, ReceiptOutcome.PARTS,
                                                    ReceiptOutcome.REROUTED)
_UNDELIVERABLE = MessageState.UNDELIVERABLE
# The columns a change may write (the others are the accept's for good).
MUTABLE = (STATE, SCHEDULED, EXPIRES, UPDATED, FINAL, REGISTERED_DELIVERY, SEGMENTS, UPSTREAM, CARRIER_ID, ERROR,
           BODY)


class ChangeBatch:
    """The state changes of one transaction: rows are read once, changed in memory in
    request order (so two requests on one message see each other), written at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store._db
        self.rows: dict[int, list[Any]] = {}
        self.loaded: dict[int, tuple[Any, ...]] = {}  # the rows as read: what changed is written
        self.bodies: dict[int, dict[str, Any]] = {}
        self.new_bodies: set[int] = set()  # bodies changed (the others were only read)
        self.assigned: dict[tuple[str, str], int] = {}  # (upstream, carrier id) -> message, set in this batch
        self.stored: dict[tuple[str, str], int] = {}  # (upstream, carrier id) -> message, as committed before
        self.wanted: dict[str, set[str]] = {}  # upstream -> carrier ids to look up in the table
        self.changed: set[int] = set()
        self.history: list[tuple[int, int, float, int | None]] = []
        self.receipts: list[tuple[str, str, int, bytes, float, float]] = []

    def run(self, payloads: list[tuple[tuple[Any, ...], float]]) -> list[Any]:
        """One result per payload; a ("receipts", ops) payload (Store.apply_receipts) runs
        as its receipt ops one after the other, its result the list of theirs."""
        if not any(op[0] == "receipts" for op, _ in payloads):
            return self._run(payloads)
        flat = [(one, now) for op, now in payloads for one in (op[1] if op[0] == "receipts" else (op,))]
        results = iter(self._run(flat))
        return [[next(results) for _ in op[1]] if op[0] == "receipts" else next(results) for op, _ in payloads]

    def _run(self, payloads: list[tuple[tuple[Any, ...], float]]) -> list[Any]:
        targets = [self._targets(op, now) for op, now in payloads]
        if self.wanted:  # receipts none of the above named: the table, in one query per upstream
            self._find_stored()
            targets = [self._stored_target(op[1], op[2]) if numbers is None else numbers
                       for (op, _), numbers in zip(payloads, targets)]
        self._load({number for numbers in targets for number in numbers})
        results = []
        for (op, now), numbers in zip(payloads, targets):
            try:
                results.append(getattr(self, "_" + op[0])(op, numbers, now))
            except StoreError as exc:
                results.append(exc)
        self._flush()
        return results

    def _targets(self, op: tuple[Any, ...], now: float) -> list[int] | None:
        kind = op[0]
        if kind == "expire":
            sql = "SELECT id FROM messages WHERE final IS NULL AND expires <= ? ORDER BY expires LIMIT ?"
            args: tuple[Any, ...] = (now, op[1])
        elif kind == "cancel":
            return op[2]
        elif kind == "receipt":
            return self._carrier_target(op[1], op[2])
        elif kind == "sent":
            for number, upstream, carrier_id in op[1]:
                self.assigned[(upstream, carrier_id)] = number
            return [number for number, _, _ in op[1]]
        elif kind == "update" and op[5] is not None:  # a carrier id: receipts later in the batch find it
            self.assigned[(op[4], op[5])] = op[1]
            return [op[1]]
        else:
            return [op[2] if kind == "replace" else op[1]]
        return [number for (number,) in self.db.execute(sql, args)]

    def _carrier_target(self, upstream: str, readings: list[str]) -> list[int] | None:
        # One recorded by an earlier request of this batch first (a carrier often answers
        # a submit_sm and sends its receipt in one read): it is newer than anything
        # committed. Then a live row the store keeps; None: to look up in the table.
        for reading in readings:
            number = self.assigned.get((upstream, reading))
            if number is not None:
                return [number]
        for reading in readings:
            number = self.store.live.find(upstream, reading)
            if number is not None:
                return [number]
        self.wanted.setdefault(upstream, set()).update(readings)
        return None

    def _find_stored(self) -> None:
        # Should a carrier reuse an id: the newest live message with it, else the newest (a
        # receipt is for a message still waiting for one, not for one that had its own).
        for upstream, readings in self.wanted.items():
            for chunk in chunks(list(readings)):
                sql = (f"SELECT carrier_id, id FROM messages WHERE upstream = ?"
                       f" AND carrier_id IN ({', '.join('?' * len(chunk))}) ORDER BY final IS NULL, id")
                for carrier_id, number in self.db.execute(sql, (upstream, *chunk)):  # the last one wins
                    self.stored[(upstream, carrier_id)] = number

    def _stored_target(self, upstream: str, readings: list[str]) -> list[int]:
        for reading in readings:
            number = self.stored.get((upstream, reading))
            if number is not None:
                return [number]
        return []

    def _load(self, numbers: set[int]) -> None:
        live, missing = self.store.live, []
        for number in numbers - self.rows.keys():
            row = live.get(number)
            if row is None:
                missing.append(number)
            else:
                self.rows[number] = list(row)
                self.loaded[number] = row
        for chunk in chunks(sorted(missing)):
            sql = f"SELECT {COLUMNS} FROM messages WHERE id IN ({', '.join('?' * len(chunk))})"
            for row in self.db.execute(sql, chunk):
                self.rows[row[ID]] = list(row)
                self.loaded[row[ID]] = row

    def _row(self, number: int, account: str | None = None, source: str = "") -> list[Any]:
        row = self.rows.get(number)
        if row is None or (account is not None and row[ACCOUNT] != account) or (source and row[SOURCE] != source):
            raise UnknownMessage(f"no message {format_id(number)}")
        if row[FINAL] is not None:
            raise MessageFinal(format_id(number), MessageState(row[STATE]))
        return row

    def _body(self, row: list[Any]) -> dict[str, Any]:
        number = row[ID]
        if number not in self.bodies:
            self.bodies[number] = unpack(row[BODY])
        return self.bodies[number]

    def _move(self, row: list[Any], state: MessageState, now: float, error: int | None = None) -> None:
        if error is not None:
            row[ERROR] = error
        row[UPDATED] = now
        self.changed.add(row[ID])
        if state == row[STATE]:
            return
        row[STATE] = state
        if state not in FINAL_STATES:
            self.history.append((row[ID], state, now, error))
            return
        row[FINAL] = now  # a final state is the row's own: no history row (see full_history)
        message = to_message(row, self._body(row))
        fields = self.store._receipt_builder(message, now)
        if fields is not None:
            queue = self.store.outbound_queue(message.account, "receipt", message)
            self.receipts.append((queue, "receipt", row[ID], pack(fields), now, now + self.store.receipt_expiry))

    def _update(self, op: tuple[Any, ...], numbers: list[int], now: float) -> None:
        _, number, state, error, upstream, carrier_id = op
        row = self._row(number)
        if upstream is not None:
            row[UPSTREAM] = upstream
        if carrier_id is not None:
            row[CARRIER_ID] = carrier_id
        self._move(row, row[STATE] if state is None else state, now, error)

    def _sent(self, op: tuple[Any, ...], numbers: list[int], now: float) -> list[StoreError | None]:
        # `_update` with the state kept, written out: one a message (no op tuple, no _move,
        # which for the same state only stamps the row and marks it changed).
        results: list[StoreError | None] = []
        changed = self.changed
        for number, upstream, carrier_id in op[1]:
            try:
                row = self._row(number)
            except StoreError as exc:
                results.append(exc)
                continue
            row[UPSTREAM], row[CARRIER_ID], row[UPDATED] = upstream, carrier_id, now
            changed.add(number)
            results.append(None)
        return results

    def _cancel(self, op: tuple[Any, ...], numbers: list[int], now: float) -> list[str]:
        _, account, _, source, by_address = op
        if not by_address:
            self._move(self._row(numbers[0], account, source), MessageState.DELETED, now)
            return [format_id(numbers[0])]
        cancelled = []
        for number in numbers:
            try:
                row = self._row(number, account)
            except StoreError:
                continue  # finished since the reader found it
            self._move(row, MessageState.DELETED, now)
            cancelled.append(format_id(number))
        if not cancelled:
            raise UnknownMessage(f"no live message from {source!r}")
        return cancelled

    def _replace(self, op: tuple[Any, ...], numbers: list[int], now: float) -> None:
        _, account, number, source, body, scheduled, expires, registered_delivery, segments = op
        row = self._row(number, account, source)
        if body:
            self._body(row).update(body)
            self.new_bodies.add(number)
        for column, value in ((SCHEDULED, scheduled), (EXPIRES, expires),
                              (REGISTERED_DELIVERY, registered_delivery), (SEGMENTS, segments)):
            if value is not None:
                row[column] = value
        self._move(row, row[STATE], now)

    def _receipt(self, op: tuple[Any, ...], numbers: list[int], now: float) -> tuple[ReceiptOutcome, str | None]:
        _, upstream, readings, state, error, reroute, parts_first = op
        row = self.rows.get(numbers[0]) if numbers else None
        # Checked again: an earlier request of this batch may have moved it on (rerouted).
        if row is None or row[UPSTREAM] != upstream or row[CARRIER_ID] not in readings:
            return _UNKNOWN, None
        message_id = format_id(row[ID])
        if row[FINAL] is not None:
            return _REPEATED, message_id
        if parts_first and row[SEGMENTS] > 1:
            return _PARTS, message_id
        if state == _UNDELIVERABLE and reroute is not None and self._wants_reroute(row, reroute):
            body = self._body(row)
            body[ATTEMPTED] = [*body.get(ATTEMPTED, ()), upstream]
            self.new_bodies.add(row[ID])
            # Scheduled now: a scan that caught up walks from about now, not from the accept.
            row[UPSTREAM] = row[CARRIER_ID] = None
            row[ERROR], row[SCHEDULED], row[UPDATED] = error, now, now
            self.changed.add(row[ID])
            return _REROUTED, message_id
        self._move(row, state, now, error)
        return _APPLIED, message_id

    def _wants_reroute(self, row: list[Any], reroute: Callable[[Message], bool]) -> bool:
        try:
            return bool(reroute(to_message(row, self._body(row))))
        except Exception:  # a caller's bug must not cost the batch: the receipt's verdict stands
            return False

    def _expire(self, op: tuple[Any, ...], numbers: list[int], now: float) -> list[str]:
        expired = []
        for number in numbers:
            row = self.rows.get(number)
            if row is not None and row[FINAL] is None:
                self._move(row, MessageState.EXPIRED, now)
                expired.append(format_id(number))
        return expired

    def _flush(self) -> None:
        # Only the columns that changed: SQLite then leaves alone the indexes (and the
        # body blob) a change does not touch. One statement per set of columns changed.
        updates: dict[tuple[int, ...], list[Any]] = {}  # columns -> their values and the id, row after row
        committed = self.store._committed
        for number in self.changed:
            row, before = self.rows[number], self.loaded[number]
            if number in self.new_bodies:
                row[BODY] = pack(self.bodies[number])
            committed.append(tuple(row))
            columns = tuple([c for c in MUTABLE if row[c] != before[c]])
            if columns:
                values = updates.setdefault(columns, [])
                values += [row[c] for c in columns]
                values.append(number)
        for columns, values in updates.items():
            update_rows(columns).run(self.db, values)
        if self.history:
            INSERT_HISTORY.run(self.db, [value for row in self.history for value in row])
        if self.receipts:
            self.store._insert_outbound(self.receipts)
