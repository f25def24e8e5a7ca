"""TOML -> typed, validated, frozen config.

`load(path)` reads a file, `parse(text)` a string, `load_default()` gives the embedded
config used when no file is named. Every problem raises ConfigError naming the file and
the key path (`conf/x.toml: accounts[1].window: Expected int >= 1, got 0`); unknown keys
are errors, so a typo never silently leaves a default in force. Types and ranges are
checked by msgspec while converting; the rest (networks, duplicates, hashes, TLS files)
by `_check` afterwards. Durations are seconds, rates per second.
"""
from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import secrets
import string
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from smsc.passwords import hash_password, is_valid_hash

Positive = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]
BindType = Literal["transmitter", "receiver", "transceiver"]
# SMPP 3.4 system_id is a C-octet string of at most 16 octets with its NUL (5.2.1).
SystemId = Annotated[str, msgspec.Meta(min_length=1, max_length=15)]


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Listener(_Section, frozen=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 2775
    tls_cert: str | None = None  # PEM files; both or neither (TLS on this listener)
    tls_key: str | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


class Smpp(_Section, frozen=True):
    listeners: tuple[Listener, ...] = (Listener(),)
    max_connections: Count = 1000
    max_pdu_size: Annotated[int, msgspec.Meta(ge=64)] = 65536
    bind_timeout: Positive = 10.0  # a new connection must bind within this
    enquire_link_interval: Positive = 30.0  # enquire_link sent after this much silence
    response_timeout: Positive = 30.0  # wait for a response to our request this long
    inactivity_timeout: Positive = 300.0  # a session silent this long is closed


class Store(_Section, frozen=True):
    path: str = "smsc.db"  # relative paths are in the state directory
    # NORMAL survives a process crash (kill -9); FULL also a power cut, one fsync per batch.
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    max_batch: Count = 2000  # at most this many requests per transaction
    batch_delay: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # wait for more requests (0: never)
    retention: Positive = 604800.0  # finished messages are deleted this long after their accept


class Receipts(_Section, frozen=True):
    retry_initial: Positive = 10.0  # first wait after an ESME refused a deliver_sm
    retry_factor: Annotated[float, msgspec.Meta(ge=1)] = 2.0
    retry_max: Positive = 600.0
    expiry: Positive = 259200.0  # give up on an undelivered receipt after 72 hours
    lease: Positive = 120.0  # a deliver_sm without any answer is offered again after this


class Log(_Section, frozen=True):
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["json", "console"] = "json"


class Account(_Section, frozen=True):
    system_id: SystemId
    password_hash: str  # from `smsc hash-password`, never the password itself
    allowed_networks: tuple[str, ...] = ("0.0.0.0/0", "::/0")
    max_binds: Count = 10
    bind_types: tuple[BindType, ...] = ("transmitter", "receiver", "transceiver")
    window: Count = 10  # outstanding requests per bind
    rate: Positive = 100.0  # messages a second, each segment counted
    allowed_sources: tuple[str, ...] = ()  # sender ids / source addresses; empty: any

    def allows_peer(self, address: str) -> bool:
        """Whether a client at this IP address may bind as this account."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in _networks(self.allowed_networks))

    def allows_source(self, source: str) -> bool:
        return not self.allowed_sources or source in self.allowed_sources

    def allows_bind(self, bind_type: str) -> bool:
        return bind_type in self.bind_types


class Config(_Section, frozen=True):
    smpp: Smpp = Smpp()
    store: Store = Store()
    receipts: Receipts = Receipts()
    log: Log = Log()
    accounts: tuple[Account, ...] = ()

    def account(self, system_id: str) -> Account | None:
        return next((a for a in self.accounts if a.system_id == system_id), None)


class ConfigError(ValueError):
    """A config that cannot be used: `source` is the file, `key` the path inside it."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")
        self.source, self.key, self.problem = source, key, problem


@functools.lru_cache(maxsize=256)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    # Host bits are allowed (192.168.1.10/24 means its /24): what people write by hand.
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def default_state_dir() -> Path:
    """$SMSC_STATE_DIR, else $XDG_STATE_HOME/smsc, else ~/.local/state/smsc."""
    if os.environ.get("SMSC_STATE_DIR"):
        return Path(os.environ["SMSC_STATE_DIR"])
    if os.environ.get("XDG_STATE_HOME"):
        return Path(os.environ["XDG_STATE_HOME"]) / "smsc"
    return Path.home() / ".local" / "state" / "smsc"


def _explain(error: msgspec.ValidationError, raw: dict[str, Any]) -> tuple[str, str]:
    """(key path, problem) from msgspec's `Expected `int` >= 1 - at `$.accounts[1].window``."""
    problem, _, where = str(error).partition(" - at `")
    key = where.rstrip("`").removeprefix("$").removeprefix(".")
    problem = problem.replace("`", "")
    for prefix, rewrite in (("Object contains unknown field ", "unknown key"),
                            ("Object missing required field ", "required key missing")):
        if problem.startswith(prefix):
            name = problem.removeprefix(prefix)
            return (f"{key}.{name}" if key else name), rewrite
    value = _lookup(raw, key)
    if value is not _MISSING and "got" not in problem and not problem.startswith("Invalid enum value"):
        problem += f", got {value!r}"
    return key, problem


_MISSING = object()


def _lookup(raw: Any, key: str) -> Any:
    """The value at a key path like accounts[1].window in the parsed TOML."""
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", key):
        try:
            raw = raw[int(index)] if index else raw[name]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return raw


def parse(text: str, source: str = "<config>", base_dir: Path | None = None,
          state_dir: Path | None = None) -> Config:
    """The Config a TOML text describes. Relative TLS paths are read from `base_dir`
    (the config file's directory), a relative store path is put in `state_dir`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None
    try:
        config = msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(source, *_explain(exc, raw)) from None
    return _check(config, source, base_dir or Path.cwd(), state_dir or default_state_dir())


def load(path: str | os.PathLike[str], state_dir: Path | None = None) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc}") from None
    return parse(text, str(path), path.resolve().parent, state_dir)


def _check(config: Config, source: str, base_dir: Path, state_dir: Path) -> Config:
    """What types cannot say; returns the config with relative paths made absolute."""

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(source, key, problem)

    listeners = []
    seen_addresses: dict[tuple[str, int], int] = {}
    for i, listener in enumerate(config.smpp.listeners):
        key = f"smpp.listeners[{i}]"
        address = (listener.host, listener.port)
        if listener.port and address in seen_addresses:
            raise fail(key, f"same host and port as smpp.listeners[{seen_addresses[address]}]")
        seen_addresses[address] = i
        if (listener.tls_cert is None) != (listener.tls_key is None):
            raise fail(key, "set both tls_cert and tls_key, or neither")
        if listener.tls_cert is not None:
            files = {}
            for name in ("tls_cert", "tls_key"):
                file = base_dir / getattr(listener, name)
                if not file.is_file():
                    raise fail(f"{key}.{name}", f"no such file: {file}")
                files[name] = str(file)
            listener = msgspec.structs.replace(listener, **files)
        listeners.append(listener)

    system_ids: dict[str, int] = {}
    for i, account in enumerate(config.accounts):
        key = f"accounts[{i}]"
        if account.system_id in system_ids:
            raise fail(f"{key}.system_id", f"{account.system_id!r} is already accounts[{system_ids[account.system_id]}]")
        system_ids[account.system_id] = i
        if not is_valid_hash(account.password_hash):
            raise fail(f"{key}.password_hash", "expected scrypt$n$r$p$salt$hash, as `smsc hash-password` prints")
        for j, cidr in enumerate(account.allowed_networks):
            try:
                _networks((cidr,))
            except ValueError as exc:
                raise fail(f"{key}.allowed_networks[{j}]", str(exc)) from None
        if len(set(account.bind_types)) != len(account.bind_types) or not account.bind_types:
            raise fail(f"{key}.bind_types", "list each bind type once, at least one")

    if config.receipts.retry_max < config.receipts.retry_initial:
        raise fail("receipts.retry_max", "must not be below receipts.retry_initial")
    store = msgspec.structs.replace(config.store, path=str(state_dir / config.store.path))
    return msgspec.structs.replace(config, smpp=msgspec.structs.replace(config.smpp, listeners=tuple(listeners)),
                                   store=store)


# --- the embedded default ----------------------------------------------------------


class DemoAccount(msgspec.Struct, frozen=True):
    """The account of the embedded default config, to print at start-up."""

    system_id: str
    password: str
    path: str  # where it is kept
    created: bool  # made on this start (first start)


DEMO_FILE = "demo-account.json"
# Letters and digits only and at most 8 of each: every common client accepts them.
_DEMO_CHARS = string.ascii_lowercase + string.digits


def _demo_credentials(state_dir: Path) -> DemoAccount:
    path = state_dir / DEMO_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return DemoAccount(saved["system_id"], saved["password"], str(path), created=False)
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(str(path), "", f"unreadable demo account, delete it to make a new one: {exc}") from None
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    system_id = "demo" + "".join(secrets.choice(_DEMO_CHARS) for _ in range(4))
    password = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(8))
    # O_EXCL: two first starts racing cannot both write; mode 0600: the password is plain.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump({"system_id": system_id, "password": password}, file)
    return DemoAccount(system_id, password, str(path), created=True)


def load_default(state_dir: Path | None = None) -> tuple[Config, DemoAccount]:
    """The config used without a file: SMPP on 127.0.0.1:2775, the store in the state
    directory, one demo account (credentials made on the first start and kept there)."""
    state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
    demo = _demo_credentials(state_dir)
    account = Account(system_id=demo.system_id, password_hash=hash_password(demo.password),
                      allowed_networks=("127.0.0.0/8", "::1/128"))
    config = _check(Config(accounts=(account,)), "<default>", state_dir, state_dir)
    return config, demo


def summary(config: Config) -> list[str]:
    """A few lines saying what the config sets up, for `smsc check-config`."""
    lines = []
    for listener in config.smpp.listeners:
        lines.append(f"smpp: {listener.host}:{listener.port}{' (TLS)' if listener.tls else ''}")
    lines.append(f"store: {config.store.path} (synchronous={config.store.synchronous})")
    lines.append(f"log: {config.log.level}, {config.log.format}")
    for account in config.accounts:
        lines.append(f"account {account.system_id}: {', '.join(account.bind_types)}; window {account.window},"
                     f" {account.rate:g} msg/s, {account.max_binds} binds from {', '.join(account.allowed_networks)}")
    if not config.accounts:
        lines.append("no accounts: nobody can bind")
    return lines
