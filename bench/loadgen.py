"""`smsc load`: a load generator for any SMPP 3.4 server, on trio.

    smsc load --port 2775 --mode closed --window 100 --binds 2 --duration 10
    smsc load --scenario bench/scenarios/open_ramp.toml --json run.json --plot run.png

Each bind is one TCP (or TLS) connection with a reader task around a sans-I/O Link
(loadgen_core.py); one pump (the main task) takes the run through its phases, paces the
open loop and the per-second series (loadgen_run.Run). Closed loop keeps `window` submits outstanding per bind (the most
the server takes); open loop sends at a fixed or ramping rate, each submit measured from
when it was meant to go. loadgen_asyncio.py drives the same Links on asyncio+uvloop to
compare the two runtimes (bench/README.md, "Load generator").
"""
from __future__ import annotations

import signal
import socket
import ssl
import sys
import threading
from typing import Any

import trio

from smsc.smpp.status import status_name

from smsc.bench.loadgen_config import LoadConfig, load_config
from smsc.bench.loadgen_core import Link
from smsc.bench.loadgen_report import progress_line, table, write_json, write_plot
from smsc.bench.loadgen_run import Run

RECEIVE_SIZE = 64 * 1024
BIND_TIMEOUT = 10.0


class TargetError(Exception):
    """The target could not be reached, TLS failed, or a bind was refused or not
    answered: nothing to measure."""


def client_tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


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
        raise TargetError(f"bind refused: {status_name(link.bind_error)}" if link.bind_error
                          else "no bind_resp")


async def _reader(bind: _Bind) -> None:
    link, stream = bind.link, bind.stream
    try:
        while not link.closed:
            data = await stream.receive_some(RECEIVE_SIZE)
            if not data:
                break
            link.receive(data, trio.current_time())
            await bind.flush()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


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


async def run_trio(config: LoadConfig, on_second: Any = None) -> dict[str, Any]:
    """One run against config.host:port; the results dict (loadgen_report)."""
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


def print_progress(row: dict[str, Any], run: Run) -> None:
    print("\r" + progress_line(row, run.stats.errors, row["t"]), end="", file=sys.stderr, flush=True)


def run(config: LoadConfig, *, runtime: str = "trio", progress: bool | None = None) -> dict[str, Any]:
    """Run on the chosen runtime ("trio" or "asyncio"); a progress line on a terminal."""
    if progress is None:
        progress = sys.stderr.isatty()
    on_second = print_progress if progress else None
    if runtime == "asyncio":
        from smsc.bench.loadgen_asyncio import run_asyncio_uvloop

        result = run_asyncio_uvloop(config, on_second)
    else:
        result = trio.run(run_trio, config, on_second)
    if progress:
        print(file=sys.stderr)
    return result


def config_from_args(args: Any) -> LoadConfig:
    """The scenario file, then the command-line options that were given."""
    from smsc.bench.loadgen_messages import MessageSpec

    overrides = {name: getattr(args, name, None) for name in (
        "host", "port", "system_id", "password", "system_type", "bind_type", "binds", "window",
        "mode", "rate", "ramp", "rate_to", "duration", "count", "destinations", "response_timeout",
        "receipt_wait", "max_error_rate")}
    if args.tls:
        overrides["tls"] = True
    if args.tls_insecure:
        overrides["tls"], overrides["tls_verify"] = True, False
    if args.steps:
        overrides["steps"] = [tuple(map(float, s.split(":"))) for s in args.steps.split(",")]
        overrides["ramp"] = overrides["ramp"] or "step"
    if args.rate_to is not None:
        overrides["ramp"] = overrides["ramp"] or "linear"
    if args.message:
        overrides["messages"] = tuple(MessageSpec(kind=kind, registered_delivery=args.registered_delivery,
                                                  concatenation=args.concatenation)
                                      for kind in args.message)
    return load_config(args.scenario, **overrides)


def main(args: Any) -> int:
    """`smsc load` (options in smsc/cli.py). Exit 0, or 1 when the error rate is over
    --max-error-rate, 2 when the target cannot be reached or bound."""
    try:
        config = config_from_args(args)
    except (ValueError, OSError) as exc:
        print(f"smsc load: {exc}", file=sys.stderr)
        return 2
    try:
        result = run(config, runtime=args.runtime)
    except (TargetError, OSError) as exc:
        print(f"smsc load: {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 2
    print(table(result))
    if args.json:
        write_json(result, args.json)
    if args.plot:
        write_plot(result, args.plot)
    if config.max_error_rate is not None and result["error_rate"] > config.max_error_rate:
        print(f"smsc load: error rate {result['error_rate']:.4%} over {config.max_error_rate:.4%}",
              file=sys.stderr)
        return 1
    return 0
