"""The HTTP worker's listener protocol: a plain send in its usual form, answered without
aiohttp, and every other request handed to aiohttp.

aiohttp's server costs ~90 us a request on this machine before the handler runs; this
protocol ~30 (measured with a fixed answer, bench/README.md). It takes only the form
clients send: `POST /v1/messages HTTP/1.1`, a Content-Length within [http] max_body,
tokens for header names, no control characters, no duplicate header, and none of
Transfer-Encoding, Expect, Upgrade or Content-Encoding. The first request that is not
in that form makes the connection aiohttp's (the protocol is swapped on the transport,
with what was read so far), for the rest of its life: aiohttp parses, refuses or passes
on everything else as it always did. Requests on one connection are answered in order,
one at a time (pipelined ones wait in the buffer).
"""
from __future__ import annotations

import asyncio
import re
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Callable, Coroutine, NamedTuple

REQUEST_LINE = b"POST /v1/messages HTTP/1.1"
HEAD_LIMIT = 16384  # octets of request line and headers; longer goes to aiohttp (431 there)
KEEPALIVE = 75.0  # seconds a connection may stay idle or send a request slowly (aiohttp's default)
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_NOT_HERE = frozenset({"transfer-encoding", "expect", "upgrade", "content-encoding"})


class Answer(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Request(NamedTuple):
    """A send as read off the wire: header names lower-case."""

    headers: dict[str, str]
    body: bytes
    peer: str
    close: bool  # Connection: close


def parse_head(head: bytes) -> tuple[dict[str, str], int] | None:
    """(headers, Content-Length) of a request head in the fast path's form, else None."""
    lines = head.split(b"\r\n")
    if lines[0] != REQUEST_LINE:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name) or _CONTROL.search(value):
            return None  # folded, bare CR or LF, NUL...: aiohttp refuses it properly
        key = name.decode("ascii").lower()
        if key in headers or key in _NOT_HERE:
            return None
        headers[key] = value.strip(b" \t").decode("latin-1")
    length = headers.get("content-length", "")
    if not (length.isascii() and length.isdigit()) or headers.get("connection", "keep-alive").lower() not in (
            "keep-alive", "close"):
        return None
    return headers, int(length)


_dated = (0, "")


def _date() -> str:
    global _dated
    now = int(time.time())
    if _dated[0] != now:
        _dated = (now, formatdate(now, usegmt=True))
    return _dated[1]


def serialize(answer: Answer, close: bool) -> bytes:
    status, headers, body = answer
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Length: {len(body)}", f"Date: {_date()}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class FastPath(asyncio.Protocol):
    """One connection: `send` answers the sends in the fast path's form; `aiohttp()` makes
    the protocol that takes the connection over otherwise. `limit`() is [http] max_body."""

    def __init__(self, send: Callable[[Request], Coroutine[Any, Any, Answer]], aiohttp: Callable[[], Any],
                 limit: Callable[[], int], open_connections: set["FastPath"]) -> None:
        self.send, self.aiohttp, self.limit = send, aiohttp, limit
        self.connections = open_connections
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.answering: asyncio.Task[None] | None = None
        self.closing = False  # close once the request in hand is answered
        self._buffer = bytearray()
        self._paused = False  # reading, while a pipelined request waits
        self._blocked = False  # answering, while the client does not read what we wrote
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, (tuple, list)) else ""
        self.connections.add(self)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self.answering is None and not self._blocked:
            self._next()
        elif len(self._buffer) > self.limit() + HEAD_LIMIT and not self._paused:
            self._paused = True  # pipelined beyond a whole request: wait for the answer
            self.transport.pause_reading()  # type: ignore[union-attr]

    def pause_writing(self) -> None:
        """A client that sends requests without reading the answers waits for itself."""
        self._blocked = True

    def resume_writing(self) -> None:
        self._blocked = False
        if self.answering is None:
            self._next()

    def close(self) -> None:
        """Close now if idle, else after the answer in hand (a graceful stop)."""
        self.closing = True
        if self.answering is None and self.transport is not None:
            self.transport.close()

    def _arm(self) -> None:
        """Idle (or a request coming too slowly) for KEEPALIVE seconds: closed."""
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(KEEPALIVE, self.close)

    def _next(self) -> None:
        buffer = self._buffer
        if not buffer or self.transport is None:
            return
        end = buffer.find(b"\r\n\r\n", 0, HEAD_LIMIT + 4)
        if end < 0:
            if len(buffer) > HEAD_LIMIT:
                self._hand_over()
            return
        parsed = parse_head(bytes(buffer[:end]))
        if parsed is None or parsed[1] > self.limit():
            self._hand_over()
            return
        headers, length = parsed
        start = end + 4
        if len(buffer) < start + length:
            return
        body = bytes(buffer[start:start + length])
        del buffer[:start + length]
        close = headers.get("connection", "").lower() == "close"
        if self._idle is not None:
            self._idle.cancel()
        self.answering = asyncio.get_running_loop().create_task(self._answer(Request(headers, body, self.peer, close)))

    async def _answer(self, request: Request) -> None:
        try:
            answer = await self.send(request)
        finally:
            self.answering = None
        transport = self.transport
        if transport is None:
            return
        close = request.close or self.closing
        transport.write(serialize(answer, close))
        if close:
            transport.close()
            return
        if self._paused:
            self._paused = False
            transport.resume_reading()
        self._arm()
        if not self._blocked:
            self._next()

    def _hand_over(self) -> None:
        """aiohttp's for good, with what was read so far."""
        transport, self.transport = self.transport, None
        assert transport is not None
        self.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()
        handler = self.aiohttp()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self._paused:
            transport.resume_reading()
        if self._buffer:
            handler.data_received(bytes(self._buffer))
        self._buffer.clear()
