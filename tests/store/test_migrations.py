import asyncio
import sqlite3

import aiosqlite
import msgpack
import pytest

from smsc.smpp.constants import MessageState
from smsc.store import NewMessage, Store, schema

from .conftest import NOW


def versions(db_path):
    with sqlite3.connect(db_path) as db:
        return [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY version")]


def test_a_new_file_gets_every_migration_in_wal_mode(in_store, db_path):
    async def scenario(store):
        return await store.outbound("nobody")

    assert in_store(scenario) == []
    assert versions(db_path) == [number for number, _ in schema.MIGRATIONS]
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA page_size").fetchone() == (4096,)


def test_a_file_made_with_other_pages_keeps_them(in_store, db_path):
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA page_size=16384")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE made_before (x)")

    async def scenario(store):
        return await store.accept(NewMessage("acme", "Shop", "447700900001", {"short_message": b"x"}), now=NOW)

    assert in_store(scenario)
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (16384,)


def test_an_old_schema_is_migrated_and_its_messages_kept(db_path):
    async def make_version_1():
        async with aiosqlite.connect(db_path, isolation_level=None) as db:
            assert await schema.migrate(db, NOW, target=1) == [1]
            # A message as a version-1 smsc stored it, asking for a receipt.
            await db.execute(
                "INSERT INTO messages (id, account, source, destination, state, submitted, scheduled, updated,"
                " registered_delivery, body) VALUES (?, 'acme', 'Shop', '447700900001', 1, ?, ?, ?, 1, ?)",
                (0x1234, NOW, NOW, NOW, msgpack.packb({"short_message": b"old"})))

    async def upgrade():
        store = await Store.open(db_path, clock=lambda: NOW)
        try:
            old = await store.query("acme", "0000000000001234")
            await store.update(old.id, MessageState.DELIVERED, now=NOW + 1)  # its receipt needs table 2
            return old, await store.outbound("acme")
        finally:
            await store.close()

    asyncio.run(make_version_1())
    assert versions(db_path) == [1]
    old, outbound = asyncio.run(upgrade())
    assert versions(db_path) == [number for number, _ in schema.MIGRATIONS]
    assert old.body == {"short_message": b"old"} and old.state is MessageState.ENROUTE
    assert len(outbound) == 1


def test_migrating_again_applies_nothing(db_path):
    async def twice():
        async with aiosqlite.connect(db_path, isolation_level=None) as db:
            return await schema.migrate(db, NOW), await schema.migrate(db, NOW)

    first, second = asyncio.run(twice())
    assert first == [number for number, _ in schema.MIGRATIONS] and second == []


def test_a_newer_schema_is_refused(db_path):
    async def future_file():
        async with aiosqlite.connect(db_path, isolation_level=None) as db:
            await schema.migrate(db, NOW)
            await db.execute("INSERT INTO schema_version VALUES (?, ?)", (schema.LATEST + 1, NOW))
        with pytest.raises(RuntimeError, match="newer"):
            await Store.open(db_path)

    asyncio.run(future_file())
