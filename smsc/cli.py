"""The `smsc` command line. Each subcommand is a small function; the work lives elsewhere."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Sequence


def cmd_version(args: argparse.Namespace) -> int:
    import platform

    from smsc import __version__, codec

    print(f"smsc {__version__} (Python {platform.python_version()})")
    for twin, implementation in codec.active().items():
        print(f"codec.{twin}: {implementation}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from smsc import config as config_module
    from smsc import log
    from smsc.aio.runtime import Runtime

    try:
        if args.config:
            config = config_module.load(args.config)
        else:
            config, demo = config_module.load_default()
            print(f"smsc: no config file, using the embedded default; demo account system_id={demo.system_id}"
                  f" password={demo.password} (kept in {demo.path})", flush=True)
    except config_module.ConfigError as exc:
        print(f"smsc serve: {exc}", file=sys.stderr)
        return 2
    log.configure(config.log.level, config.log.format)
    return Runtime(config).run_forever()


def cmd_pdu_decode(args: argparse.Namespace) -> int:
    from smsc.codec import pdu as pdu_codec
    from smsc.smpp.errors import SmppError
    from smsc.smpp.pdus import to_jsonable

    text = args.hex if args.hex is not None else sys.stdin.read()
    try:
        data = bytes.fromhex("".join(text.split()))
    except ValueError as exc:
        print(f"not hexadecimal: {exc}", file=sys.stderr)
        return 2
    try:
        decoded = pdu_codec.decode(data)
    except SmppError as exc:
        print(json.dumps({"error": exc.status_name, "command_status": exc.command_status,
                          "field": exc.field, "message": exc.args[0]}), file=sys.stderr)
        return 1
    print(json.dumps(to_jsonable(decoded), indent=2, ensure_ascii=False))
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from smsc.passwords import hash_password

    if sys.stdin.isatty():
        plain = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != plain:
            print("the passwords differ", file=sys.stderr)
            return 1
    else:
        plain = sys.stdin.readline().rstrip("\r\n")  # piped: the first line is the password
    if not plain:
        print("empty password", file=sys.stderr)
        return 1
    if len(plain.encode("latin-1", "replace")) > 8:
        # bind_* carries the password in 9 octets with its NUL (SMPP 3.4, 4.1.1).
        print("warning: SMPP binds carry at most 8 characters of password; this one cannot be sent",
              file=sys.stderr)
    print(hash_password(plain))
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from smsc import config

    try:
        loaded = config.load(args.file)
    except config.ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    for line in config.summary(loaded):
        print(f"  {line}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from smsc.bench import loadgen

    return loadgen.main(args)


def cmd_carrier_sim(args: argparse.Namespace) -> int:
    from smsc.bench import carrier_sim

    return carrier_sim.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsc", description="A self-hosted SMPP 3.4 gateway.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("version", help="print the version and the active codec").set_defaults(func=cmd_version)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("-c", "--config", help="TOML config file (default: the embedded one)")
    serve.set_defaults(func=cmd_serve)

    pdu = sub.add_parser("pdu", help="PDU tools").add_subparsers(dest="pdu_command", required=True)
    decode = pdu.add_parser("decode", help="print every field of a PDU given in hex (or on stdin) as JSON")
    decode.add_argument("hex", nargs="?", help="the PDU in hex; read from stdin when absent")
    decode.set_defaults(func=cmd_pdu_decode)
    sub.add_parser("hash-password", help="read a password (prompt, or stdin) and print its hash for the config"
                   ).set_defaults(func=cmd_hash_password)
    check = sub.add_parser("check-config", help="validate a config file and print what it sets up")
    check.add_argument("file", help="the TOML config file")
    check.set_defaults(func=cmd_check_config)

    from smsc.bench.loadgen_cli import add_carrier_sim_arguments, add_load_arguments

    load = sub.add_parser("load", help="load-test an SMPP server (closed or open loop)")
    add_load_arguments(load)
    load.set_defaults(func=cmd_load)
    carrier = sub.add_parser("carrier-sim", help="run a simulated carrier SMPP server")
    add_carrier_sim_arguments(carrier)
    carrier.set_defaults(func=cmd_carrier_sim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)
