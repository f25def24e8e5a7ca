"""WAL checkpoints beside the writer, so that copying the WAL never stops accepts for long.

In WAL mode every commit appends the pages it changed to the WAL (the tails of the
messages table and its indexes: a few pages, whatever the batch), and a checkpoint copies
the newest version of each page into the database file. Before copying, it syncs the WAL,
and that is the expensive part: everything appended since the last sync goes to the disk.
A writer that stopped for the whole checkpoint (what the store did first) stopped for
hundreds of milliseconds after a few thousand small commits.

So checkpoints run on a connection and thread of their own, as PASSIVE passes that never
wait for, nor block, the writer: one every `every` transactions, and one whenever the
writer has stayed idle a moment with transactions not yet copied. A pass copies what was committed
when it began; once one finds everything copied and no transaction began while it ran,
the writer's next transaction writes the WAL from its start again, so the file stays
small. Under load that never leaves the writer idle, transactions keep landing during
the passes: once the WAL has grown past `limit_bytes` (256 MB) without starting over, the
writer waits for one pass before its next transaction, and that pass has only what came
since the last one to copy. That wait is the one stall left (the pass's two syncs: 5-40
ms on a busy virtual disk, session 4), so the limit makes it rare: a commit of a few
messages writes ~25 KB of WAL (whole 4 KiB pages of the table's and indexes' tails), so
at 20,000 accepts/s in commits of 20 the WAL grows ~25 MB/s: one wait every ~10 s (it
was every ~2.5 s with 64 MB, enough to put a half-load p99 over 10 ms).
"""
from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor

EVERY = 256  # transactions between two passes under load: a few MB of WAL, synced in ~10 ms
LIMIT_BYTES = 256 << 20  # WAL beyond which the writer waits for a pass before its next transaction
IDLE_AFTER = 32  # transactions since the last pass before an idle writer starts one
# How long the writer must have stayed idle before that pass starts. Under a steady load
# it falls idle between reads for well under a millisecond: a pass started then (with
# its copy and two syncs) overlaps the next commits, cannot start the WAL over, and only
# competed with the writer for the cores (measured: one pass every ~32 commits, 16-19 a
# second, at 1,000 commits/s, against ~4 from `every`). A real pause in the traffic lasts.
IDLE_DELAY = 0.05


class Checkpointer:
    def __init__(self, path: str, synchronous: str, every: int = EVERY, limit_bytes: int = LIMIT_BYTES,
                 idle_after: int = IDLE_AFTER, idle_delay: float = IDLE_DELAY) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        (page_size,) = self._db.execute("PRAGMA page_size").fetchone()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="smsc-checkpoint")
        self._loop = asyncio.get_running_loop()
        self.every, self.idle_after, self.idle_delay = every, idle_after, idle_delay
        self._begun = 0  # transactions begun in all
        self._idle_at, self._idle_since = -1, 0.0  # `_begun` and the loop's time at the writer's last idle()
        self._idle_check: asyncio.TimerHandle | None = None
        self.limit_frames = limit_bytes // (page_size + _FRAME_HEADER)
        self._since_pass = 0  # transactions begun since the running (or last) pass began
        # What the WAL holds is known only when a pass reads it; between passes it is
        # estimated from the transactions written to it since it started over, at the
        # frames a transaction took by the last pass's count (idle passes are rare, and
        # a pass slowed by a busy machine must not leave the writer blind meanwhile).
        self._in_wal = 0  # transactions in the WAL since it started over
        self._in_wal_at_pass = 0  # ... when the running (or last) pass began
        self._frames_per_transaction = 0.0
        self._pass: asyncio.Future[tuple[int, int]] | None = None
        self._starting_over = False  # the next commit writes the WAL from its start
        self.passes = 0  # completed passes: for tests

    def before_commit(self) -> "asyncio.Future[tuple[int, int]] | None":
        """Count the transaction the writer is about to begin. Returns a pass to await
        first when the WAL has grown past the limit without starting over (the
        transaction then begins after it, with every frame copied), else None. So the
        WAL stays within about twice the limit, whatever the disk's speed."""
        running = self.running
        if running is None:
            if self._wal_frames() >= self.limit_frames:
                return self.start()
            if self._since_pass >= self.every:
                self.start()
        elif self._wal_frames() >= 2 * self.limit_frames:
            return running  # a pass slow to end (a slow disk): the next one after it
        self._since_pass += 1  # begun beside the pass, if one runs
        self._in_wal += 1
        self._begun += 1
        return None

    def starts_over(self) -> bool:
        """Whether the commit under way writes the WAL from its start again, which syncs
        the WAL's new header (under NORMAL too): worth a thread, not the event loop.
        Asked once per commit."""
        starting_over, self._starting_over = self._starting_over, False
        return starting_over

    @property
    def running(self) -> "asyncio.Future[tuple[int, int]] | None":
        """The pass under way, if any."""
        return None if self._pass is None or self._pass.done() else self._pass

    def idle(self) -> None:
        """The writer has nothing to do: once it has stayed so for `idle_delay`, copy
        what is left, so the WAL can start over (at most once every `idle_after`
        transactions: each pass syncs the disk twice)."""
        self._idle_at, self._idle_since = self._begun, self._loop.time()
        if self._idle_check is None:
            self._idle_check = self._loop.call_later(self.idle_delay, self._still_idle)

    def _still_idle(self) -> None:
        self._idle_check = None
        if self._idle_at != self._begun:
            return  # busy again: its next idle() looks again
        left = self._idle_since + self.idle_delay - self._loop.time()
        if left > 0:  # idle again, but not for long yet
            self._idle_check = self._loop.call_later(left, self._still_idle)
        elif self.running is None and self._since_pass >= self.idle_after:
            self.start()

    def start(self) -> "asyncio.Future[tuple[int, int]]":
        """Start a pass now: a future of (frames in the WAL, frames copied)."""
        self._since_pass, self._in_wal_at_pass = 0, self._in_wal
        self._pass = self._loop.run_in_executor(self._thread, self._copy)
        self._pass.add_done_callback(self._passed)
        return self._pass

    async def close(self) -> None:
        if self._idle_check is not None:
            self._idle_check.cancel()
        if self._pass is not None:
            await asyncio.gather(self._pass, return_exceptions=True)
        self._thread.shutdown()
        self._db.close()

    def _passed(self, copy: "asyncio.Future[tuple[int, int]]") -> None:
        # Runs on the loop, in order with the writer. Only the latest pass counts: the
        # next may have begun between this one's end and now.
        if copy is not self._pass or copy.cancelled() or copy.exception() is not None:
            return
        frames, copied = copy.result()
        if copied < 0:
            return  # the pass failed: nothing learned
        if self._in_wal_at_pass:
            self._frames_per_transaction = frames / self._in_wal_at_pass
        # Every frame copied and no transaction begun since the pass began (none wrote
        # beside it): the writer's next transaction writes the WAL from its start.
        self._starting_over = frames == copied and self._since_pass == 0
        if self._starting_over:
            self._in_wal = 0

    def _wal_frames(self) -> float:
        return self._frames_per_transaction * self._in_wal

    def _copy(self) -> tuple[int, int]:
        try:
            # Read to the end: the statement must finish before the connection is reused.
            (_, frames, copied), = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception:  # busy, failing (a full disk...): the next pass copies what this one left;
            return 0, -1  # the writer, which may be waiting on it, must never see it raise
        self.passes += 1
        return frames, copied


_FRAME_HEADER = 24  # octets before each page in the WAL
