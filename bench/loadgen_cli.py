"""The options of `smsc load` and `smsc carrier-sim`. Imports nothing heavy, so building
the CLI parser stays cheap for the other subcommands; every default lives in
LoadConfig / Behaviour, and an option left out leaves the scenario file's value."""
from __future__ import annotations

import argparse


def add_load_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", help="scenario TOML file (bench/scenarios/); options override it")
    target = p.add_argument_group("target")
    target.add_argument("--host", help="SMPP server host (default 127.0.0.1)")
    target.add_argument("--port", type=int, help="SMPP server port (default 2775)")
    target.add_argument("--system-id", dest="system_id")
    target.add_argument("--password")
    target.add_argument("--system-type", dest="system_type")
    target.add_argument("--bind-type", dest="bind_type", choices=("transmitter", "receiver", "transceiver"))
    target.add_argument("--binds", type=int, help="connections, each one bind (default 1)")
    target.add_argument("--window", type=int, help="submits outstanding per bind (default 100)")
    target.add_argument("--tls", action="store_true", help="connect over TLS, verifying the certificate")
    target.add_argument("--tls-insecure", action="store_true", help="TLS without verifying the certificate")
    load = p.add_argument_group("load")
    load.add_argument("--mode", choices=("closed", "open"), help="closed: keep the window full; open: --rate")
    load.add_argument("--rate", type=float, help="open loop: submit_sm/s over all binds (start of a ramp)")
    load.add_argument("--rate-to", dest="rate_to", type=float, help="linear ramp to this rate over --duration")
    load.add_argument("--steps", help="step ramp: SECOND:RATE,SECOND:RATE,...")
    load.add_argument("--ramp", choices=("step", "linear"))
    load.add_argument("--duration", type=float, help="seconds of sending (default 10)")
    load.add_argument("--count", type=int, help="stop after this many submit_sm")
    load.add_argument("--destinations", help="FIRST-LAST number range, or a file of one number a line")
    load.add_argument("--message", action="append", choices=("short", "long", "ucs2"),
                      help="a message kind in the mix (repeat for several, equal weights)")
    load.add_argument("--concatenation", choices=("udh", "sar", "payload"), default="udh",
                      help="how --message long is split (default udh)")
    load.add_argument("--registered-delivery", dest="registered_delivery", type=int,
                      help="registered_delivery of every submit in the mix (default: the scenario's, "
                           "else 1: a receipt; 0: none)")
    load.add_argument("--response-timeout", dest="response_timeout", type=float)
    load.add_argument("--receipt-wait", dest="receipt_wait", type=float,
                      help="seconds to wait for outstanding receipts at the end (default 5)")
    out = p.add_argument_group("results")
    out.add_argument("--json", metavar="PATH", help="write every figure and the per-second series")
    out.add_argument("--plot", metavar="PATH.png", help="plot throughput and p50/p99 over time")
    out.add_argument("--max-error-rate", dest="max_error_rate", type=float,
                     help="exit 1 when (errors + timeouts) / sent is above this fraction")
    out.add_argument("--runtime", choices=("asyncio", "trio"), default="asyncio",
                     help="event loop driving the binds: asyncio on uvloop (default), or trio")


def add_carrier_sim_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", help="scenario TOML file: its [carrier] table; options override it")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2775, help="0 picks a free port (printed)")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--receipts", action="store_true", help="send receipts when a submit asks for one")
    p.add_argument("--receipt-delay", dest="receipt_delay", type=float, help="seconds (the mean)")
    p.add_argument("--receipt-distribution", dest="receipt_distribution",
                   choices=("fixed", "uniform", "exponential"))
    p.add_argument("--undeliv-share", dest="undeliv_share", type=float, help="fraction of UNDELIV receipts")
    p.add_argument("--expired-share", dest="expired_share", type=float, help="fraction of EXPIRED receipts")
    p.add_argument("--receipt-first", dest="receipt_first", action="store_true",
                   help="send each receipt before its submit_sm_resp")
    p.add_argument("--error", action="append", metavar="STATUS=SHARE",
                   help="answer this share of submits with STATUS (e.g. ESME_RSYSERR=0.01)")
    p.add_argument("--throttle-rate", dest="throttle_rate", type=float,
                   help="submits/s over which the answer is ESME_RTHROTTLED")
    p.add_argument("--no-response-share", dest="no_response_share", type=float)
    p.add_argument("--disconnect-share", dest="disconnect_share", type=float,
                   help="chance per submit of dropping the connection")
    p.add_argument("--mo-rate", dest="mo_rate", type=float, help="MO deliver_sm per second")
    p.add_argument("--seed", type=int, help="random seed, for a reproducible run")
    p.add_argument("--tls-cert", dest="tls_cert", help="serve TLS with this certificate (PEM)")
    p.add_argument("--tls-key", dest="tls_key", help="its private key (PEM)")
