"""The durable store: one SQLite file in WAL mode, written by one task in group commits.

Every write is a request on a queue. The writer task takes what is queued (at most
`max_batch`), runs it in ONE transaction (accepts as one executemany), commits, and only
then resolves each caller's future. So `await store.accept(...)` returns after its row
is committed, and a thousand concurrent accepts cost one commit, not a thousand. While
one batch is written, the next one queues up: the batch size follows the load by itself.

The writer's statements run on the event loop itself (the sqlite3 module, no thread):
in WAL mode they only fill the page cache and append to the WAL, cheaper than handing
each batch to a thread and back. What waits on the disk runs on threads: under FULL the
commit (its fsync), and the checkpoints that copy the WAL into the database, mostly beside
the writer (smsc.store.checkpoint).

synchronous=NORMAL in WAL mode syncs at checkpoints, not at commits: a committed
transaction survives the process being killed (kill -9, a crash), not a power cut or a
kernel panic, which may lose the last commits. FULL syncs the WAL at every commit and
survives those too, at the cost of one fsync per batch (about 1-10 ms on SSDs, more on
disks and network storage); batching keeps that per batch, not per message.

Reads (query, history, due) use a second connection (aiosqlite, its own thread): WAL lets
them run beside the writer and they never see a batch that is not committed yet.
"""
from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import sqlite3
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import aiosqlite
import msgspec

from smsc import dlr
from smsc.codec.decoding import decode_text, part_text, read_part
from smsc.codec.text_errors import TextError
from smsc.smpp.constants import FINAL_STATES, EsmClass, MessageState
from smsc.store import schema
from smsc.store.blobs import pack, unpack
from smsc.store.checkpoint import Checkpointer
from smsc.store.columns import (
    ACCOUNT,
    BODY,
    CARRIER_ID,
    COLUMNS,
    DESTINATION,
    ERROR,
    EXPIRES,
    FINAL,
    ID,
    REGISTERED_DELIVERY,
    SCHEDULED,
    SEGMENTS,
    SERVICE_TYPE,
    SOURCE,
    STATE,
    SUBMITTED,
    UPDATED,
    UPSTREAM,
)
from smsc.store.ids import IdGenerator, first_id_at, format_id, parse_id
from smsc.store.live import LiveRows
from smsc.store.outbound import OutboundClaim
from smsc.store.types import (
    ATTEMPTED,
    ClaimBusy,
    Message,
    MessageFinal,
    NewMessage,
    OutboundItem,
    OutboundState,
    ReceiptOutcome,
    StoreError,
    UnknownMessage,
)


class ManyRows:
    """A statement over many rows of values (`sql` with `{rows}` where the rows go, each
    written as `row`), run as statements of 64, 32, ... 1 rows: SQLite's time per row is
    less than executemany's one statement run per row (inserts ~13-40 %, updates ~14 %,
    an IN list ~55 %), and seven statements, prepared once, serve every batch size. `run`
    takes the rows' values in one flat list, after `shared` values bound once per statement."""

    SIZES = (64, 32, 16, 8, 4, 2, 1)

    def __init__(self, sql: str, row: str) -> None:
        self.width = row.count("?")
        self.sql = {size: sql.replace("{rows}", ", ".join([row] * size)) for size in self.SIZES}

    def run(self, db: sqlite3.Connection, values: list[Any], shared: tuple[Any, ...] = ()) -> None:
        width, rows, done = self.width, len(values) // self.width, 0
        for size in self.SIZES:
            while rows - done >= size:
                chunk = values[done * width:(done + size) * width]
                db.execute(self.sql[size], [*shared, *chunk] if shared else chunk)
                done += size


# New messages: ENROUTE, updated when submitted, no final/upstream/carrier/error yet (the
# constants are in the SQL: fewer parameters to bind).
INSERT_MESSAGES = ManyRows(
    f"INSERT INTO messages ({COLUMNS}) VALUES {{rows}}",
    f"(?, ?, ?, ?, ?, {int(MessageState.ENROUTE)}, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, NULL, ?)")
_MUTABLE = (STATE, SCHEDULED, EXPIRES, UPDATED, FINAL, REGISTERED_DELIVERY, SEGMENTS, UPSTREAM, CARRIER_ID, ERROR,
            BODY)
_COLUMN_NAMES = [name.strip() for name in COLUMNS.split(",")]


@functools.cache
def _update_rows(columns: tuple[int, ...]) -> ManyRows:
    """UPDATE of `columns` for many messages: each row of values is the columns' new values
    and then the message's id."""
    sets = ", ".join(f"{_COLUMN_NAMES[c]} = v.column{i}" for i, c in enumerate(columns, 1))
    return ManyRows(f"UPDATE messages SET {sets} FROM (VALUES {{rows}}) AS v"
                    f" WHERE messages.id = v.column{len(columns) + 1}", "(" + ", ".join("?" * (len(columns) + 1)) + ")")


INSERT_HISTORY = ManyRows("INSERT INTO history (message_id, state, time, error) VALUES {rows}", "(?, ?, ?, ?)")
INSERT_OUTBOUND = ManyRows("INSERT INTO outbound (id, account, kind, message_id, body, created, next_attempt,"
                           " attempts, expires) VALUES {rows}", "(?, ?, ?, ?, ?, ?, ?, ?, ?)")
# Items given one change (state, done, next attempt, last error): an IN list of their ids.
SET_OUTBOUND = ManyRows("UPDATE outbound SET state = ?, done = ?, next_attempt = COALESCE(?, next_attempt),"
                        " last_error = COALESCE(?, last_error) WHERE state = 0 AND id IN ({rows})", "?")

PAGE_SIZE = 4096
# Rows of live messages the writer keeps as committed (smsc.store.live): at ~0.6 KB each,
# ~6 MB; enough for every message between its accept and its receipt at 10,000/s with
# receipts within a second. Older ones are read from the table, as they always could be.
LIVE_ROWS = 10_000
_SQL_VARIABLES = 500  # ids per IN (...) list, well under SQLite's limit

if TYPE_CHECKING:
    from smsc.config import Config

ReceiptBuilder = Callable[[Message, float], "dict[str, Any] | None"]
# Which outbound queue a receipt (with its message) or an MO (message None) of an account
# joins: the account's own (its SMPP receivers) unless set otherwise; the HTTP API sends
# some to a webhook queue (smsc.http.webhooks.queue_for), in the same transaction.
OutboundQueue = Callable[[str, str, "Message | None"], str]


def own_queue(account: str, kind: str, message: "Message | None") -> str:
    return account


def default_receipt(message: Message, now: float) -> dict[str, Any] | None:
    """The deliver_sm fields of the receipt a final state calls for, if the message asked."""
    if not dlr.wants_receipt(message.registered_delivery, message.state):
        return None
    body = message.body
    return dlr.receipt_deliver_sm(
        message_id=message.id, state=message.state, submitted=message.submitted, done=now,
        source=message.source, destination=message.destination,
        source_ton=body.get("source_addr_ton", 0), source_npi=body.get("source_addr_npi", 0),
        dest_ton=body.get("dest_addr_ton", 0), dest_npi=body.get("dest_addr_npi", 0),
        service_type=message.service_type, segments=message.segments, error=message.error,
        text=_excerpt(body),
    )


def _excerpt(body: dict[str, Any]) -> str:
    """The start of a message's text, which the customary receipt echoes; nothing for
    binary or undecodable content."""
    coding = body.get("data_coding", 0)
    short_message = body.get("short_message", b"")
    try:
        # No character takes more than 4 octets: decode only what the excerpt can show.
        if short_message and not body.get("esm_class", 0) & EsmClass.UDHI:
            # Most messages: the text itself, no header to read (read_part would say so).
            return decode_text(short_message[:_EXCERPT_OCTETS], coding)[:dlr.TEXT_CHARS]
        tlvs = tuple(tuple(tlv) for tlv in body.get("tlvs", ()))
        part = read_part(short_message, body.get("esm_class", 0), coding, tlvs)
        head = msgspec.structs.replace(part, units=part.units[:_EXCERPT_OCTETS])
        return part_text(head, coding)[:dlr.TEXT_CHARS]
    except TextError:
        return ""


_EXCERPT_OCTETS = 4 * dlr.TEXT_CHARS


def _to_message(row: list[Any] | tuple[Any, ...], body: dict[str, Any] | None = None) -> Message:
    return Message(
        format_id(row[ID]), row[ACCOUNT], row[SOURCE], row[DESTINATION], row[SERVICE_TYPE],
        MessageState(row[STATE]), row[SUBMITTED], row[SCHEDULED], row[EXPIRES], row[UPDATED], row[FINAL],
        row[REGISTERED_DELIVERY], row[SEGMENTS], row[UPSTREAM], row[CARRIER_ID], row[ERROR],
        unpack(row[BODY]) if body is None else body,
    )


def full_history(message: Message, moves: list[tuple[int, float, int | None]]
                 ) -> list[tuple[MessageState, float, int | None]]:
    """A message's (state, time, error) from its accept on: ENROUTE when submitted, the
    moves the history table keeps (`moves`, oldest first), then its final state, which
    its own row records (no history row for it: one row fewer a message; stores written
    before 2026-11-24 have one, and it is not repeated)."""
    history = [(MessageState.ENROUTE, message.submitted, None)]
    history += [(MessageState(state), time, error) for state, time, error in moves]
    if message.final is not None and not any(state in FINAL_STATES for state, _, _ in history):
        history.append((message.state, message.final, message.error))
    return history


def _accepted_message(message_id: str, new: NewMessage, now: float) -> Message:
    """A message as its accept committed it: its row read back, but for the body, which
    is the dict accepted (not packed and unpacked again)."""
    return Message(message_id, new.account, new.source, new.destination, new.service_type,
                   MessageState.ENROUTE, now, now if new.scheduled is None else new.scheduled, new.expires, now,
                   None, new.registered_delivery, new.segments, None, None, None, new.body)


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i:i + _SQL_VARIABLES] for i in range(0, len(items), _SQL_VARIABLES)]


def _lock(path: str) -> int:
    """Hold `<path>-lock` exclusively for as long as the store is open. Ids are numbered in
    memory by the one writer, so a second process on the same file (two `smsc serve` on
    one state directory) must fail at once, not collide later. The kernel drops the lock
    when the process dies, so a crash never leaves it behind. A separate file, because
    closing any descriptor of the database file would drop SQLite's own POSIX locks."""
    fd = os.open(f"{path}-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(f"{path} is in use by another smsc process") from None
    return fd


def _message_number(message_id: str) -> int:
    number = parse_id(message_id)
    if number is None:
        raise UnknownMessage(f"no message {message_id!r}")
    return number


class Store:
    """Open with `await Store.open(path, ...)`; close with `await store.close()` (or use
    `async with`). All times are epoch seconds; `now` defaults to the wall clock."""

    def __init__(self, db: sqlite3.Connection, reader: aiosqlite.Connection, lock: int,
                 checkpointer: Checkpointer, *, max_batch: int,
                 batch_delay: float, receipt_expiry: float, retry_initial: float, retry_max: float,
                 retry_factor: float, lease: float, receipt_builder: ReceiptBuilder,
                 clock: Callable[[], float], last_message: int, last_outbound: int, synchronous: str) -> None:
        self._db = db
        self.synchronous = synchronous
        self._reader = reader
        self._lock = lock
        self._max_batch = max_batch
        self._batch_delay = batch_delay
        self.receipt_expiry = receipt_expiry
        self.retry_initial, self.retry_max, self.retry_factor = retry_initial, retry_max, retry_factor
        self.lease = lease
        self._receipt_builder = receipt_builder
        self.clock = clock
        self._ids = IdGenerator(last_message)
        self._outbound_ids = IdGenerator(last_outbound)  # time-ordered too: purged by age
        self._woken: set[str] = set()  # accounts given outbound items in the current batch
        self._fresh: list[tuple[Any, ...]] = []  # items of the current batch taken as inserted, for their claims
        self._ops: deque[tuple[str, Any, asyncio.Future[Any]]] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._claims: dict[str, OutboundClaim] = {}
        self.outbound_queue: OutboundQueue = own_queue
        # Set by compliance (smsc.compliance): an MO queued by `enqueue` goes through it, so
        # a STOP records its opt-out in the commit that queues the MO.
        self.mo_hook: Callable[[str, dict[str, Any], float, float], Awaitable[int]] | None = None
        self.transactions = 0  # committed batches, for tests and metrics
        # Called after each commit that inserted messages, with them as committed, in id
        # order (the forwarder takes them without reading them back). Must not raise.
        self.accepted_hook: Callable[[list[Message]], None] | None = None
        self._accepted: list[tuple[list[str], list[tuple[NewMessage, bytes, float]]]] = []  # this batch's
        self.live = LiveRows(LIVE_ROWS)
        self._committed: list[tuple[Any, ...]] = []  # this batch's rows, for `live` once committed
        self.checkpointer = checkpointer
        self._loop = asyncio.get_running_loop()
        self._writer = self._loop.create_task(self._write_loop(), name="smsc-store-writer")

    @classmethod
    async def open(
        cls,
        path: str,
        *,
        synchronous: str = "NORMAL",
        max_batch: int = 2000,
        batch_delay: float = 0.0,
        receipt_expiry: float = 72 * 3600.0,
        retry_initial: float = 10.0,
        retry_max: float = 600.0,
        retry_factor: float = 2.0,
        lease: float = 120.0,
        receipt_builder: ReceiptBuilder = default_receipt,
        clock: Callable[[], float] = time.time,
    ) -> "Store":
        """Open (creating and migrating as needed) the store in the file at `path`.

        `max_batch` bounds a transaction; `batch_delay` (seconds) waits for more requests
        before committing a batch smaller than that, trading latency for larger batches
        (0: commit whatever is queued at once). `receipt_expiry` is how long a receipt
        waits for a receiver bind; a failed deliver_sm is retried after `retry_initial`
        seconds, times `retry_factor` per attempt up to `retry_max`. A taken item is
        offered again after `lease` seconds if neither acked nor retried (a lost session)."""
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be NORMAL or FULL")
        lock = _lock(path)
        try:
            # Created and migrated on a short-lived connection; then the writer's own.
            async with aiosqlite.connect(path, isolation_level="IMMEDIATE") as setup:
                # A new file only (a WAL file keeps the size it was made with). Every
                # commit writes whole pages to the WAL (a few at least): 4 KiB pages make
                # a one-message commit ~25% cheaper than 16 KiB ones (more with the WAL's
                # sync at checkpoints), and batches of 20-100 no dearer (store-only,
                # session 3; 16 KiB looked ~10% cheaper when the writer stopped for
                # whole checkpoints).
                await setup.execute(f"PRAGMA page_size={PAGE_SIZE}")
                await setup.execute("PRAGMA journal_mode=WAL")
                await schema.migrate(setup, clock())
                async with setup.execute("SELECT COALESCE(MAX(id), 0) FROM messages") as cursor:
                    (last_message,) = await cursor.fetchone()
                async with setup.execute("SELECT COALESCE(MAX(id), 0) FROM outbound") as cursor:
                    (last_outbound,) = await cursor.fetchone()
            # The sqlite3 module begins an IMMEDIATE transaction before a batch's first
            # write by itself. Checkpoints run beside it (Checkpointer), not in its commits.
            db = sqlite3.connect(path, isolation_level="IMMEDIATE", check_same_thread=False)
        except BaseException:
            os.close(lock)
            raise
        reader: aiosqlite.Connection | None = None
        try:
            for pragma in (f"synchronous={synchronous}", "busy_timeout=10000", "cache_size=-32768",
                           "temp_store=MEMORY", "wal_autocheckpoint=0"):
                db.execute(f"PRAGMA {pragma}")
            (level,) = db.execute("PRAGMA synchronous").fetchone()  # read back: SQLite ignores what it does not know
            reader = await aiosqlite.connect(path, isolation_level=None)
            await reader.execute("PRAGMA query_only=1")
            checkpointer = Checkpointer(path, synchronous)  # last: nothing after it can fail
        except BaseException:
            if reader is not None:
                await reader.close()
            db.close()
            os.close(lock)
            raise
        return cls(db, reader, lock, checkpointer, max_batch=max_batch, batch_delay=batch_delay, receipt_expiry=receipt_expiry,
                   retry_initial=retry_initial, retry_max=retry_max, retry_factor=retry_factor, lease=lease,
                   receipt_builder=receipt_builder, clock=clock, last_message=last_message,
                   last_outbound=last_outbound, synchronous={1: "NORMAL", 2: "FULL"}[level])

    @classmethod
    async def from_config(cls, config: "Config", **options: Any) -> "Store":
        """Open the store a Config describes ([store] and [receipts]), creating its
        directory; `options` override (receipt_builder, clock...)."""
        store, receipts = config.store, config.receipts
        os.makedirs(os.path.dirname(store.path) or ".", mode=0o700, exist_ok=True)
        settings: dict[str, Any] = dict(
            synchronous=store.synchronous, max_batch=store.max_batch, batch_delay=store.batch_delay,
            receipt_expiry=receipts.expiry, retry_initial=receipts.retry_initial, retry_max=receipts.retry_max,
            retry_factor=receipts.retry_factor, lease=receipts.lease)
        return await cls.open(store.path, **(settings | options))

    async def close(self) -> None:
        """Commit what is queued, then close. Requests made after this raise StoreError."""
        if not self._closing:
            self._closing = True
            self._wake.set()
            await self._writer
            await self.checkpointer.close()
            self._db.close()
            await self._reader.close()
            os.close(self._lock)

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- writes: each is a request to the writer, resolved after its commit ----------

    def _request(self, kind: str, payload: Any) -> "asyncio.Future[Any]":
        if self._closing:
            return self._settled(error=StoreError("the store is closed"))
        future = self._loop.create_future()
        self._ops.append((kind, payload, future))
        self._wake.set()
        return future

    def accept(self, message: NewMessage, now: float | None = None) -> "asyncio.Future[str]":
        """Store a new ENROUTE message: a future of its id, done once committed. (A plain
        function, not a coroutine: a caller on the hot path adds a callback, no task.)"""
        try:
            # Packed here so a body msgpack cannot carry fails this caller, not the batch.
            body = pack(message.body)
        except Exception as exc:
            return self._settled(error=exc)
        return self._request("accept", (message, body, self.clock() if now is None else now))

    def _settled(self, result: Any = None, error: Exception | None = None) -> "asyncio.Future[Any]":
        """A request answered without the writer."""
        future = self._loop.create_future()
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
        return future

    def accept_many(self, messages: list[NewMessage], now: float | None = None) -> "asyncio.Future[list[str]]":
        """`accept` for several messages in one request: a future of their ids, in order,
        done once all are committed (in one transaction). A body msgpack cannot carry
        fails the request."""
        now = self.clock() if now is None else now
        try:
            payloads = [(message, pack(message.body), now) for message in messages]
        except Exception as exc:
            return self._settled(error=exc)
        return self._request("accepts", payloads) if payloads else self._settled([])

    def update(self, message_id: str, state: MessageState | None = None, *, now: float | None = None,
               error: int | None = None, upstream: str | None = None,
               carrier_id: str | None = None) -> "asyncio.Future[None]":
        """Move a message to `state` (None: keep it) and/or record where it went and what
        the carrier said: a future, done once committed. Reaching a final state enqueues
        the receipt it calls for, in the same transaction. Fails with UnknownMessage, or
        MessageFinal once final. (A plain function: requests made one after the other are
        committed in that order, which a caller may rely on without awaiting.)"""
        try:
            op = ("update", _message_number(message_id), state, error, upstream, carrier_id)
        except StoreError as exc:
            return self._settled(error=exc)
        return self._request("change", (op, self.clock() if now is None else now))

    def update_many(self, changes: list[tuple[str, str, str]], *, now: float | None = None
                    ) -> "asyncio.Future[list[StoreError | None]]":
        """Record where several messages went, in one request: each (message_id,
        upstream, carrier_id) as `update(message_id, upstream=..., carrier_id=...)` would
        (the state kept). A future of one entry per change, in order: None when recorded,
        else the StoreError that change alone met (cancelled or expired meanwhile); done
        once committed. Receipts requested after it find these carrier ids."""
        try:
            sent = [(_message_number(message_id), upstream, carrier_id) for message_id, upstream, carrier_id in changes]
        except StoreError as exc:
            return self._settled(error=exc)
        return self._request("change", (("sent", sent), self.clock() if now is None else now))

    def apply_receipt(self, upstream: str, readings: list[str], state: MessageState, error: int | None, *,
                      reroute: "Callable[[Message], bool] | None" = None, parts_first: bool = True,
                      now: float | None = None) -> "asyncio.Future[tuple[ReceiptOutcome, str | None]]":
        """A carrier's final receipt for the message `upstream` knows by one of `readings`
        (its id's possible stored forms): a future of (what it did, the message id), done
        once committed. The message is looked up on the writer's own connection, so a
        carrier id recorded by an `update` requested earlier is found even when both are
        in one transaction.
        - final already: REPEATED; none: UNKNOWN;
        - sent in parts (`parts_first` and segments > 1): PARTS, nothing changed;
        - UNDELIVERABLE and `reroute(message)` says so: the message leaves `upstream`
          and is due again now (REROUTED), `upstream` added to body[ATTEMPTED];
        - else it moves to `state` with `error` (APPLIED; its client receipt queued)."""
        op = ("receipt", upstream, readings, state, error, reroute, parts_first)
        return self._request("change", (op, self.clock() if now is None else now))

    async def cancel(self, account: str, message_id: str = "", *, source: str = "", destination: str = "",
                     service_type: str = "", now: float | None = None) -> list[str]:
        """cancel_sm: the ids moved to DELETED. By id (source, if given, must match the
        original), or without an id every live message of the account from `source` to
        `destination` (of `service_type`, if given). UnknownMessage when nothing matches,
        MessageFinal when the one message named is final already."""
        if message_id:
            op = ("cancel", account, [_message_number(message_id)], source, False)
        else:
            numbers = await self._live_from_to(account, source, destination, service_type)
            if not numbers:
                raise UnknownMessage(f"no live message from {source!r} to {destination!r}")
            op = ("cancel", account, numbers, source, True)
        return await self._request("change", (op, self.clock() if now is None else now))

    async def live_matching(self, account: str, source: str, destination: str, service_type: str = "") -> list[str]:
        """Ids of the account's live messages from `source` to `destination` with this very
        `service_type` (empty matches only messages without one), oldest first: what
        submit_sm's replace_if_present_flag replaces."""
        return list(map(format_id, await self._live_from_to(account, source, destination, service_type, exact=True)))

    async def _live_from_to(self, account: str, source: str, destination: str, service_type: str,
                            exact: bool = False) -> list[int]:
        # cancel_sm reads an empty service_type as "any" (exact=False); replacing does not.
        # A rare request, so no index of its own (an index on destination cost every accept
        # more than all the others): the reader walks the live messages, off the writer.
        if not (source and destination):
            raise UnknownMessage("cancel without a message id needs source and destination")
        sql = ("SELECT id FROM messages INDEXED BY messages_live WHERE final IS NULL AND account = ?"
               " AND destination = ? AND source = ?" + (" AND service_type = ?" if exact or service_type else "")
               + " ORDER BY id")
        args = (account, destination, source) + ((service_type,) if exact or service_type else ())
        async with self._reader.execute(sql, args) as cursor:
            return [number for (number,) in await cursor.fetchall()]

    async def replace(self, account: str, message_id: str, *, source: str = "", body: dict[str, Any] | None = None,
                      scheduled: float | None = None, expires: float | None = None,
                      registered_delivery: int | None = None, segments: int | None = None,
                      now: float | None = None) -> None:
        """replace_sm on a live message of the account: `body` keys replace those stored;
        None (the spec's NULL) keeps a column. Raises UnknownMessage or MessageFinal."""
        op = ("replace", account, _message_number(message_id), source,
              body, scheduled, expires, registered_delivery, segments)
        await self._request("change", (op, self.clock() if now is None else now))

    async def expire_due(self, now: float | None = None, limit: int = 1000) -> list[str]:
        """Move up to `limit` live messages whose validity ended by `now` to EXPIRED
        (with their receipts); the ids expired. Call periodically until it returns []."""
        return await self._request("change", (("expire", limit), self.clock() if now is None else now))

    async def enqueue(self, account: str, body: dict[str, Any], *, kind: str = "mo", now: float | None = None,
                      expires: float | None = None) -> int:
        """Queue a deliver_sm (MO) for an account's receivers; the item id once committed."""
        now = self.clock() if now is None else now
        expiry = now + self.receipt_expiry if expires is None else expires
        if kind == "mo" and self.mo_hook is not None:
            return await self.mo_hook(account, body, now, expiry)
        queue = self.outbound_queue(account, kind, None)
        return await self._request("enqueue", (queue, kind, None, pack(body), now, expiry))

    async def transact(self, work: Callable[["Store", Any], Awaitable[Any]], arg: Any = None) -> Any:
        """Run `await work(store, arg)` inside the writer's next transaction (its result
        once committed; its exception fails that caller only if raised as a StoreError,
        the whole batch otherwise). For tables kept by other modules (smsc.store.http_tables):
        they write with `store.db` and may call the writer's own steps (`_write_accepts`,
        `_write_outbound`) to commit their rows together with messages or queue items."""
        return await self._request("call", (work, arg))

    @property
    def db(self) -> "WriterConnection":
        """The writer's connection: only for `transact` work."""
        return WriterConnection(self._db)

    @property
    def reader(self) -> aiosqlite.Connection:
        """The read-only connection, for modules that read their own tables."""
        return self._reader

    async def expire_outbound(self, now: float | None = None) -> int:
        """Mark queued deliver_sm past their expiry as expired; how many."""
        return await self._request("outbound_expire", self.clock() if now is None else now)

    async def purge(self, before: float, limit: int = 10_000) -> int:
        """Delete up to `limit` finished messages accepted before `before` (epoch seconds)
        with their history, and the delivered or expired outbound items queued before it;
        how many messages went. Live messages are never purged. Call periodically with
        now minus the retention until it returns 0."""
        return await self._request("purge", (before, limit))

    def claim_outbound(self, account: str) -> OutboundClaim:
        """The one claimer of the account's outbound queue (ClaimBusy if it is taken);
        release it when the account's last receiver unbinds."""
        if account in self._claims:
            raise ClaimBusy(f"the outbound queue of {account!r} is claimed already")
        claim = self._claims[account] = OutboundClaim(self, account)
        return claim

    # --- reads ---------------------------------------------------------------------

    async def get(self, message_id: str) -> Message:
        """Any message by id (the gateway's view; ESME requests go through `query`)."""
        number = _message_number(message_id)
        async with self._reader.execute(f"SELECT {COLUMNS} FROM messages WHERE id = ?", (number,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise UnknownMessage(f"no message {message_id!r}")
        return _to_message(row)

    async def query(self, account: str, message_id: str) -> Message:
        """query_sm: the account's message; UnknownMessage for another account's."""
        message = await self.get(message_id)
        if message.account != account:
            raise UnknownMessage(f"no message {message_id!r}")
        return message

    async def history(self, message_id: str) -> list[tuple[MessageState, float]]:
        """(state, time) from the accept on, oldest first."""
        message = await self.get(message_id)
        sql = "SELECT state, time, error FROM history WHERE message_id = ? ORDER BY rowid"
        async with self._reader.execute(sql, (_message_number(message_id),)) as cursor:
            moves = await cursor.fetchall()
        return [(state, time) for state, time, _ in full_history(message, moves)]

    async def due(self, now: float | None = None, limit: int = 500) -> list[Message]:
        """Live messages not yet handed to an upstream whose scheduled time has come,
        earliest first: what to route after a restart or when a schedule falls due."""
        sql = (f"SELECT {COLUMNS} FROM messages WHERE final IS NULL AND scheduled <= ? AND upstream IS NULL"
               " ORDER BY scheduled, id LIMIT ?")
        async with self._reader.execute(sql, (self.clock() if now is None else now, limit)) as cursor:
            return [_to_message(row) for row in await cursor.fetchall()]

    async def find_by_carrier(self, upstream: str, carrier_id: str) -> Message | None:
        """The message an upstream knows by `carrier_id` (to apply its receipt)."""
        sql = f"SELECT {COLUMNS} FROM messages WHERE upstream = ? AND carrier_id = ? ORDER BY id DESC LIMIT 1"
        async with self._reader.execute(sql, (upstream, carrier_id)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _to_message(row)

    async def outbound(self, account: str) -> list[tuple[int, OutboundState, int]]:
        """(item id, state, attempts) of every outbound item of the account: for tests and
        operators, not for delivery (claim the queue to deliver)."""
        sql = "SELECT id, state, attempts FROM outbound WHERE account = ? ORDER BY id"
        async with self._reader.execute(sql, (account,)) as cursor:
            return [(item_id, OutboundState(state), attempts) for item_id, state, attempts in await cursor.fetchall()]

    async def _next_due(self, account: str) -> float | None:
        sql = "SELECT MIN(next_attempt) FROM outbound WHERE account = ? AND state = 0"
        async with self._reader.execute(sql, (account,)) as cursor:
            (due,) = await cursor.fetchone()
        return due

    # --- the writer ----------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._ops:
                if self._batch_delay and len(self._ops) < self._max_batch:
                    await asyncio.sleep(self._batch_delay)
                batch = [self._ops.popleft() for _ in range(min(len(self._ops), self._max_batch))]
                wait = self.checkpointer.before_commit()
                if wait is not None:
                    await wait
                await self._commit(batch)
            self.checkpointer.idle()
            if self._closing:
                return

    async def _commit(self, batch: list[tuple[str, Any, asyncio.Future[Any]]]) -> None:
        # The statements run here, on the event loop: with the file in WAL mode they only
        # write to the page cache, and a batch costs less than handing it to a thread and
        # back (two wake-ups and the GIL changing hands each way). What may wait on the
        # disk runs on a thread: the commit's fsync under synchronous=FULL, checkpoints.
        groups: dict[str, list[tuple[Any, asyncio.Future[Any]]]] = {}
        for kind, payload, future in batch:
            groups.setdefault(kind, []).append((payload, future))
        outcomes: list[tuple[asyncio.Future[Any], Any]] = []
        self._woken.clear()
        self._fresh.clear()
        self._accepted.clear()
        self._committed.clear()
        try:
            for kind in _KIND_ORDER:
                if kind in groups:
                    ops = groups[kind]
                    results = _HANDLERS[kind](self, [payload for payload, _ in ops])
                    if kind == "call":
                        results = await results
                    outcomes.extend(zip((future for _, future in ops), results))
            # A commit that syncs runs on a thread: under FULL every one, under NORMAL the
            # one that writes the WAL from its start again (it syncs the WAL's new header).
            if self.checkpointer.starts_over() or self.synchronous == "FULL":
                await self._loop.run_in_executor(None, self._db.commit)
            else:
                self._db.commit()
        except BaseException as exc:
            # The whole batch is lost together; each caller hears why. The writer goes on.
            self._db.rollback()
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else StoreError("store closing"))
            if not isinstance(exc, Exception):
                raise
            return
        self.transactions += 1
        self.live.put(self._committed)
        if self._accepted and self.accepted_hook is not None:
            self.accepted_hook([_accepted_message(message_id, new, now) for ids, payloads in self._accepted
                                for message_id, (new, _, now) in zip(ids, payloads)])
        for future, result in outcomes:
            if not future.done():
                if isinstance(result, StoreError):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        for claim, *item in self._fresh:
            claim._hand(*item)
        for account in self._woken:
            claim = self._claims.get(account)
            if claim is not None:
                claim._wake()

    # The writer's own steps as `transact` work awaits them.
    async def _write_accepts(self, payloads: list[tuple[NewMessage, bytes, float]]) -> list[str]:
        return self._insert_accepts(payloads)

    async def _write_outbound(self, rows: list[tuple[str, str, int | None, bytes, float, float]]) -> list[int]:
        return self._insert_outbound(rows)

    def _insert_accepts(self, payloads: list[tuple[NewMessage, bytes, float]]) -> list[str]:
        # Numbered from the batch's latest accept time: ids still follow acceptance order.
        first = self._ids.reserve(len(payloads), max(now for _, _, now in payloads))
        values: list[Any] = []
        rows = self._committed
        for number, (m, body, now) in enumerate(payloads, first):
            scheduled = now if m.scheduled is None else m.scheduled
            values += (number, m.account, m.source, m.destination, m.service_type, now, scheduled, m.expires, now,
                       m.registered_delivery, m.segments, body)
            rows.append((number, m.account, m.source, m.destination, m.service_type, MessageState.ENROUTE, now,
                         scheduled, m.expires, now, None, m.registered_delivery, m.segments, None, None, None, body))
        INSERT_MESSAGES.run(self._db, values)
        ids = list(map(format_id, range(first, first + len(payloads))))
        if self.accepted_hook is not None:
            self._accepted.append((ids, payloads))
        return ids

    def _insert_accept_lists(self, lists: list[list[tuple[NewMessage, bytes, float]]]) -> list[list[str]]:
        ids = iter(self._insert_accepts([payload for payloads in lists for payload in payloads]))
        return [[next(ids) for _ in payloads] for payloads in lists]

    def _insert_outbound(self, rows: list[tuple[str, str, int | None, bytes, float, float]]) -> list[int]:
        # An item for a claim that has taken everything due is taken as it is inserted
        # (leased, its first attempt counted) and handed to the claim after the commit:
        # no query to take it, and no later take can see it twice.
        first = self._outbound_ids.reserve(len(rows), max(row[4] for row in rows))
        ids = list(range(first, first + len(rows)))
        values: list[Any] = []
        for item_id, (account, kind, message, body, now, expires) in zip(ids, rows):
            claim = self._claims.get(account)
            if claim is not None and claim.takes_fresh():
                self._fresh.append((claim, item_id, kind, message, body, expires))
                values += (item_id, account, kind, message, body, now, now + self.lease, 1, expires)
            else:
                values += (item_id, account, kind, message, body, now, now, 0, expires)
        INSERT_OUTBOUND.run(self._db, values)
        self._woken.update(row[0] for row in rows)
        return ids

    def _write_outbound_changes(self, lists: list[list[tuple[Any, ...]]]) -> list[None]:
        # Each request changes one item or several (a read's worth of deliver_sm_resp, all
        # given the same change): the items of each change in one IN list.
        by_change: dict[tuple[Any, ...], list[int]] = {}
        for rows in lists:
            for *change, item_id in rows:
                by_change.setdefault(tuple(change), []).append(item_id)
        for change, item_ids in by_change.items():
            SET_OUTBOUND.run(self._db, item_ids, change)
        return [None] * len(lists)

    def _take_outbound(self, payloads: list[tuple[str, int, float]]) -> list[list[OutboundItem]]:
        results = []
        for account, limit, now in payloads:
            sql = ("SELECT id, kind, message_id, body, attempts, expires FROM outbound WHERE account = ?"
                   " AND state = 0 AND next_attempt <= ? AND expires > ? ORDER BY next_attempt, id LIMIT ?")
            rows = self._db.execute(sql, (account, now, now, limit)).fetchall()
            self._db.executemany("UPDATE outbound SET next_attempt = ?, attempts = attempts + 1 WHERE id = ?",
                                       [(now + self.lease, row[0]) for row in rows])
            claim = self._claims.get(account)
            if claim is not None:  # caught up: from the next batch on, new items are handed to it
                claim._caught_up(len(rows) < limit, now)
            results.append([
                OutboundItem(item_id, account, kind, None if message is None else format_id(message),
                             unpack(body), attempts + 1, expires)
                for item_id, kind, message, body, attempts, expires in rows])
        return results

    def _expire_outbound(self, payloads: list[float]) -> list[int]:
        counts = []
        for now in payloads:
            cursor = self._db.execute(
                "UPDATE outbound SET state = ?, done = ? WHERE state = 0 AND expires <= ?",
                (OutboundState.EXPIRED, now, now))
            counts.append(cursor.rowcount)
        return counts

    def _purge(self, payloads: list[tuple[float, int]]) -> list[int]:
        counts = []
        for before, limit in payloads:
            # Ids grow with time, so "accepted before" is a range of the rowid B-tree.
            floor = first_id_at(before)
            sql = "SELECT id FROM messages WHERE id < ? AND final IS NOT NULL ORDER BY id LIMIT ?"
            numbers = [number for (number,) in self._db.execute(sql, (floor, limit))]
            for chunk in _chunks(numbers):
                marks = ", ".join("?" * len(chunk))
                for table in ("history", "carrier_parts"):
                    self._db.execute(f"DELETE FROM {table} WHERE message_id IN ({marks})", chunk)
                self._db.execute(f"DELETE FROM messages WHERE id IN ({marks})", chunk)
            self._db.execute("DELETE FROM outbound WHERE id IN"
                                   " (SELECT id FROM outbound WHERE id < ? AND state != 0 LIMIT ?)", (floor, limit))
            counts.append(len(numbers))
        return counts

    async def _call(self, payloads: list[tuple[Callable[["Store", Any], Awaitable[Any]], Any]]) -> list[Any]:
        results: list[Any] = []
        for work, arg in payloads:
            try:
                results.append(await work(self, arg))
            except StoreError as exc:
                results.append(exc)
        return results

    def _write_changes(self, payloads: list[tuple[tuple[Any, ...], float]]) -> list[Any]:
        return _ChangeBatch(self).run(payloads)


class WriterConnection:
    """The writer's sqlite3 connection behind aiosqlite's calls (`await db.execute(...)`,
    `async with db.execute(...) as cursor`, `await db.executemany(...)`,
    `await cursor.fetchall()`), for `transact` work: each statement runs at once, on the
    event loop, inside the writer's transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, parameters: Any = ()) -> "_Ran":
        return _Ran(self._db.execute(sql, parameters))

    def executemany(self, sql: str, rows: Any) -> "_Ran":
        return _Ran(self._db.executemany(sql, rows))


class _Ran:
    """A statement already run: awaiting it, or entering it, gives its cursor."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.cursor = _Cursor(cursor)

    def __await__(self) -> Any:
        return self.cursor
        yield  # a generator: awaitable, and done at once

    async def __aenter__(self) -> "_Cursor":
        return self.cursor

    async def __aexit__(self, *exc: object) -> None:
        self.cursor.close()


class _Cursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def close(self) -> None:
        self._cursor.close()


class _ChangeBatch:
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
        self.changed: set[int] = set()
        self.history: list[tuple[int, int, float, int | None]] = []
        self.receipts: list[tuple[str, str, int, bytes, float, float]] = []

    def run(self, payloads: list[tuple[tuple[Any, ...], float]]) -> list[Any]:
        self._find_carrier_ids([op for op, _ in payloads])
        targets = [self._targets(op, now) for op, now in payloads]
        self._load({number for numbers in targets for number in numbers})
        results = []
        for (op, now), numbers in zip(payloads, targets):
            try:
                results.append(getattr(self, "_" + op[0])(op, numbers, now))
            except StoreError as exc:
                results.append(exc)
        self._flush()
        return results

    def _targets(self, op: tuple[Any, ...], now: float) -> list[int]:
        kind = op[0]
        if kind == "expire":
            sql = "SELECT id FROM messages WHERE final IS NULL AND expires <= ? ORDER BY expires LIMIT ?"
            args: tuple[Any, ...] = (now, op[1])
        elif kind == "cancel":
            return op[2]
        elif kind == "receipt":
            return self._by_carrier(op[1], op[2])
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

    def _find_carrier_ids(self, ops: list[tuple[Any, ...]]) -> None:
        # The messages the receipts' carrier ids name, but for those recorded by an earlier
        # request of this batch (_by_carrier finds them there; a carrier often answers a
        # submit_sm and sends its receipt in one read): those the store keeps live rows of
        # first, the others in one query per upstream rather than one per receipt (the
        # latest message, should a carrier reuse its ids).
        recorded: set[tuple[str, str]] = set()
        wanted: dict[str, set[str]] = {}
        for op in ops:
            if op[0] == "sent":
                recorded.update((upstream, carrier_id) for _, upstream, carrier_id in op[1])
            elif op[0] == "update" and op[5] is not None:
                recorded.add((op[4], op[5]))
            elif op[0] == "receipt" and not any((op[1], reading) in recorded for reading in op[2]):
                self._find_live_or_want(op[1], op[2], wanted)
        for upstream, readings in wanted.items():
            for chunk in _chunks(list(readings)):
                sql = (f"SELECT carrier_id, MAX(id) FROM messages WHERE upstream = ?"
                       f" AND carrier_id IN ({', '.join('?' * len(chunk))}) GROUP BY carrier_id")
                for carrier_id, number in self.db.execute(sql, (upstream, *chunk)):
                    self.stored[(upstream, carrier_id)] = number

    def _find_live_or_want(self, upstream: str, readings: list[str], wanted: dict[str, set[str]]) -> None:
        for reading in readings:
            number = self.store.live.find(upstream, reading)
            if number is not None:
                self.stored[(upstream, reading)] = number
                return
        wanted.setdefault(upstream, set()).update(readings)

    def _by_carrier(self, upstream: str, readings: list[str]) -> list[int]:
        # One recorded earlier in this batch first: it is newer than anything committed.
        for found in (self.assigned, self.stored):
            for reading in readings:
                number = found.get((upstream, reading))
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
        for chunk in _chunks(sorted(missing)):
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
        message = _to_message(row, self._body(row))
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
        results: list[StoreError | None] = []
        for number, upstream, carrier_id in op[1]:
            try:
                self._update(("update", number, None, None, upstream, carrier_id), numbers, now)
            except StoreError as exc:
                results.append(exc)
            else:
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
            return ReceiptOutcome.UNKNOWN, None
        message_id = format_id(row[ID])
        if row[FINAL] is not None:
            return ReceiptOutcome.REPEATED, message_id
        if parts_first and row[SEGMENTS] > 1:
            return ReceiptOutcome.PARTS, message_id
        if state == MessageState.UNDELIVERABLE and reroute is not None and self._wants_reroute(row, reroute):
            body = self._body(row)
            body[ATTEMPTED] = [*body.get(ATTEMPTED, ()), upstream]
            self.new_bodies.add(row[ID])
            # Scheduled now: a scan that caught up walks from about now, not from the accept.
            row[UPSTREAM] = row[CARRIER_ID] = None
            row[ERROR], row[SCHEDULED], row[UPDATED] = error, now, now
            self.changed.add(row[ID])
            return ReceiptOutcome.REROUTED, message_id
        self._move(row, state, now, error)
        return ReceiptOutcome.APPLIED, message_id

    def _wants_reroute(self, row: list[Any], reroute: Callable[[Message], bool]) -> bool:
        try:
            return bool(reroute(_to_message(row, self._body(row))))
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
            columns = tuple([c for c in _MUTABLE if row[c] != before[c]])
            if columns:
                values = updates.setdefault(columns, [])
                values += [row[c] for c in columns]
                values.append(number)
        for columns, values in updates.items():
            _update_rows(columns).run(self.db, values)
        if self.history:
            INSERT_HISTORY.run(self.db, [value for row in self.history for value in row])
        if self.receipts:
            self.store._insert_outbound(self.receipts)


# Requests of one batch run by kind in this order. Requests that depend on each other are
# never in one batch (a caller learns a message id only after its accept committed), so
# the order only has to be a sensible one: new rows first, then what changes them.
_KIND_ORDER = ("accept", "accepts", "change", "enqueue", "outbound_set", "take", "outbound_expire", "purge", "call")
_HANDLERS = {
    "accept": Store._insert_accepts,
    "accepts": Store._insert_accept_lists,
    "change": Store._write_changes,
    "enqueue": Store._insert_outbound,
    "outbound_set": Store._write_outbound_changes,
    "take": Store._take_outbound,
    "outbound_expire": Store._expire_outbound,
    "purge": Store._purge,
    "call": Store._call,
}
