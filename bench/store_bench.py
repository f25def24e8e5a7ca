"""Store-only durable accept rate: `await store.accept(...)` returning after the commit,
for 1, 10, 100 and 1000 concurrent callers, synchronous=NORMAL and FULL, on uvloop.

    python bench/store_bench.py [--messages N] [--dir DIR]
    python bench/store_bench.py --paced RATE [--per-request K] [--seconds S] [--old-checkpoints]

Each caller accepts in a loop (a typical 1-segment submit_sm body); the figures are
messages committed per second, the mean batch (messages per transaction) and the CPU time
per message over both threads (event loop and SQLite's), which other load on the machine
disturbs less than the rate.

--paced: an open loop of accept_many(K) requests at RATE messages/s (as a pipelining
ESME's reads arrive), printing each request's latency to its commit (p50/p99/max), the
WAL file's peak size and the WAL checkpoints' passes; --old-checkpoints runs it a second
time with the writer stopping for a whole checkpoint every 5,000 commits, as the store did
before smsc.store.checkpoint, as the baseline in the same run.

    python bench/store_bench.py --cycle [--per-batch K] [--messages N] [--sql] [--against TREE --rounds R]

--cycle: the store's share of a full cycle, as the gateway asks it of the writer: each
batch accepts K messages, records where the previous K went (update_many), applies the
receipts of the K before (apply_receipt, each queueing a client receipt) and acks the
client receipts taken in the previous batch (ack_many), all requested together, so one
transaction each. Prints the CPU per message (all threads) and the messages per commit;
--sql adds the time SQLite took per message for each kind of statement (each statement
timed, which adds a little); --against TREE alternates runs of this tree and of TREE
(another checkout with its codec built), R rounds each. Not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

from smsc.smpp.constants import MessageState
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


async def paced(path: str, rate: float, per_request: int, seconds: float, old_checkpoints: bool) -> dict[str, float]:
    store = await Store.open(path)
    if old_checkpoints:
        # The writer waits for a whole checkpoint after every 5,000 commits: no pass beside
        # it, the WAL copied (and synced) in one go.
        commits = itertools.count(1)
        store.checkpointer.before_commit = lambda: (  # type: ignore[method-assign]
            store.checkpointer.start() if next(commits) % 5000 == 0 else None)
    latencies: list[float] = []
    pending: set[asyncio.Future[list[str]]] = set()
    wal_peak = 0
    interval = per_request / rate
    cpu = time.process_time()
    start = time.perf_counter()
    sent = 0
    while (now := time.perf_counter()) - start < seconds:
        due = start + sent * interval
        if due > now:
            await asyncio.sleep(due - now)
        expires = time.time() + 86400  # later with each request, as validity periods are
        asked = time.perf_counter()
        request = store.accept_many([NewMessage("bench", "Shop", f"4477009{n:05d}", BODY, registered_delivery=1,
                                                expires=expires) for n in range(per_request)])
        request.add_done_callback(lambda _, asked=asked: latencies.append(time.perf_counter() - asked))
        pending.add(request)
        request.add_done_callback(pending.discard)
        sent += 1
        if sent % 100 == 0:
            wal_peak = max(wal_peak, os.path.getsize(path + "-wal"))
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    passes = store.checkpointer.passes
    await store.close()
    latencies.sort()
    return {"rate": sent * per_request / elapsed, "p50_ms": latencies[len(latencies) // 2] * 1e3,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3, "max_ms": latencies[-1] * 1e3,
            "wal_peak_mb": wal_peak / 1e6, "passes": passes, "cpu_us_per_message": cpu / (sent * per_request) * 1e6}


class _TimedConnection:
    """The writer's sqlite3 connection, each statement's time added up by its first words."""

    def __init__(self, db: Any, seconds: Counter) -> None:
        self._db, self._seconds = db, seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def _timed(self, key: str, run: Any) -> Any:
        start = time.perf_counter()
        result = run()
        self._seconds[key] += time.perf_counter() - start
        return result

    def execute(self, sql: str, *args: Any) -> Any:
        key = " ".join(sql.split()[:3])
        if key.startswith("SELECT"):  # rows are stepped as they are read: read them here
            return _Rows(self._timed(key, lambda: self._db.execute(sql, *args).fetchall()))
        return self._timed(key, lambda: self._db.execute(sql, *args))

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._timed(" ".join(sql.split()[:3]), lambda: self._db.executemany(sql, *args))

    def commit(self) -> None:
        self._timed("COMMIT", self._db.commit)


class _Rows(list):
    def fetchall(self) -> list:
        return list(self)

    def fetchone(self) -> Any:
        return self[0] if self else None


async def cycle(path: str, per_batch: int, messages: int, sql: bool) -> dict[str, Any]:
    store = await Store.open(path)
    seconds: Counter = Counter()
    if sql:
        store._db = _TimedConnection(store._db, seconds)  # type: ignore[assignment]
    store.accepted_hook = lambda messages: None  # as a gateway with routes: a forwarder takes them
    claim = store.claim_outbound("bench")
    await claim.take(1)  # caught up: receipts are handed to the claim as they are stored
    sent: list[str] = []
    receipted: list[str] = []
    taken: list[int] = []
    done = 0
    before, cpu, loop_cpu = store.transactions, time.process_time(), time.thread_time()
    for batch in range(messages // per_batch + 2):  # the last two batches' receipts are not counted
        ids = store.accept_many([NewMessage("bench", "Shop", f"4477{(batch * per_batch + n) % 10**8:08d}", BODY,
                                            registered_delivery=1) for n in range(per_batch)])
        requests = [store.apply_receipt("sim", [f"c{int(message_id, 16)}"], MessageState.DELIVERED, None)
                    for message_id in receipted]
        if sent:
            requests.append(store.update_many([(message_id, "sim", f"c{int(message_id, 16)}") for message_id in sent]))
        if taken:
            requests.append(claim.ack_many(taken))
        done += len(receipted)
        receipted, sent = sent, await ids
        await asyncio.gather(*requests)
        taken = [item.id for item in await claim.take(10 * per_batch)]
    cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    batches = store.transactions - before
    await store.close()
    return {"messages": done, "cpu_us_per_message": cpu / done * 1e6, "loop_us_per_message": loop_cpu / done * 1e6,
            "per_commit": done / batches,
            "sql_us_per_message": {key: value / done * 1e6 for key, value in seconds.most_common()}}


def _cycle_line(label: str, figures: dict[str, Any]) -> str:
    line = (f"{label}: {figures['cpu_us_per_message']:.1f} CPU us a message (accept, sent, receipt, client"
            f" receipt taken and acked), {figures['loop_us_per_message']:.1f} of them on the"
            f" event loop's thread, {figures['per_commit']:.0f} messages a commit")
    if figures["sql_us_per_message"]:
        line += "; SQLite us a message: " + ", ".join(
            f"{key} {value:.1f}" for key, value in figures["sql_us_per_message"].items())
    return line


def cycle_against(args: argparse.Namespace) -> None:
    """Alternate runs of this tree and of args.against, each in a process of its own."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command = [sys.executable, os.path.abspath(__file__), "--cycle", "--json-line", "--per-batch",
               str(args.per_batch), "--messages", str(args.messages)] + (["--sql"] if args.sql else [])
    for round_ in range(1, args.rounds + 1):
        for label, tree in (("this tree", here), (args.against, os.path.abspath(args.against))):
            env = {**os.environ, "PYTHONPATH": tree}
            output = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=True).stdout
            print(_cycle_line(f"round {round_}, {label}", json.loads(output.splitlines()[-1])), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="messages per run (default 50000)")
    parser.add_argument("--dir", default=None, help="directory for the store file (default: a temp dir)")
    parser.add_argument("--paced", type=float, metavar="RATE", help="open loop at RATE messages/s instead")
    parser.add_argument("--per-request", type=int, default=10, help="--paced: messages per accept_many (default 10)")
    parser.add_argument("--seconds", type=float, default=10.0, help="--paced: seconds of load (default 10)")
    parser.add_argument("--old-checkpoints", action="store_true",
                        help="--paced: then again with the writer waiting for whole checkpoints, for comparison")
    parser.add_argument("--cycle", action="store_true", help="the store's share of a full cycle instead")
    parser.add_argument("--per-batch", type=int, default=50, help="--cycle: messages a batch (default 50)")
    parser.add_argument("--sql", action="store_true", help="--cycle: time each kind of statement")
    parser.add_argument("--against", metavar="TREE", help="--cycle: alternate with runs of another checkout")
    parser.add_argument("--rounds", type=int, default=3, help="--cycle --against: rounds (default 3)")
    parser.add_argument("--json-line", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import uvloop
        run = uvloop.run
        loop_name = "uvloop"
    except ImportError:
        run, loop_name = asyncio.run, "asyncio"
    if args.cycle and args.against:
        cycle_against(args)
        return
    if args.cycle:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            figures = run(cycle(os.path.join(tmp, "cycle.db"), args.per_batch, args.messages, args.sql))
        print(json.dumps(figures) if args.json_line else _cycle_line(loop_name, figures))
        return
    if args.paced:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            for old in (False, True) if args.old_checkpoints else (False,):
                path = os.path.join(tmp, f"paced-{old}.db")
                figures = run(paced(path, args.paced, args.per_request, args.seconds, old))
                print(f"{'writer waits for whole checkpoints' if old else 'checkpoints beside the writer'}:"
                      f" {figures['rate']:,.0f} accepts/s in requests of {args.per_request},"
                      f" latency p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms,"
                      f" max {figures['max_ms']:.1f} ms; WAL peak {figures['wal_peak_mb']:.1f} MB,"
                      f" {figures['passes']} checkpoint passes; {figures['cpu_us_per_message']:.1f} CPU us per message"
                      " (both threads)", flush=True)
        return
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
