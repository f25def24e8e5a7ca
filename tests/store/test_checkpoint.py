"""WAL checkpoints beside the writer (smsc.store.checkpoint): the WAL is copied into the
database while accepts go on, the writer waits only for a short tail, and the WAL is
written from its start again instead of growing with every message accepted."""
from __future__ import annotations

import asyncio
import os
import sqlite3

from smsc.store.checkpoint import Checkpointer

from .conftest import NOW, message

EVERY = 16  # commits between passes: small, so a short test sees many
LIMIT = 256  # frames: 1 MB of WAL at 4 KiB pages


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
        store.checkpointer.every, store.checkpointer.limit_frames = EVERY, LIMIT
        # Five callers keep the writer committing back to back.
        await asyncio.gather(*(caller(store, 6000) for _ in range(5)))
        count = await store.reader.execute_fetchall("SELECT COUNT(*) FROM messages")
        return store.transactions, count

    transactions, [(count,)] = in_store(scenario)
    frame = 4096 + 24
    per_commit = max(size for done, size in sizes if done <= EVERY) / EVERY
    # Grown with every commit, the WAL would end at `transactions` commits' worth, well
    # past the limit; reused, it is written from its start again, time after time, and
    # stays within about twice LIMIT (a pass slow to end: a slow disk).
    assert count >= 6000 and transactions * per_commit > 10 * LIMIT * frame
    assert len(salts) >= 5
    assert max(size for _, size in sizes) < 3 * LIMIT * frame


class Writer:
    """A bare writer on a WAL file: the checkpointer counts each commit before it."""

    def __init__(self, db_path: str, **options: int) -> None:
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self.db.execute("CREATE TABLE t (x BLOB)")
        self.checkpointer = Checkpointer(db_path, "NORMAL", **options)

    def commit(self):
        wait = self.checkpointer.before_commit()
        if wait is None:  # else the caller awaits the pass, then commits
            self.db.execute("INSERT INTO t VALUES (?)", (os.urandom(2000),))
        return wait

    async def pass_ends(self) -> None:
        running = self.checkpointer.running
        assert running is not None
        await running  # its end is seen on the loop too once this returns

    async def passed(self, count: int) -> None:
        """Until `count` passes have ended (seen on the loop too), within 5 s."""
        for _ in range(500):
            if self.checkpointer.passes >= count and self.checkpointer.running is None:
                await asyncio.sleep(0)  # the pass's end callback, on the loop
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{self.checkpointer.passes} passes, {count} expected")

    async def idle_for(self, seconds: float) -> None:
        self.checkpointer.idle()
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        await self.checkpointer.close()
        self.db.close()


def test_an_idle_writer_has_the_wal_copied_and_started_over(db_path):
    async def main():
        writer = Writer(db_path, every=100, limit_bytes=1 << 30, idle_after=3, idle_delay=0.02)
        try:
            assert [writer.commit() for _ in range(3)] == [None] * 3  # nobody waits
            salt = wal_salt(db_path)
            assert not writer.checkpointer.starts_over()
            writer.checkpointer.idle()
            assert writer.checkpointer.running is None  # not at once: the pause must last
            await writer.passed(1)
            # Nothing was committed beside the pass: the next commit writes the WAL from its
            # start (and syncs its header, so the store commits it on a thread).
            assert writer.checkpointer.starts_over() and not writer.checkpointer.starts_over()
            writer.commit()
            assert wal_salt(db_path) != salt
        finally:
            await writer.close()

    asyncio.run(main())


def test_short_pauses_between_commits_start_no_pass(db_path):
    # A steady load leaves the writer idle between reads for moments: a pass started in
    # each would overlap the next commits (no WAL restart) and only compete for the cores.
    async def main():
        writer = Writer(db_path, every=1000, limit_bytes=1 << 30, idle_after=3, idle_delay=0.05)
        try:
            for _ in range(20):
                writer.commit()
                await writer.idle_for(0.01)
                assert writer.checkpointer.running is None
            assert writer.checkpointer.passes == 0
            writer.checkpointer.idle()  # a pause that lasts: the pass starts
            await writer.passed(1)
        finally:
            await writer.close()

    asyncio.run(main())


def test_a_busy_writer_waits_only_when_the_wal_has_gone_too_long(db_path):
    async def main():
        writer = Writer(db_path, every=3, limit_bytes=3 * (4096 + 24), idle_after=1000)
        try:
            # Every third commit starts a pass beside the writer; commits keep landing
            # beside it, so the WAL cannot start over, and nobody waits for it...
            assert [writer.commit() for _ in range(7)] == [None] * 7
            await writer.pass_ends()
            salt = wal_salt(db_path)
            # ...until a pass saw the WAL past the limit: then the writer waits for a pass,
            # which has nothing beside it, and its next commit writes the WAL from the start.
            wait = writer.commit()
            assert wait is not None and await wait
            writer.commit()
            assert wal_salt(db_path) != salt
        finally:
            await writer.close()

    asyncio.run(main())
