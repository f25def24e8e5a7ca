"""WAL checkpoints beside the writer, so that copying the WAL never stops accepts for long.

In WAL mode every commit appends the pages it changed to the WAL (the tails of the
messages table and its indexes: a few pages, whatever the batch), and a checkpoint copies
the newest version of each page into the database file. Before copying, it syncs the WAL,
and that is the expensive part: everything appended since the last sync goes to the disk.
A writer that stopped for the whole checkpoint (what the store did first) stopped for
hundreds of milliseconds after a few thousand small commits.

So checkpoints run on a connection and thread of their own, as PASSIVE passes that never
wait for, nor block, the writer: one every `every` transactions, and one whenever the
writer falls idle with transactions not yet copied. A pass copies what was committed
when it began; once one finds everything copied and no transaction began while it ran,
the writer's next transaction writes the WAL from its start again, so the file stays
small. Under load that never leaves the writer idle, transactions keep landing during
the passes: when `limit` of them have gone by without the WAL starting over, the writer
waits for one pass before its next, and that pass has only what came since the last one
to copy (a few milliseconds).
"""
from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor

EVERY = 256  # transactions between two passes under load: a few MB of WAL, synced in ~10 ms
LIMIT = 4 * EVERY  # transactions without the WAL starting over before the writer waits for a pass
IDLE_AFTER = 32  # transactions since the last pass before an idle writer starts one


class Checkpointer:
    def __init__(self, path: str, synchronous: str, every: int = EVERY, limit: int = LIMIT,
                 idle_after: int = IDLE_AFTER) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="smsc-checkpoint")
        self._loop = asyncio.get_running_loop()
        self.every, self.limit, self.idle_after = every, limit, idle_after
        self._since_pass = 0  # transactions begun since the running (or last) pass began
        self._uncopied = 0  # transactions since everything in the WAL was last known copied
        self._pass: asyncio.Future[bool] | None = None
        self.passes = 0  # completed passes: for tests

    def before_commit(self) -> "asyncio.Future[bool] | None":
        """Count the transaction the writer is about to begin. Returns a pass to await
        first when the WAL has gone `limit` transactions without starting over (the
        transaction then begins after it, with every frame copied), else None. So the
        WAL holds at most about 2 x `limit` transactions, whatever the disk's speed."""
        self._uncopied += 1
        if self._pass is None or self._pass.done():
            if self._uncopied >= self.limit:
                return self.start()
            if self._since_pass >= self.every:
                self.start()
        elif self._uncopied >= 2 * self.limit:
            return self._pass  # a pass slow to end (a slow disk): the next one after it
        self._since_pass += 1  # begun beside the pass, if one runs
        return None

    def idle(self) -> None:
        """The writer has nothing to do: copy what is left, so the WAL can start over
        (at most once every `idle_after` transactions: each pass syncs the disk twice)."""
        if (self._pass is None or self._pass.done()) and self._uncopied and self._since_pass >= self.idle_after:
            self.start()

    def start(self) -> "asyncio.Future[bool]":
        """Start a pass now: a future of whether it found every frame copied."""
        self._since_pass = 0
        self._pass = self._loop.run_in_executor(self._thread, self._copy)
        self._pass.add_done_callback(self._passed)
        return self._pass

    async def close(self) -> None:
        if self._pass is not None:
            await asyncio.gather(self._pass, return_exceptions=True)
        self._thread.shutdown()
        self._db.close()

    def _passed(self, copy: "asyncio.Future[bool]") -> None:
        # Runs on the loop, in order with the writer: no transaction begun since the pass
        # began means none wrote beside it, so the WAL holds nothing left to copy. (Only
        # for the latest pass: the next may have begun between this one's end and now.)
        if (copy is self._pass and not copy.cancelled() and copy.exception() is None and copy.result()
                and self._since_pass == 0):
            self._uncopied = 0

    def _copy(self) -> bool:
        try:
            # Read to the end: the statement must finish before the connection is reused.
            (_, frames, copied), = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            return False  # busy or failing: the next pass copies what this one left
        self.passes += 1
        return frames == copied
