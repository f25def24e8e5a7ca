"""Durable accept end to end: the gateway (`smsc serve`, real store, answer after commit)
against the no-op echo (`smsc carrier-sim`, accept-all), driven by the same load generator
in one run, side by side.

    python bench/accept_bench.py [--quick] [--seconds S] [--json PATH] [--dir DIR]
    python bench/accept_bench.py --backlog 1000000     # peak RSS of a 1M-message backlog

For 1 and 4 binds x windows 1, 10 and 100 (closed loop), each server in turn: answered
submit_sm_resp/s, p50/p99 latency, and the CPU seconds of the server process (all its
threads, from /proc) and of the generator. Then the open-loop check: half the gateway's
1 x 100 rate, whose p99 should stay under 10 ms, against both servers (the echo's is the
generator's floor). Open-loop latency counts from when the generator got to each submit
(smsc.bench.loadgen_core.Link): its own lateness is reported apart, as the send lag. Both servers run as subprocesses; the
generator runs here (asyncio+uvloop). On 2 cores the three share the machine: the CPU columns say
who used it. Not a test.

--backlog N accepts N messages (4 binds x window 100) into a gateway with no upstream
and reports its peak RSS (VmHWM): the backlog lives on disk, the process must stay small.

--in-process measures the server path alone: one Connection (smsc.aio.connection) of a
real gateway and store, fed rounds of 100 submit_sm (--per-read N: N) by a transport that
only keeps its writes, no socket, no other process; CPU microseconds per submit, best of
three runs. Steadier than the end-to-end figures on a shared machine, and what one core
can do; with a small --per-read, what each read and commit costs besides its messages.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from smsc import log
from smsc.aio.runtime import new_event_loop
from smsc.aio.server import SmppServer
from smsc.bench import loadgen
from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_messages import MessageSpec
from smsc.codec import pdu as pdu_codec
from smsc.config import Account, Config, Listener, Smpp, Store as StoreConfig
from smsc.gateway import Gateway
from smsc.passwords import hash_password
from smsc.smpp.pdus import BindTransceiver, SubmitSm
from smsc.store import Store

SYSTEM_ID, PASSWORD = "bench", "benchpw"
MESSAGE = (MessageSpec("short", registered_delivery=1),)
MATRIX = [(binds, window) for binds in (1, 4) for window in (1, 10, 100)]
QUICK_MATRIX = [(1, 100), (4, 100)]
P99_LIMIT_MS = 10.0
RSS_LIMIT_MB = 150.0
_TICK = os.sysconf("SC_CLK_TCK")
_LISTENING = re.compile(r"listening on ([\d.]+):(\d+)")

CONFIG = """\
[smpp]
max_connections = 100
[[smpp.listeners]]
host = "127.0.0.1"
port = 0
[store]
path = "{path}"
batch_delay = {batch_delay}
[log]
level = "info"
[[accounts]]
system_id = "{system_id}"
password_hash = "{password_hash}"
window = 1000
rate = 10000000.0
max_binds = 10
"""


@dataclass
class Server:
    """A server subprocess: where it listens, and its CPU time and memory from /proc."""

    name: str
    args: list[str]
    log_path: str
    process: subprocess.Popen[str] | None = None
    port: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> "Server":
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        assert self.process.stdout is not None
        for line in self.process.stdout:  # the first line says where it listens
            if match := _LISTENING.search(line):
                self.port = int(match.group(2))
                return self
        raise RuntimeError(f"{self.name} did not start: see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cpu(self) -> float:
        """User + system seconds of every thread of the process so far."""
        with open(f"/proc/{self.process.pid}/stat") as f:  # type: ignore[union-attr]
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICK

    def memory_mb(self, key: str = "VmHWM") -> float:
        with open(f"/proc/{self.process.pid}/status") as f:  # type: ignore[union-attr]
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        raise KeyError(key)


def gateway(tmp: str, batch_delay: float = 0.0) -> Server:
    path = os.path.join(tmp, "gateway.toml")
    with open(path, "w") as f:
        f.write(CONFIG.format(path=os.path.join(tmp, "smsc.db"), system_id=SYSTEM_ID,
                              password_hash=hash_password(PASSWORD), batch_delay=batch_delay))
    return Server("gateway", [sys.executable, "-m", "smsc", "serve", "-c", path], os.path.join(tmp, "gateway.log"))


def echo(tmp: str) -> Server:
    return Server("echo", [sys.executable, "-m", "smsc", "carrier-sim", "--port", "0"],
                  os.path.join(tmp, "echo.log"))


def machine_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of the machine so far (/proc/stat). Steal is the time this
    VM's virtual CPUs were ready but the host ran something else: a run whose tail moved
    with nothing else running here usually had some."""
    with open("/proc/stat") as f:
        ticks = [int(t) for t in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(ticks), ticks[7]


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    return round(100 * (after[1] - before[1]) / max(1, after[0] - before[0]), 1)


def drive(server: Server, **load: Any) -> dict[str, Any]:
    """One load run against `server`: the generator's figures, the server's CPU and the
    machine's steal time."""
    config = LoadConfig(port=server.port, system_id=SYSTEM_ID, password=PASSWORD, receipt_wait=0,
                        messages=MESSAGE, **load)
    cpu = server.cpu()
    ticks = machine_ticks()
    result = loadgen.run(config, progress=False)
    steal = steal_percent(ticks, machine_ticks())
    latency = result["latency"]
    return {"answered_per_s": result["rate"]["answered_per_s"], "p50_ms": latency["p50_ms"],
            "p99_ms": latency["p99_ms"], "send_lag_p99_ms": result["rate"]["send_lag_p99_ms"], "server_cpu_s": round(server.cpu() - cpu, 2),
            "server_cpu_us_per_msg": round((server.cpu() - cpu) / max(1, result["answered"]) * 1e6, 1),
            "loadgen_cpu_s": result["cpu_s"], "sent": result["sent"], "answered": result["answered"],
            "errors": result["error_total"] + result["timeouts"], "seconds": result["elapsed_s"],
            "steal_percent": steal}


def closed_matrix(servers: list[Server], matrix: list[tuple[int, int]], seconds: float) -> list[dict[str, Any]]:
    rows = []
    print(f"{'binds':>5} {'window':>6} | " + " | ".join(
        f"{s.name + ' resp/s':>15} {'p50 ms':>7} {'p99 ms':>7} {'cpu s':>6} {'us/msg':>6}" for s in servers)
        + f" | {'gw/echo':>7}")
    for binds, window in matrix:
        row: dict[str, Any] = {"binds": binds, "window": window}
        for server in servers:
            row[server.name] = drive(server, binds=binds, window=window, duration=seconds)
        cells = " | ".join(f"{row[s.name]['answered_per_s']:>15,.0f} {row[s.name]['p50_ms']:>7.2f}"
                           f" {row[s.name]['p99_ms']:>7.2f} {row[s.name]['server_cpu_s']:>6.2f}"
                           f" {row[s.name]['server_cpu_us_per_msg']:>6.1f}" for s in servers)
        ratio = row["gateway"]["answered_per_s"] / row["echo"]["answered_per_s"]
        row["gateway_over_echo"] = round(ratio, 3)
        steal = max(row[s.name]["steal_percent"] for s in servers)
        print(f"{binds:>5} {window:>6} | {cells} | {ratio:>7.2f}  (VM steal up to {steal}%)", flush=True)
        rows.append(row)
    return rows


def half_load(server: Server, full_rate: float, seconds: float) -> dict[str, Any]:
    rate = round(full_rate / 2)
    result = drive(server, binds=1, window=100, mode="open", rate=rate, duration=seconds)
    result["rate"] = rate
    verdict = "ok" if result["p99_ms"] < P99_LIMIT_MS else "OVER"
    print(f"open loop at {rate:,}/s (half of 1 x 100): {server.name} answered {result['answered_per_s']:,.0f}/s,"
          f" p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms ({verdict}: limit {P99_LIMIT_MS} ms),"
          f" {server.name} CPU {result['server_cpu_s']:.2f} s; the generator's own send lag p99"
          f" {result['send_lag_p99_ms']:.2f} ms (not in the latency); VM steal {result['steal_percent']}%", flush=True)
    return result


def backlog(server: Server, count: int) -> dict[str, Any]:
    start = time.perf_counter()
    result = drive(server, binds=4, window=100, count=count, duration=0)
    result |= {"count": count, "wall_s": round(time.perf_counter() - start, 1),
               "vmhwm_mb": round(server.memory_mb("VmHWM"), 1), "vmrss_mb": round(server.memory_mb("VmRSS"), 1)}
    verdict = "ok" if result["vmhwm_mb"] < RSS_LIMIT_MB else "OVER"
    print(f"backlog: {result['answered']:,} of {count:,} accepted in {result['wall_s']} s"
          f" ({result['answered_per_s']:,.0f}/s), errors {result['errors']};"
          f" gateway peak RSS {result['vmhwm_mb']} MB, now {result['vmrss_mb']} MB"
          f" ({verdict}: limit {RSS_LIMIT_MB:.0f} MB)", flush=True)
    return result


class KeepingTransport:
    """Just enough of an asyncio transport for one Connection (no socket): each write is
    kept as it came (tests/aio look at them)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _in_process_once(tmp: str, rounds: int, window: int = 100) -> float:
    config = Config(smpp=Smpp(listeners=(Listener(host="127.0.0.1", port=0),)),
                    store=StoreConfig(path=os.path.join(tmp, f"in-process-{time.monotonic_ns()}.db")),
                    accounts=(Account(system_id=SYSTEM_ID, password_hash=hash_password(PASSWORD),
                                      window=10 * window, rate=1e9),))
    store = await Store.from_config(config)
    server = SmppServer(config, Gateway(config, store))
    await server.start()  # listens (unused): the connection below is made as its listener would
    conn = server._connection(0)
    conn.connection_made(KeepingTransport())  # type: ignore[arg-type]
    conn.data_received(pdu_codec.encode(BindTransceiver(sequence_number=1, system_id=SYSTEM_ID, password=PASSWORD)))
    while conn.account is None:
        await asyncio.sleep(0.01)
    session = conn.session
    assert session is not None
    submit = SubmitSm(source_addr="Shop", destination_addr="447700900001", registered_delivery=1,
                      short_message=b"Your verification code is 123456")
    chunks = [b"".join(pdu_codec.encode(SubmitSm(**{**_fields(submit), "sequence_number": 2 + r * window + i}))
                       for i in range(window)) for r in range(rounds)]
    cpu = time.process_time()
    for chunk in chunks:
        conn.data_received(chunk)
        while session.outstanding or conn._commits or session._unanswered or getattr(conn, "_handlers", ()):
            await asyncio.sleep(0)
    cpu = time.process_time() - cpu
    conn.close()
    conn.connection_lost(None)
    await server.stop()
    await store.close()
    return cpu / (rounds * window) * 1e6


def _fields(pdu: Any) -> dict[str, Any]:
    return {name: getattr(pdu, name) for name in pdu.__struct_fields__}


def in_process(tmp: str, rounds: int, per_read: int = 100) -> dict[str, Any]:
    log.configure("warning")  # as served: nothing logged per message
    loop = new_event_loop()
    try:
        runs = [loop.run_until_complete(_in_process_once(tmp, rounds, per_read)) for _ in range(3)]
    finally:
        loop.close()
    best = min(runs)
    print(f"in-process server path, {per_read} submit_sm per read: {best:.1f} CPU us per submit_sm (best of"
          f" {', '.join(f'{r:.1f}' for r in runs)}); one core: {1e6 / best:,.0f} submit_sm/s", flush=True)
    return {"per_read": per_read, "cpu_us_per_submit": round(best, 1), "runs": [round(r, 1) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only 1 and 4 binds at window 100, 2 s each")
    parser.add_argument("--seconds", type=float, help="seconds of load per cell (default 5, quick 2)")
    parser.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    parser.add_argument("--dir", help="directory for the store and logs (default: a temp dir)")
    parser.add_argument("--batch-delay", dest="batch_delay", type=float, default=0.0, metavar="S",
                        help="the gateway's [store] batch_delay: wait S seconds for more requests (default 0)")
    parser.add_argument("--backlog", type=int, metavar="N", help="only the backlog check with N messages")
    parser.add_argument("--in-process", dest="in_process", type=int, nargs="?", const=300, metavar="ROUNDS",
                        help="only the in-process server path, ROUNDS reads of --per-read submits (default 300)")
    parser.add_argument("--per-read", dest="per_read", type=int, default=100, metavar="N",
                        help="--in-process: submit_sm per read, each read answered before the next (default 100)")
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    report: dict[str, Any] = {"load_average": os.getloadavg(), "seconds": seconds}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"load average {os.getloadavg()[0]:.2f}; logs in {tmp}", flush=True)
        if args.in_process:
            report["in_process"] = in_process(tmp, args.in_process, args.per_read)
        elif args.backlog:
            with gateway(tmp, args.batch_delay) as gw:
                report["backlog"] = backlog(gw, args.backlog)
        else:
            with gateway(tmp, args.batch_delay) as gw, echo(tmp) as ec:
                matrix = QUICK_MATRIX if args.quick else MATRIX
                report["closed"] = closed_matrix([gw, ec], matrix, seconds)
                full = next(r for r in report["closed"] if (r["binds"], r["window"]) == (1, 100))
                report["half_load"] = half_load(gw, full["gateway"]["answered_per_s"], seconds)
                # The same open loop against the no-op echo: the floor of what this
                # generator on this machine can show (its own send lag and scheduling).
                report["half_load_echo"] = half_load(ec, full["gateway"]["answered_per_s"], seconds)
        report["load_average_after"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
