"""The store's schema as numbered migrations, applied in order and recorded.

A migration is (version, SQL script). Each runs in its own transaction together with the
row that records it in `schema_version`, so a crash mid-migration leaves the previous
version intact. Never edit a released step: add the next number.

Times are epoch seconds (REAL, UTC). `messages.id` is the integer behind the hex message
id (see ids.py), so the table is SQLite's rowid B-tree: inserts append, no extra index.
The variable part of a message (short_message, data_coding, esm_class, TLVs, parts,
options) is one msgpack blob; only what the queues and lookups filter on is a column.
Partial indexes (WHERE final IS NULL) hold live messages only, so they stay small however
many finished messages the table keeps.
"""
from __future__ import annotations

import aiosqlite

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    service_type TEXT NOT NULL DEFAULT '',
    state INTEGER NOT NULL,
    submitted REAL NOT NULL,
    scheduled REAL NOT NULL,          -- submitted when sent at once
    expires REAL,                     -- NULL: no validity limit
    updated REAL NOT NULL,
    final REAL,                       -- when a final state was reached; NULL while live
    registered_delivery INTEGER NOT NULL DEFAULT 0,
    segments INTEGER NOT NULL DEFAULT 1,
    upstream TEXT,                    -- the carrier bind it went to
    carrier_id TEXT,                  -- the carrier's message id, for its receipts
    error INTEGER,                    -- last network/carrier error code
    body BLOB NOT NULL
);
-- Each index costs every accept a B-tree insert, so there are few and they are partial:
-- live messages not yet handed to an upstream (by schedule: restart recovery, scheduled
-- sends), live messages by validity (expiry), live messages by destination (cancel_sm
-- without a message_id; source and account filter the few rows found), and carrier ids
-- (set after the accept, so free at accept time) to match incoming receipts.
CREATE INDEX messages_due ON messages(scheduled) WHERE final IS NULL AND upstream IS NULL;
CREATE INDEX messages_expiry ON messages(expires) WHERE final IS NULL AND expires IS NOT NULL;
CREATE INDEX messages_destination ON messages(destination) WHERE final IS NULL;
CREATE INDEX messages_carrier ON messages(upstream, carrier_id) WHERE carrier_id IS NOT NULL;
-- State changes after the accept (messages.submitted) but the final one, which the row
-- keeps (final, state, error; stores before 2026-11-24 wrote it here too: store.full_history).
CREATE TABLE history (
    message_id INTEGER NOT NULL,
    state INTEGER NOT NULL,
    time REAL NOT NULL,
    error INTEGER
);
CREATE INDEX history_message ON history(message_id);
"""),
    (2, """
-- deliver_sm waiting for an ESME: receipts now, MO later. state 0 pending, 1 delivered,
-- 2 expired. In flight is not a state: taking an item pushes next_attempt out by a lease,
-- so an item taken by a process that died is offered again when the lease ends.
CREATE TABLE outbound (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,               -- 'receipt' or 'mo'
    message_id INTEGER,               -- the message a receipt is about
    body BLOB NOT NULL,               -- msgpack: deliver_sm fields
    created REAL NOT NULL,
    next_attempt REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires REAL NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    done REAL,
    last_error INTEGER
);
CREATE INDEX outbound_due ON outbound(account, next_attempt) WHERE state = 0;
CREATE INDEX outbound_expiry ON outbound(expires) WHERE state = 0;
"""),
    (3, """
-- Measured: the index on destination (random keys, so B-tree inserts all over the index)
-- cost each accept about as much as the table insert itself. cancel_sm by address is
-- rare: it now walks the live messages, which the expiry index lists once it keeps the
-- live messages without a validity too.
DROP INDEX messages_destination;
DROP INDEX messages_expiry;
CREATE INDEX messages_live ON messages(expires) WHERE final IS NULL;
"""),
    (4, """
-- The parts of a message that went to a carrier as several submit_sm, each with the
-- carrier's id for it (messages.carrier_id holds the first part's), and what each
-- part's receipt said: the message's own receipt waits until every part is final.
CREATE TABLE carrier_parts (
    upstream TEXT NOT NULL,
    carrier_id TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    part INTEGER NOT NULL,            -- 1-based
    parts INTEGER NOT NULL,
    state INTEGER,                    -- NULL until its receipt came
    error INTEGER,
    updated REAL NOT NULL,
    PRIMARY KEY (upstream, carrier_id)
) WITHOUT ROWID;
CREATE INDEX carrier_parts_message ON carrier_parts(message_id);
"""),
    (5, """
-- Receipts whose carrier id matches no message yet (a carrier may send the receipt
-- before the submit_sm_resp): kept until the id appears or they are too old.
CREATE TABLE early_receipts (
    upstream TEXT NOT NULL,
    carrier_id TEXT NOT NULL,
    received REAL NOT NULL,
    state INTEGER NOT NULL,
    error INTEGER,
    PRIMARY KEY (upstream, carrier_id)
) WITHOUT ROWID;
CREATE INDEX early_receipts_received ON early_receipts(received);
"""),
    (6, """
-- The HTTP API and compliance (smsc/store/http_tables.py). An Idempotency-Key and what it
-- answered, committed with the messages it accepted, so a retry gets the same ids.
CREATE TABLE idempotency (
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint BLOB NOT NULL,        -- SHA-256 of the request body
    response BLOB NOT NULL,           -- msgpack: the answer given
    created REAL NOT NULL,
    PRIMARY KEY (account, key)
) WITHOUT ROWID;
-- Handsets that said STOP, per account and sender ('' for every sender of the account).
CREATE TABLE optouts (
    account TEXT NOT NULL,
    sender TEXT NOT NULL,
    handset TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (account, sender, handset)
) WITHOUT ROWID;
-- Append-only: every opt-out, opt-in and help request, where it came from and its text.
CREATE TABLE consent_audit (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    sender TEXT NOT NULL,
    handset TEXT NOT NULL,
    event TEXT NOT NULL,              -- 'opt-out', 'opt-in', 'help'
    source TEXT NOT NULL,             -- 'sms', 'api', 'import'
    text TEXT NOT NULL,
    time REAL NOT NULL
);
-- Messages sent with a client reference, to find them by it (GET /v1/messages?client_ref=).
CREATE TABLE client_refs (
    account TEXT NOT NULL,
    client_ref TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (account, client_ref, message_id)
) WITHOUT ROWID;
CREATE TRIGGER consent_audit_append_only BEFORE UPDATE ON consent_audit
BEGIN SELECT RAISE(ABORT, 'consent_audit is append-only'); END;
"""),
    (7, """
-- Parts of concatenated MO messages, committed before the carrier hears ESME_ROK and kept
-- until the whole message (or what came before the reassembly timeout) is queued.
CREATE TABLE mo_parts (
    upstream TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    reference INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    received REAL NOT NULL,
    pdu BLOB NOT NULL,                -- the deliver_sm/data_sm as the carrier sent it
    PRIMARY KEY (upstream, source, destination, reference, total, seq)
) WITHOUT ROWID;
"""),
    (8, """
-- Client references of purged messages are forgotten by message number (a range).
CREATE INDEX client_refs_message ON client_refs(message_id);
"""),
)

LATEST = MIGRATIONS[-1][0]


async def current_version(db: aiosqlite.Connection) -> int:
    await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied REAL NOT NULL)")
    async with db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cursor:
        (version,) = await cursor.fetchone()
    return version


async def migrate(db: aiosqlite.Connection, now: float, target: int = LATEST) -> list[int]:
    """Apply every migration above the file's version up to `target`; the versions applied.

    A file from a newer smsc (version above LATEST) is refused rather than misread."""
    version = await current_version(db)
    if version > LATEST:
        raise RuntimeError(f"store schema version {version} is newer than this smsc knows ({LATEST})")
    applied = []
    for number, script in MIGRATIONS:
        if version < number <= target:
            await db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\n"
                f"INSERT INTO schema_version (version, applied) VALUES ({number}, {now!r});\nCOMMIT;"
            )
            applied.append(number)
    return applied
