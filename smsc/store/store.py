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
from smsc.store.changes import ChangeBatch
from smsc.store.checkpoint import Checkpointer
from smsc.store.columns import COLUMNS, to_message
from smsc.store.ids import IdGenerator, first_id_at, format_id, parse_id
from smsc.store.live import LiveRows
from smsc.store.outbound import OutboundClaim
from smsc.store.statements import INSERT_MESSAGES, INSERT_OUTBOUND, NEW_VALUES, SET_OUTBOUND, chunks
from smsc.store.types import (
    ClaimBusy,
    Message,
    NewMessage,
    OutboundItem,
    OutboundState,
    ReceiptOutcome,
    StoreError,
    UnknownMessage,
)

PAGE_SIZE = 4096
# Rows of live messages the writer keeps as committed (smsc.store.live): at ~0.6 KB each,
# ~6 MB; enough for every message between its accept and its receipt at 10,000/s with
# receipts within a second. Older ones are read from the table, as they always could be.
LIVE_ROWS = 10_000
_ENROUTE = int(MessageState.ENROUTE)  # a plain int, as rows read back from the table have it

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
    state = message.state
    if not dlr.wants_receipt(message.registered_delivery, state):
        return None
    body = message.body
    get = body.get
    return dlr.receipt_fields(
        message.id, state, message.submitted, now, message.source, message.destination,
        get("source_addr_ton", 0), get("source_addr_npi", 0), get("dest_addr_ton", 0), get("dest_addr_npi", 0),
        message.service_type, message.segments, message.error, _excerpt(body))


def _excerpt(body: dict[str, Any]) -> str:
    """The start of a message's text, which the customary receipt echoes; nothing for
    binary or undecodable content."""
    coding = body.get("data_coding", 0)
    short_message = body.get("short_message", b"")
    esm_class = body.get("esm_class", 0)
    if short_message and not coding and not esm_class & _UDHI:
        # Most messages: GSM-7 octets that read as ASCII (one character each), no header.
        head = short_message[:dlr.TEXT_CHARS]
        if not head.translate(None, _GSM_AS_ASCII):
            return head.decode("ascii")
    try:
        # No character takes more than 4 octets: decode only what the excerpt can show.
        if short_message and not esm_class & _UDHI:
            # The text itself, no header to read (read_part would say so).
            return decode_text(short_message[:_EXCERPT_OCTETS], coding)[:dlr.TEXT_CHARS]
        tlvs = tuple(tuple(tlv) for tlv in body.get("tlvs", ()))
        part = read_part(short_message, esm_class, coding, tlvs)
        head = msgspec.structs.replace(part, units=part.units[:_EXCERPT_OCTETS])
        return part_text(head, coding)[:dlr.TEXT_CHARS]
    except TextError:
        return ""


_EXCERPT_OCTETS = 4 * dlr.TEXT_CHARS
_UDHI = int(EsmClass.UDHI)
# The octets GSM-7 (data_coding 0) reads as the ASCII character of that code: read from
# the codec itself, so the short cut in _excerpt gives what decode_text gives.
_GSM_AS_ASCII = bytes(octet for octet in range(128) if decode_text(bytes((octet,)), 0) == chr(octet))


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


def _accepts_apart(batch: list[tuple[str, Any, Any]], queued: deque[tuple[str, Any, Any]]) -> bool:
    """Keep only the accepts of a batch that has other requests too, those put back at
    the head of the queue, in order; whether it did."""
    accepts = [op for op in batch if op[0] in ACCEPT_KINDS]
    if not accepts or len(accepts) == len(batch):
        return False
    queued.extendleft(reversed([op for op in batch if op[0] not in ACCEPT_KINDS]))
    batch[:] = accepts
    return True


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
        # False in a writer process (smsc.store.process): the gateway makes the messages of
        # its accept requests itself, and only those `transact` work inserted come through
        # the hook (it alone has their bodies: the requests' are not sent).
        self.hook_requested = True
        # True in a writer process: a batch's accepts commit first and their answers leave
        # before the other requests of the batch are written (smsc.store.process: there
        # a submit_sm_resp waits for a commit and a crossing each way).
        self.accepts_first = False
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
        directory; `options` override (receipt_builder, clock...). With `[store] writer =
        "process"` the writer runs in a child process (smsc.store.process)."""
        store, receipts = config.store, config.receipts
        if store.writer == "process" and cls is Store:
            from smsc.store.process import ProcessStore

            return await ProcessStore.from_config(config, **options)
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

    def apply_receipts(self, upstream: str,
                       receipts: "list[tuple[list[str], MessageState, int | None, Callable[[Message], bool] | None]]",
                       *, now: float | None = None
                       ) -> "asyncio.Future[list[tuple[ReceiptOutcome, str | None] | StoreError]]":
        """`apply_receipt` (parts first) for several receipts of one upstream, each
        (readings, state, error, reroute), in one request: a future of one entry per
        receipt, in order, done once all are committed (in one transaction): the
        (outcome, message id) that receipt alone would have given, or the StoreError it
        alone met. A carrier's read of receipts costs one request, not one each."""
        ops = [("receipt", upstream, readings, state, error, reroute, True)
               for readings, state, error, reroute in receipts]
        return self._request("change", (("receipts", ops), self.clock() if now is None else now))

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

    def _unclaim(self, account: str) -> None:
        """The claim of `account` was released (OutboundClaim.release)."""
        self._claims.pop(account, None)

    # --- reads ---------------------------------------------------------------------

    async def get(self, message_id: str) -> Message:
        """Any message by id (the gateway's view; ESME requests go through `query`)."""
        number = _message_number(message_id)
        async with self._reader.execute(f"SELECT {COLUMNS} FROM messages WHERE id = ?", (number,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise UnknownMessage(f"no message {message_id!r}")
        return to_message(row)

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
            return [to_message(row) for row in await cursor.fetchall()]

    async def find_by_carrier(self, upstream: str, carrier_id: str) -> Message | None:
        """The message an upstream knows by `carrier_id` (to apply its receipt): the newest
        live one, else the newest, should the carrier have reused the id."""
        sql = (f"SELECT {COLUMNS} FROM messages WHERE upstream = ? AND carrier_id = ?"
               " ORDER BY final IS NULL DESC, id DESC LIMIT 1")
        async with self._reader.execute(sql, (upstream, carrier_id)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else to_message(row)

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
            first = False
            while self._ops:
                if self._batch_delay and len(self._ops) < self._max_batch:
                    await asyncio.sleep(self._batch_delay)
                batch = [self._ops.popleft() for _ in range(min(len(self._ops), self._max_batch))]
                # Not twice running: the rest put back then goes with the next batch whole,
                # whatever accepts came meanwhile (they would starve it otherwise).
                first = self.accepts_first and not first and _accepts_apart(batch, self._ops)
                wait = self.checkpointer.before_commit()
                if wait is not None:
                    await wait
                await self._commit(batch)
                if first:  # two turns: their answers' callbacks, then what those scheduled
                    await asyncio.sleep(0)
                    await asyncio.sleep(0)
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
        return self._insert_accepts(payloads, requested=False)

    async def _write_outbound(self, rows: list[tuple[str, str, int | None, bytes, float, float]]) -> list[int]:
        return self._insert_outbound(rows)

    def _insert_accepts(self, payloads: list[tuple[NewMessage, bytes, float]], requested: bool = True) -> list[str]:
        # Numbered from the batch's latest accept time: ids still follow acceptance order.
        first = self._ids.reserve(len(payloads), max(now for _, _, now in payloads))
        # New messages: ENROUTE, updated when submitted, no final/upstream/carrier/error yet.
        rows = [(number, m.account, m.source, m.destination, m.service_type, _ENROUTE, now,
                 now if m.scheduled is None else m.scheduled, m.expires, now, None, m.registered_delivery,
                 m.segments, None, None, None, body)
                for number, (m, body, now) in enumerate(payloads, first)]
        INSERT_MESSAGES.run(self._db, [value for row in rows for value in NEW_VALUES(row)])
        ids = list(map(format_id, range(first, first + len(payloads))))
        if self.accepted_hook is not None:
            # Handed to a forwarder: their rows are kept (`live`), its sent records read them soon.
            self._committed += rows
            if self.hook_requested or not requested:
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
            for chunk in chunks(numbers):
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
        return ChangeBatch(self).run(payloads)


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


async def run_one(store: Store, arg: tuple[str, Any]) -> int:
    """`transact` work: one statement (sql, parameters); the rows it changed. Module-level,
    so it pickles for a writer in another process (smsc.store.process)."""
    sql, parameters = arg
    return (await store.db.execute(sql, parameters)).rowcount


async def run_many(store: Store, arg: tuple[str, Any]) -> None:
    """`transact` work: one statement for each row of parameters, (sql, rows)."""
    sql, rows = arg
    await store.db.executemany(sql, rows)


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


# Requests of one batch run by kind in this order. Requests that depend on each other are
# never in one batch (a caller learns a message id only after its accept committed), so
# the order only has to be a sensible one: new rows first, then what changes them.
ACCEPT_KINDS = ("accept", "accepts")  # the requests that insert messages
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
