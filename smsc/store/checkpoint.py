"""WAL checkpoints beside the writer, so that copying the WAL never stops accepts for long.

In WAL mode every commit appends the pages it changed to the WAL (the tails of the
messages table and its indexes: a few pages, whatever the batch), and a checkpoint copies
the newest version of each page into the database file. Before copying, it syncs the WAL,
and that is the expensive part: everything appended since the last sync goes to the disk.
A writer that stopped for the whole checkpoint (what the store did first) stopped for
hundreds of milliseconds after a few thousand small commits.

So the copying is split in two:
- a *bulk* pass on a connection and thread of its own, started every `every` commits,
  while the writer goes on committing: it syncs and copies what was committed when it
  began (a PASSIVE checkpoint never waits for, nor blocks, the writer);
- once the bulk pass is done, a *tail* pass, with the writer waiting between two
  transactions, copies the few commits made meanwhile. With every frame copied, the
  writer's next transaction writes the WAL from its start again, so the file stays the
  size of a few hundred commits instead of growing with every message.
If the bulk pass took long enough for many commits to pile up behind it, another bulk
pass goes first: the writer only ever waits for a short tail.
"""
from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor

# Commits between two bulk passes: a few MB of WAL, synced in ~10 ms beside the writer.
EVERY = 256


class Checkpointer:
    def __init__(self, path: str, synchronous: str, every: int = EVERY) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="smsc-checkpoint")
        self._loop = asyncio.get_running_loop()
        self.every = every
        self._commits = 0  # since the running (or last) pass began
        self._bulk: asyncio.Future[None] | None = None
        self.passes = 0  # completed, bulk and tail: for tests

    def committed(self) -> "asyncio.Future[None] | None":
        """Count one commit. Returns a tail pass the writer must await before its next
        transaction, or None to go on at once."""
        self._commits += 1
        bulk = self._bulk
        if bulk is None:
            if self._commits >= self.every:
                self._bulk = self.start()
            return None
        if not bulk.done():
            return None
        self._bulk = None
        if self._commits > self.every:
            self._bulk = self.start()  # a long tail: copy most of it beside the writer first
            return None
        return self.start()

    async def close(self) -> None:
        if self._bulk is not None:
            await asyncio.gather(self._bulk, return_exceptions=True)
        self._thread.shutdown()
        self._db.close()

    def start(self) -> "asyncio.Future[None]":
        """Start a pass now: a future of its end."""
        self._commits = 0
        return self._loop.run_in_executor(self._thread, self._pass)

    def _pass(self) -> None:
        try:
            # Read to the end: the statement must finish before the connection is reused.
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            return  # busy or failing: the next pass copies what this one left
        self.passes += 1
