"""The load generator's trio driver (`smsc load --runtime trio`): the same Links and Run
as the asyncio+uvloop driver, for the comparison in bench/README.md ("Load generator").
"""
from __future__ import annotations

import signal
import socket
import threading
from typing import Any

import trio

from smsc.bench.loadgen import BIND_TIMEOUT, RECEIVE_SIZE, TargetError, bind_failure, client_tls_context
from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_core import Link
from smsc.bench.loadgen_run import Run


class _Bind:
    """One connection: its Link and stream, and the send in progress. The reader sends
    what a response lets out at once (no task switch per round trip), the pump what
    the open-loop tick or the run's next phase lets out; whoever finds a send in
    progress leaves its bytes to the sender, which asks the Link again before it stops."""

    def __init__(self, link: Link, stream: Stream) -> None:
        self.link = link
        self.stream = stream
        self.sending = False

    async def flush(self) -> None:
        if self.sending:
            return
        self.sending = True
        try:
            while out := self.link.output(trio.current_time()):
                await self.stream.send_all(out)
        finally:
            self.sending = False


class _PlainStream:
    """The two Stream methods the generator uses, on a plain TCP socket, with a
    checkpoint only when the socket must be waited for (and every CHECKPOINT_EVERY
    calls, so that a socket always ready does not starve the other tasks). trio's
    SocketStream checkpoints twice per call: at 1,000 round trips a second per bind that
    was a tenth of the generator's time (bench/README.md, "Load generator")."""

    CHECKPOINT_EVERY = 4

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._calls = 0

    async def _maybe_checkpoint(self) -> None:
        self._calls += 1
        if self._calls % self.CHECKPOINT_EVERY == 0:
            await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int) -> bytes:
        while True:
            try:
                data = self.sock.recv(max_bytes)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self.sock)
                continue
            except OSError as exc:
                raise trio.BrokenResourceError from exc
            await self._maybe_checkpoint()
            return data

    async def send_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view):]
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self.sock)
            except OSError as exc:
                raise trio.BrokenResourceError from exc
        await self._maybe_checkpoint()

    async def aclose(self) -> None:
        trio.lowlevel.notify_closing(self.sock)
        self.sock.close()
        await trio.lowlevel.checkpoint()


Stream = trio.SSLStream | _PlainStream


async def _connect(config: LoadConfig) -> Stream:
    tcp = await trio.open_tcp_stream(config.host, config.port)
    if not config.tls:
        return _PlainStream(socket.socket(fileno=tcp.socket.detach()))
    stream = trio.SSLStream(tcp, client_tls_context(config.tls_verify), server_hostname=config.host)
    try:
        await stream.do_handshake()
    except trio.BrokenResourceError as exc:
        raise TargetError(f"TLS handshake failed: {exc.__cause__ or exc}") from exc
    return stream


async def _bind(link: Link, stream: Stream) -> None:
    await stream.send_all(link.bind_request())
    with trio.move_on_after(BIND_TIMEOUT):
        while not link.bound and not link.closed:
            data = await stream.receive_some(RECEIVE_SIZE)
            if not data:
                break
            link.receive(data, trio.current_time())
    if not link.bound:
        raise bind_failure(link)


async def _reader(bind: _Bind) -> None:
    link, stream = bind.link, bind.stream
    try:
        while not link.closed:
            data = await stream.receive_some(RECEIVE_SIZE)
            if not data:
                break
            link.receive(data, trio.current_time())
            await bind.flush()
    except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
        pass  # ConnectionError: the server's bytes lost their framing


async def _drive(bind: _Bind) -> None:
    link = bind.link
    try:
        await _reader(bind)
        await bind.flush()  # e.g. the unbind_resp the server is owed
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    if not link.closed:
        link.lost()


async def _watch_interrupt(run: Run) -> None:
    """First Ctrl-C: stop and report what there is. Second: give up at once."""
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        async for _ in signals:
            if run.interrupted:
                raise KeyboardInterrupt
            run.interrupted = True


def run_trio(config: LoadConfig, on_second: Any = None) -> dict[str, Any]:
    return trio.run(_run, config, on_second)


async def _run(config: LoadConfig, on_second: Any) -> dict[str, Any]:
    run = Run(config, on_second)
    streams = [await _connect(config) for _ in run.links]
    try:
        for link, stream in zip(run.links, streams):
            await _bind(link, stream)
        run.begin(trio.current_time())
        binds = [_Bind(link, stream) for link, stream in zip(run.links, streams)]
        async with trio.open_nursery() as nursery:
            if threading.current_thread() is threading.main_thread():
                nursery.start_soon(_watch_interrupt, run)
            for bind in binds:
                nursery.start_soon(_drive, bind)
            while (wake_at := run.pump(trio.current_time())) is not None:
                for bind in binds:
                    await bind.flush()
                await trio.sleep_until(wake_at)
            nursery.cancel_scope.cancel()
    finally:
        for stream in streams:
            with trio.move_on_after(1):
                await stream.aclose()
    return run.finish(trio.current_time(), "trio")
