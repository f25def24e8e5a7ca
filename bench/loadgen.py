"""`smsc load`: a load generator for any SMPP 3.4 server.

    smsc load --port 2775 --mode closed --window 100 --binds 2 --duration 10
    smsc load --scenario bench/scenarios/open_ramp.toml --json run.json --plot run.png

Closed loop keeps `window` submits outstanding per bind (the most the server takes);
open loop sends at a fixed or ramping rate, each submit measured from when it was meant
to go. Each bind is one TCP (or TLS) connection with a reader task around a sans-I/O
Link (loadgen_core.py); one pump (the main task) takes the run through its phases,
paces the open loop and keeps the per-second series (loadgen_run.Run).

Two drivers run the same Links and Run: asyncio+uvloop (loadgen_asyncio.py, the
default) and trio (loadgen_trio.py, `--runtime trio`). trio was the first choice and
measured 10-15 % more CPU per submit (bench/README.md, "Load generator"), so it is the
alternative kept for that comparison. This module is the command: settings, the run,
the report.
"""
from __future__ import annotations

import dataclasses
import ssl
import sys
from typing import Any

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


def bind_failure(link: Link) -> TargetError:
    return TargetError(f"bind refused: {status_name(link.bind_error)}" if link.bind_error else "no bind_resp")


def client_tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def print_progress(row: dict[str, Any], run: Run) -> None:
    print("\r" + progress_line(row, run.stats.errors, row["t"]), end="", file=sys.stderr, flush=True)


def run(config: LoadConfig, *, runtime: str = "asyncio", progress: bool | None = None) -> dict[str, Any]:
    """Run on the chosen runtime ("asyncio", on uvloop, or "trio"); a progress line on a
    terminal. The results dict is described in loadgen_report."""
    if progress is None:
        progress = sys.stderr.isatty()
    on_second = print_progress if progress else None
    if runtime == "trio":
        from smsc.bench.loadgen_trio import run_trio

        result = run_trio(config, on_second)
    else:
        from smsc.bench.loadgen_asyncio import run_asyncio

        result = run_asyncio(config, on_second)
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
        overrides["messages"] = tuple(MessageSpec(kind=kind, concatenation=args.concatenation)
                                      for kind in args.message)
    config = load_config(args.scenario, **overrides)
    if args.registered_delivery is not None:  # for every message of the mix, given or not
        config = dataclasses.replace(config, messages=tuple(
            dataclasses.replace(m, registered_delivery=args.registered_delivery) for m in config.messages))
    return config


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
    except (TargetError, OSError) as exc:  # OSError: the target cannot be reached
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
