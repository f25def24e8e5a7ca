"""WAL checkpoints beside the writer (smsc.store.checkpoint): the WAL is copied into the
database while accepts go on, the writer waits only for a short tail, and the WAL is
written from its start again instead of growing with every message accepted."""
from __future__ import annotations

import asyncio
import os
import sqlite3

from smsc.store.checkpoint import Checkpointer

from .conftest import NOW, message

EVERY = 32  # commits between bulk passes: small, so a short test sees many cycles


def wal_salt(db_path: str) -> bytes:
    # SQLite draws a new salt in the WAL header each time it writes the WAL from its start.
    with open(db_path + "-wal", "rb") as wal:
        return wal.read(24)[16:20]


def test_the_wal_is_reused_under_continuous_accepts(in_store, db_path):
    sizes: list[tuple[int, int]] = []  # (transactions, WAL file size) after each accept
    salts: set[bytes] = set()

    async def caller(store, total):
        while len(sizes) < total:
            await store.accept(message(body={"short_message": b"x" * 120}), now=NOW)
            sizes.append((store.transactions, os.path.getsize(db_path + "-wal")))
            salts.add(wal_salt(db_path))

    async def scenario(store):
        store.checkpointer.every = EVERY
        # Five callers keep the writer busy: there is never a pause between two batches.
        await asyncio.gather(*(caller(store, 6000) for _ in range(5)))
        count = await store.reader.execute_fetchall("SELECT COUNT(*) FROM messages")
        return store.transactions, store.checkpointer.passes, count

    transactions, passes, [(count,)] = in_store(scenario)
    assert count >= 6000
    cycles = transactions // (2 * EVERY)  # a bulk pass after EVERY commits, the tail after as many at most
    assert cycles >= 5 and passes >= 2 * cycles
    assert len(salts) >= cycles  # written from its start again, cycle after cycle
    # Grown with every commit, the WAL would end at about `transactions` commits' worth;
    # reused, it holds a cycle's (EVERY commits, the tail after them, a few more).
    per_commit = max(size for done, size in sizes if done <= EVERY) / EVERY
    assert max(size for _, size in sizes) < 4 * EVERY * per_commit < transactions * per_commit / 3


def test_the_writer_waits_only_for_the_tail(db_path):
    async def main():
        db = sqlite3.connect(db_path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute("CREATE TABLE t (x BLOB)")
        checkpointer = Checkpointer(db_path, "NORMAL", every=3)

        def commit():
            db.execute("INSERT INTO t VALUES (?)", (os.urandom(2000),))
            return checkpointer.committed()

        try:
            assert commit() is None and commit() is None
            assert commit() is None  # the third commit starts a bulk pass; nobody waits for it
            bulk = checkpointer._bulk
            assert bulk is not None
            await bulk
            salt = wal_salt(db_path)
            tail = commit()  # the first commit after the bulk pass: the writer waits for the tail
            assert tail is not None
            await tail
            assert checkpointer.passes == 2
            commit()  # every frame copied: this transaction writes the WAL from its start
            assert wal_salt(db_path) != salt

            # Commits that pile up behind a bulk pass (its end is only seen once the loop
            # runs) make another bulk pass, not a long tail.
            assert [commit() for _ in range(3)] == [None, None, None]
            bulk = checkpointer._bulk
            assert [commit() for _ in range(4)] == [None] * 4
            await bulk
            assert commit() is None
            assert checkpointer._bulk is not None and checkpointer._bulk is not bulk
        finally:
            await checkpointer.close()
            db.close()

    asyncio.run(main())
