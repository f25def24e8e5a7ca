"""Where the time of a durable accept goes, stage by stage, under an open-loop load.

    python bench/accept_trace.py [--rate 15000] [--seconds 4] [--window 100] [--batch-delay S]

`smsc serve` runs as a subprocess with its connection's hot path timed (each read of
submits: when it was read, handed to the store, committed, answered); the load generator
runs here, open loop, with its own submits and responses timed. perf_counter is the
system's monotonic clock in both processes, so the two records join by sequence number
(each read counted once, by its first submit) into:

    ready -> write        the generator's wait for room in its window (its pump woke at ready)
    write -> read         until the gateway read the bytes (its loop busy, or no core)
    read -> store         decoding and the gateway's checks
    store -> commit done  waiting for the writer (the commit before), then this commit
    commit -> written     building and writing the answers
    written -> gen read   until the generator read them
    ready -> gen read     the latency the generator reports

plus the gateway's GC pauses. The wrappers cost a few microseconds a read: the figures
are for comparing stages, not for the rate. Not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
import tempfile
from time import perf_counter
from typing import Any

STAGES = ("ready -> write", "write -> read", "read -> store", "store -> commit done", "commit -> written",
          "written -> gen read", "ready -> gen read")


def serve(config_path: str, out_path: str) -> None:
    """The gateway with its reads timed; writes [[first sequence, read, stored, committed,
    written], ...] and the GC pauses to `out_path` when SIGTERM stops it."""
    from smsc import log
    from smsc.aio import connection
    from smsc.aio.loop import new_event_loop
    from smsc.aio.runtime import Runtime
    from smsc.config import load

    reads: list[list[float]] = []
    pending: dict[int, list[float]] = {}
    pauses: list[float] = []
    started = [0.0]
    conn = connection.Connection
    data_received, submit, submitted = conn.data_received, conn._submit, conn._submitted

    def timed_data_received(self: Any, data: bytes) -> None:
        self._read_at = perf_counter()
        data_received(self, data)

    def timed_submit(self: Any, pdus: list[Any]) -> None:
        submit(self, pdus)
        pending[pdus[0].sequence_number] = [pdus[0].sequence_number, self._read_at, perf_counter()]

    def timed_submitted(self: Any, pdus: list[Any], committed: Any) -> None:
        row = pending.pop(pdus[0].sequence_number, None)
        done = perf_counter()
        submitted(self, pdus, committed)
        if row is not None:
            reads.append(row + [done, perf_counter()])

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = perf_counter()
        else:
            pauses.append(perf_counter() - started[0])

    conn.data_received, conn._submit, conn._submitted = timed_data_received, timed_submit, timed_submitted
    gc.callbacks.append(on_gc)

    async def main() -> None:
        log.configure("warning")
        runtime = Runtime(load(config_path))
        await runtime.start()
        print(f"listening on 127.0.0.1:{runtime.addresses[0][1]}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runtime.stop()
        with open(out_path, "w") as f:
            json.dump({"reads": reads, "gc_pauses": pauses}, f)

    loop = new_event_loop()
    loop.run_until_complete(main())


def load_timed(port: int, rate: float, seconds: float, window: int) -> tuple[dict[str, Any], dict[int, Any], dict[int, float]]:
    """An open-loop run with every submit's (ready, written) and response time kept."""
    from smsc.bench import loadgen, loadgen_core
    from smsc.bench.accept_bench import MESSAGE, PASSWORD, SYSTEM_ID
    from smsc.bench.loadgen_config import LoadConfig

    sent: dict[int, tuple[float, float]] = {}
    answered: dict[int, float] = {}
    link = loadgen_core.Link
    submit, receive = link._submit, link.receive

    def timed_submit(self: Any, out: bytearray, count: int, first: float, step: float) -> None:
        sequence = self._sequence
        submit(self, out, count, first, step)
        written = perf_counter()  # the driver writes `out` right after
        for k in range(count):
            sent[sequence + k] = (first + k * step, written)

    def timed_receive(self: Any, data: bytes, now: float) -> None:
        pos = 0
        while len(data) - pos >= 16:
            length, command, _, sequence = loadgen_core.HEADER.unpack_from(data, pos)
            if command == loadgen_core.SUBMIT_SM_RESP:
                answered[sequence] = now
            pos += length
        receive(self, data, now)

    link._submit, link.receive = timed_submit, timed_receive
    try:
        config = LoadConfig(port=port, system_id=SYSTEM_ID, password=PASSWORD, receipt_wait=0, messages=MESSAGE,
                            binds=1, window=window, mode="open", rate=rate, duration=seconds)
        result = loadgen.run(config, progress=False)
    finally:
        link._submit, link.receive = submit, receive
    return result, sent, answered


def stages(reads: list[list[float]], sent: dict[int, Any], answered: dict[int, float]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in STAGES}
    for first, read, stored, committed, written in reads:
        if first not in sent or first not in answered:
            continue
        ready, write = sent[first]
        for name, value in zip(STAGES, (write - ready, read - write, stored - read, committed - stored,
                                        written - committed, answered[first] - written, answered[first] - ready)):
            out[name].append(value)
    return out


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=15000.0, help="open-loop submit_sm/s (default 15000)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--batch-delay", dest="batch_delay", type=float, default=0.0, metavar="S",
                        help="the gateway's [store] batch_delay (default 0)")
    parser.add_argument("--serve", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    from smsc.bench.accept_bench import gateway

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "reads.json")
        server = gateway(tmp, args.batch_delay)
        server.args = [sys.executable, __file__, "--serve", server.args[-1], out]
        print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
        with server:
            result, sent, answered = load_timed(server.port, args.rate, args.seconds, args.window)
        with open(out) as f:
            record = json.load(f)
    latency = result["latency"]
    print(f"open loop {args.rate:,.0f}/s x {args.seconds:g} s, window {args.window}: answered"
          f" {result['rate']['answered_per_s']:,.0f}/s, p50 {latency['p50_ms']:.2f} / p99 {latency['p99_ms']:.2f} ms,"
          f" the generator's send lag p99 {result['rate']['send_lag_p99_ms']:.2f} ms (not in the latency)")
    table = stages(record["reads"], sent, answered)
    print(f"{len(table['ready -> gen read']):,} reads of the gateway, each once (by its first submit), ms:")
    for name, values in table.items():
        if values:
            print(f"  {name:>21}  p50 {_quantile(values, .5):6.2f}  p90 {_quantile(values, .9):6.2f}"
                  f"  p99 {_quantile(values, .99):6.2f}  max {_quantile(values, 1):6.2f}")
    pauses = record["gc_pauses"]
    print(f"gateway GC: {len(pauses)} collections, longest {max(pauses, default=0) * 1e3:.2f} ms"
          f" (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
