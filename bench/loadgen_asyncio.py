"""The load generator's asyncio+uvloop driver: the same Links and Run as the trio driver
(loadgen.py), on asyncio streams, so the two runtimes can be compared in one run
(`smsc load --runtime asyncio`, bench/loadgen_bench.py). Ctrl-C is the trio driver's;
this one is kept to what the comparison needs. Times come from perf_counter: uvloop's
loop.time() counts whole milliseconds, too coarse for a latency histogram.
"""
from __future__ import annotations

import asyncio
from time import perf_counter
from typing import Any

from smsc.bench.loadgen import BIND_TIMEOUT, RECEIVE_SIZE, TargetError, client_tls_context
from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_core import Link
from smsc.bench.loadgen_run import Run


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
        raise TargetError("bind refused or not answered")


async def _send(link: Link, writer: asyncio.StreamWriter) -> None:
    out = link.output(perf_counter())
    if out:
        writer.write(out)
        await writer.drain()


async def _read(link: Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads, and sends what each read lets out (as the trio driver's reader does)."""
    try:
        while not link.closed:
            data = await reader.read(RECEIVE_SIZE)
            if not data:
                break
            link.receive(data, perf_counter())
            await _send(link, writer)
    except ConnectionError:
        pass
    if not link.closed:
        link.lost()


async def run_asyncio(config: LoadConfig, on_second: Any = None) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    run = Run(config, on_second)
    tls = client_tls_context(config.tls_verify) if config.tls else None
    connections = [await asyncio.open_connection(config.host, config.port, ssl=tls, limit=RECEIVE_SIZE)
                   for _ in run.links]
    tasks: list[asyncio.Task[None]] = []
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
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, writer in connections:
            writer.close()
    return run.finish(perf_counter(), "asyncio+uvloop")


def run_asyncio_uvloop(config: LoadConfig, on_second: Any = None) -> dict[str, Any]:
    import uvloop

    return uvloop.run(run_asyncio(config, on_second))
