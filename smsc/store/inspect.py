"""Read-only views of the store for operators (`smsc msg show`).

The file is opened with SQLite's mode=ro and without the store's lock: it runs beside a
serving gateway (WAL lets a reader in while the writer commits), never writes, never
migrates. Tables a migration has not made yet in this file read as empty.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec

from smsc.codec.decoding import part_text, read_part
from smsc.codec.text_errors import TextError
from smsc.smpp.constants import MessageState
from smsc.store.blobs import unpack
from smsc.store.columns import COLUMNS, to_message
from smsc.store.store import _message_number, full_history
from smsc.store.types import Message, OutboundState, StoreError, UnknownMessage


class CarrierPart(msgspec.Struct, frozen=True):
    """One submit_sm of the message at a carrier, and what its receipt said."""

    upstream: str
    carrier_id: str
    part: int
    parts: int
    state: MessageState | None  # None until its receipt came
    error: int | None
    updated: float


class Receipt(msgspec.Struct, frozen=True):
    """A receipt queued for the ESME, and how its delivery went."""

    id: int
    account: str
    state: OutboundState
    attempts: int
    created: float
    done: float | None
    last_error: int | None
    text: str  # the receipt's short_message


class MessageReport(msgspec.Struct, frozen=True):
    message: Message
    text: str | None  # the message's text; None for binary content
    history: tuple[tuple[MessageState, float, int | None], ...]  # (state, time, error) from the accept on
    parts: tuple[CarrierPart, ...]
    receipts: tuple[Receipt, ...]


def open_read_only(path: str | Path) -> sqlite3.Connection:
    if not Path(path).is_file():
        raise StoreError(f"no store at {path}")
    return sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True)


def message_text(body: dict[str, Any]) -> str | None:
    """The whole text of a stored message (UDH, SAR and payload read), None if binary."""
    coding = body.get("data_coding", 0)
    tlvs = tuple(tuple(tlv) for tlv in body.get("tlvs", ()))
    try:
        part = read_part(body.get("short_message", b""), body.get("esm_class", 0), coding, tlvs)
        return part_text(part, coding)
    except TextError:
        return None


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def message_report(db: sqlite3.Connection, message_id: str) -> MessageReport:
    """Everything the store knows about one message; UnknownMessage when it has none."""
    number = _message_number(message_id)
    if number >= 1 << 63:  # parse_id takes 16 hex digits, SQLite integers stop at 2**63 - 1
        raise UnknownMessage(f"no message {message_id!r}")
    row = db.execute(f"SELECT {COLUMNS} FROM messages WHERE id = ?", (number,)).fetchone()
    if row is None:
        raise UnknownMessage(f"no message {message_id!r}")
    message = to_message(row)
    history = full_history(message, db.execute(
        "SELECT state, time, error FROM history WHERE message_id = ? ORDER BY rowid", (number,)).fetchall())
    parts = []
    if _has_table(db, "carrier_parts"):
        sql = ("SELECT upstream, carrier_id, part, parts, state, error, updated FROM carrier_parts"
               " WHERE message_id = ? ORDER BY part")
        parts = [CarrierPart(upstream, carrier_id, part, total, None if state is None else MessageState(state),
                             error, updated)
                 for upstream, carrier_id, part, total, state, error, updated in db.execute(sql, (number,))]
    sql = ("SELECT id, account, state, attempts, created, done, last_error, body FROM outbound"
           " WHERE message_id = ? AND kind = 'receipt' ORDER BY id")
    receipts = [Receipt(item, account, OutboundState(state), attempts, created, done, last_error,
                        unpack(body).get("short_message", b"").decode("latin-1"))
                for item, account, state, attempts, created, done, last_error, body in db.execute(sql, (number,))]
    return MessageReport(message, message_text(message.body), tuple(history), tuple(parts), tuple(receipts))
