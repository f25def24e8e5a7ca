"""The durable message store: SQLite (WAL) through aiosqlite, group commit, msgpack blobs.

    store = await Store.open("smsc.db")
    message_id = await store.accept(NewMessage(account, source, destination, body))
"""
from smsc.store.ids import format_id, parse_id
from smsc.store.outbound import OutboundClaim
from smsc.store.store import Store, default_receipt
from smsc.store.types import (
    ClaimBusy,
    Message,
    MessageFinal,
    NewMessage,
    OutboundItem,
    OutboundState,
    StoreError,
    UnknownMessage,
)

__all__ = [
    "ClaimBusy", "Message", "MessageFinal", "NewMessage", "OutboundClaim", "OutboundItem", "OutboundState", "Store",
    "StoreError", "UnknownMessage", "default_receipt", "format_id", "parse_id",
]
