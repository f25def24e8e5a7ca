"""The durable message store: SQLite (WAL) through aiosqlite, group commit, msgpack blobs.

    store = await Store.open("smsc.db")          # or Store.from_config(config)
    message_id = await store.accept(NewMessage(account, source, destination, body))
"""
from smsc.store import types
from smsc.store.ids import format_id, parse_id
from smsc.store.outbound import OutboundClaim
from smsc.store.store import Store, default_receipt
from smsc.store.types import *  # noqa: F403 - the request and answer types, listed in types.__all__

__all__ = ["OutboundClaim", "Store", "default_receipt", "format_id", "parse_id", *types.__all__]
