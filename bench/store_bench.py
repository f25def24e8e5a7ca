"""Store-only durable accept rate: `await store.accept(...)` returning after the commit,
for 1, 10, 100 and 1000 concurrent callers, synchronous=NORMAL and FULL, on uvloop.

    python bench/store_bench.py [--messages N] [--dir DIR]

Each caller accepts in a loop (a typical 1-segment submit_sm body); the figures are
messages committed per second, the mean batch (messages per transaction) and the CPU time
per message over both threads (event loop and SQLite's), which other load on the machine
disturbs less than the rate. Not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from smsc.store import NewMessage, Store

BODY = {"short_message": b"Your verification code is 123456", "data_coding": 0, "esm_class": 0,
        "protocol_id": 0, "priority_flag": 0, "source_addr_ton": 5, "source_addr_npi": 0,
        "dest_addr_ton": 1, "dest_addr_npi": 1, "tlvs": []}


async def measure(path: str, synchronous: str, callers: int, messages: int) -> tuple[float, float, float]:
    store = await Store.open(path, synchronous=synchronous)
    per_caller = max(1, messages // callers)

    async def caller(n: int) -> None:
        destination = f"4477009{n:05d}"
        for _ in range(per_caller):
            await store.accept(NewMessage("bench", "Shop", destination, BODY, registered_delivery=1,
                                          expires=time.time() + 86400))

    before = store.transactions
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller(n) for n in range(callers)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    batches = store.transactions - before
    await store.close()
    total = per_caller * callers
    return total / elapsed, total / batches, cpu / total * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="messages per run (default 50000)")
    parser.add_argument("--dir", default=None, help="directory for the store file (default: a temp dir)")
    args = parser.parse_args()
    try:
        import uvloop
        run = uvloop.run
        loop_name = "uvloop"
    except ImportError:
        run, loop_name = asyncio.run, "asyncio"
    print(f"store-only durable accept, {loop_name}, {args.messages} messages per run")
    print(f"{'synchronous':>11} {'callers':>8} {'accepts/s':>10} {'per commit':>10} {'CPU us/msg':>10}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for synchronous in ("NORMAL", "FULL"):
            for callers in (1, 10, 100, 1000):
                path = os.path.join(tmp, f"{synchronous}-{callers}.db")
                # Single callers commit once per message: measure fewer so the run stays short.
                messages = args.messages if callers > 1 else min(args.messages, 2000)
                rate, batch, cpu = run(measure(path, synchronous, callers, messages))
                print(f"{synchronous:>11} {callers:>8} {rate:>10,.0f} {batch:>10.1f} {cpu:>10.1f}")


if __name__ == "__main__":
    main()
