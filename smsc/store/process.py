"""The store's writer in a process of its own, so that SQLite and the Python around each
batch use the second core while the gateway's loop serves the sessions.

A thread cannot do this: the writer's Python holds the GIL, and a loop thread and a
writer thread together used one core (session 6, measured). So `ProcessStore` is the
same `Store` API in the gateway's process, with the writes made by a child process that
runs the real `Store` (smsc.store.store) on its own event loop:

    gateway process                               writer process (python -m smsc.store.process)
    ProcessStore._request(kind, payload) --pickled, one frame per loop turn--> Store._request
    futures resolved <--------- (answers, accepted messages, claim hand-overs, wakes) ---

Each request is the very (kind, payload) the in-process store queues, so the writer's
batching, ordering and commit-before-answer are the store's own: a future here is done
only after the child committed. What the writer calls back (the accepted hook, a claim's
hand-over, wake and catch-up) comes back as events in the frame of that commit, and is
applied here in the order the child made them, before the answers of the frame.
Everything crossing must pickle: `transact` work is a module-level function with plain
data (see smsc.store.forwarding), the receipt's re-route check and `outbound_queue` are
picklable objects.

Reads stay here, on this process's own read-only connection (WAL: they see every commit
an answer reported). The child holds the store's lock file; it serves until told to close
or until this process goes away (end of file on the socket), and then commits what was
queued before it exits, so a kill -9 of the gateway loses nothing it was told was
committed. A writer that dies on its own fails every request in flight with StoreError
and `lost` is set: the gateway stops (runtime), rather than accept what it cannot store.
"""
from __future__ import annotations

import asyncio
import functools
import pickle
import signal
import socket
import struct
import sys
import time
from typing import Any, Callable

import aiosqlite
import msgspec

from smsc.aio.loop import new_event_loop
from smsc.collector import settle_gc
from smsc.log import get_logger
from smsc.store.outbound import OutboundClaim
from smsc.store.store import ACCEPT_KINDS, OutboundQueue, Store, _accepted_message, own_queue
from smsc.store.types import Message, OutboundState, StoreError

_HEADER = struct.Struct("!I")

MAX_FRAME = 1 << 30  # a batch of requests is far below; a longer header is a broken stream
OPEN_WAIT = 10.0  # seconds the child waits for a previous writer of the same file to finish closing

# What the gateway's side reads of the writer's store (outbound claims use them).
_SETTINGS = ("synchronous", "receipt_expiry", "retry_initial", "retry_max", "retry_factor", "lease")

_log = get_logger("smsc.store.process")


class _Framed(asyncio.Protocol):
    """Length-prefixed pickled frames each way; what one loop turn queues goes as one frame."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._out: list[Any] = []
        self._flushing = False
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start, end = 0, len(buffer)
        while end - start >= 4:
            (size,) = _HEADER.unpack_from(buffer, start)
            if size > MAX_FRAME:
                raise StoreError(f"broken writer stream: a frame of {size} bytes")
            if end - start - 4 < size:
                break
            frame = pickle.loads(memoryview(buffer)[start + 4:start + 4 + size])
            start += 4 + size
            self.frame_received(frame)
        del buffer[:start]

    def frame_received(self, frame: Any) -> None:
        raise NotImplementedError

    def send(self, message: Any) -> None:
        self._out.append(message)
        if not self._flushing:
            self._flushing = True
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flushing = False
        if not self._out or self.transport is None or self.transport.is_closing():
            return
        messages, self._out = self._out, []
        try:
            data = pickle.dumps(self.framed(messages), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # something does not pickle: it alone is refused, the rest go
            messages = [crossing for crossing in map(self.crossing, messages) if crossing is not None]
            data = pickle.dumps(self.framed(messages), protocol=pickle.HIGHEST_PROTOCOL)
        self.transport.write(_HEADER.pack(len(data)) + data)

    def crossing(self, message: Any) -> Any:
        """`message` if it pickles, else what to send instead (None: nothing)."""
        try:
            pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            return self.refused(message, exc)
        return message

    def refused(self, message: Any, error: Exception) -> Any:
        _log.error("store_link_not_sent", what=message[0], error=repr(error))
        return None

    def framed(self, messages: list[Any]) -> Any:
        return messages


# --- the gateway's side ---------------------------------------------------------------------


class ProcessStore(Store):
    """A Store whose writer runs in a child process. Open with
    `await ProcessStore.open(path, ...)` (the options of `Store.open`; they must pickle)
    or `Store.from_config` with `[store] writer = "process"`."""

    # Not Store.__init__: that starts a writer on a connection of this process. The
    # attributes the inherited request and read methods use are set here instead.
    def __init__(self, child: asyncio.subprocess.Process, link: "_GatewaySide", reader: aiosqlite.Connection,
                 clock: Callable[[], float], ready: dict[str, Any]) -> None:
        self._child = child
        self._link = link
        self._reader = reader
        self._loop = asyncio.get_running_loop()
        self._closing = False  # requests are refused from then on
        self._closed = False
        self.clock = clock
        for name in _SETTINGS:  # as the writer's store has them
            setattr(self, name, ready[name])
        self._claims: dict[str, OutboundClaim] = {}
        self.mo_hook = None
        self._accepted_hook: Callable[[list[Message]], None] | None = None
        self._outbound_queue: OutboundQueue = own_queue
        self.transactions = 0
        self.lost: asyncio.Future[None] = self._loop.create_future()  # done if the writer died on its own
        link.store = self

    @classmethod
    async def open(cls, path: str, *, clock: Callable[[], float] = time.time,  # type: ignore[override]
                   open_wait: float = OPEN_WAIT, **options: Any) -> "ProcessStore":
        """Start the writer process on the store in `path` (it creates and migrates the
        file, and holds its lock), then open this process's reader. `options` are
        Store.open's and must pickle; `clock` stays here (the requests carry their
        times). A writer of the same file still closing (a gateway restarted at once)
        is waited for up to `open_wait` seconds."""
        try:
            pickle.dumps(options)
        except Exception as exc:
            raise StoreError(f"a store in a writer process needs options that pickle: {exc}") from None
        loop = asyncio.get_running_loop()
        mine, theirs = socket.socketpair()
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "smsc.store.process", str(theirs.fileno()), pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
        _, link = await loop.create_unix_connection(_GatewaySide, sock=mine)
        link.send(("open", path, options, open_wait))
        try:
            ready = await link.ready
        except BaseException:
            link.transport.close()  # type: ignore[union-attr]
            await child.wait()
            raise
        try:
            reader = await aiosqlite.connect(path, isolation_level=None)
            await reader.execute("PRAGMA query_only=1")
        except BaseException:
            link.send(("close",))
            await link.closed
            await child.wait()
            raise
        return cls(child, link, reader, clock, ready)

    @property
    def pid(self) -> int:
        """The writer process's id."""
        return self._child.pid

    def _request(self, kind: str, payload: Any) -> "asyncio.Future[Any]":
        if self._closing:
            return self._settled(error=StoreError("the store is closed"))
        return self._link.request(kind, payload)

    async def close(self) -> None:
        """Commit what is queued (the child does, then exits), then close the reader."""
        if self._closed:
            return
        self._closing = self._closed = True
        if not self.lost.done():
            self._link.send(("close",))
            await self._link.closed
        await self._child.wait()
        await self._reader.close()

    @property
    def accepted_hook(self) -> Callable[[list[Message]], None] | None:
        return self._accepted_hook

    @accepted_hook.setter
    def accepted_hook(self, hook: Callable[[list[Message]], None] | None) -> None:
        # The child reports accepted messages (and keeps their rows live) only while
        # someone here takes them.
        self._accepted_hook = hook
        self._link.send(("hook", hook is not None))

    @property
    def outbound_queue(self) -> OutboundQueue:
        return self._outbound_queue

    @outbound_queue.setter
    def outbound_queue(self, queue: OutboundQueue) -> None:
        self._outbound_queue = queue  # used here too (compliance asks it for MO)
        self._link.send(("queue", queue))

    @property
    def db(self) -> Any:
        raise StoreError("the writer's connection is in the writer process: use transact")

    @property
    def live(self) -> Any:
        raise StoreError("the live rows are the writer process's")

    def claim_outbound(self, account: str) -> OutboundClaim:
        claim = super().claim_outbound(account)
        self._link.send(("claim", account))
        return claim

    def _unclaim(self, account: str) -> None:
        super()._unclaim(account)
        self._link.send(("unclaim", account))

    # Events of the writer's commits, in the order it made them.

    def _accepted(self, messages: list[Message]) -> None:
        if self._accepted_hook is not None:
            self._accepted_hook(messages)

    def _handed(self, account: str, item: tuple[Any, ...]) -> None:
        claim = self._claims.get(account)
        if claim is None:
            # Taken for a claim released meanwhile: due again at once for the next claimer.
            retake = self._request("outbound_set", [(OutboundState.PENDING, None, self.clock(), None, item[0])])
            retake.add_done_callback(_log_failure)
            return
        claim._hand(*item)
        if not claim.takes_fresh():  # its receivers lag (FRESH_MAX): the writer stops handing over
            self._link.send(("uncaught", account))

    def _writer_lost(self) -> None:
        self._closing = True
        if not self.lost.done():
            self.lost.set_result(None)


def _without_bodies(kind: str, payload: Any) -> Any:
    if kind == "accept":
        new, body, now = payload
        return msgspec.structs.replace(new, body={}), body, now
    return [(msgspec.structs.replace(new, body={}), body, now) for new, body, now in payload]


def _accepted_messages(kind: str, payload: Any, ids: Any) -> list[Message]:
    """The messages an accept request's commit made (its NewMessages and the ids)."""
    if kind == "accept":
        return [_accepted_message(ids, *payload[::2])]
    return [_accepted_message(message_id, new, now) for message_id, (new, _, now) in zip(ids, payload)]


def _log_failure(future: "asyncio.Future[Any]") -> None:
    if not future.cancelled() and future.exception() is not None:
        _log.error("outbound_release_failed", error=repr(future.exception()))


class _GatewaySide(_Framed):
    """The gateway's end of the link: requests out, events and answers in."""

    def __init__(self) -> None:
        super().__init__()
        self.store: ProcessStore | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._accepts: dict[int, tuple[str, Any]] = {}  # accept requests not answered yet
        self.ready: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self.closed: asyncio.Future[None] = self._loop.create_future()

    def request(self, kind: str, payload: Any) -> "asyncio.Future[Any]":
        self._next_id += 1
        future = self._pending[self._next_id] = self._loop.create_future()
        if kind in ACCEPT_KINDS:
            # Kept to make the accepted messages here once committed; the writer needs
            # no body but the packed one.
            self._accepts[self._next_id] = (kind, payload)
            payload = _without_bodies(kind, payload)
        self.send(("r", self._next_id, kind, payload))
        return future

    def refused(self, message: Any, error: Exception) -> Any:
        if message[0] != "r":
            return super().refused(message, error)
        _, request_id, kind, _ = message
        self._accepts.pop(request_id, None)
        self._pending.pop(request_id).set_exception(
            StoreError(f"a {kind!r} request to the writer process must pickle: {error!r}"))
        return None

    def frame_received(self, frame: Any) -> None:
        # In the order the store keeps in one process (Store._commit): the accepted
        # messages and the answers, then the claims' hand-overs and wake-ups, so that a
        # cancel_sm_resp, say, goes out before the receipt its commit queued.
        transactions, events = frame
        store = self.store
        accepted: list[Message] = []
        handed: list[tuple[str, tuple[Any, ...]]] = []
        woken: list[str] = []
        if store is not None:
            store.transactions = transactions
        for event in events:
            what = event[0]
            if what == "ok":
                future = self._pending.pop(event[1])
                if not future.done():
                    future.set_result(event[2])
                accept = self._accepts.pop(event[1], None)
                if accept is not None:
                    accepted += _accepted_messages(*accept, event[2])
            elif what == "error":
                future = self._pending.pop(event[1])
                if not future.done():
                    future.set_exception(event[2])
                self._accepts.pop(event[1], None)
            elif what == "accepted":  # by transact work
                accepted += event[1]
            elif what == "hand":
                handed.append((event[1], event[2]))
            elif what == "caught_up":
                claim = store._claims.get(event[1])  # type: ignore[union-attr]
                if claim is not None:
                    claim._caught_up(event[2], event[3])
            elif what == "wake":
                woken.append(event[1])
            elif what == "ready":
                self.ready.set_result(event[1])
            elif what == "failed":  # the store would not open
                self.ready.set_exception(event[1])
        if accepted:
            store._accepted(accepted)  # type: ignore[union-attr]
        for account, item in handed:
            store._handed(account, item)  # type: ignore[union-attr]
        for account in woken:
            claim = store._claims.get(account)  # type: ignore[union-attr]
            if claim is not None:
                claim._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        expected = self.store is None or self.store._closing
        error = StoreError("the store's writer process has exited")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        if not self.ready.done():
            self.ready.set_exception(error)
        if not expected:
            _log.critical("store_writer_lost", error=repr(exc) if exc else "end of stream")
            self.store._writer_lost()  # type: ignore[union-attr]
        if not self.closed.done():
            self.closed.set_result(None)


# --- the writer process's side --------------------------------------------------------------


class _ClaimMirror:
    """What the writer knows of a claim in the gateway: whether to take its new items as
    it inserts them (OutboundClaim.takes_fresh), and where to send what it does."""

    def __init__(self, link: "_WriterSide", account: str) -> None:
        self._link = link
        self.account = account
        self.caught_up = False

    def takes_fresh(self) -> bool:
        return self.caught_up

    def _hand(self, *item: Any) -> None:
        self._link.send(("hand", self.account, item))

    def _caught_up(self, done: bool, now: float) -> None:
        self.caught_up = done
        self._link.send(("caught_up", self.account, done, now))

    def _wake(self) -> None:
        self._link.send(("wake", self.account))


class _WriterSide(_Framed):
    """The writer process's end: each request goes to the real Store's queue, and its
    answer goes back once committed."""

    def __init__(self) -> None:
        super().__init__()
        self.store: Store | None = None
        self.done: asyncio.Future[None] = self._loop.create_future()

    def _schedule_flush(self) -> None:
        # Two turns: a commit resolves its futures by scheduling their callbacks, after
        # the events it sent (accepted, hand-over); the flush then follows those
        # callbacks, and a commit's events and answers leave in one frame.
        self._loop.call_soon(self._loop.call_soon, self.flush)

    def framed(self, messages: list[Any]) -> Any:
        return (0 if self.store is None else self.store.transactions, messages)

    def refused(self, message: Any, error: Exception) -> Any:
        if message[0] in ("ok", "error"):
            return ("error", message[1], StoreError(f"the store's answer does not pickle: {error!r}"))
        return super().refused(message, error)

    def frame_received(self, frame: Any) -> None:
        for message in frame:
            what = message[0]
            if what == "r":
                _, request_id, kind, payload = message
                future = self.store._request(kind, payload)  # type: ignore[union-attr]
                future.add_done_callback(functools.partial(self._answer, request_id))
            elif what == "claim":
                self.store._claims[message[1]] = _ClaimMirror(self, message[1])  # type: ignore[union-attr,assignment]
            elif what == "unclaim":
                self.store._claims.pop(message[1], None)  # type: ignore[union-attr]
            elif what == "uncaught":
                mirror = self.store._claims.get(message[1])  # type: ignore[union-attr]
                if mirror is not None:
                    mirror.caught_up = False  # type: ignore[attr-defined]
            elif what == "hook":
                self.store.accepted_hook = self._accepted if message[1] else None  # type: ignore[union-attr]
            elif what == "queue":
                self.store.outbound_queue = message[1]  # type: ignore[union-attr]
            elif what == "open":
                self._loop.create_task(self._open(*message[1:]))
            elif what == "close":
                self._loop.create_task(self._close())

    def _answer(self, request_id: int, future: "asyncio.Future[Any]") -> None:
        error = future.exception()
        if error is None:
            self.send(("ok", request_id, future.result()))
        else:
            self.send(("error", request_id, _crossing(error)))

    def _accepted(self, messages: list[Message]) -> None:
        self.send(("accepted", messages))

    async def _open(self, path: str, options: dict[str, Any], wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                self.store = await Store.open(path, **options)
                break
            except StoreError as exc:
                # A writer of the previous gateway may still be committing its last batch.
                if "in use" not in str(exc) or time.monotonic() > deadline:
                    self.send(("failed", exc))
                    return
                await asyncio.sleep(0.05)
            except Exception as exc:
                self.send(("failed", StoreError(f"cannot open the store {path}: {exc}")))
                return
        # The gateway makes the messages of its accept requests itself (ProcessStore) and
        # wants its submit_sm_resp soon after their commit.
        self.store.hook_requested, self.store.accepts_first = False, True
        settle_gc()  # as the gateway does: the writer makes many short-lived rows and tuples
        self.send(("ready", {name: getattr(self.store, name) for name in _SETTINGS}))

    async def _close(self) -> None:
        if self.store is not None:
            await self.store.close()
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.store is not None and not self.store._closing:
            # The gateway went away (a crash, kill -9): commit what it queued, then stop.
            self._loop.create_task(self._close()).add_done_callback(lambda _: self._finish())
        else:
            self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _crossing(error: BaseException) -> BaseException:
    """`error` if the gateway can rebuild it from its pickle (rare: tried here), else a
    StoreError that says what it was: an exception the other side cannot unpickle would
    break the stream for every request."""
    try:
        pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return StoreError(f"{type(error).__name__}: {error}")
    return error


async def _serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    _, link = await asyncio.get_running_loop().create_unix_connection(_WriterSide, sock=sock)
    await link.done


def main(argv: list[str]) -> None:
    # The gateway decides when the writer stops (it sends "close", or its end of the
    # socket closes): a Ctrl-C or a service manager's SIGTERM to the whole group must not
    # stop the writer before the gateway has finished with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    loop = new_event_loop()
    try:
        loop.run_until_complete(_serve(int(argv[0])))
    finally:
        loop.close()


if __name__ == "__main__":
    main(sys.argv[1:])
