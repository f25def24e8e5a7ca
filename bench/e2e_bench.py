"""End to end: load generator -> smsc -> carrier simulator -> receipts back. Not a test.

    python bench/e2e_bench.py --duration 60 --rate 10000 --json e2e.json
    python bench/e2e_bench.py --backlog 1000000 --upstream-rate 5000 --json backlog.json
    python bench/e2e_bench.py --duration 20 --py-spy spy/   # where each process spends its CPU
    python bench/e2e_bench.py --duration 15 --against ../before --rounds 4   # a change, alternating runs
    python bench/e2e_bench.py --duration 15 --against ../tree --against-python ~/distro-venv/bin/python

Three processes, as deployed: `smsc carrier-sim` (receipts at once), `smsc serve` on a
fresh state directory with one account, one upstream (the simulator) and one route, and
the load generator in this process (smsc.bench.loadgen, open loop at --rate, or closed
loop without it). smsc's RSS is sampled every half second.

Figures: submits accepted per second (the generator's answered), messages forwarded and
receipted per second (from the store afterwards: messages with a carrier id, messages in
a final state, over the time from the first accept to the last), p50/p99 submit->receipt
(the generator's receipt latency), receipts matched and never received, peak RSS, and
the CPU time each process (smsc, the simulator, the generator) spent per answered submit
over the run: what a full cycle costs each side, so what a rate would need of the cores.

--backlog N: the simulator starts only after N messages were accepted (smsc's binds
retry meanwhile), so the backlog drains at the upstream's --upstream-rate; reported: the
drain rate and the peak RSS while draining.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from smsc.bench.loadgen import run as load_run
from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_messages import MessageSpec
from smsc.passwords import hash_password

PASSWORD = "bench"
FINAL = "(2, 3, 4, 5, 8)"  # DELIVERED EXPIRED DELETED UNDELIVERABLE REJECTED


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_text(smsc_port: int, carrier_port: int, args: argparse.Namespace) -> str:
    return f"""
[smpp]
listeners = [{{ host = "127.0.0.1", port = {smsc_port} }}]

[store]
path = "smsc.db"
batch_delay = {args.batch_delay}
{f'writer = "{args.writer}"' if args.writer else ""}

[log]
level = "warning"

[[accounts]]
system_id = "bench"
password_hash = "{hash_password(PASSWORD)}"
window = {args.window}
rate = 1000000.0
max_binds = 16

[[upstreams]]
name = "sim"
port = {carrier_port}
system_id = "smsc"
binds = {args.upstream_binds}
window = {args.upstream_window}
throughput = {args.upstream_rate}
reconnect = {{ initial = 0.2, max = 1.0 }}

""" + ("" if args.no_forward else """
[[routes]]
name = "all"
upstream = "sim"
""")


def start(command: list[str], state: Path, ready: str) -> subprocess.Popen[str]:
    env = dict(os.environ, SMSC_STATE_DIR=str(state))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if ready in line:
            threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe drained
            return process
        if not line and process.poll() is not None:
            break
    process.kill()
    raise SystemExit(f"{' '.join(command)} did not start")


def with_children(pid: int) -> list[int]:
    """The process and its children (smsc's store writer, `[store] writer = "process"`)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *map(int, children)]


def rss_mb(pid: int) -> float:
    """Resident memory of the process and its children, together."""
    total = 0.0
    for each in with_children(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def cpu_seconds(pid: int, children: bool = True) -> float:
    """User + system CPU a process (and its children) used so far (/proc/PID/stat, clock ticks)."""
    total = 0
    for each in with_children(pid) if children else [pid]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.samples = pid, 0.0, 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            self.peak = max(self.peak, rss_mb(self.pid))
            self.samples += 1


def sample_with_py_spy(directory: Path, pids: dict[str, int | None], seconds: int) -> list[subprocess.Popen[bytes]]:
    """py-spy record each process (only while it runs, not its idle waits) from one second
    on, so that the start and the binds are left out. Unlike --profile (cProfile) it reads
    the process from outside without pausing it (--nonblocking)."""
    directory.mkdir(parents=True, exist_ok=True)
    spies = []
    for name, pid in pids.items():
        if pid is not None:
            record = ["py-spy", "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
                      "--nonblocking", "--format", "raw", "--output", str(directory / f"{name}.txt")]
            spies.append(subprocess.Popen(["sh", "-c", f"sleep 1; exec {shlex.join(record)}"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return spies


def samples_by_file(path: Path, top: int = 10) -> dict[str, float]:
    """Percent of a py-spy raw profile's samples whose innermost frame is in each source
    file (self time; the C code a line calls counts for that line)."""
    counts: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        innermost = stack.rpartition(";")[2]
        where = innermost.rpartition("(")[2].partition(":")[0] or innermost
        counts[where] = counts.get(where, 0) + int(count)
    total = sum(counts.values()) or 1
    return {name: round(100 * n / total, 1) for name, n in sorted(counts.items(), key=lambda kv: -kv[1])[:top]}


def interpreter() -> dict[str, Any]:
    """Which Python ran the three processes. A libpython shared library (pyenv's default
    build) and no profile-guided optimisation cost ~15-25 % of the CPU a message against a
    distribution's static PGO+LTO build (bench/README.md, session 8); the config vars cannot
    tell (Debian's describe its shared build), the process's own mappings can."""
    try:
        with open("/proc/self/maps") as maps:
            shared: bool | None = any("libpython" in line for line in maps)
    except OSError:  # not Linux
        shared = None
    return {"executable": sys.executable, "version": sys.version.split()[0], "libpython_shared": shared}


def passed_on(argv: list[str]) -> list[str]:
    """The options each run of `alternate` gets: all but --against, --against-python, --rounds
    and --json."""
    kept, skip = [], False
    for arg in argv:
        name = arg.split("=", 1)[0]
        if skip:
            skip = False
        elif name in ("--against", "--against-python", "--rounds", "--json"):
            skip = "=" not in arg
        else:
            kept.append(arg)
    return kept


def alternate(other: Path, rounds: int, options: list[str], other_python: str = sys.executable) -> int:
    """A change measured as this project measures them: the tree without it and the tree
    with it run in turn (machine load drifts; alternating spreads it over both), each run
    a fresh set of three processes. The other tree needs smsc/bench linked to its bench/
    (made here when missing): else the editable install would hand it this tree's bench.

    This host's speed moves by +-25 % within minutes, and the three processes' CPU a
    message moves with it: `smsc_per_tools`, smsc's CPU a message over the generator's
    and the simulator's together in the same run, spreads ~3 times less (session 6: 4.0-4.6
    where smsc alone went 95-147 us). It compares the trees only when their bench tools are
    the same (a change to smsc alone).

    `other_python` runs the other tree's three processes on another interpreter (a venv
    with this project's dependencies, the tree built by that interpreter): how much the
    interpreter's build changes everything. Then compare rates and CPU a message, not
    `smsc_per_tools`, which the interpreter moves for the tools as well."""
    here = Path(__file__).resolve().parents[1]
    trees = {"against": other.resolve(), "this": here}
    pythons = {"against": other_python, "this": sys.executable}
    link = trees["against"] / "smsc" / "bench"
    if not link.exists():
        link.symlink_to(Path("..") / "bench")
    for tree in trees.values():  # a tree without the compiled codec would run the pure-Python twin
        if not list((tree / "smsc" / "codec").glob("_pdu_c.*")):
            raise SystemExit(f"{tree}: the Cython codec is not built (`python setup.py build_ext --inplace` there)")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="smsc-e2e-ab-") as tmp:
        for round_ in range(rounds):
            for name, tree in trees.items():
                out = Path(tmp) / f"{name}-{round_}.json"
                subprocess.run([pythons[name], str(tree / "bench" / "e2e_bench.py"), *options, "--json", str(out)],
                               cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), check=True,
                               stdout=subprocess.DEVNULL)
                run = json.loads(out.read_text())
                cpu = run["cpu_us_per_message"]
                runs[name].append({"cpu_us_per_message": cpu,
                                   "answered_per_s": run["generator"]["rate"]["answered_per_s"],
                                   "load_average": run["load_average"][0], "python": run.get("python", {}).get("version"),
                                   "smsc_per_tools": round(cpu["smsc"] / (cpu["generator"] + cpu["carrier_sim"]), 3)})
                print(name, json.dumps(runs[name][-1]), flush=True)
    medians = {name: {process: statistics.median(r["cpu_us_per_message"][process] for r in got)
                      for process in got[0]["cpu_us_per_message"]} for name, got in runs.items()}
    per_tools = {name: statistics.median(r["smsc_per_tools"] for r in got) for name, got in runs.items()}
    print(json.dumps({"trees": {k: str(v) for k, v in trees.items()}, "pythons": pythons,
                      "medians_cpu_us_per_message": medians,
                      "medians_smsc_per_tools": per_tools, "runs": runs}, indent=2))
    return 0


def store_figures(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(path)
    first, last_accept = db.execute("SELECT MIN(submitted), MAX(submitted) FROM messages").fetchone()
    forwarded = db.execute("SELECT COUNT(*) FROM messages WHERE carrier_id IS NOT NULL").fetchone()[0]
    final, last_final = db.execute(f"SELECT COUNT(*), MAX(final) FROM messages WHERE state IN {FINAL}").fetchone()
    total = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    last_forward = db.execute("SELECT MAX(updated) FROM messages WHERE carrier_id IS NOT NULL").fetchone()[0]
    db.close()
    span = lambda end: max(1e-9, (end or first or 0) - (first or 0))  # noqa: E731
    return {"messages": total, "forwarded": forwarded, "final": final,
            "forwarded_per_s": forwarded / span(last_forward), "final_per_s": final / span(last_final),
            "accept_span_s": span(last_accept)}


def wait_drained(path: Path, total: int, timeout: float) -> float:
    """Seconds until every message is forwarded (or the timeout)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        db = sqlite3.connect(path)
        done = db.execute("SELECT COUNT(*) FROM messages WHERE carrier_id IS NOT NULL").fetchone()[0]
        db.close()
        if done >= total:
            break
        time.sleep(1.0)
    return time.monotonic() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending (default 20)")
    parser.add_argument("--rate", type=float, help="open loop at this many submit_sm/s (default: closed loop)")
    parser.add_argument("--binds", type=int, default=2, help="load generator binds")
    parser.add_argument("--window", type=int, default=100, help="load generator window per bind")
    parser.add_argument("--upstream-binds", type=int, default=2)
    parser.add_argument("--upstream-window", type=int, default=200)
    parser.add_argument("--upstream-rate", type=float, default=100000.0, help="the upstream's throughput")
    parser.add_argument("--backlog", type=int, help="accept this many first, with the carrier down")
    parser.add_argument("--no-forward", action="store_true", help="no route: measure accepting alone")
    parser.add_argument("--batch-delay", type=float, default=0.0, help="the gateway's [store] batch_delay (s)")
    parser.add_argument("--writer", choices=("loop", "process"),
                        help="the gateway's [store] writer (default: the config's default)")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--profile", metavar="PATH", help="run smsc under cProfile, its stats written to PATH")
    parser.add_argument("--py-spy", metavar="DIR", dest="py_spy",
                        help="sample smsc, the simulator and this generator with py-spy while sending (from the "
                             "second second, for --duration less two): DIR/<process>.txt, collapsed stacks")
    parser.add_argument("--against", metavar="TREE", type=Path,
                        help="alternate runs of TREE (another copy of the repository: `git worktree add TREE REV`)"
                             " and of this one, --rounds each, with the other options; prints every run's CPU per"
                             " message and the medians")
    parser.add_argument("--against-python", metavar="PYTHON", default=sys.executable,
                        help="the interpreter of --against's runs (default: this one): a venv's python with the"
                             " project's dependencies, TREE built by it")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each tree with --against (default 3)")
    args = parser.parse_args(argv)
    if args.against:
        return alternate(args.against, args.rounds, passed_on(sys.argv[1:] if argv is None else argv),
                         args.against_python)

    smsc_port, carrier_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="smsc-e2e-") as tmp:
        state = Path(tmp)
        (state / "smsc.toml").write_text(config_text(smsc_port, carrier_port, args))
        python = sys.executable
        carrier_command = [python, "-m", "smsc", "carrier-sim", "--port", str(carrier_port), "--receipts"]
        carrier = None if args.backlog else start(carrier_command, state, "listening")
        profiler = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        smsc = start([python, *profiler, "-m", "smsc", "serve", "-c", str(state / "smsc.toml")], state, "listening")
        sampler = RssSampler(smsc.pid)
        sampler.start()
        load = LoadConfig(port=smsc_port, system_id="bench", password=PASSWORD, binds=args.binds, window=args.window,
                          mode="open" if args.rate else "closed", rate=args.rate or 1000.0,
                          duration=0 if args.backlog else args.duration, count=args.backlog, receipt_wait=10.0,
                          messages=(MessageSpec(registered_delivery=0 if args.backlog else 1),))
        result: dict[str, Any] = {"load_average": os.getloadavg(), "args": vars(args), "python": interpreter()}
        cpu_before = {"smsc": cpu_seconds(smsc.pid), "smsc_loop": cpu_seconds(smsc.pid, children=False),
                      "generator": time.process_time(),
                      "carrier_sim": cpu_seconds(carrier.pid) if carrier else 0.0}
        samplers = [] if not args.py_spy else sample_with_py_spy(
            Path(args.py_spy), {"smsc": smsc.pid, "carrier_sim": carrier.pid if carrier else None,
                                "generator": os.getpid(),
                                **{f"smsc_writer_{pid}": pid for pid in with_children(smsc.pid)[1:]}},
            seconds=max(1, int(args.duration) - 2))
        try:
            generated = load_run(load, progress=False)
            cpu = {"smsc": cpu_seconds(smsc.pid), "smsc_loop": cpu_seconds(smsc.pid, children=False),
                   "generator": time.process_time(),
                   "carrier_sim": cpu_seconds(carrier.pid) if carrier else 0.0}
            answered = max(1, generated.get("answered", 0))
            result["cpu_us_per_message"] = {name: round((cpu[name] - cpu_before[name]) / answered * 1e6, 1)
                                            for name in cpu}
            result["generator"] = {key: generated[key] for key in ("sent", "answered", "errors", "timeouts", "rate",
                                                                   "latency", "receipts") if key in generated}
            result["generator"]["receipts"].pop("never_receipted_ids", None)
            if args.backlog:
                rss_before = sampler.peak
                sampler.peak = 0.0
                carrier = start(carrier_command, state, "listening")
                drained = wait_drained(state / "smsc.db", args.backlog, timeout=args.backlog / 100 + 60)
                result["backlog"] = {"messages": args.backlog, "drain_s": drained,
                                     "drain_per_s": args.backlog / drained, "rss_peak_mb_filling": rss_before,
                                     "rss_peak_mb_draining": sampler.peak}
        finally:
            for spy in samplers:
                spy.wait(30)
            sampler.stopping.set()
            smsc.send_signal(signal.SIGTERM)
            smsc.wait(60)
            if carrier is not None:
                carrier.send_signal(signal.SIGINT)
                carrier.wait(30)
        result["store"] = store_figures(state / "smsc.db")
        if args.py_spy:
            result["py_spy_self_percent_by_file"] = {
                path.stem: samples_by_file(path) for path in sorted(Path(args.py_spy).glob("*.txt"))}
        result["rss_peak_mb"] = sampler.peak
        result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
