"""The load generator's asyncio+uvloop driver, the default (`smsc load`): asyncio streams
around the Links, one reader task per bind, the Run's pump in the main task. Times come
from perf_counter: uvloop's loop.time() counts whole milliseconds, too coarse for a
latency histogram.
"""
from __future__ import annotations

import asyncio
import signal
import ssl
import threading
from time import perf_counter
from typing import Any

from smsc.bench.loadgen import BIND_TIMEOUT, RECEIVE_SIZE, TargetError, bind_failure, client_tls_context
from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_core import Link
from smsc.bench.loadgen_run import Run


async def _connect(config: LoadConfig) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    tls = client_tls_context(config.tls_verify) if config.tls else None
    try:
        return await asyncio.open_connection(config.host, config.port, ssl=tls, limit=RECEIVE_SIZE)
    except ssl.SSLError as exc:
        raise TargetError(f"TLS handshake failed: {exc}") from exc


async def _bind(link: Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(link.bind_request())
    try:
        async with asyncio.timeout(BIND_TIMEOUT):
            while not link.bound and not link.closed:
                data = await reader.read(RECEIVE_SIZE)
                if not data:
                    break
                link.receive(data, perf_counter())
    except TimeoutError:
        pass
    if not link.bound:
        raise bind_failure(link)


async def _send(link: Link, writer: asyncio.StreamWriter) -> None:
    out = link.output(perf_counter())
    if out:
        writer.write(out)
        await writer.drain()


async def _read(link: Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads, and sends what each read lets out: the closed loop refills its window here,
    with no task switch per round trip."""
    try:
        while not link.closed:
            data = await reader.read(RECEIVE_SIZE)
            if not data:
                break
            link.receive(data, perf_counter())
            await _send(link, writer)
    except ConnectionError:
        pass  # reset by the server, or its bytes lost their framing (Link.receive)
    if not link.closed:
        link.lost()


def _on_interrupt(run: Run) -> None:
    """First Ctrl-C: stop and report what there is. The second is Python's: give up."""
    run.interrupted = True
    asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)


async def _run(config: LoadConfig, on_second: Any) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    run = Run(config, on_second)
    connections = [await _connect(config) for _ in run.links]
    tasks: list[asyncio.Task[None]] = []
    if threading.current_thread() is threading.main_thread():
        loop.add_signal_handler(signal.SIGINT, _on_interrupt, run)
    try:
        for link, (reader, writer) in zip(run.links, connections):
            await _bind(link, reader, writer)
        run.begin(perf_counter())
        for link, (reader, writer) in zip(run.links, connections):
            tasks.append(loop.create_task(_read(link, reader, writer)))
        while (wake_at := run.pump(perf_counter())) is not None:
            for link, (_, writer) in zip(run.links, connections):
                await _send(link, writer)
            await asyncio.sleep(max(0.0, wake_at - perf_counter()))
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, writer in connections:
            writer.close()
    return run.finish(perf_counter(), "asyncio+uvloop")


def run_asyncio(config: LoadConfig, on_second: Any = None) -> dict[str, Any]:
    import uvloop

    return uvloop.run(_run(config, on_second))
