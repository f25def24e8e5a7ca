"""A TCP proxy that cuts and stalls connections on demand, to put between smsc and a
carrier (simulator) and watch nothing get lost.

    async with FaultProxy("127.0.0.1", carrier_port) as proxy:   # listens on proxy.port
        proxy.cut()             # abort every connection through it now (both ends see a reset)
        proxy.stall(2.0)        # forward nothing, either way, for 2 seconds (bytes wait)
        proxy.refuse = True     # new connections are closed at once while set
        proxy.taps.append(lambda direction, data: ...)   # "up" (client->target) / "down"

Bytes are forwarded as they come, in order; a stall holds them and sends them after it.
"""
from __future__ import annotations

import asyncio
from typing import Callable

Tap = Callable[[str, bytes], None]


class _Pipe:
    """One proxied connection: the client's transport and the target's."""

    def __init__(self, proxy: "FaultProxy") -> None:
        self.proxy = proxy
        self.client: asyncio.Transport | None = None
        self.target: asyncio.Transport | None = None
        self.pending: list[tuple[str, bytes]] = []  # while the target connects or a stall lasts

    def send(self, direction: str, data: bytes) -> None:
        for tap in self.proxy.taps:
            tap(direction, data)
        if self.proxy.stalled or self.target is None:
            self.pending.append((direction, data))
            return
        if self.pending:
            self.flush()
        self._write(direction, data)

    def _write(self, direction: str, data: bytes) -> None:
        transport = self.target if direction == "up" else self.client
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def flush(self) -> None:
        if self.proxy.stalled or self.target is None:
            return
        pending, self.pending = self.pending, []
        for direction, data in pending:
            self._write(direction, data)

    def abort(self) -> None:
        for transport in (self.client, self.target):
            if transport is not None:
                transport.abort()


class _Side(asyncio.Protocol):
    def __init__(self, pipe: _Pipe, direction: str) -> None:
        self.pipe, self.direction = pipe, direction

    def data_received(self, data: bytes) -> None:
        self.pipe.send(self.direction, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pipe.abort()
        self.pipe.proxy.pipes.discard(self.pipe)


class _ClientSide(_Side):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        pipe, proxy = self.pipe, self.pipe.proxy
        pipe.client = transport  # type: ignore[assignment]
        if proxy.refuse:
            transport.abort()
            return
        proxy.pipes.add(pipe)
        proxy.connections += 1
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        pipe, proxy = self.pipe, self.pipe.proxy
        try:
            transport, _ = await asyncio.get_running_loop().create_connection(
                lambda: _Side(pipe, "down"), proxy.target_host, proxy.target_port)
        except OSError:
            pipe.abort()
            return
        pipe.target = transport  # type: ignore[assignment]
        if pipe.client is None or pipe.client.is_closing():
            transport.abort()
            return
        pipe.flush()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target_host, self.target_port = target_host, target_port
        self.host, self._port = host, port
        self.pipes: set[_Pipe] = set()
        self.taps: list[Tap] = []
        self.refuse = False
        self.stalled = False
        self.connections = 0  # accepted so far
        self.cuts = 0
        self._server: asyncio.AbstractServer | None = None
        self._stall_end: asyncio.TimerHandle | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> "FaultProxy":
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _ClientSide(_Pipe(self), "up"), self.host, self._port)
        return self

    async def stop(self) -> None:
        if self._stall_end is not None:
            self._stall_end.cancel()
        if self._server is not None:
            self._server.close()
            self.cut()
            await self._server.wait_closed()

    async def __aenter__(self) -> "FaultProxy":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def cut(self) -> int:
        """Abort every connection through the proxy; how many."""
        pipes = list(self.pipes)
        for pipe in pipes:
            pipe.abort()
        self.pipes.clear()
        self.cuts += len(pipes)
        return len(pipes)

    def stall(self, seconds: float) -> None:
        """Hold every byte for `seconds`, then deliver them in order."""
        self.stalled = True
        if self._stall_end is not None:
            self._stall_end.cancel()
        self._stall_end = asyncio.get_running_loop().call_later(seconds, self._resume)

    def _resume(self) -> None:
        self.stalled = False
        self._stall_end = None
        for pipe in list(self.pipes):
            pipe.flush()
