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
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

import msgspec

from smsc.passwords import hash_password, is_valid_hash
from smsc.smpp.status import ESME_ROK, ESME_RTHROTTLED, status_name

Positive = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]
BindType = Literal["transmitter", "receiver", "transceiver"]
# SMPP 3.4 system_id is a C-octet string of at most 16 octets with its NUL (5.2.1).
SystemId = Annotated[str, msgspec.Meta(min_length=1, max_length=15)]


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


PduSize = Annotated[int, msgspec.Meta(ge=64)]


class Listener(_Section, frozen=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 2775
    tls_cert: str | None = None  # PEM files; both or neither (TLS on this listener)
    tls_key: str | None = None
    # This listener's own limits; None: the [smpp] values (a loaded config has them filled).
    max_connections: Count | None = None
    max_pdu_size: PduSize | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


class Smpp(_Section, frozen=True):
    listeners: tuple[Listener, ...] = (Listener(),)
    max_connections: Count = 1000  # per listener, unless the listener sets its own
    max_pdu_size: PduSize = 65536  # per listener, unless the listener sets its own
    bind_timeout: Positive = 10.0  # a new connection must bind within this
    enquire_link_interval: Positive = 30.0  # enquire_link sent after this much silence
    response_timeout: Positive = 30.0  # wait for a response to our request this long
    inactivity_timeout: Positive = 300.0  # a session silent this long is closed
    default_validity: Positive = 172800.0  # a message without validity_period lives this long
    max_validity: Positive | None = None  # longer validity periods are cut to this; None: no cap
    delivery_poll: Positive = 1.0  # look at the receipts/MO queue this often when nothing woke it

    def connections_limit(self, listener: Listener) -> int:
        """Connections the listener admits at once: its own max_connections, else ours."""
        return listener.max_connections or self.max_connections

    def pdu_size_limit(self, listener: Listener) -> int:
        """Largest PDU a connection on the listener may send: its own, else ours."""
        return listener.max_pdu_size or self.max_pdu_size

    def expiry(self, start: float, asked: float | None) -> float:
        """When a message expires: at `asked` (epoch seconds; None: the ESME gave no
        validity_period, so default_validity after `start`), at most max_validity after
        `start` (when it may first be sent: its accept time, or its schedule)."""
        expires = start + self.default_validity if asked is None else asked
        return expires if self.max_validity is None else min(expires, start + self.max_validity)


class Forwarding(_Section, frozen=True):
    """Sending to carriers and matching what comes back (smsc.aio.forwarder, smsc.aio.inbound)."""

    retry_initial: Positive = 1.0  # first wait after a temporary carrier error, then doubled
    retry_max: Positive = 60.0
    max_attempts: Count = 10  # temporary failures before a message ends UNDELIVERABLE
    queue_per_window: Count = 4  # messages held in memory per upstream: this times its binds x window
    unmatched_receipt_keep: Positive = 600.0  # a receipt matching no message waits this long for one
    parts_grace: Positive = 60.0  # a multipart message with receipts for some parts waits this for the rest
    mo_reassembly_timeout: Positive = 60.0  # the parts of a concatenated MO are awaited this long


class Store(_Section, frozen=True):
    path: str = "smsc.db"  # relative paths are in the state directory
    # NORMAL survives a process crash (kill -9); FULL also a power cut, one fsync per batch.
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    max_batch: Count = 2000  # at most this many requests per transaction
    batch_delay: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # wait for more requests (0: never)
    # "process": SQLite's writes run in a child process, on the second core (smsc.store.process);
    # "loop": on the gateway's event loop, one process in all.
    writer: Literal["loop", "process"] = "loop"
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
    # The HTTP API (smsc.http): receipts and MO of this account POSTed to webhook_url,
    # signed with webhook_secret (HMAC-SHA256); none: they wait for SMPP receiver binds.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    smpp_category: Literal["transactional", "promotional"] = "transactional"  # of SMPP submits
    transactional_to_opted_out: bool = True  # opt-outs refuse promotional messages only
    # Promotional messages wait out the [compliance] quiet window; a route's quiet_hours wins.
    quiet_hours: bool = True

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


# --- carriers and routing ----------------------------------------------------------

Name = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]  # logs, metrics
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
Octet = Annotated[int, msgspec.Meta(ge=0, le=255)]
Clock = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A submit_sm_resp status by its ESME_R* name or its number.
Status = str | Annotated[int, msgspec.Meta(ge=0)]


class Backoff(_Section, frozen=True):
    """Waits between reconnect attempts: initial, then factor times the last, at most max,
    each moved by up to +-jitter of itself so many binds do not retry in step."""

    initial: Positive = 1.0
    max: Positive = 60.0
    factor: Annotated[float, msgspec.Meta(ge=1)] = 2.0
    jitter: Share = 0.1


class Simulated(_Section, frozen=True):
    """An in-process carrier simulator instead of a real carrier (bench/carrier_sim.py
    Behaviour, same keys and meaning)."""

    receipts: bool = True
    receipt_delay: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    receipt_distribution: Literal["fixed", "uniform", "exponential"] = "fixed"
    undeliv_share: Share = 0.0
    expired_share: Share = 0.0
    receipt_first: bool = False
    error_shares: dict[str, float] = {}  # ESME_R* name (or number) -> share of submits
    throttle_rate: Positive | None = None
    no_response_share: Share = 0.0
    disconnect_share: Share = 0.0
    mo_rate: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    seed: int | None = None

    def behaviour(self, system_id: str = "carrier") -> Any:
        """The simulator's Behaviour (smsc.bench.carrier_sim)."""
        from smsc.bench.carrier_sim import Behaviour

        return Behaviour.from_mapping({"system_id": system_id, **msgspec.structs.asdict(self)})


class Upstream(_Section, frozen=True):
    """A carrier SMSC we bind to as an ESME (`binds` connections of `bind_type`)."""

    name: Name
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 2775
    system_id: Annotated[str, msgspec.Meta(max_length=15)] = ""
    password: Annotated[str, msgspec.Meta(max_length=8)] = ""  # SMPP 3.4: at most 8 octets
    password_env: str | None = None  # read the password from this environment variable
    system_type: Annotated[str, msgspec.Meta(max_length=12)] = ""
    bind_type: BindType = "transceiver"
    binds: Count = 1
    tls: bool = False
    tls_ca: str | None = None  # PEM bundle to verify the carrier with; default: system CAs
    tls_verify: bool = True  # False: no certificate or host name check (test carriers only)
    window: Count = 10  # submits outstanding per bind
    enquire_link_interval: Positive = 30.0
    response_timeout: Positive = 30.0
    reconnect: Backoff = Backoff()
    rebind_pause: Positive = 60.0  # after ESME_RBINDFAIL (wrong credentials): wait this long
    throughput: Positive = 100.0  # messages a second over all binds, each segment counted
    throughput_floor: Positive = 1.0  # ESME_RTHROTTLED halves the pace down to this (AIMD)
    message_id_format: Literal["hex", "decimal", "as_is"] = "as_is"  # ids in its receipts
    gsm7: Literal["unpacked", "packed"] = "unpacked"
    data_coding: Octet = 0  # data_coding sent for text in the GSM 7-bit default alphabet
    source_ton: Octet | None = None  # None: as the ESME sent it
    source_npi: Octet | None = None
    concatenation: Literal["udh", "sar", "payload"] = "udh"
    simulated: Simulated | None = None  # run a carrier simulator in-process instead

    def text_options(self) -> Any:
        """How texts are encoded and cut for this carrier (smsc.codec.segmentation)."""
        from smsc.codec.segmentation import TextOptions

        return TextOptions(concatenation=self.concatenation, packed=self.gsm7 == "packed",
                           gsm_data_coding=self.data_coding)


class TimeWindow(_Section, frozen=True):
    """Days and a time of day, in the route's time zone; end before start wraps past
    midnight (22:00-06:00 on fri is fri 22:00 to sat 06:00)."""

    days: tuple[Day, ...] = DAYS
    start: Clock = "00:00"
    end: Clock = "24:00"


class Reroute(_Section, frozen=True):
    """When a message goes to the next upstream of the route, at most `budget` times."""

    statuses: tuple[Status, ...] = ()  # submit_sm_resp statuses, e.g. "ESME_RSYSERR"
    # Set: re-route when a submit_sm gets no submit_sm_resp within min(timeout, that
    # upstream's response_timeout) (router.RouteDecision.reroute_after): past its
    # response_timeout the upstream resets the bind anyway. None: never re-route on a
    # timeout, since the carrier may have taken the message and a second upstream would
    # deliver it twice.
    timeout: Positive | None = None
    undeliv_errors: tuple[str, ...] = ()  # UNDELIV receipts with these err: codes
    budget: Annotated[int, msgspec.Meta(ge=0)] = 2


QuietClock = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class QuietHours(_Section, frozen=True):
    """A quiet window, local time at the destination (its zone from [compliance]); end
    before start wraps past midnight. Promotional messages inside it wait for its end."""

    start: QuietClock
    end: QuietClock


class Route(_Section, frozen=True):
    """An MT rule: the filters (all given ones must match; empty matches anything), then
    the action: exactly one of upstream, balance, failover."""

    name: Name
    accounts: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()  # destination number prefixes ("+" and "00" ignored)
    destination_regex: str | None = None  # the whole number must match ("+"/"00" dropped first)
    sources: tuple[str, ...] = ()  # source addresses / sender ids, exactly
    data_codings: tuple[Octet, ...] = ()
    service_types: tuple[str, ...] = ()
    windows: tuple[TimeWindow, ...] = ()  # any of them; empty: always
    time_zone: str = "UTC"
    upstream: str | None = None
    balance: dict[str, float] = {}  # upstream -> weight (> 0), among the upstreams that are up
    failover: tuple[str, ...] = ()  # in this order
    reroute: Reroute = Reroute()
    rate: Positive | None = None  # messages a second on this route, each segment counted
    # For the promotional messages this route takes, instead of the account's quiet_hours:
    # its own window, true (the [compliance] window), false (none). None: the account's.
    quiet_hours: QuietHours | bool | None = None


class MoRoute(_Section, frozen=True):
    """A mobile-originated rule: from which upstream / to which number / with which
    first word, to one target: an account's receiver binds or an HTTP webhook."""

    name: Name
    upstreams: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()  # prefixes of the number the MO was sent to
    keywords: tuple[str, ...] = ()  # first word of the text, any case
    account: str | None = None
    webhook: str | None = None  # URL (the HTTP API posts the MO there)
    # Signs the webhook's POSTs (HMAC-SHA256, as an account's): a webhook route names no
    # account, so it has no account secret, and no account's STOP/START applies to it.
    webhook_secret: str | None = None


class Http(_Section, frozen=True):
    """The HTTP API listener (smsc.http.api) and its webhooks."""

    enabled: bool = False  # the embedded default config turns it on
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    tls_cert: str | None = None  # PEM files; both or neither
    tls_key: str | None = None
    api_keys: str = "api-keys.jsonl"  # hashed keys, from `smsc api-key create`; in the state dir
    max_body: Annotated[int, msgspec.Meta(ge=1024)] = 262144  # octets per request
    max_recipients: Count = 1000
    idempotency_ttl: Positive = 86400.0  # an Idempotency-Key is remembered this long
    webhook_timeout: Positive = 10.0
    webhook_retry_initial: Positive = 5.0  # then doubled each attempt, +-20% jitter
    webhook_retry_max: Positive = 600.0
    webhook_retry_for: Positive = 86400.0  # then the event is dead-lettered
    webhook_concurrency: Count = 32  # requests in flight per queue
    # Processes that serve the listener (smsc.http.worker): 0 serves it in the gateway's
    # own process. The store, rates and opt-outs stay in the gateway's process.
    workers: Annotated[int, msgspec.Meta(ge=0, le=64)] = 0


_TIME_ZONES = {"1": "America/New_York", "31": "Europe/Amsterdam", "33": "Europe/Paris", "34": "Europe/Madrid",
               "39": "Europe/Rome", "44": "Europe/London", "49": "Europe/Berlin", "61": "Australia/Sydney",
               "81": "Asia/Tokyo", "91": "Asia/Kolkata", "971": "Asia/Dubai"}


class Compliance(_Section, frozen=True):
    """Opt-out keywords, their replies, quiet hours (smsc.compliance). Keywords match the
    whole MO text, any case, spaces and punctuation around it ignored."""

    stop_keywords: tuple[str, ...] = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET",
                                      "STOPP", "BAJA", "PARAR")
    start_keywords: tuple[str, ...] = ("START", "UNSTOP", "YES", "ALTA")
    help_keywords: tuple[str, ...] = ("HELP", "INFO", "AIDE", "AYUDA", "HILFE")
    stop_reply: str = ""  # sent back on STOP; empty: no reply
    start_reply: str = ""
    help_reply: str = ""
    optout_scope: Literal["account", "sender"] = "account"  # STOP to one sender stops which
    quiet_start: str = "21:00"  # local time at the destination, HH:MM
    quiet_end: str = "08:00"
    default_time_zone: str = "UTC"
    # Destination number prefix -> time zone; the longest matching prefix wins.
    time_zones: dict[str, str] = msgspec.field(default_factory=lambda: dict(_TIME_ZONES))


class Config(_Section, frozen=True):
    smpp: Smpp = Smpp()
    http: Http = Http()
    compliance: Compliance = Compliance()
    store: Store = Store()
    receipts: Receipts = Receipts()
    forwarding: Forwarding = Forwarding()
    log: Log = Log()
    accounts: tuple[Account, ...] = ()
    upstreams: tuple[Upstream, ...] = ()
    routes: tuple[Route, ...] = ()
    mo_routes: tuple[MoRoute, ...] = ()

    def account(self, system_id: str) -> Account | None:
        return next((a for a in self.accounts if a.system_id == system_id), None)

    def upstream(self, name: str) -> Upstream | None:
        return next((u for u in self.upstreams if u.name == name), None)


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
    """The Config a TOML text describes. Relative file paths (TLS certificates, keys, CA
    bundles) are read from `base_dir` (the config file's directory); a relative store path
    is put in `state_dir` (and http.api_keys beside the store, smsc.http.keys)."""
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
        listeners.append(msgspec.structs.replace(
            listener, **_files(listener, ("tls_cert", "tls_key"), key, base_dir, fail),
            max_connections=config.smpp.connections_limit(listener),
            max_pdu_size=config.smpp.pdu_size_limit(listener)))

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

    _check_http(config, fail)
    for section in ("receipts", "forwarding"):
        if getattr(config, section).retry_max < getattr(config, section).retry_initial:
            raise fail(f"{section}.retry_max", f"must not be below {section}.retry_initial")
    smpp = config.smpp
    if smpp.max_validity is not None and smpp.default_validity > smpp.max_validity:
        raise fail("smpp.default_validity", "must not be above smpp.max_validity")
    store = msgspec.structs.replace(config.store, path=str(state_dir / config.store.path))
    http = msgspec.structs.replace(config.http, **_files(config.http, ("tls_cert", "tls_key"), "http", base_dir, fail))
    return msgspec.structs.replace(config, smpp=msgspec.structs.replace(smpp, listeners=tuple(listeners)),
                                   http=http, store=store, upstreams=_check_upstreams(config.upstreams, fail, base_dir),
                                   routes=_check_routes(config, fail), mo_routes=_check_mo_routes(config, fail))


Fail = Callable[[str, str], ConfigError]


def _files(section: Any, names: tuple[str, ...], key: str, base_dir: Path, fail: Fail) -> dict[str, str]:
    """The section's file keys that are set, as absolute paths (relative ones are read
    from the config file's directory); each must be an existing file."""
    files = {}
    for name in names:
        if getattr(section, name) is not None:
            file = base_dir / getattr(section, name)
            if not file.is_file():
                raise fail(f"{key}.{name}", f"no such file: {file}")
            files[name] = str(file)
    return files


def _check_http(config: Config, fail: Fail) -> None:
    """Webhook URLs and secrets, time zones and quiet hours."""
    for i, account in enumerate(config.accounts):
        if account.webhook_url is not None:
            _check_url(account.webhook_url, f"accounts[{i}].webhook_url", fail)
            if not account.webhook_secret:
                raise fail(f"accounts[{i}].webhook_secret", "required with webhook_url (webhooks are signed)")
    if (config.http.tls_cert is None) != (config.http.tls_key is None):
        raise fail("http", "set both tls_cert and tls_key, or neither")
    compliance = config.compliance
    for name in ("quiet_start", "quiet_end"):
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", getattr(compliance, name)):
            raise fail(f"compliance.{name}", f"expected HH:MM, got {getattr(compliance, name)!r}")
    zones = {"default_time_zone": compliance.default_time_zone,
             **{f"time_zones.{prefix}": zone for prefix, zone in compliance.time_zones.items()}}
    for key, zone in zones.items():
        _check_time_zone(zone, f"compliance.{key}", fail)


def _check_url(url: str, key: str, fail: Fail) -> None:
    if not re.match(r"https?://[^/\s]+", url):
        raise fail(key, f"expected an http:// or https:// URL, got {url!r}")


def _check_time_zone(zone: str, key: str, fail: Fail) -> None:
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise fail(key, f"unknown time zone {zone!r}") from None


def _unique_names(items: tuple[Any, ...], section: str, fail: Fail) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.name in seen:
            raise fail(f"{section}[{i}].name", f"{item.name!r} is already {section}[{seen[item.name]}]")
        seen[item.name] = i


def _check_upstreams(upstreams: tuple[Upstream, ...], fail: Fail, base_dir: Path) -> tuple[Upstream, ...]:
    """Passwords read from the environment, CA paths made absolute."""
    _unique_names(upstreams, "upstreams", fail)
    checked = []
    for i, upstream in enumerate(upstreams):
        key = f"upstreams[{i}]"
        changes: dict[str, Any] = {}
        if upstream.password_env is not None:
            if upstream.password:
                raise fail(f"{key}.password_env", "set password or password_env, not both")
            if upstream.password_env not in os.environ:
                raise fail(f"{key}.password_env", f"environment variable {upstream.password_env} is not set")
            changes["password"] = os.environ[upstream.password_env]
            if len(changes["password"].encode()) > 8:
                raise fail(f"{key}.password_env", f"${upstream.password_env} is longer than 8 octets")
        if upstream.simulated is None and not upstream.system_id:
            raise fail(f"{key}.system_id", "required key missing (the carrier's account)")
        if upstream.tls_ca is not None and not upstream.tls:
            raise fail(f"{key}.tls_ca", "set tls = true to use a CA bundle")
        changes.update(_files(upstream, ("tls_ca",), key, base_dir, fail))
        if upstream.reconnect.max < upstream.reconnect.initial:
            raise fail(f"{key}.reconnect.max", "must not be below reconnect.initial")
        if upstream.throughput_floor > upstream.throughput:
            raise fail(f"{key}.throughput_floor", "must not be above throughput")
        if upstream.simulated is not None:
            try:
                upstream.simulated.behaviour()
            except ValueError as exc:
                raise fail(f"{key}.simulated", str(exc)) from None
        checked.append(msgspec.structs.replace(upstream, **changes) if changes else upstream)
    return tuple(checked)


def _check_known(names: tuple[str, ...] | str | None, known: set[str], key: str, what: str, fail: Fail) -> None:
    """Each name (a list: key[j]; one name: key) is one of `known`."""
    listed = names if isinstance(names, tuple) else () if names is None else (names,)
    for j, name in enumerate(listed):
        if name not in known:
            raise fail(f"{key}[{j}]" if isinstance(names, tuple) else key, f"no {what} named {name!r}")


def _check_prefixes(prefixes: tuple[str, ...], key: str, fail: Fail) -> None:
    for j, prefix in enumerate(prefixes):
        # "+" and a leading "00" are dropped before matching (smsc.router): "00" alone
        # would be the empty prefix, matching every number.
        if not re.fullmatch(r"\+?[0-9]+", prefix) or prefix.lstrip("+") == "00":
            raise fail(f"{key}[{j}]", f"expected digits (a number prefix), got {prefix!r}")


def _check_routes(config: Config, fail: Fail) -> tuple[Route, ...]:
    """Statuses resolved to numbers; everything a route names must exist."""
    from smsc.smpp.status import parse_status

    _unique_names(config.routes, "routes", fail)
    upstreams = {u.name for u in config.upstreams}
    receivers = {u.name for u in config.upstreams if u.bind_type == "receiver"}
    accounts = {a.system_id for a in config.accounts}
    checked = []
    for i, route in enumerate(config.routes):
        key = f"routes[{i}]"
        _check_known(route.accounts, accounts, f"{key}.accounts", "account", fail)
        actions = [name for name in ("upstream", "balance", "failover") if getattr(route, name)]
        if len(actions) != 1:
            raise fail(key, f"set exactly one of upstream, balance, failover (got {', '.join(actions) or 'none'})")
        _check_known(route.upstream, upstreams, f"{key}.upstream", "upstream", fail)
        for name, weight in route.balance.items():
            if name not in upstreams:
                raise fail(f"{key}.balance.{name}", f"no upstream named {name!r}")
            if not weight > 0:  # here, not in the type: msgspec would say balance[...]
                raise fail(f"{key}.balance.{name}", f"a weight must be above 0, got {weight!r}")
        _check_known(route.failover, upstreams, f"{key}.failover", "upstream", fail)
        if len(set(route.failover)) != len(route.failover):
            raise fail(f"{key}.failover", "list each upstream once")
        for j, name in enumerate(route_upstreams(route)):
            if name in receivers:
                where = (f"{key}.upstream" if route.upstream else f"{key}.failover[{j}]" if route.failover
                         else f"{key}.balance.{name}")
                raise fail(where, f"upstream {name!r} binds as a receiver: it cannot send")
        _check_prefixes(route.destinations, f"{key}.destinations", fail)
        if route.destination_regex is not None:
            try:
                re.compile(route.destination_regex)
            except re.error as exc:
                raise fail(f"{key}.destination_regex", f"not a valid regular expression: {exc}") from None
        _check_time_zone(route.time_zone, f"{key}.time_zone", fail)
        if isinstance(route.quiet_hours, QuietHours) and route.quiet_hours.start == route.quiet_hours.end:
            raise fail(f"{key}.quiet_hours", "start and end must differ (false: no quiet hours on this route)")
        for j, window in enumerate(route.windows):
            if not window.days or len(set(window.days)) != len(window.days):
                raise fail(f"{key}.windows[{j}].days", "list each day once, at least one")
            if window.start == window.end or window.start == "24:00":
                raise fail(f"{key}.windows[{j}]", "start must be before 24:00 and differ from end")
        statuses = []
        for j, status in enumerate(route.reroute.statuses):
            try:
                statuses.append(parse_status(status))
            except ValueError as exc:
                raise fail(f"{key}.reroute.statuses[{j}]", str(exc)) from None
            if statuses[-1] in (ESME_ROK, ESME_RTHROTTLED):
                raise fail(f"{key}.reroute.statuses[{j}]", "ESME_ROK and ESME_RTHROTTLED never re-route"
                           " (a throttled upstream is slowed down, the message waits)")
        checked.append(msgspec.structs.replace(
            route, reroute=msgspec.structs.replace(route.reroute, statuses=tuple(statuses))))
    return tuple(checked)


def _check_mo_routes(config: Config, fail: Fail) -> tuple[MoRoute, ...]:
    _unique_names(config.mo_routes, "mo_routes", fail)
    upstreams = {u.name for u in config.upstreams}
    accounts = {a.system_id for a in config.accounts}
    for i, route in enumerate(config.mo_routes):
        key = f"mo_routes[{i}]"
        _check_known(route.upstreams, upstreams, f"{key}.upstreams", "upstream", fail)
        if (route.account is None) == (route.webhook is None):
            raise fail(key, "set exactly one target: account or webhook")
        _check_known(route.account, accounts, f"{key}.account", "account", fail)
        if route.webhook is not None:
            _check_url(route.webhook, f"{key}.webhook", fail)
            if not route.webhook_secret:
                raise fail(f"{key}.webhook_secret", "required with webhook (webhooks are signed)")
        elif route.webhook_secret is not None:
            raise fail(f"{key}.webhook_secret", "only with webhook (an account's MO is signed with its own secret)")
        _check_prefixes(route.destinations, f"{key}.destinations", fail)
    return config.mo_routes


# --- reload ------------------------------------------------------------------------


class Changes(msgspec.Struct, frozen=True):
    """Names added, removed and changed in one list section, between two configs."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def kept(self, name: str) -> bool:
        """Whether the item of this name is the same in both (its sessions/binds can stay)."""
        return name not in self.added and name not in self.removed and name not in self.changed


class ConfigDiff(msgspec.Struct, frozen=True):
    """What a reload changes. `routes_changed`: the MT table differs (order counts), swap
    it whole; `sections`: other top-level sections that differ (smpp, http, compliance,
    store, receipts, forwarding, log), most of which take effect only on a restart."""

    accounts: Changes
    upstreams: Changes
    routes: Changes
    mo_routes: Changes
    routes_changed: bool
    mo_routes_changed: bool
    sections: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.accounts or self.upstreams or self.routes_changed or self.mo_routes_changed
                    or self.sections)


def _changes(old: tuple[Any, ...], new: tuple[Any, ...], key: str) -> Changes:
    before = {getattr(item, key): item for item in old}
    after = {getattr(item, key): item for item in new}
    return Changes(added=tuple(name for name in after if name not in before),
                   removed=tuple(name for name in before if name not in after),
                   changed=tuple(name for name in after if name in before and before[name] != after[name]))


_LISTS = {"accounts": "system_id", "upstreams": "name", "routes": "name", "mo_routes": "name"}


def diff(old: Config, new: Config) -> ConfigDiff:
    """Which accounts, upstreams and routes differ between the running and a new config."""
    sections = tuple(name for name in Config.__struct_fields__
                     if name not in _LISTS and getattr(old, name) != getattr(new, name))
    return ConfigDiff(**{name: _changes(getattr(old, name), getattr(new, name), key) for name, key in _LISTS.items()},
                      routes_changed=old.routes != new.routes, mo_routes_changed=old.mo_routes != new.mo_routes,
                      sections=sections)


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
    directory, one demo account (credentials made on the first start and kept there), a
    simulated carrier and one route sending everything to it."""
    state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
    demo = _demo_credentials(state_dir)
    account = Account(system_id=demo.system_id, password_hash=hash_password(demo.password),
                      allowed_networks=("127.0.0.0/8", "::1/128"))
    # A simulated carrier that answers and sends receipts: submit -> receipt with no carrier.
    carrier = Upstream(name="simulated", system_id="smsc", simulated=Simulated())
    route = Route(name="everything", upstream=carrier.name)
    config = _check(Config(accounts=(account,), upstreams=(carrier,), routes=(route,),
                           http=Http(enabled=True)),  # the HTTP API on 127.0.0.1:8080
                    "<default>", state_dir, state_dir)
    return config, demo


def summary(config: Config) -> list[str]:
    """A few lines saying what the config sets up, for `smsc check-config`; lines that
    start with "warning:" point at something that is valid but probably not meant."""
    lines = []
    smpp = config.smpp
    for listener in smpp.listeners:
        lines.append(f"smpp: {listener.host}:{listener.port}{' (TLS)' if listener.tls else ''};"
                     f" at most {smpp.connections_limit(listener)} connections,"
                     f" PDUs up to {smpp.pdu_size_limit(listener)} octets")
    cap = f"at most {duration(smpp.max_validity)}" if smpp.max_validity is not None else "no cap"
    lines.append(f"validity: {duration(smpp.default_validity)} when the ESME gives none, {cap}")
    http = config.http
    lines.append(f"http: {http.host}:{http.port}{' (TLS)' if http.tls_cert else ''}" if http.enabled else "http: off")
    lines.append(f"store: {config.store.path} (synchronous={config.store.synchronous})")
    forwarding = config.forwarding
    lines.append(f"forwarding: temporary errors retried after {duration(forwarding.retry_initial)} doubling to"
                 f" {duration(forwarding.retry_max)}, UNDELIVERABLE after {forwarding.max_attempts} attempts;"
                 f" {forwarding.queue_per_window} x binds x window held per upstream")
    compliance = config.compliance
    lines.append(f"quiet hours: {compliance.quiet_start}-{compliance.quiet_end} destination time, for promotional"
                 " messages (accounts with quiet_hours on; a route may set its own)")
    lines.append(f"log: {config.log.level}, {config.log.format}")
    for account in config.accounts:
        lines.append(f"account {account.system_id}: {', '.join(account.bind_types)}; window {account.window},"
                     f" {account.rate:g} msg/s, {account.max_binds} binds from {', '.join(account.allowed_networks)}")
    if not config.accounts:
        lines.append("no accounts: nobody can bind")
    lines += [f"upstream {upstream.name}: {describe_upstream(upstream)}" for upstream in config.upstreams]
    if not config.upstreams:
        lines.append("no upstreams: accepted messages go nowhere")
    lines += [f"route {route.name}: {describe_filters(route)} -> {describe_action(route)}" for route in config.routes]
    if not config.routes:
        lines.append("no routes: every message ends undeliverable")
    lines += [f"mo route {route.name}: {describe_mo_route(route)}" for route in config.mo_routes]
    if not config.mo_routes:
        lines.append("no MO routes: carriers' MO messages are refused")
    return lines + _warnings(config)


def _warnings(config: Config) -> list[str]:
    warnings = []
    catch_all = next((route for route in config.routes if _matches_everything(route)), None)
    if catch_all is not None:
        after = config.routes[config.routes.index(catch_all) + 1:]
        warnings += [f"warning: route {route.name} is never reached: route {catch_all.name} before it matches"
                     " every message" for route in after]
    warnings += [f"warning: route {route.name} has re-route rules but one upstream: nothing to re-route to"
                 for route in config.routes if len(route_upstreams(route)) == 1
                 and (route.reroute.statuses or route.reroute.timeout is not None or route.reroute.undeliv_errors)]
    warnings += [warning for route in config.routes for warning in _reroute_timeout_warnings(config, route)]
    used = {name for route in config.routes for name in route_upstreams(route)}
    receives = {u.name for u in config.upstreams if u.bind_type != "transmitter"}
    warnings += [f"warning: upstream {u.name} is in no route and receives nothing" for u in config.upstreams
                 if u.name not in used and u.name not in receives]
    warnings += [f"warning: mo route {route.name}: upstream {name} binds as a transmitter, it delivers no MO"
                 for route in config.mo_routes for name in route.upstreams if name not in receives]
    return warnings


def _reroute_timeout_warnings(config: Config, route: Route) -> list[str]:
    """A reroute.timeout longer than an upstream's response_timeout is cut to it."""
    timeout = route.reroute.timeout
    if timeout is None or len(route_upstreams(route)) < 2:
        return []
    upstreams = [config.upstream(name) for name in route_upstreams(route)]
    return [f"warning: route {route.name}: reroute.timeout {timeout:g} s is above upstream {upstream.name}'s"
            f" response_timeout: it re-routes after {upstream.response_timeout:g} s"
            for upstream in upstreams if upstream is not None and upstream.response_timeout < timeout]


def _matches_everything(route: Route) -> bool:
    return not (route.accounts or route.destinations or route.destination_regex or route.sources
                or route.data_codings or route.service_types or route.windows)


def route_upstreams(route: Route) -> tuple[str, ...]:
    """Every upstream a route may send to, in its order."""
    return (route.upstream,) if route.upstream is not None else route.failover or tuple(route.balance)


def describe_upstream(upstream: Upstream) -> str:
    if upstream.simulated is not None:
        where = "simulated carrier in-process"
        if upstream.simulated.receipts:
            where += f" (receipts after {upstream.simulated.receipt_delay:g} s)"
    else:
        where = f"{upstream.host}:{upstream.port}{' (TLS)' if upstream.tls else ''} as {upstream.system_id}"
    return (f"{where}; {upstream.binds} {upstream.bind_type} bind{'s' if upstream.binds > 1 else ''},"
            f" window {upstream.window}, {upstream.throughput:g} msg/s (floor {upstream.throughput_floor:g}),"
            f" long messages by {upstream.concatenation}")


def describe_filters(route: Route) -> str:
    """The route's filters in words ("any message" when it has none)."""
    parts = []
    for label, values in (("accounts", route.accounts), ("to", route.destinations), ("from", route.sources),
                          ("data_coding", tuple(str(v) for v in route.data_codings)),
                          ("service_type", route.service_types)):
        if values:
            parts.append(f"{label} {', '.join(values)}")
    if route.destination_regex is not None:
        parts.append(f"to matching {route.destination_regex}")
    if route.windows:
        windows = " or ".join(f"{_days(w.days)} {w.start}-{w.end}" for w in route.windows)
        parts.append(f"{windows} {route.time_zone}")
    return "; ".join(parts) or "any message"


def _days(days: tuple[Day, ...]) -> str:
    """mon-fri for a run of three days or more, else the days listed."""
    first = DAYS.index(days[0])
    if len(days) > 2 and days == DAYS[first:first + len(days)]:
        return "daily" if len(days) == 7 else f"{days[0]}-{days[-1]}"
    return ",".join(days)


def describe_action(route: Route) -> str:
    """Where the route sends, its re-route rule and its rate, in words."""
    if route.upstream is not None:
        action = route.upstream
    elif route.failover:
        action = "failover " + " > ".join(route.failover)
    else:
        total = sum(route.balance.values())
        action = "balance " + ", ".join(f"{name} {weight / total:.0%}" for name, weight in route.balance.items())
    rules = route.reroute
    moves = [status_name(code) for code in rules.statuses]
    if rules.timeout is not None:
        moves.append(f"no answer in {rules.timeout:g} s")
    if rules.undeliv_errors:
        moves.append(f"UNDELIV err {', '.join(rules.undeliv_errors)}")
    if moves and len(route_upstreams(route)) > 1:
        action += f"; re-route on {', '.join(moves)}, at most {rules.budget} time{'s' if rules.budget != 1 else ''}"
    if route.rate is not None:
        action += f"; {route.rate:g} msg/s"
    if isinstance(route.quiet_hours, QuietHours):
        action += f"; quiet hours {route.quiet_hours.start}-{route.quiet_hours.end}"
    elif route.quiet_hours is not None:
        action += "; quiet hours of [compliance]" if route.quiet_hours else "; no quiet hours"
    return action


def duration(seconds: float) -> str:
    """Seconds in the largest unit that keeps them whole (days from a week): 90 s, 10 min,
    48 h, 7 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= (7 * size if unit == "d" else size) and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def describe_mo_route(route: MoRoute) -> str:
    parts = [f"{label} {', '.join(values)}" for label, values in
             (("from", route.upstreams), ("to", route.destinations), ("keyword", route.keywords)) if values]
    target = f"account {route.account}" if route.account is not None else f"webhook {route.webhook}"
    return f"{'; '.join(parts) or 'any MO'} -> {target}"


def default_store_path() -> str:
    """The store file of a config that does not name one, e.g. the embedded default."""
    return str(default_state_dir() / Store().path)


def pid_path(store_path: str) -> Path:
    """Where `smsc serve` writes its process id, for `smsc reload`: beside the store file
    (one process per store: the store is locked)."""
    return Path(store_path).with_suffix(".pid")
