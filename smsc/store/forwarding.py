"""The store's side of forwarding to carriers (tables of migrations 4, 5 and 7).

    await due_after(store, cursor, now, limit)       # live unsent messages after a cursor
    await record_parts(store, upstream, message_id, carrier_ids, now)
    await part_receipt(store, upstream, carrier_id, state, error, now)
    await keep_early(store, upstream, carrier_id, state, error, now)
    await take_early(store, upstream, carrier_ids)
    await keep_mo_part(store, key, seq, pdu, now) ... await drop_mo_parts(store, key)

Carrier ids are stored normalised (`normalise_id`) and looked up by the readings a
receipt's id may have (`id_readings`): carriers write the same id in hex in one place and
in decimal in another, with leading zeros or in upper case.

Writes go through `Store.transact`, so each runs in the writer's batch and returns after
its commit; so does the walk over due messages (`due_after`), to see every earlier commit;
the other reads use the reader connection and see committed rows only. The writer may be
another process (smsc.store.process): what goes to `transact` pickles, a module-level
function (the store's `run_one`, `run_many` for a plain statement) and plain data,
never a closure.
"""
from __future__ import annotations

from typing import Callable

from smsc.smpp.constants import FINAL_STATES, MessageState
from smsc.store.columns import COLUMNS, to_message
from smsc.store.ids import format_id, parse_id
from smsc.store.store import Store, run_many, run_one
from smsc.store.types import ATTEMPTED, Message

Cursor = tuple[float, int]  # (scheduled, message number): where a scan of due messages stands
START: Cursor = (float("-inf"), 0)

# The state a multipart message ends in is the worst of its parts' (any part lost makes
# the text unreadable): from worst to best.
_WORST_FIRST = (MessageState.REJECTED, MessageState.UNDELIVERABLE, MessageState.EXPIRED, MessageState.DELETED,
                MessageState.UNKNOWN, MessageState.DELIVERED)


def normalise_id(carrier_id: str) -> str:
    """The form a carrier id is stored in: trimmed, lower case, without leading zeros."""
    return carrier_id.strip().lower().lstrip("0") or "0"


def id_readings(carrier_id: str, fmt: str = "as_is") -> list[str]:
    """The stored forms a receipt's id may match. `fmt` is the upstream's
    message_id_format: "hex" when its receipts write in hex an id its submit_sm_resp gave
    in decimal, "decimal" for the other way round, "as_is" when both agree."""
    plain = normalise_id(carrier_id)
    readings = [plain]
    try:
        if fmt == "hex":
            readings.append(str(int(plain, 16)))
        elif fmt == "decimal":
            readings.append(format(int(plain, 10), "x"))
    except ValueError:
        pass
    return readings


def receipt_forms(carrier_id: str, fmt: str = "as_is") -> list[str]:
    """The other way round: the forms in which a receipt may carry the id a submit_sm_resp
    gave (how kept receipts are found when that id arrives)."""
    plain = normalise_id(carrier_id)
    forms = [plain]
    try:
        if fmt == "hex":
            forms.append(format(int(plain, 10), "x"))
        elif fmt == "decimal":
            forms.append(str(int(plain, 16)))
    except ValueError:
        pass
    return forms


def worst_state(states: list[int]) -> MessageState:
    present = set(states)
    return next((state for state in _WORST_FIRST if state in present), MessageState.DELIVERED)


async def due_after(store: Store, cursor: Cursor, now: float, limit: int,
                    skip: Callable[[int], bool] | None = None,
                    rows: int | None = None) -> tuple[list[Message], Cursor, bool]:
    """One page of a walk over the live messages not yet handed to an upstream,
    scheduled by `now`, after `cursor` in (scheduled, id) order: (the messages whose
    number `skip` does not name, the cursor after the page, whether the walk has reached
    the end of the due messages).

    Read in the writer's sequence of transactions (Store.transact), after the batch's own
    changes: what an earlier request committed is seen at once, so a message recorded as
    sent is never read as due again (a reader connection's snapshot can lag the writer).
    The walk reads the due index alone, then whole rows only for the numbers not skipped,
    `rows` of them at most (the room the caller has): the page then ends at the last one
    read, and the next goes on from there. Passing over the messages the caller holds
    costs little, and a caller with little room does not read rows it cannot take.
    `skip` crosses to the writer: it must pickle (a set's `__contains__` does, as a copy)."""
    return await store.transact(_due_page, (cursor, now, limit, skip, rows))


async def _due_page(store: Store, arg: tuple[Cursor, float, int, Callable[[int], bool] | None, int | None]
                    ) -> tuple[list[Message], Cursor, bool]:
    cursor, now, limit, skip, rows = arg
    scheduled, number = cursor
    low = -1e300 if scheduled == float("-inf") else scheduled
    db = store.db
    sql = ("SELECT id, scheduled FROM messages INDEXED BY messages_due WHERE final IS NULL AND upstream IS NULL"
           " AND scheduled <= ? AND scheduled >= ? AND (scheduled > ? OR id > ?) ORDER BY scheduled, id LIMIT ?")
    async with db.execute(sql, (now, low, low, number, limit)) as cursor_rows:
        keys = await cursor_rows.fetchall()
    if not keys:
        return [], cursor, True
    ended = len(keys) < limit
    wanted: list[int] = []
    for read, (key, _) in enumerate(keys, 1):
        if skip is None or not skip(key):
            wanted.append(key)
            if len(wanted) == rows and read < len(keys):
                keys, ended = keys[:read], False
                break
    messages: list[Message] = []
    if wanted:
        marks = ", ".join("?" * len(wanted))
        async with db.execute(f"SELECT {COLUMNS} FROM messages WHERE id IN ({marks}) ORDER BY scheduled, id",
                              wanted) as cursor_rows:
            messages = [to_message(row) for row in await cursor_rows.fetchall()]
    return messages, (keys[-1][1], keys[-1][0]), ended


def attempted(message: Message) -> list[str]:
    """The upstreams a message was sent to and came back from undelivered, in order."""
    return list(message.body.get(ATTEMPTED, ()))


async def record_parts(store: Store, upstream: str, message_id: str, carrier_ids: list[str], now: float) -> None:
    """The carrier ids of each part of a message sent as several submit_sm."""
    number, parts = parse_id(message_id), len(carrier_ids)
    rows = [(upstream, carrier_id, number, part, parts, now) for part, carrier_id in enumerate(carrier_ids, 1)]
    await store.transact(run_many, ("INSERT OR REPLACE INTO carrier_parts (upstream, carrier_id, message_id, part,"
                                    " parts, updated) VALUES (?, ?, ?, ?, ?, ?)", rows))


async def find_part(store: Store, upstream: str, readings: list[str]) -> tuple[str, str] | None:
    """(message id, the stored carrier id) of a part known by one of `readings`."""
    marks = ", ".join("?" * len(readings))
    sql = f"SELECT message_id, carrier_id FROM carrier_parts WHERE upstream = ? AND carrier_id IN ({marks}) LIMIT 1"
    async with store.reader.execute(sql, (upstream, *readings)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else (format_id(row[0]), row[1])


async def part_receipt(store: Store, upstream: str, carrier_id: str, state: int, error: int | None,
                       now: float) -> tuple[list[int | None], int]:
    """Record one part's receipt; (the states of all the message's parts, in part
    order, None where no receipt came yet; the part number). In one transaction, so of
    two receipts for the last two parts one surely sees both."""
    return await store.transact(_part_receipt, (upstream, carrier_id, state, error, now))


async def _part_receipt(store: Store, arg: tuple[str, str, int, int | None, float]) -> tuple[list[int | None], int]:
    upstream, carrier_id, state, error, now = arg
    db = store.db
    await db.execute("UPDATE carrier_parts SET state = ?, error = ?, updated = ? WHERE upstream = ?"
                     " AND carrier_id = ?", (state, error, now, upstream, carrier_id))
    sql = ("SELECT part, state FROM carrier_parts WHERE message_id = (SELECT message_id FROM carrier_parts"
           " WHERE upstream = ? AND carrier_id = ?) ORDER BY part")
    async with db.execute(sql, (upstream, carrier_id)) as cursor:
        rows = await cursor.fetchall()
    async with db.execute("SELECT part FROM carrier_parts WHERE upstream = ? AND carrier_id = ?",
                          (upstream, carrier_id)) as cursor:
        found = await cursor.fetchone()
    this = 0 if found is None else found[0]
    return [row[1] for row in rows], this


async def partly_reported(store: Store, quiet_since: float, limit: int = 500) -> list[tuple[str, list[int]]]:
    """Live messages sent in parts of which some, not all, have a receipt and none came
    since `quiet_since`: (message id, the states reported). For carriers that report
    only the first or the last part."""
    sql = ("SELECT p.message_id, GROUP_CONCAT(p.state) FROM carrier_parts p JOIN messages m ON m.id = p.message_id"
           " WHERE m.final IS NULL GROUP BY p.message_id"
           " HAVING COUNT(p.state) > 0 AND COUNT(p.state) < MAX(p.parts) AND MAX(p.updated) < ? LIMIT ?")
    async with store.reader.execute(sql, (quiet_since, limit)) as cursor:
        return [(format_id(number), [int(state) for state in states.split(",")])
                for number, states in await cursor.fetchall()]


def parts_final(states: list[int | None]) -> bool:
    return bool(states) and all(state is not None and state in FINAL_STATES for state in states)


async def keep_early(store: Store, upstream: str, carrier_id: str, state: int, error: int | None,
                     now: float) -> None:
    """Keep a receipt whose id matches nothing yet, to apply when the id turns up."""
    await store.transact(run_one, ("INSERT OR REPLACE INTO early_receipts (upstream, carrier_id, received, state,"
                                   " error) VALUES (?, ?, ?, ?, ?)",
                                   (upstream, normalise_id(carrier_id), now, state, error)))


async def take_early(store: Store, upstream: str, readings: list[str]) -> list[tuple[str, int, int | None]]:
    """Remove and return the kept receipts (carrier id, state, error) for these ids."""
    return await store.transact(_take_early, (upstream, readings))


async def _take_early(store: Store, arg: tuple[str, list[str]]) -> list[tuple[str, int, int | None]]:
    upstream, readings = arg
    where = f"upstream = ? AND carrier_id IN ({', '.join('?' * len(readings))})"
    async with store.db.execute(f"SELECT carrier_id, state, error FROM early_receipts WHERE {where}",
                                (upstream, *readings)) as cursor:
        rows = [tuple(row) for row in await cursor.fetchall()]
    if rows:
        await store.db.execute(f"DELETE FROM early_receipts WHERE {where}", (upstream, *readings))
    return rows  # type: ignore[return-value]


async def early_receipts(store: Store, limit: int = 1000) -> list[tuple[str, str, float, int, int | None]]:
    """(upstream, carrier id, received, state, error) of kept receipts, oldest first."""
    sql = "SELECT upstream, carrier_id, received, state, error FROM early_receipts ORDER BY received LIMIT ?"
    async with store.reader.execute(sql, (limit,)) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]  # type: ignore[misc]


async def drop_early(store: Store, before: float) -> int:
    """Forget kept receipts received before `before`; how many."""
    return await store.transact(run_one, ("DELETE FROM early_receipts WHERE received < ?", (before,)))


MoKey = tuple[str, str, str, int, int]  # (upstream, source, destination, reference, total)


async def keep_mo_part(store: Store, key: MoKey, seq: int, pdu: bytes, now: float) -> None:
    """Commit one part of a concatenated MO (a repeat replaces the earlier copy)."""
    await store.transact(run_one, ("INSERT OR REPLACE INTO mo_parts (upstream, source, destination, reference,"
                                   " total, seq, received, pdu) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                   (*key, seq, now, pdu)))


async def drop_mo_parts(store: Store, key: MoKey) -> None:
    """Forget the parts of a message once it is queued whole (or as far as it came)."""
    await store.transact(run_one, ("DELETE FROM mo_parts WHERE upstream = ? AND source = ? AND destination = ?"
                                   " AND reference = ? AND total = ?", key))


async def mo_parts(store: Store) -> list[tuple[MoKey, int, float, bytes]]:
    """Every kept part, (key, seq, received, pdu), oldest first: to resume after a restart."""
    sql = ("SELECT upstream, source, destination, reference, total, seq, received, pdu FROM mo_parts"
           " ORDER BY received")
    async with store.reader.execute(sql) as cursor:
        return [((row[0], row[1], row[2], row[3], row[4]), row[5], row[6], row[7]) for row in await cursor.fetchall()]
