import os
import re
import stat
import typing
from pathlib import Path

import msgspec
import pytest

from smsc import config as cfg
from tests.config_helpers import HASH, error, parse
from smsc.passwords import hash_password, verify_password

EXAMPLE = Path(__file__).resolve().parents[1] / "conf" / "smsc.example.toml"


def account(**keys):
    keys = {"system_id": "acme", "password_hash": HASH, **keys}
    lines = "\n".join(f"{k} = {v!r}" if isinstance(v, (str, int, float)) else f"{k} = {_toml_list(v)}"
                      for k, v in keys.items())
    return f"[[accounts]]\n{lines}\n"


def _toml_list(values):
    return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values) + "]"


def test_the_example_loads_and_states_every_default(tmp_path):
    loaded = cfg.load(EXAMPLE, state_dir=tmp_path)
    defaults = cfg.Config()
    assert loaded.smpp == parse("", tmp_path).smpp  # the listener's limits filled from [smpp]
    assert loaded.receipts == defaults.receipts and loaded.log == defaults.log
    assert loaded.forwarding == defaults.forwarding
    assert loaded.http == defaults.http and loaded.compliance == defaults.compliance
    assert loaded.store == msgspec.structs.replace(defaults.store, path=str(tmp_path / "smsc.db"))
    [acme] = loaded.accounts
    assert verify_password("secret12", acme.password_hash)
    example_account = msgspec.structs.asdict(acme)
    default_account = msgspec.structs.asdict(cfg.Account(system_id="acme", password_hash=HASH))
    assert example_account == default_account


def _sections(struct=cfg.Config, seen=None):
    """Every table type reachable from Config: new sections are checked without a list."""
    seen = seen if seen is not None else {}
    seen[struct.__name__] = struct
    for hint in typing.get_type_hints(struct).values():
        for candidate in (hint, *typing.get_args(hint), *(a for arg in typing.get_args(hint)
                                                           for a in typing.get_args(arg))):
            if isinstance(candidate, type) and issubclass(candidate, cfg._Section) and candidate.__name__ not in seen:
                _sections(candidate, seen)
    return seen


@pytest.mark.parametrize("section", sorted(_sections()))
def test_the_example_names_every_key(section):
    text = EXAMPLE.read_text()
    for field in _sections()[section].__struct_fields__:
        # `key = ` (commented out when it has no value by default) or a table header.
        pattern = rf"^(# ?)?({field} = |\[\[?(\w+\.)?{field}\]\]?)"
        assert re.search(pattern, text, re.MULTILINE), f"{section}.{field} missing"


@pytest.mark.parametrize("text,expected", [
    (account(window=0), "conf/x.toml: accounts[0].window: Expected int >= 1, got 0"),
    (account() + account(system_id="b", windo=3), "conf/x.toml: accounts[1].windo: unknown key"),
    ("[smtp]\nport = 1\n", "conf/x.toml: smtp: unknown key"),
    ("[smpp]\nbind_timeout = 0\n", "conf/x.toml: smpp.bind_timeout: Expected float > 0.0, got 0"),
    ('[[smpp.listeners]]\nport = "x"\n', "conf/x.toml: smpp.listeners[0].port: Expected int, got str"),
    ("[[smpp.listeners]]\nport = 70000\n", "conf/x.toml: smpp.listeners[0].port: Expected int <= 65535, got 70000"),
    ('[store]\nsynchronous = "OFF"\n', "conf/x.toml: store.synchronous: Invalid enum value 'OFF'"),
    ('[log]\nformat = "xml"\n', "conf/x.toml: log.format: Invalid enum value 'xml'"),
    ("[[accounts]]\npassword_hash = 'x'\n", "conf/x.toml: accounts[0].system_id: required key missing"),
    (account(system_id="a" * 16), "conf/x.toml: accounts[0].system_id: Expected str of length <= 15, got 'aaaaaaaaaaaaaaaa'"),
    (account(bind_types=["transmitter", "pusher"]), "conf/x.toml: accounts[0].bind_types[1]: Invalid enum value 'pusher'"),
    (account(bind_types=["receiver", "receiver"]), "conf/x.toml: accounts[0].bind_types: list each bind type once, at least one"),
    (account() + account(), "conf/x.toml: accounts[1].system_id: 'acme' is already accounts[0]"),
    (account(password_hash="secret12"), "conf/x.toml: accounts[0].password_hash: expected scrypt$n$r$p$salt$hash"),
    (account(allowed_networks=["10.0.0.0/8", "10.0.0.0/33"]), "conf/x.toml: accounts[0].allowed_networks[1]: "),
    (account(allowed_networks=["localhost"]), "conf/x.toml: accounts[0].allowed_networks[0]: "),
    ("[[smpp.listeners]]\ntls_cert = 'a.pem'\n", "conf/x.toml: smpp.listeners[0]: set both tls_cert and tls_key, or neither"),
    ("[[smpp.listeners]]\ntls_cert = 'a.pem'\ntls_key = 'b.pem'\n", "conf/x.toml: smpp.listeners[0].tls_cert: no such file"),
    ("[[smpp.listeners]]\nport = 1\n[[smpp.listeners]]\nport = 1\n",
     "conf/x.toml: smpp.listeners[1]: same host and port as smpp.listeners[0]"),
    ("[receipts]\nretry_initial = 10.0\nretry_max = 5.0\n", "conf/x.toml: receipts.retry_max: must not be below"),
    ("[forwarding]\nretry_initial = 10.0\nretry_max = 5.0\n",
     "conf/x.toml: forwarding.retry_max: must not be below forwarding.retry_initial"),
    ("[forwarding]\nmax_attempts = 0\n", "conf/x.toml: forwarding.max_attempts: Expected int >= 1, got 0"),
    ("[forwarding]\nparts_grace = -1\n", "conf/x.toml: forwarding.parts_grace: Expected float > 0.0, got -1"),
    ("[smpp]\nmax_validity = 3600.0\n", "conf/x.toml: smpp.default_validity: must not be above smpp.max_validity"),
    ("[smpp]\ndelivery_poll = 0\n", "conf/x.toml: smpp.delivery_poll: Expected float > 0.0, got 0"),
    ("[[smpp.listeners]]\nmax_pdu_size = 16\n", "conf/x.toml: smpp.listeners[0].max_pdu_size: Expected int >= 64"),
    ("[[smpp.listeners]]\nmax_connections = 0\n",
     "conf/x.toml: smpp.listeners[0].max_connections: Expected int >= 1, got 0"),
    ("[http]\ntls_cert = 'a.pem'\ntls_key = 'b.pem'\n", "conf/x.toml: http.tls_cert: no such file"),
    ("[smpp\n", "conf/x.toml: not valid TOML"),
])
def test_every_error_names_file_and_key(tmp_path, text, expected):
    assert error(text, tmp_path).startswith(expected)


def test_tls_files_are_found_next_to_the_config(tmp_path):
    (tmp_path / "a.pem").write_text("cert")
    (tmp_path / "b.pem").write_text("key")
    [listener] = parse("[[smpp.listeners]]\nport = 2776\ntls_cert = 'a.pem'\ntls_key = 'b.pem'\n", tmp_path).smpp.listeners
    assert listener.tls and listener.tls_cert == str(tmp_path / "a.pem") and listener.tls_key == str(tmp_path / "b.pem")


def test_http_tls_files_are_found_next_to_the_config(tmp_path):
    (tmp_path / "a.pem").write_text("cert")
    (tmp_path / "b.pem").write_text("key")
    http = parse("[http]\ntls_cert = 'a.pem'\ntls_key = 'b.pem'\n", tmp_path).http
    assert (http.tls_cert, http.tls_key) == (str(tmp_path / "a.pem"), str(tmp_path / "b.pem"))
    absolute = parse(f"[http]\ntls_cert = '{tmp_path / 'a.pem'}'\ntls_key = '{tmp_path / 'b.pem'}'\n",
                     tmp_path / "elsewhere").http
    assert absolute.tls_cert == str(tmp_path / "a.pem")  # an absolute path is kept


def test_load_reads_relative_paths_from_the_file_directory_not_the_working_one(tmp_path, monkeypatch):
    conf = tmp_path / "etc"
    conf.mkdir()
    for name in ("api.crt", "api.key"):
        (conf / name).write_text("pem")
    (conf / "smsc.toml").write_text("[http]\ntls_cert = 'api.crt'\ntls_key = 'api.key'\n")
    monkeypatch.chdir(tmp_path)
    assert cfg.load("etc/smsc.toml", state_dir=tmp_path).http.tls_key == str(conf / "api.key")


def test_listeners_take_their_own_limits_or_the_smpp_ones(tmp_path):
    text = ("[smpp]\nmax_connections = 50\nmax_pdu_size = 4096\n"
            "[[smpp.listeners]]\nport = 2775\n"
            "[[smpp.listeners]]\nport = 2776\nmax_connections = 5\nmax_pdu_size = 1024\n")
    plain, own = parse(text, tmp_path).smpp.listeners
    assert (plain.max_connections, plain.max_pdu_size) == (50, 4096)
    assert (own.max_connections, own.max_pdu_size) == (5, 1024)
    [default] = parse("", tmp_path).smpp.listeners
    assert (default.max_connections, default.max_pdu_size) == (1000, 65536)


def test_a_reload_sees_changed_forwarding_and_listener_limits(tmp_path):
    changed = parse("[forwarding]\nmax_attempts = 3\n[[smpp.listeners]]\nmax_connections = 5\n", tmp_path)
    assert cfg.diff(parse("", tmp_path), changed).sections == ("smpp", "forwarding")


def test_validity_default_and_cap(tmp_path):
    smpp = parse("", tmp_path).smpp
    assert smpp.expiry(1000.0, None) == 1000.0 + 172800.0 and smpp.expiry(1000.0, 9e9) == 9e9  # no cap
    capped = parse("[smpp]\ndefault_validity = 600.0\nmax_validity = 3600.0\n", tmp_path).smpp
    assert capped.expiry(1000.0, None) == 1600.0
    assert capped.expiry(1000.0, 2000.0) == 2000.0 and capped.expiry(1000.0, 9e9) == 4600.0


def test_forwarding_keys(tmp_path):
    assert parse("", tmp_path).forwarding == cfg.Forwarding()
    forwarding = parse("[forwarding]\nretry_initial = 0.5\nmax_attempts = 3\nqueue_per_window = 2\n"
                       "unmatched_receipt_keep = 30.0\nparts_grace = 5.0\nmo_reassembly_timeout = 20.0\n",
                       tmp_path).forwarding
    assert (forwarding.retry_initial, forwarding.retry_max, forwarding.max_attempts) == (0.5, 60.0, 3)
    assert (forwarding.queue_per_window, forwarding.unmatched_receipt_keep) == (2, 30.0)
    assert (forwarding.parts_grace, forwarding.mo_reassembly_timeout) == (5.0, 20.0)


def test_store_path_relative_to_state_dir_absolute_kept(tmp_path):
    assert parse("", tmp_path).store.path == str(tmp_path / "state" / "smsc.db")
    assert parse("[store]\npath = '/var/lib/smsc/x.db'\n", tmp_path).store.path == "/var/lib/smsc/x.db"


def test_account_rules(tmp_path):
    config = parse(account(allowed_networks=["192.168.1.10/24", "2001:db8::/32"], allowed_sources=["Shop"],
                           bind_types=["transmitter"]), tmp_path)
    acme = config.account("acme")
    assert config.account("nobody") is None
    assert acme.allows_peer("192.168.1.200") and acme.allows_peer("2001:db8::5")
    assert not acme.allows_peer("192.168.2.1") and not acme.allows_peer("::1") and not acme.allows_peer("nonsense")
    assert acme.allows_source("Shop") and not acme.allows_source("Bank")
    assert acme.allows_bind("transmitter") and not acme.allows_bind("receiver")
    anyone = parse(account(), tmp_path).account("acme")
    assert anyone.allows_source("Bank") and anyone.allows_peer("8.8.8.8") and anyone.allows_peer("::1")


def test_config_is_frozen(tmp_path):
    config = parse(account(), tmp_path)
    with pytest.raises(AttributeError):
        config.accounts[0].window = 5


def test_state_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("SMSC_STATE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "b"))
    assert cfg.default_state_dir() == tmp_path / "a"
    monkeypatch.delenv("SMSC_STATE_DIR")
    assert cfg.default_state_dir() == tmp_path / "b" / "smsc"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cfg.default_state_dir() == tmp_path / "home" / ".local" / "state" / "smsc"


def test_default_config_makes_a_demo_account_once(tmp_path):
    state = tmp_path / "state"
    config, demo = cfg.load_default(state)
    [listener] = config.smpp.listeners
    assert (listener.host, listener.port) == ("127.0.0.1", 2775)
    assert config.store.path == str(state / "smsc.db")
    [acme] = config.accounts
    assert demo.created and acme.system_id == demo.system_id
    assert 1 <= len(demo.system_id) <= 8 and 1 <= len(demo.password) <= 8
    assert demo.system_id.isalnum() and demo.password.isalnum()
    assert verify_password(demo.password, acme.password_hash)
    assert acme.allows_peer("127.0.0.1") and not acme.allows_peer("10.0.0.1")
    assert stat.S_IMODE(os.stat(demo.path).st_mode) == 0o600
    _, again = cfg.load_default(state)
    assert not again.created and (again.system_id, again.password) == (demo.system_id, demo.password)


def test_a_damaged_demo_file_is_reported(tmp_path):
    (tmp_path / cfg.DEMO_FILE).write_text("{not json")
    with pytest.raises(cfg.ConfigError, match="delete it"):
        cfg.load_default(tmp_path)


def test_unreadable_file(tmp_path):
    with pytest.raises(cfg.ConfigError, match="cannot read"):
        cfg.load(tmp_path / "missing.toml")


def test_summary_lists_listeners_store_and_accounts(tmp_path):
    lines = cfg.summary(parse(account(), tmp_path))
    assert lines[0] == "smpp: 127.0.0.1:2775; at most 1000 connections, PDUs up to 65536 octets"
    assert any(line.startswith("account acme:") for line in lines)
    capped = cfg.summary(parse("[smpp]\ndefault_validity = 3600.0\nmax_validity = 604800.0\n", tmp_path))
    assert "validity: 1 h when the ESME gives none, at most 7 d" in capped
    assert "no accounts: nobody can bind" in cfg.summary(parse("", tmp_path))


def test_hash_of_the_example_is_not_a_plain_password():
    assert hash_password("secret12") != HASH and verify_password("secret12", HASH)


def test_cli_check_config(tmp_path, capsys, monkeypatch):
    from smsc.cli import main

    monkeypatch.setenv("SMSC_STATE_DIR", str(tmp_path))
    assert main(["check-config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "account acme:" in out and str(tmp_path / "smsc.db") in out
    bad = tmp_path / "bad.toml"
    bad.write_text(account(window=0))
    assert main(["check-config", str(bad)]) == 1
    assert capsys.readouterr().err.strip() == f"{bad}: accounts[0].window: Expected int >= 1, got 0"
