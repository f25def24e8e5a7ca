"""HTTP API speed: committed submits per second and latency with keep-alive, 1 and 50
concurrent clients, then 50 clients paced at half the measured rate (the p99 target),
and webhooks delivered per second to a local receiver.

    python bench/http_bench.py [--seconds 5] [--phases baseline,closed,paced,webhooks,alternate]
                               [--json PATH] [--profile PATH] [--batch-delay S] [--default-gc]
                               [--workers N[,M...]] [--repeat K]
    python bench/http_bench.py --ab REVISION [--seconds 10]

The gateway (the real Runtime: store, gateway, compliance, HTTP API) runs in a child
process on its own event loop, as `smsc serve` would; the clients (keep-alive, one
request at a time each, no pipelining) and the webhook receiver run in this process, on
the other core. A submit counts when its 201 came back, i.e. after its commit. The bare
aiohttp app in the child gives the scale of HTTP alone; `alternate` runs it and smsc in
1 s turns so both meet the same neighbours. Webhooks: the child moves N accepted messages
to DELIVERED (what a carrier's receipt does), and the time is from that command to the
N-th signed POST received. With --workers N the API runs in N worker processes ([http]
workers) and the server CPU is theirs and the gateway's process's together (each shown
too); a list (--workers 2,0 --repeat 3) alternates whole runs for an A/B on a noisy
machine. --json records every figure with the options, the commit and
the load averages. Not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterator

import msgspec
import uvloop
from aiohttp import web

SECRET = "bench-secret"
# Scheduled a day ahead: the gateway has no route here, and a message due now would be
# routed, found undeliverable and its receipt posted by webhook at once, so the submit
# figures would carry that work too. The webhook phase then measures receipts alone.
SEND = msgspec.json.encode({"to": "+447700900001", "from": "Shop", "text": "Your verification code is 123456",
                            "schedule_at": datetime.fromtimestamp(time.time() + 86400, timezone.utc).isoformat()})


class Stalls:
    """What held the gateway's event loop up, with when (perf_counter, the same clock in
    both processes on Linux): each garbage collection of 1 ms or more, and each time a
    1 ms timer fired more than 3 ms late, by what the loop's thread did meanwhile (the
    kernel's schedstat): "busy" when it ran most of the time (its own work held the timer
    up), "waiting for a core" when it was mostly runnable but not running (other
    processes had the cores), "blocked" otherwise (in a system call that waits: a write,
    a lock, a sync; or, in a virtual machine, its CPU held by the host: steal time). To tell what the slowest requests waited behind; `counters()` gives (store commits,
    HTTP accepts) so far, to say how much work a late loop did meanwhile."""

    def __init__(self, counters: Any) -> None:
        self.pauses: list[tuple[str, float, float, int, int]] = []  # (what, start, end, commits, accepts)
        self._counters = counters
        self._gc_start = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_start = now
        elif now - self._gc_start >= 0.001:
            self.pauses.append((f"gc{info['generation']}", self._gc_start, now, 0, 0))

    async def watch(self) -> None:
        # Nanoseconds the thread ran and waited runnable (Linux: /proc/<pid>/task/<tid>/schedstat).
        stat = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)
        try:
            while True:
                before, (ran, queued, _) = time.perf_counter(), os.pread(stat, 100, 0).split()
                commits, accepts = self._counters()
                await asyncio.sleep(0.001)
                after = time.perf_counter()
                if after - before > 0.004:
                    ran_after, queued_after, _ = os.pread(stat, 100, 0).split()
                    half = (after - before) * 1e9 / 2
                    kind = ("loop busy" if int(ran_after) - int(ran) >= half else
                            "loop waiting for a core" if int(queued_after) - int(queued) >= half else "loop blocked")
                    commits_after, accepts_after = self._counters()
                    self.pauses.append((kind, before + 0.001, after, commits_after - commits, accepts_after - accepts))
        finally:
            os.close(stat)

    def take(self) -> list[tuple[str, float, float, int, int]]:
        pauses, self.pauses = self.pauses, []
        return pauses


def _child(pipe: Any, state_dir: str, webhook_url: str, batch_delay: float = 0.0, settle: bool = True,
           workers: int = 0) -> None:
    """The gateway: started, its port and a key sent up, then commands until 'stop'."""
    from smsc.smpp.constants import MessageState

    async def main() -> None:
        runtime, key = await _gateway(state_dir, webhook_url, batch_delay, settle, workers)
        accepted = runtime.http.api.metrics.accepted.counts
        stalls = Stalls(lambda: (runtime.store.transactions, sum(accepted.values())))
        watcher = asyncio.get_running_loop().create_task(stalls.watch())
        baseline = await _baseline_app()
        pipe.send((runtime.http.addresses[0][1], key, baseline, os.getpid()))
        loop = asyncio.get_running_loop()
        while True:
            command, argument = await loop.run_in_executor(None, pipe.recv)
            if command == "stop":
                break
            if command == "cpu":
                times = os.times()
                pool = runtime.http.pool
                pipe.send((times.user + times.system,
                           sum(_cpu_of(worker.process.pid) for worker in (pool.workers if pool else ()))))
            if command == "stalls":
                pipe.send(stalls.take())
            if command == "deliver":
                store = runtime.store
                await asyncio.gather(*(store.update(message_id, MessageState.DELIVERED) for message_id in argument))
                pipe.send("done")
        watcher.cancel()
        await runtime.stop()
        pipe.send("stopped")

    uvloop.run(main())


def _cpu_of(pid: int) -> float:
    """A process's user+system CPU seconds so far (a worker's: os.times() counts children
    only once they exited)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _gateway(state_dir: str, webhook_url: str, batch_delay: float = 0.0,
                   settle: bool = True, workers: int = 0) -> tuple[Any, str]:
    """The real Runtime (store, gateway, compliance, HTTP API) for one account "shop"
    without a rate limit, started as `smsc serve` starts it (its garbage collector
    settled, unless not `settle`), its API in `workers` processes ([http] workers), and
    an API key of that account."""
    from smsc import log
    from smsc.aio.runtime import Runtime, settle_gc
    from smsc.config import Account, Config, Http, Listener, Smpp, Store
    from smsc.http import keys
    from smsc.passwords import hash_password

    log.configure("error", "json")
    account = Account(system_id="shop", password_hash=hash_password("secret1"), rate=1e9,
                      webhook_url=webhook_url, webhook_secret=SECRET)
    stored = Store(path=os.path.join(state_dir, "smsc.db"), batch_delay=batch_delay)
    config = Config(smpp=Smpp(listeners=(Listener(port=0),)), store=stored,
                    http=Http(enabled=True, port=0, webhook_concurrency=64, workers=workers), accounts=(account,))
    runtime = Runtime(config)
    await runtime.start()
    if settle:
        settle_gc()
    _, key = keys.create(keys.keys_path(config.store.path, config.http.api_keys), "shop")
    return runtime, key


# The HTTP API's modules that import each other, as another commit had them (--ab).
_AB_MODULES = {"ab_messages": "smsc/http/messages.py", "ab_tables": "smsc/store/http_tables.py",
               "ab_api": "smsc/http/api.py"}
_AB_IMPORTS = (("from smsc.http.messages import", "from ab_messages import"),
               ("from smsc.store import http_tables\n", "import ab_tables as http_tables\n"),
               ("from smsc.store.http_tables import", "from ab_tables import"))


def _api_at(revision: str) -> Any:
    """smsc.http.api as commit `revision` had it (with its messages and tables modules),
    importable beside the checkout's: the module ab_api."""
    directory = tempfile.mkdtemp(prefix="http-ab-")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for module, path in _AB_MODULES.items():
        text = subprocess.run(["git", "show", f"{revision}:{path}"], capture_output=True, text=True, check=True,
                              cwd=root).stdout
        for before, after in _AB_IMPORTS:
            text = text.replace(before, after)
        with open(os.path.join(directory, module + ".py"), "w", encoding="utf-8") as file:
            file.write(text)
    sys.path.insert(0, directory)
    return importlib.import_module("ab_api")


async def ab(revision: str, turns: int) -> dict[str, Any]:
    """The checkout's HTTP API against `revision`'s, each on its own port in front of ONE
    gateway in this process, 50 clients on each in 1 s turns (which goes first alternates):
    this process's CPU per request (client included, the same for both) compares two
    builds of the handler steadily on a shared machine, where two separate runs differ by
    more than most changes. The turns' differences (median and range) show how much the
    load moved under the totals (the same build against itself at load 3.2: totals 226.7
    and 226.4 us, turns -61 to +36). The gateway's store, rate and compliance are shared,
    so only the HTTP modules' differences count."""
    runtime, key = await _gateway(tempfile.mkdtemp(prefix="http-ab-"), "http://127.0.0.1:9/hook")
    current = runtime.http.api
    other = _api_at(revision).HttpApi(current.gateway, current.compliance, current.metrics)
    await other.start()
    ports = {revision: other.addresses[0][1], "checkout": current.addresses[0][1]}
    totals = {name: {"cpu": 0.0, "elapsed": 0.0, "latencies": [], "turns": []} for name in ports}
    try:
        for port in ports.values():
            await closed_loop(port, key, 10, 0.5, [])  # warm-up
        for turn in range(turns):
            for name in sorted(ports, reverse=bool(turn % 2)):
                total, cpu, began = totals[name], time.process_time(), time.perf_counter()
                latencies: list[float] = []
                await closed_loop(ports[name], key, 50, 1.0, [], latencies)
                used = time.process_time() - cpu
                total["cpu"] += used
                total["elapsed"] += time.perf_counter() - began
                total["latencies"] += latencies
                total["turns"].append(used / max(1, len(latencies)) * 1e6)
    finally:
        await other.stop()
        await runtime.stop()
        # Without this the interpreter often died at exit, in the collector (a segfault,
        # 4 runs in 6; none since), after the second copy of the modules was used.
        gc.freeze()
    results: dict[str, Any] = {}
    for name, total in totals.items():
        results[name] = figures = _figures(total["latencies"], total["elapsed"], 50) | {
            "cpu_us": total["cpu"] / len(total["latencies"]) * 1e6, "cpu_us_turns": total["turns"]}
        print(f"{name:>12}: {figures['per_second']:8,.0f}/s  p99 {figures['p99_ms']:6.2f} ms"
              f"  {figures['cpu_us']:5.1f} CPU us/request (client and gateway in one process)", flush=True)
    differences = sorted(b - a for a, b in zip(totals[revision]["turns"], totals["checkout"]["turns"]))
    results["difference_us"] = {"median": statistics.median(differences), "min": differences[0], "max": differences[-1]}
    print(f"checkout - {revision}: median {statistics.median(differences):+.1f} CPU us/request over {turns} turns"
          f" ({differences[0]:+.1f} to {differences[-1]:+.1f})", flush=True)
    return results


async def _baseline_app() -> int:
    """A bare aiohttp app in the gateway's process answering every POST with a fixed 201:
    what HTTP alone costs on this machine (parsing, the loopback socket), for scale."""
    answer = msgspec.json.encode({"messages": [{"id": "0" * 16, "to": "447700900001", "state": "enroute"}]})

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, status=201, content_type="application/json")

    return (await _serve_one("/v1/messages", handler))[1]


async def _serve_one(path: str, handler: Any) -> tuple[web.AppRunner, int]:
    """An aiohttp app with one POST route on 127.0.0.1 (a free port): its runner and port."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends a prepared POST and reads the answer.
    A client this small (no parsing beyond the status line and Content-Length) leaves the
    CPU to the server: aiohttp's own client costs more per request than the server does."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:end])
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4:end + 4 + length])
        del self.buffer[:end + 4 + length]
        self.waiter.set_result((int(head[9:12]), body))

    async def post(self, request: bytes) -> tuple[int, bytes]:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(request)
        try:
            return await self.waiter
        finally:
            self.waiter = None


def prepared(port: int, key: str) -> bytes:
    return (f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(SEND)}\r\n\r\n").encode() + SEND


async def connections(port: int, count: int) -> list[Connection]:
    loop = asyncio.get_running_loop()
    return [(await loop.create_connection(Connection, "127.0.0.1", port))[1] for _ in range(count)]


async def closed_loop(port: int, key: str, clients: int, seconds: float, ids: list[str],
                      latencies: list[float] | None = None) -> dict[str, Any]:
    """`clients` connections each posting one after the other for `seconds` (latencies
    appended to `latencies` when given)."""
    latencies = [] if latencies is None else latencies
    request = prepared(port, key)
    conns = await connections(port, clients)
    deadline = time.perf_counter() + seconds

    async def client(conn: Connection) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, body = await conn.post(request)
            if status != 201:
                raise RuntimeError(f"{status}: {body[:200]!r}")
            latencies.append(time.perf_counter() - started)
            ids.append(msgspec.json.decode(body)["messages"][0]["id"])

    started = time.perf_counter()
    await asyncio.gather(*(client(conn) for conn in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    return _figures(latencies, elapsed, clients)


async def paced(port: int, key: str, clients: int, rate: float, seconds: float,
                stalls: Any = None) -> dict[str, Any]:
    """Open loop: requests due on a fixed schedule at `rate`/s, each sent on the next free
    one of `clients` connections; latency counts from when it was due (queueing counts).
    With `stalls` (a coroutine function giving the gateway's Stalls.take()), says what
    the slowest 1% waited behind."""
    latencies: list[float] = []
    spans: list[tuple[float, float]] = []
    request = prepared(port, key)
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for conn in await connections(port, clients):
        free.put_nowait(conn)
    total = int(rate * seconds)
    begin = time.perf_counter()

    async def one(due: float) -> None:
        conn = await free.get()
        try:
            await conn.post(request)
        finally:
            free.put_nowait(conn)
        done = time.perf_counter()
        latencies.append(done - due)
        spans.append((due, done))

    if stalls is not None:
        await stalls()  # forget those of earlier phases
    tasks = []
    for n in range(total):
        due = begin + n / rate
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        tasks.append(asyncio.ensure_future(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    while not free.empty():
        conn = free.get_nowait()
        assert conn.transport is not None
        conn.transport.close()
    figures = _figures(latencies, elapsed, clients) | {"target_rate": rate}
    return figures | ({"tail": _tail(spans, await stalls())} if stalls is not None else {})


def _tail(spans: list[tuple[float, float]], pauses: list[tuple[str, float, float, int, int]]) -> dict[str, Any]:
    """The gateway's pauses by kind (count, longest ms, total ms), and how many of the
    slowest 1% of requests were in flight during one of each kind; each pause as (kind,
    ms from the first request due, its ms, store commits and HTTP accepts during it)."""
    kinds: dict[str, dict[str, float]] = {}
    for kind, start, end, _, _ in pauses:
        entry = kinds.setdefault(kind, {"count": 0, "longest_ms": 0.0, "total_ms": 0.0, "slowest_1pct_behind": 0})
        entry["count"] += 1
        entry["longest_ms"] = max(entry["longest_ms"], (end - start) * 1000)
        entry["total_ms"] += (end - start) * 1000
    slowest = sorted(spans, key=lambda span: span[0] - span[1])[:max(1, len(spans) // 100)]
    for due, done in slowest:
        for kind in {kind for kind, start, end, _, _ in pauses if start < done and end > due}:
            kinds[kind]["slowest_1pct_behind"] += 1
    begin = min((due for due, _ in spans), default=0.0)
    return {"slowest_1pct": len(slowest), "pauses": kinds,
            "each": [(kind, round((start - begin) * 1000, 2), round((end - start) * 1000, 2), commits, accepts)
                     for kind, start, end, commits, accepts in pauses]}


def _figures(latencies: list[float], elapsed: float, clients: int) -> dict[str, Any]:
    return {"clients": clients, "requests": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": _percentile(latencies, 0.5) * 1000, "p99_ms": _percentile(latencies, 0.99) * 1000,
            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan")}


async def webhooks(pipe: Any, ids: list[str], received: asyncio.Queue[None], count: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    pipe.send(("deliver", ids[:count]))
    for _ in range(count):
        await received.get()
    elapsed = time.perf_counter() - started
    await loop.run_in_executor(None, pipe.recv)
    return {"events": count, "per_second": count / elapsed}


async def run(args: argparse.Namespace, workers: int = 0) -> dict[str, Any]:
    from smsc.http.webhooks import SIGNATURE_HEADER, verify

    received: asyncio.Queue[None] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(SECRET, request.headers.get(SIGNATURE_HEADER, ""), body, time.time()):
            return web.Response(status=401)
        received.put_nowait(None)
        return web.Response(status=204)

    runner, hook_port = await _serve_one("/hook", hook)

    parent, child = multiprocessing.Pipe()
    state_dir = tempfile.mkdtemp(prefix="http-bench-")
    process = multiprocessing.get_context("spawn").Process(
        target=_child, args=(child, state_dir, f"http://127.0.0.1:{hook_port}/hook", args.batch_delay,
                             not args.default_gc, workers))
    process.start()
    child.close()  # the child's end lives in the child only: its death is an EOFError here, not a hang
    loop = asyncio.get_running_loop()
    port, key, baseline, child_pid = await loop.run_in_executor(None, parent.recv)
    ids: list[str] = []
    results: dict[str, Any] = {"load_average": os.getloadavg()[0], "when": time.time(), "commit": _commit(),
                               "workers": workers,
                               "options": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(args).items()}}
    try:
        await closed_loop(port, key, 10, 1.0, [])  # warm-up
        async def server_cpus() -> tuple[float, float]:
            """CPU seconds so far: the gateway's process, its HTTP workers."""
            parent.send(("cpu", None))
            return await loop.run_in_executor(None, parent.recv)

        async def server_cpu() -> float:
            return sum(await server_cpus())

        async def phase(name: str, label: str, run: Any) -> None:
            if name.split("_")[0] not in args.phases:
                run.close()
                return
            gateway, workers = await server_cpus()
            profile = {args.profile_phase: args.profile, "baseline_50": args.profile and args.profile + ".bare"}.get(name)
            with _profiled(child_pid, profile):
                results[name] = figures = await run
            gateway_after, workers_after = await server_cpus()
            requests = max(1, figures["requests"])
            figures["gateway_cpu_us"] = (gateway_after - gateway) / requests * 1e6
            figures["workers_cpu_us"] = (workers_after - workers) / requests * 1e6
            figures["server_cpu_us"] = figures["gateway_cpu_us"] + figures["workers_cpu_us"]
            split = (f" (gateway {figures['gateway_cpu_us']:.0f}, workers {figures['workers_cpu_us']:.0f})"
                     if workers_after else "")
            print(f"{label}: {figures['per_second']:8,.0f} submits/s  p50 {figures['p50_ms']:6.2f} ms"
                  f"  p99 {figures['p99_ms']:6.2f} ms  server {figures['server_cpu_us']:5.0f} CPU us/submit{split}",
                  flush=True)

        if "alternate" in args.phases:
            results["alternate"] = await alternate(server_cpu, {"bare": baseline, "smsc": port}, key, args)
        await phase("baseline_50", "bare aiohttp app, 50 clients", closed_loop(baseline, key, 50, args.seconds, []))
        for clients in (1, 50):
            await phase(f"closed_{clients}", f"closed loop, {clients:2} clients",
                        closed_loop(port, key, clients, args.seconds, ids))
        half = results["closed_50"]["per_second"] / 2 if "closed_50" in results else args.rate / 2
        async def stalls() -> list[tuple[str, float, float, int, int]]:
            parent.send(("stalls", None))
            return await loop.run_in_executor(None, parent.recv)

        await phase("paced_half", f"paced at {half:,.0f}/s, 50 clients", paced(port, key, 50, half, args.seconds, stalls))
        if "tail" in results.get("paced_half", {}):
            tail = results["paced_half"]["tail"]
            print(f"  slowest 1% ({tail['slowest_1pct']}) in flight during: " + ", ".join(
                f"{kind} {entry['slowest_1pct_behind']} (of {entry['count']:.0f}, longest {entry['longest_ms']:.1f} ms)"
                for kind, entry in sorted(tail["pauses"].items())) or "  no pause of the gateway", flush=True)
        if "webhooks" in args.phases and ids:
            results["webhooks"] = figures = await webhooks(parent, ids, received, min(args.webhooks, len(ids)))
            print(f"webhooks: {figures['events']:,} receipts delivered at {figures['per_second']:,.0f}/s", flush=True)
    finally:
        parent.send(("stop", None))
        await loop.run_in_executor(None, parent.recv)
        process.join(30)
        await runner.cleanup()
    results["load_average_after"] = os.getloadavg()[0]
    return results


async def alternate(server_cpu: Any, ports: dict[str, int], key: str, args: argparse.Namespace) -> dict[str, Any]:
    """50 clients on each port in turn, one second each, for `--seconds` each in all: the
    bare app and smsc then share the same neighbours (on a shared machine the load changes
    by the second), so their CPU per request compare fairly. The client's CPU too."""
    totals = {name: {"requests": 0, "elapsed": 0.0, "server": 0.0, "client": 0.0, "latencies": []} for name in ports}
    for _ in range(max(1, round(args.seconds))):
        for name, port in ports.items():
            total = totals[name]
            server, client, began = await server_cpu(), os.times(), time.perf_counter()
            await closed_loop(port, key, 50, 1.0, [], total["latencies"])
            total["elapsed"] += time.perf_counter() - began
            after = os.times()
            total["server"] += await server_cpu() - server
            total["client"] += after.user + after.system - client.user - client.system
    for total in totals.values():
        total["requests"] = len(total["latencies"])
    results = {}
    for name, total in totals.items():
        results[name] = figures = _figures(total["latencies"], total["elapsed"], 50) | {
            "server_cpu_us": total["server"] / total["requests"] * 1e6,
            "client_cpu_us": total["client"] / total["requests"] * 1e6}
        print(f"alternating, {name}: {figures['per_second']:8,.0f}/s  p99 {figures['p99_ms']:6.2f} ms"
              f"  server {figures['server_cpu_us']:5.0f} CPU us/request  client {figures['client_cpu_us']:3.0f}",
              flush=True)
    ratio = results["smsc"]["server_cpu_us"] / results["bare"]["server_cpu_us"]
    print(f"alternating: smsc costs {ratio:.2f}x the bare app's server CPU per request", flush=True)
    return results | {"server_cpu_ratio": ratio}


def _commit() -> str | None:
    """The checkout's HEAD, to tell the figures of one build from another's."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


@contextlib.contextmanager
def _profiled(pid: int, path: str | None) -> Iterator[None]:
    """py-spy sampling process `pid` (raw collapsed stacks; --nonblocking: it never stops it) while the
    block runs, when `path` is given. Sampling at 1 kHz costs the target a few percent."""
    if path is None:
        yield
        return
    spy = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--rate", "1000", "--nonblocking", "--format", "raw",
                            "--output", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached before the load starts
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)



def main() -> None:
    from smsc.config import Http

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per closed-loop and paced phase")
    parser.add_argument("--webhooks", type=int, default=5000, help="receipts to deliver by webhook")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--phases", default="baseline,closed,paced,webhooks",
                        help="comma-separated subset of baseline,closed,paced,webhooks,alternate (bare and smsc"
                             " in 1 s turns, --seconds each)")
    parser.add_argument("--rate", type=float, default=5000.0,
                        help="paced phase without the closed one: pace at half this rate")
    parser.add_argument("--batch-delay", type=float, default=0.0,
                        help="the gateway's [store] batch_delay (seconds to wait for more requests per commit)")
    parser.add_argument("--default-gc", action="store_true",
                        help="leave the gateway's garbage collector as Python sets it (smsc serve settles it"
                             " once started: smsc.aio.runtime.settle_gc)")
    parser.add_argument("--profile", metavar="PATH",
                        help="py-spy (raw collapsed stacks) of the gateway's process during --profile-phase"
                             " (and PATH.bare during the bare app's)")
    parser.add_argument("--profile-phase", default="closed_50", choices=("closed_1", "closed_50", "paced_half"))
    parser.add_argument("--workers", default=str(Http().workers),
                        help="[http] workers of the gateway (API worker processes; 0: in the gateway's process);"
                             " a comma-separated list runs the phases once for each, in turn (e.g. 2,0)")
    parser.add_argument("--repeat", type=int, default=1, help="run the --workers list this many times")
    parser.add_argument("--ab", metavar="REVISION",
                        help="instead of the phases: this checkout's HTTP API against REVISION's on one gateway"
                             " in this process, in 1 s turns (--seconds turns each)")
    args = parser.parse_args()
    args.phases = set(args.phases.split(","))
    args.workers = [int(count) for count in args.workers.split(",")]
    if args.ab:
        results = {"ab": uvloop.run(ab(args.ab, max(1, round(args.seconds)))), "load_average": os.getloadavg()[0]}
        print(f"load average: {results['load_average']:.2f}")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as file:
                json.dump(results | {"commit": _commit(), "options": vars(args) | {"phases": sorted(args.phases)}},
                          file, indent=2)
        return
    runs = []
    for turn in range(args.repeat):
        for workers in args.workers:
            print(f"--- [http] workers = {workers} (run {turn + 1} of {args.repeat})", flush=True)
            runs.append(results := uvloop.run(run(args, workers)))
            print(f"load average: {results['load_average']:.2f} before, {results['load_average_after']:.2f} after")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(runs[0] if len(runs) == 1 else {"runs": runs}, file, indent=2)


if __name__ == "__main__":
    main()
