"""The tables of the HTTP API and of compliance (migration 6): idempotency keys, opt-outs
and the consent audit. Writes go through `Store.transact`, so each commits in the
writer's transaction together with the messages or queue items it belongs to: an
Idempotency-Key is recorded in the very commit that accepts its messages, an opt-out in
the commit that queues the MO that asked for it. The writer may be another process
(smsc.store.process): what goes to `transact` pickles (module-level functions, plain
data, and an `answer` or `also` that pickles too).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable

from smsc.store.blobs import pack, unpack
from smsc.store.columns import COLUMNS, to_message
from smsc.store.ids import first_id_at, format_id, parse_id
from smsc.store.store import Store, run_one
from smsc.store.types import Message, NewMessage, StoreError

CONSENT_EVENTS = ("opt-out", "opt-in", "help")


class IdempotencyConflict(StoreError):
    """The Idempotency-Key was used before with a different request body."""


async def accept_messages(store: Store, messages: list[NewMessage], now: float, *,
                          answer: Callable[[list[str]], dict[str, Any]],
                          idempotency: tuple[str, str, bytes] | None = None) -> tuple[dict[str, Any], bool]:
    """Accept `messages`, committed; (the answer `answer(ids)` built, replayed).
    `answer` is called in the writer: it must pickle (a module-level function, or a
    functools.partial of one with plain data).

    With `idempotency` = (account, key, fingerprint of the request): a key seen before
    with the same fingerprint gives back the answer committed then (replayed True) and
    accepts nothing; with another fingerprint raises IdempotencyConflict. The key is
    recorded in the commit that accepts the messages, so no crash can separate them."""
    if idempotency is not None:
        earlier = await idempotent_answer(store, *idempotency)
        if earlier is not None:
            return earlier, True
    elif not any(message.body.get("client_ref") for message in messages):
        # Nothing to record beside the messages: the store's own accept (the HTTP API's
        # submit takes it directly). One request for all recipients: they are committed
        # together, and no gather (a future and a callback each).
        return answer(await store.accept_many(messages, now)), False
    payloads = [(message, pack(message.body), now) for message in messages]
    return await store.transact(_accept, (payloads, answer, idempotency, now))


async def _accept(store: Store, arg: tuple[list[tuple[NewMessage, bytes, float]], Callable[[list[str]], dict[str, Any]],
                                           tuple[str, str, bytes] | None, float]) -> tuple[dict[str, Any], bool]:
    payloads, answer, idempotency, now = arg
    if idempotency is not None:
        # Two requests with one key may both have passed the read above: the writer
        # runs one transaction at a time, so this second look settles it.
        earlier = await idempotent_answer(store, *idempotency, db=store.db)
        if earlier is not None:
            return earlier, True
    ids = await store._write_accepts(payloads) if payloads else []
    refs = [(message.account, message.body["client_ref"], parse_id(message_id))
            for (message, _, _), message_id in zip(payloads, ids) if message.body.get("client_ref")]
    if refs:
        await store.db.executemany("INSERT INTO client_refs (account, client_ref, message_id) VALUES (?, ?, ?)", refs)
    response = answer(ids)
    if idempotency is not None:
        account, key, fingerprint = idempotency
        await store.db.execute("INSERT INTO idempotency (account, key, fingerprint, response, created)"
                               " VALUES (?, ?, ?, ?, ?)", (account, key, fingerprint, pack(response), now))
    return response, False


async def idempotent_answer(store: Store, account: str, key: str, fingerprint: bytes,
                            db: Any = None) -> dict[str, Any] | None:
    """The answer committed for this key (IdempotencyConflict for another fingerprint)."""
    sql = "SELECT fingerprint, response FROM idempotency WHERE account = ? AND key = ?"
    async with (db or store.reader).execute(sql, (account, key)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    if bytes(row[0]) != fingerprint:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was used with a different request")
    return unpack(row[1])


async def forget_idempotency(store: Store, before: float) -> int:
    """Drop keys recorded before `before`; how many."""
    return await store.transact(run_one, ("DELETE FROM idempotency WHERE created < ?", (before,)))


async def forget_client_refs(store: Store, before: float, limit: int = 10_000) -> int:
    """Drop up to `limit` client references of messages accepted before `before` that are
    gone from the store (purged with the messages' retention; a live message keeps its
    reference); how many. The table's key starts with the account, so this scans it:
    call it now and then, not per request."""
    sql = ("DELETE FROM client_refs WHERE (account, client_ref, message_id) IN"
           " (SELECT account, client_ref, message_id FROM client_refs WHERE message_id < ?"
           " AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.id = client_refs.message_id) LIMIT ?)")
    return await store.transact(run_one, (sql, (first_id_at(before), limit)))


# --- opt-outs and their audit ----------------------------------------------------------


# (account, sender, handset, event, source, text, time)
ConsentRow = tuple[str, str, str, str, str, str, float]


# More `transact` work for the same commit: (a module-level function, its argument).
Also = tuple[Callable[[Store, Any], Awaitable[Any]], Any]


async def record_consent(store: Store, events: Iterable[ConsentRow], *, also: Also | None = None) -> Any:
    """Apply opt-out / opt-in events and append them to the audit, in one commit; `also`
    = (work, arg), awaited as `work(store, arg)` inside that transaction, adds what
    belongs with them (the MO itself); what it returns is returned (else None)."""
    rows = list(events)
    for row in rows:
        if row[3] not in CONSENT_EVENTS:
            raise ValueError(f"unknown consent event {row[3]!r}")
    return await store.transact(_consent, (rows, also))


async def _consent(store: Store, arg: tuple[list[ConsentRow], Also | None]) -> Any:
    rows, also = arg
    db = store.db
    for account, sender, handset, event, _source, _text, time in rows:
        if event == "opt-out":
            await db.execute("INSERT OR IGNORE INTO optouts (account, sender, handset, created)"
                             " VALUES (?, ?, ?, ?)", (account, sender, handset, time))
        elif event == "opt-in":
            await db.execute("DELETE FROM optouts WHERE account = ? AND sender = ? AND handset = ?",
                             (account, sender, handset))
    await db.executemany("INSERT INTO consent_audit (account, sender, handset, event, source, text, time)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    if also is None:
        return None
    work, also_arg = also
    return await work(store, also_arg)


async def optouts(store: Store, account: str | None = None) -> list[tuple[str, str, str, float]]:
    """(account, sender, handset, since) of every opt-out (of one account)."""
    sql = "SELECT account, sender, handset, created FROM optouts"
    args: tuple[Any, ...] = ()
    if account is not None:
        sql, args = sql + " WHERE account = ?", (account,)
    async with store.reader.execute(sql + " ORDER BY account, sender, handset", args) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


async def consent_audit(store: Store, account: str, since: float = 0.0,
                        limit: int = 10_000) -> list[tuple[str, str, str, str, str, float]]:
    """(sender, handset, event, source, text, time) of the account's consent events."""
    sql = ("SELECT sender, handset, event, source, text, time FROM consent_audit"
           " WHERE account = ? AND time >= ? ORDER BY id LIMIT ?")
    async with store.reader.execute(sql, (account, since, limit)) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


async def by_client_ref(store: Store, account: str, client_ref: str, after: int = 0,
                        limit: int = 100) -> list[Message]:
    """The account's messages sent with `client_ref`, oldest first, after id number
    `after`. A reference whose message was purged (and not yet forgotten) is passed over."""
    sql = (f"SELECT {COLUMNS} FROM messages WHERE id IN (SELECT c.message_id FROM client_refs c"
           " JOIN messages m ON m.id = c.message_id WHERE c.account = ? AND c.client_ref = ? AND c.message_id > ?"
           " ORDER BY c.message_id LIMIT ?) ORDER BY id")
    async with store.reader.execute(sql, (account, client_ref, after, limit)) as cursor:
        return [to_message(row) for row in await cursor.fetchall()]


async def messages_between(store: Store, account: str, since: float, until: float, after: int = 0,
                           limit: int = 100) -> list[Message]:
    """The account's messages accepted in [since, until), oldest first, after id number
    `after` (paging). Ids are time-ordered, so the range is a range of the table's B-tree."""
    sql = (f"SELECT {COLUMNS} FROM messages WHERE id >= ? AND id < ? AND id > ? AND account = ?"
           " ORDER BY id LIMIT ?")
    args = (first_id_at(since), first_id_at(until), after, account, limit)
    async with store.reader.execute(sql, args) as cursor:
        return [to_message(row) for row in await cursor.fetchall()]


async def receipts_of(store: Store, message_id: str) -> list[dict[str, Any]]:
    """The receipts queued for a message: where to, how far they got."""
    sql = ("SELECT id, account, state, attempts, created, done, last_error FROM outbound"
           " WHERE message_id = ? AND kind = 'receipt' ORDER BY id")
    async with store.reader.execute(sql, (parse_id(message_id),)) as cursor:
        rows = await cursor.fetchall()
    return [{"event_id": f"evt_{item:016x}", "queue": queue, "state": OUTBOUND_STATES[state], "attempts": attempts,
             "created": created, "done": done, "last_error": error}
            for item, queue, state, attempts, created, done, error in rows]


async def dead_letters(store: Store, queue: str, limit: int = 100) -> list[dict[str, Any]]:
    """Items of an outbound queue given up on (expired), newest first."""
    sql = ("SELECT id, kind, message_id, attempts, created, done, last_error FROM outbound"
           " WHERE account = ? AND state = 2 ORDER BY id DESC LIMIT ?")
    async with store.reader.execute(sql, (queue, limit)) as cursor:
        rows = await cursor.fetchall()
    return [{"event_id": f"evt_{item:016x}", "kind": kind, "message_id": None if number is None else format_id(number),
             "attempts": attempts, "created": created, "dead_since": done, "last_error": error}
            for item, kind, number, attempts, created, done, error in rows]


OUTBOUND_STATES = {0: "pending", 1: "delivered", 2: "dead"}
