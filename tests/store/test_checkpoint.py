"""The WAL stays small under continuous writes: the writer checkpoints it on a thread
every few thousand requests, with no write beside the checkpoint, so it is reused from
its start instead of growing with every message accepted."""
from __future__ import annotations

import asyncio
import os

from smsc.store.store import _CHECKPOINT_EVERY

from .conftest import NOW, message

CALLERS = 20
TOTAL = int(_CHECKPOINT_EVERY * 2.5)  # past two checkpoints, never a pause between batches


def test_the_wal_is_reused_under_continuous_accepts(in_store, db_path):
    sizes: list[tuple[int, int]] = []  # (accepts done, WAL file size)

    async def caller(store):
        while len(sizes) < TOTAL:
            await store.accept(message(body={"short_message": b"x" * 120}), now=NOW)
            sizes.append((len(sizes), os.path.getsize(db_path + "-wal")))

    async def scenario(store):
        await asyncio.gather(*(caller(store) for _ in range(CALLERS)))
        return await store.reader.execute_fetchall("SELECT COUNT(*) FROM messages")

    [(count,)] = in_store(scenario)
    assert count >= TOTAL
    first_interval = max(size for done, size in sizes if done < _CHECKPOINT_EVERY)
    # Never reused, the WAL would be 2.5 times what the first interval wrote by the end.
    assert sizes[-1][1] < 1.5 * first_interval
