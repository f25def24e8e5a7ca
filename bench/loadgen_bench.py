"""How much the load generator drives, on asyncio+uvloop and on trio, in the same run.

    python bench/loadgen_bench.py [--seconds 5] [--repeat 3] [--rate 50000]

Starts the accept-all carrier simulator (`smsc carrier-sim`) in its own process, then
alternates the two runtimes over the same scenarios: closed loop with window 100 (1, 2
and 4 binds) and open loop at --rate. For each it prints the median of the repeats: submits
a second, p50/p99 latency, and the CPU each side spent per submit (the generator's from
its own process time, the simulator's from /proc), which is what the figures mean on a
shared machine where wall-clock throughput depends on who else is running.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from dataclasses import replace
from typing import Any

from smsc.bench import loadgen
from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_messages import MessageSpec

RUNTIMES = ("asyncio", "trio")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def start_simulator() -> tuple[subprocess.Popen[str], int]:
    sim = subprocess.Popen([sys.executable, "-m", "smsc", "carrier-sim", "--port", "0"],
                           stdout=subprocess.PIPE, text=True)
    assert sim.stdout is not None
    line = sim.stdout.readline()  # "carrier-sim listening on 127.0.0.1:PORT"
    return sim, int(line.rsplit(":", 1)[1])


def measure(config: LoadConfig, runtime: str, sim_pid: int) -> dict[str, Any]:
    before = _cpu_seconds(sim_pid)
    result = loadgen.run(config, runtime=runtime, progress=False)
    sim_cpu = _cpu_seconds(sim_pid) - before
    return {
        "rate": result["rate"]["sent_per_s"],
        "p50": result["latency"]["p50_ms"],
        "p99": result["latency"]["p99_ms"],
        "gen_us": result["rate"]["cpu_us_per_submit"],
        "sim_us": sim_cpu / result["sent"] * 1e6 if result["sent"] else None,
        "errors": result["error_total"] + result["timeouts"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50_000)
    args = parser.parse_args()
    sim, port = start_simulator()
    short = (MessageSpec(registered_delivery=0),)  # the echo sends no receipts
    base = LoadConfig(port=port, duration=args.seconds, receipt_wait=0, messages=short)
    scenarios = {
        "closed, 1 bind x window 100": replace(base, binds=1),
        "closed, 2 binds x window 100": replace(base, binds=2),
        "closed, 4 binds x window 100": replace(base, binds=4),
        f"open {args.rate:,.0f}/s, 2 binds x window 1000": replace(
            base, mode="open", rate=args.rate, binds=2, window=1000),
    }
    try:
        print("| scenario | runtime | submit_sm/s | p50 ms | p99 ms | generator us/submit "
              "| simulator us/submit | errors |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for name, config in scenarios.items():
            runs: dict[str, list[dict[str, Any]]] = {r: [] for r in RUNTIMES}
            for _ in range(args.repeat):
                for runtime in RUNTIMES:  # alternated, so both see the same machine
                    runs[runtime].append(measure(config, runtime, sim.pid))
            for runtime in RUNTIMES:
                med = {key: statistics.median(r[key] for r in runs[runtime]) for key in runs[runtime][0]}
                print(f"| {name} | {runtime} | {med['rate']:,.0f} | {med['p50']:.2f} | {med['p99']:.2f} "
                      f"| {med['gen_us']:.2f} | {med['sim_us']:.2f} | {med['errors']:.0f} |", flush=True)
    finally:
        sim.terminate()
        sim.wait()


if __name__ == "__main__":
    main()
