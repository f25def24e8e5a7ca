"""The `smsc` command line. Each subcommand is a small function; the work lives elsewhere."""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from smsc.config import Config


def cmd_version(args: argparse.Namespace) -> int:
    import platform

    from smsc import __version__, codec

    print(f"smsc {__version__} (Python {platform.python_version()})")
    for twin, implementation in codec.active().items():
        print(f"codec.{twin}: {implementation}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from smsc import config as config_module
    from smsc import log, pidfile
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
    # SIGHUP (`smsc reload`) reads the file again; the embedded default has none to read.
    loader = (lambda: config_module.load(args.config)) if args.config else None
    pid_file = config_module.pid_path(config.store.path)
    claimed = pidfile.claim(pid_file)
    try:
        return Runtime(config, loader=loader).run_forever()
    finally:
        if claimed:
            pidfile.release(pid_file)


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


def cmd_api_key_create(args: argparse.Namespace) -> int:
    from smsc import config as config_module
    from smsc.http import keys

    config = _load_config(args.config, "api-key") if args.config else config_module.load_default()[0]
    if config is None:
        return 2
    if config.account(args.account) is None:
        print(f"smsc api-key: no account {args.account!r} in the config", file=sys.stderr)
        return 1
    path = keys.keys_path(config.store.path, config.http.api_keys)
    key_id, key = keys.create(path, args.account)
    print(key)
    print(f"key {key_id} for {args.account}, kept hashed in {path}; it is shown only now", file=sys.stderr)
    return 0


def _load_config(path: str, command: str) -> "Config | None":
    """The config in `path`, or None after printing why it cannot be used."""
    from smsc import config

    try:
        return config.load(path)
    except config.ConfigError as exc:
        print(f"smsc {command}: {exc}", file=sys.stderr)
        return None


def cmd_route_explain(args: argparse.Namespace) -> int:
    import time
    from datetime import datetime, timezone

    from smsc import ops, router

    loaded = _load_config(args.config, "route explain")
    if loaded is None:
        return 2
    if loaded.account(args.account) is None:
        print(f"smsc route explain: no account {args.account!r} in {args.config}", file=sys.stderr)
        return 2
    now = time.time()
    if args.at is not None:
        try:
            moment = datetime.fromisoformat(args.at)
        except ValueError as exc:
            print(f"smsc route explain: --at: {exc}", file=sys.stderr)
            return 2
        now = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    facts = router.MtFacts(account=args.account, destination=args.to, source=args.source,
                           data_coding=args.data_coding, service_type=args.service_type)
    matched, lines = ops.explain_route(loaded, facts, args.text, now)
    print("\n".join(lines))
    return 0 if matched else 1


def cmd_route_explain_mo(args: argparse.Namespace) -> int:
    from smsc import ops

    loaded = _load_config(args.config, "route explain-mo")
    if loaded is None:
        return 2
    if loaded.upstream(args.upstream) is None:
        print(f"smsc route explain-mo: no upstream {args.upstream!r} in {args.config}", file=sys.stderr)
        return 2
    matched, lines = ops.explain_mo(loaded, args.upstream, args.to, args.text)
    print("\n".join(lines))
    return 0 if matched else 1


def cmd_reload(args: argparse.Namespace) -> int:
    import os
    import signal
    from pathlib import Path

    from smsc import config, pidfile

    if args.pid is not None:
        pid = args.pid
    else:
        if args.pidfile is not None:
            path = Path(args.pidfile)
        elif args.config is not None:
            # Check first: a config the server would refuse is better refused here, loudly.
            loaded = _load_config(args.config, "reload")
            if loaded is None:
                print("smsc reload: not reloaded, the running config stays", file=sys.stderr)
                return 1
            path = config.pid_path(loaded.store.path)
        else:
            path = config.pid_path(config.default_store_path())
        try:
            pid = pidfile.read(path)
        except pidfile.PidFileError as exc:
            print(f"smsc reload: {exc}", file=sys.stderr)
            return 1
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        print(f"smsc reload: cannot signal process {pid}: {exc}", file=sys.stderr)
        return 1
    print(f"smsc reload: sent SIGHUP to process {pid}; its log says reloaded or reload_refused")
    return 0


def cmd_msg_show(args: argparse.Namespace) -> int:
    from contextlib import closing

    from smsc import config, ops
    from smsc.store import StoreError
    from smsc.store.inspect import message_report, open_read_only

    if args.config is not None:
        loaded = _load_config(args.config, "msg show")
        if loaded is None:
            return 2
        path = loaded.store.path
    else:
        path = config.default_store_path()
    try:
        with closing(open_read_only(path)) as db:
            report = message_report(db, args.id)
    except StoreError as exc:  # UnknownMessage too
        print(f"smsc msg show: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(ops.report_json(report), indent=2, ensure_ascii=False))
    else:
        print("\n".join(ops.report_lines(report)))
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

    api_key = sub.add_parser("api-key", help="HTTP API keys").add_subparsers(dest="api_key_command", required=True)
    create = api_key.add_parser("create", help="make an API key for an account and print it (once)")
    create.add_argument("account", help="the account's system_id")
    create.add_argument("-c", "--config", help="TOML config file (default: the embedded one)")
    create.set_defaults(func=cmd_api_key_create)

    route = sub.add_parser("route", help="routing tools").add_subparsers(dest="route_command", required=True)
    explain = route.add_parser("explain", help="which route a message takes, where it goes, how it is encoded")
    explain.add_argument("-c", "--config", required=True, help="the TOML config file")
    explain.add_argument("--account", required=True, help="system_id of the submitting account")
    explain.add_argument("--to", required=True, help="destination_addr")
    explain.add_argument("--from", dest="source", default="", help="source_addr")
    explain.add_argument("--text", help="the text, to show its encoding and parts")
    explain.add_argument("--data-coding", type=lambda v: int(v, 0), default=0, help="data_coding of the submit")
    explain.add_argument("--service-type", default="", help="service_type of the submit")
    explain.add_argument("--at", help="as at this ISO time (for time windows; no zone: UTC); default now")
    explain.set_defaults(func=cmd_route_explain)
    explain_mo = route.add_parser("explain-mo", help="where an MO from a carrier goes")
    explain_mo.add_argument("-c", "--config", required=True, help="the TOML config file")
    explain_mo.add_argument("--upstream", required=True, help="the upstream (carrier) it comes from")
    explain_mo.add_argument("--to", required=True, help="the number it was sent to (destination_addr)")
    explain_mo.add_argument("--text", help="its text (the first word is the keyword)")
    explain_mo.set_defaults(func=cmd_route_explain_mo)

    reload = sub.add_parser("reload", help="make the running server read its config again (SIGHUP)")
    which = reload.add_mutually_exclusive_group()
    which.add_argument("-c", "--config", help="the server's config file: checked, then its pid file used")
    which.add_argument("--pid", type=int, help="the server's process id")
    which.add_argument("--pidfile", help="the server's pid file (beside its store)")
    reload.set_defaults(func=cmd_reload)

    msg = sub.add_parser("msg", help="message tools").add_subparsers(dest="msg_command", required=True)
    show = msg.add_parser("show", help="a message from the store: fields, history, carrier parts, receipts")
    show.add_argument("id", help="the message id")
    show.add_argument("-c", "--config", help="the config file naming the store (default: the embedded one's)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_msg_show)

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
