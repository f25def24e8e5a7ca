"""The channel between an HTTP worker process (smsc.http.worker) and the gateway's process:
msgpack frames, each after its length (4 octets, big-endian), over a socket pair.

What must happen in one place stays in the gateway's process: the store's writer (ids,
the group commit), the accounts' rate buckets and compliance (opt-outs are in memory
there). So a plain send, built and checked by the worker, is one `Submit` frame; the
gateway screens its messages, takes the rate, accepts them and answers `Accepted` once
they are committed (a 201 only after the commit), or `Refusal`. Many submits are in
flight at once, answered by id; the frames of one loop turn go out in one write.

    worker -> gateway: Submit, Counts (the worker's request counters, each second), Ready
    gateway -> worker: Accepted, Refusal (by Submit id), Settings (the config, at start
                       and after each reload), Flush (before a scrape of /metrics)
"""
from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, Callable, Union

import msgspec

from smsc.config import Account, Config
from smsc.http.api import unauthorized
from smsc.http.messages import RequestError
from smsc.store import NewMessage

_LENGTH = 4


class Submit(msgspec.Struct, array_like=True, tag="submit", gc=False):
    """The messages of one send: NewMessage's fields, one destination each."""

    id: int
    account: str
    category: str
    parts: int
    now: float
    source: str
    body: dict[str, Any]
    registered_delivery: int
    segments: int
    scheduled: float | None
    expires: float | None
    destinations: list[str]

    @classmethod
    def of(cls, submit_id: int, category: str, parts: int, now: float, messages: list[NewMessage]) -> "Submit":
        first = messages[0]  # new_messages: the same fields for every recipient but the number
        return cls(submit_id, first.account, category, parts, now, first.source, first.body,
                   first.registered_delivery, first.segments, first.scheduled, first.expires,
                   [message.destination for message in messages])

    def messages(self) -> list[NewMessage]:
        return [NewMessage(self.account, self.source, destination, self.body, "", self.registered_delivery,
                           self.segments, self.scheduled, self.expires) for destination in self.destinations]


class Counts(msgspec.Struct, array_like=True, tag="counts", gc=False):
    """What a worker counted since its last Counts: (route, status) -> requests, and the
    submit-to-response histogram's series (Timings.series) by label; `flushed` when it
    answers a Flush."""

    requests: list[tuple[list[str], float]]
    timings: list[tuple[list[str], list[float]]]
    flushed: bool = False


class Flush(msgspec.Struct, array_like=True, tag="flush", gc=False):
    """Send your counts now (the gateway is answering a scrape of /metrics)."""


class Ready(msgspec.Struct, array_like=True, tag="ready", gc=False):
    pid: int


class Accepted(msgspec.Struct, array_like=True, tag="accepted", gc=False):
    id: int
    messages: list[tuple[str, str, Union[float, None]]]  # (id, destination, scheduled) each
    rejected: list[dict[str, Any]]


class Refusal(msgspec.Struct, array_like=True, tag="refusal", gc=False):
    id: int
    status: int
    code: str
    message: str
    field: str | None = None
    headers: dict[str, str] | None = None

    @classmethod
    def of(cls, submit_id: int, error: RequestError) -> "Refusal":
        return cls(submit_id, error.status, error.code, str(error), error.field, error.headers)

    def error(self) -> RequestError:
        return RequestError(self.status, self.code, self.message, self.field, self.headers)


class Settings(msgspec.Struct, array_like=True, tag="settings"):
    config: Config


ToGateway = Union[Submit, Counts, Ready]
ToWorker = Union[Accepted, Refusal, Settings, Flush]


class Channel(asyncio.Protocol):
    """Frames in and out; `received` gets each frame that came in."""

    kind: Any  # the union of frames this side receives

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._decoder = msgspec.msgpack.Decoder(self.kind)
        self._encoder = msgspec.msgpack.Encoder()
        self._rest = b""
        self._out: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._rest:
            data = self._rest + data
        view, start, end = memoryview(data), 0, len(data)
        while end - start >= _LENGTH:
            size = int.from_bytes(view[start:start + _LENGTH], "big")
            if end - start - _LENGTH < size:
                break
            start += _LENGTH
            frame = self._decoder.decode(view[start:start + size])
            start += size
            self.received(frame)
        self._rest = data[start:]

    def received(self, frame: Any) -> None:
        raise NotImplementedError

    def send(self, frame: Any) -> None:
        """Queued, and written with the other frames of this loop turn."""
        if self.transport is None:
            return
        data = self._encoder.encode(frame)
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out += (len(data).to_bytes(_LENGTH, "big"), data)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self.transport is not None:
            self.transport.write(b"".join(out))

    def close(self) -> None:
        if self.transport is not None:
            self._flush()
            self.transport.close()


class WorkerChannel(Channel):
    """The worker's end: submits in flight, and the config the gateway sends."""

    kind = ToWorker

    def __init__(self, on_settings: Callable[[Config], None], on_flush: Callable[[], None]) -> None:
        super().__init__()
        self.on_settings, self.on_flush = on_settings, on_flush
        self._next = 0
        self._waiting: dict[int, asyncio.Future[Accepted]] = {}

    def submit(self, category: str, parts: int, now: float, messages: list[NewMessage]) -> "asyncio.Future[Accepted]":
        """A future of the gateway's Accepted; RequestError when refused or gone."""
        self._next += 1
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        if self.transport is None:
            future.set_exception(gateway_gone())
            return future
        self._waiting[self._next] = future
        self.send(Submit.of(self._next, category, parts, now, messages))
        return future

    def received(self, frame: Any) -> None:
        if isinstance(frame, Accepted):
            future = self._waiting.pop(frame.id, None)
            if future is not None and not future.done():
                future.set_result(frame)
        elif isinstance(frame, Refusal):
            future = self._waiting.pop(frame.id, None)
            if future is not None and not future.done():
                future.set_exception(frame.error())
        elif isinstance(frame, Flush):
            self.on_flush()
        else:
            self.on_settings(frame.config)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(gateway_gone())


def gateway_gone() -> RequestError:
    return RequestError(503, "gateway_unavailable", "the gateway is not answering; try again")


class GatewayChannel(Channel):
    """The gateway's end of one worker's channel: runs its submits as the in-process
    handler does after building the messages (HttpApi.admit, the store's accept_many),
    and adds its counts to the gateway's metrics."""

    kind = ToGateway

    def __init__(self, api: Any) -> None:  # an HttpApi
        super().__init__()
        self.api = api
        self.ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._flushes: list[asyncio.Future[None]] = []
        self._config: Config | None = None
        self._accounts: dict[str, Account] = {}

    def received(self, frame: Any) -> None:
        if isinstance(frame, Submit):
            self._submit(frame)
        elif isinstance(frame, Counts):
            self.api.metrics.add(frame.requests, frame.timings)
            if frame.flushed and self._flushes:
                future = self._flushes.pop(0)
                if not future.done():
                    future.set_result(None)
        elif not self.ready.done():
            self.ready.set_result(frame.pid)

    def flush(self) -> "asyncio.Future[None]":
        """Done when the worker's counts so far are in the gateway's metrics."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flushes.append(future)
        self.send(Flush())
        return future

    def _account(self, name: str) -> Account | None:
        config = self.api.config
        if config is not self._config:
            self._config, self._accounts = config, {account.system_id: account for account in config.accounts}
        return self._accounts.get(name)

    def _submit(self, frame: Submit) -> None:
        account = self._account(frame.account)
        try:
            if account is None:  # removed by a reload since the worker checked its key
                raise unauthorized()
            accepted, rejected = self.api.admit(account, frame.messages(), frame.category, frame.parts)
        except RequestError as exc:
            self.send(Refusal.of(frame.id, exc))
            return
        committed = self.api.store.accept_many(accepted, frame.now)
        committed.add_done_callback(partial(self._committed, frame.id, account, accepted, rejected))

    def _committed(self, submit_id: int, account: Account, accepted: list[NewMessage],
                   rejected: list[dict[str, Any]], future: asyncio.Future[list[str]]) -> None:
        error = future.exception() if not future.cancelled() else asyncio.CancelledError()
        if error is not None:
            self.send(Refusal.of(submit_id, self.api.not_stored(account, error)))
            return
        self.api.metrics.accepted.inc(account.system_id, "http", amount=len(accepted))
        self.send(Accepted(submit_id, [(message_id, message.destination, message.scheduled)
                                       for message_id, message in zip(future.result(), accepted)], rejected))
