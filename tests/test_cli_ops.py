"""The operator commands, run as a user runs them: `python -m smsc ...` in a subprocess."""
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smsc.smpp.constants import MessageState
from smsc.store import NewMessage, Store
from tests.config_helpers import HASH
from tests.integration import raw

CONF = Path(__file__).resolve().parents[1] / "conf"
ROUTING = CONF / "routing.example.toml"
PASSWORDS = {"CARRIER_UK1_PASSWORD": "uk1", "CARRIER_UK2_PASSWORD": "uk2", "HUB_PASSWORD": "hub",
             "FR_PASSWORD": "fr"}
SIMULATED = f"""
[[smpp.listeners]]
port = 0
[log]
format = "console"
[[accounts]]
system_id = "acme"
password_hash = "{HASH}"
[[upstreams]]
name = "sim"
simulated = {{receipt_delay = 0.1}}
[[routes]]
name = "all"
upstream = "sim"
"""


def smsc(*args, state_dir, env=None, timeout=60):
    """Run `smsc ARGS`; `env` adds variables (None removes one)."""
    environment = {**os.environ, "SMSC_STATE_DIR": str(state_dir), **(env or {})}
    environment = {name: value for name, value in environment.items() if value is not None}
    return subprocess.run([sys.executable, "-m", "smsc", *map(str, args)], capture_output=True, text=True,
                          env=environment, timeout=timeout)


# --- check-config -----------------------------------------------------------------


def test_check_config_summarises_carriers_routes_and_mo_routes(tmp_path):
    done = smsc("check-config", ROUTING, state_dir=tmp_path, env=PASSWORDS)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "  smpp: 0.0.0.0:2775; at most 1000 connections, PDUs up to 65536 octets\n" in out
    assert "  validity: 48 h when the ESME gives none, no cap\n  http: off\n" in out
    assert ("  forwarding: temporary errors retried after 1 s doubling to 1 min, UNDELIVERABLE after 10 attempts;"
            " 4 x binds x window held per upstream\n") in out
    assert "upstream uk-primary: smpp.uk1.example.net:3550 (TLS) as gw_acme; 2 transceiver binds" in out
    assert "route uk-otp: accounts bank; to +447 -> failover uk-primary > uk-backup > global-hub;" \
           " re-route on ESME_RSYSERR, ESME_RSUBMITFAIL, ESME_RMSGQFUL, no answer in 20 s, UNDELIV err 001, 027," \
           " at most 2 times" in out
    assert "route uk-bulk: to +44 -> balance uk-primary 75%, uk-backup 25%; re-route on ESME_RSYSERR, at most" \
           " 1 time; 100 msg/s; quiet hours 20:00-09:00" in out
    assert "at most 2 times; no quiet hours\n" in out  # uk-otp
    assert "route fr-day: to +33; mon-sat 08:00-20:00 Europe/Paris -> failover fr-carrier > global-hub" in out
    assert "mo route opt-out: keyword STOP, UNSUBSCRIBE -> webhook https://shop.example.com/sms/opt-out" in out
    assert "warning" not in out


def test_check_config_warns_of_unreachable_routes_and_unused_upstreams(tmp_path):
    file = tmp_path / "x.toml"
    file.write_text(SIMULATED.replace('upstream = "sim"', 'upstream = "sim"\nreroute = {statuses = ["ESME_RSYSERR"]}')
                    + '[[upstreams]]\nname = "spare"\nsystem_id = "s"\nbind_type = "transmitter"\n'
                    '[[routes]]\nname = "later"\ndestinations = ["44"]\nupstream = "sim"\n'
                    '[[mo_routes]]\nname = "mo"\nupstreams = ["spare"]\naccount = "acme"\n')
    done = smsc("check-config", file, state_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: route later is never reached: route all before it matches every message" in done.stdout
    assert "warning: upstream spare is in no route and receives nothing" in done.stdout
    assert "warning: mo route mo: upstream spare binds as a transmitter, it delivers no MO" in done.stdout
    assert "warning: route all has re-route rules but one upstream: nothing to re-route to" in done.stdout


def test_check_config_exits_1_naming_the_key(tmp_path):
    empty = smsc("check-config", ROUTING, state_dir=tmp_path, env={**PASSWORDS, "FR_PASSWORD": ""})
    assert empty.returncode == 0  # an empty password is a password
    done = smsc("check-config", ROUTING, state_dir=tmp_path, env={**PASSWORDS, "HUB_PASSWORD": None})
    assert done.returncode == 1
    assert done.stderr.strip() == (f"{ROUTING}: upstreams[2].password_env: environment variable HUB_PASSWORD"
                                   " is not set")


# --- route explain ----------------------------------------------------------------


def explain(*args, tmp_path):
    return smsc("route", "explain", "-c", ROUTING, *args, state_dir=tmp_path, env=PASSWORDS)


def test_route_explain_shows_the_rule_the_chain_the_rate_and_the_encoding(tmp_path):
    done = explain("--account", "bank", "--to", "+447700900123", "--text", "Your code is 123456 – Привет",
                   tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "route: uk-otp (routes[0]: accounts bank; to +447)"
    assert "upstreams: uk-primary then uk-backup then global-hub (the ones down go last)" in lines
    assert "rate: at most 150 msg/s, segments counted (route unlimited, uk-primary 150)" in lines
    assert ("no answer: re-routed after 20 s on uk-primary, 20 s on uk-backup, 20 s on global-hub"
            " (reroute.timeout 20 s, at most each upstream's response_timeout)") in lines
    assert "quiet hours: none (route uk-otp's: promotional messages go at once)" in lines
    assert lines[-1] == ("text: ucs2 (data_coding 0x08), 28 characters, 28 UTF-16 units, 1 part of 70 by udh,"
                         " 42 left in the last")


def test_route_explain_counts_parts_for_the_carrier_and_reads_time_windows(tmp_path):
    friday_noon = explain("--account", "shop", "--to", "0033612345678", "--at", "2026-11-27T11:00",
                          "--text", "x" * 200, tmp_path=tmp_path)
    assert friday_noon.stdout.splitlines()[0].startswith("route: fr-day (routes[2]")
    # fr-carrier takes long messages as one message_payload, cut as UDH would be on air.
    assert "2 parts of 153 by payload, 106 left in the last" in friday_noon.stdout
    friday_night = explain("--account", "shop", "--to", "+33612345678", "--at", "2026-11-27T22:30+01:00",
                           tmp_path=tmp_path)
    assert friday_night.stdout.splitlines()[0] == "route: world (routes[4]: accounts bank, shop)"
    assert "rate: at most 20 msg/s, segments counted (route 20.0, global-hub 30)" in friday_night.stdout


FAILOVER = f"""
[[accounts]]
system_id = "acme"
password_hash = "{HASH}"
[[accounts]]
system_id = "quiet"
password_hash = "{HASH}"
quiet_hours = false
[[upstreams]]
name = "slow"
system_id = "s"
[[upstreams]]
name = "quick"
system_id = "q"
response_timeout = 5.0
[[routes]]
name = "chain"
destinations = ["44"]
failover = ["slow", "quick"]
reroute = {{timeout = 10.0}}
quiet_hours = {{start = "20:00", end = "09:00"}}
[[routes]]
name = "rest"
upstream = "slow"
"""


def explained(tmp_path, account="acme", to="447700900001", at="2026-11-27T12:00:00+00:00"):
    from datetime import datetime

    from smsc import ops, router
    from tests.config_helpers import parse

    config = parse(FAILOVER, tmp_path)
    facts = router.MtFacts(account=account, destination=to)
    matched, lines = ops.explain_route(config, facts, None, datetime.fromisoformat(at).timestamp())
    assert matched
    return {line.partition(": ")[0]: line.partition(": ")[2] for line in lines}


def test_route_explain_cuts_the_re_route_wait_to_each_upstream_response_timeout(tmp_path):
    assert explained(tmp_path)["no answer"] == ("re-routed after 10 s on slow, 5 s on quick"
                                                " (reroute.timeout 10 s, at most each upstream's response_timeout)")
    assert explained(tmp_path, to="33612345678")["no answer"] == \
        "retried after slow's response_timeout, 30 s (no reroute.timeout)"


def test_route_explain_shows_whose_quiet_hours_apply(tmp_path):
    assert explained(tmp_path)["quiet hours"] == ("20:00-09:00 (route chain's), Europe/London time:"
                                                  " a promotional message now goes at once")
    assert explained(tmp_path, at="2026-11-27T20:30:00+00:00")["quiet hours"] == (
        "20:00-09:00 (route chain's), Europe/London time: a promotional message now waits until"
        " 2026-11-28T09:00:00+00:00")
    # 20:30 in London is 21:30 in Paris: inside [compliance]'s window there.
    assert explained(tmp_path, to="33612345678", at="2026-11-27T20:30:00+00:00")["quiet hours"] == (
        "21:00-08:00 of [compliance] (account acme's), Europe/Paris time: a promotional message now waits until"
        " 2026-11-28T08:00:00+01:00")
    assert explained(tmp_path, account="quiet", to="33612345678")["quiet hours"] == \
        "none (account quiet's: promotional messages go at once)"


def test_check_config_warns_when_a_reroute_timeout_exceeds_a_response_timeout(tmp_path):
    from smsc import config as cfg
    from tests.config_helpers import parse

    lines = cfg.summary(parse(FAILOVER, tmp_path))
    assert [line for line in lines if "reroute.timeout" in line] == [
        "warning: route chain: reroute.timeout 10 s is above upstream quick's response_timeout: it re-routes after 5 s"]
    assert "route chain: to 44 -> failover slow > quick; re-route on no answer in 10 s, at most 2 times;" \
           " quiet hours 20:00-09:00" in lines


def test_route_explain_of_a_message_no_route_takes_exits_1(tmp_path):
    file = tmp_path / "x.toml"
    file.write_text(SIMULATED.replace('name = "all"\n', 'name = "all"\ndestinations = ["44"]\n'))
    done = smsc("route", "explain", "-c", file, "--account", "acme", "--to", "33612345678", state_dir=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (
        1, "no route matches: the message would end UNDELIVERABLE (ESME_RINVDSTADR)")
    unknown = smsc("route", "explain", "-c", file, "--account", "zeta", "--to", "1", state_dir=tmp_path)
    assert unknown.returncode == 2 and "no account 'zeta'" in unknown.stderr


@pytest.mark.parametrize("args,code,first_line", [
    (("--upstream", "uk-backup", "--to", "+4460777", "--text", "Stop please"), 0,
     "mo route: opt-out (mo_routes[0]: keyword STOP, UNSUBSCRIBE -> webhook https://shop.example.com/sms/opt-out)"),
    (("--upstream", "uk-backup", "--to", "004460777123", "--text", "Where is my order?"), 0,
     "mo route: shop-short-code (mo_routes[1]: from uk-primary, uk-backup; to +4460777 -> account shop)"),
    (("--upstream", "fr-carrier", "--to", "+4460777"), 0,
     "mo route: bank-replies (mo_routes[2]: any MO -> account bank)"),
])
def test_route_explain_mo_names_the_rule_and_its_target(args, code, first_line, tmp_path):
    done = smsc("route", "explain-mo", "-c", ROUTING, *args, state_dir=tmp_path, env=PASSWORDS)
    assert (done.returncode, done.stdout.splitlines()[0]) == (code, first_line), done.stderr


def test_route_explain_mo_without_a_match_exits_1(tmp_path):
    file = tmp_path / "x.toml"
    file.write_text(SIMULATED + '[[mo_routes]]\nname = "stop"\nkeywords = ["STOP"]\naccount = "acme"\n')
    done = smsc("route", "explain-mo", "-c", file, "--upstream", "sim", "--to", "1", "--text", "hi", state_dir=tmp_path)
    assert (done.returncode, done.stdout) == (
        1, "no MO route matches: the carrier's deliver_sm would be answered ESME_RX_R_APPN\n")
    unknown = smsc("route", "explain-mo", "-c", file, "--upstream", "nope", "--to", "1", state_dir=tmp_path)
    assert unknown.returncode == 2 and "no upstream 'nope'" in unknown.stderr


# --- reload -----------------------------------------------------------------------


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def server(tmp_path):
    """`smsc serve -c FILE` on port 0 with a simulated carrier; its log in a file."""
    file = tmp_path / "smsc.toml"
    file.write_text(SIMULATED)
    log = open(tmp_path / "serve.log", "w+")
    env = {**os.environ, "SMSC_STATE_DIR": str(tmp_path / "state")}
    process = subprocess.Popen([sys.executable, "-m", "smsc", "serve", "-c", str(file)], stdout=log,
                               stderr=subprocess.STDOUT, env=env)
    pid_file = tmp_path / "state" / "smsc.pid"
    try:
        wait_for(lambda: pid_file.exists() and "smsc: listening on" in (tmp_path / "serve.log").read_text())
        yield process, file, pid_file, tmp_path / "serve.log"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        log.close()


def test_serve_writes_its_pid_file_and_removes_it_on_exit(server):
    process, _, pid_file, _ = server
    assert int(pid_file.read_text()) == process.pid
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not pid_file.exists()


def test_reload_signals_the_server_which_applies_a_good_config_and_keeps_it_on_a_bad_one(server, tmp_path):
    process, file, pid_file, log = server
    state = tmp_path / "state"
    file.write_text(SIMULATED.replace("[[routes]]", '[[accounts]]\nsystem_id = "beta"\n'
                                      f'password_hash = "{HASH}"\n[[routes]]'))
    done = smsc("reload", "-c", file, state_dir=state)
    assert done.returncode == 0, done.stderr
    assert f"sent SIGHUP to process {process.pid}" in done.stdout
    wait_for(lambda: "reloaded" in log.read_text())
    assert "beta" in log.read_text().split("reloaded", 1)[1].splitlines()[0]

    file.write_text(SIMULATED + "bogus = 1\n")
    refused = smsc("reload", "-c", file, state_dir=state)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [f"smsc reload: {file}: routes[0].bogus: unknown key",
                                           "smsc reload: not reloaded, the running config stays"]
    # Signalled anyway (by pid file), the server refuses it and keeps running.
    assert smsc("reload", "--pidfile", pid_file, state_dir=state).returncode == 0
    wait_for(lambda: "reload_refused" in log.read_text())
    assert process.poll() is None


def test_reload_without_a_running_server_says_so(tmp_path):
    done = smsc("reload", state_dir=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"smsc reload: no pid file at {tmp_path / 'smsc.pid'}:"
                                   " is `smsc serve` running with this config?")
    (tmp_path / "smsc.pid").write_text("999999999\n")
    stale = smsc("reload", state_dir=tmp_path)
    assert stale.returncode == 1 and "names process 999999999, which is not running" in stale.stderr


# --- msg show ---------------------------------------------------------------------


def stored_message(path):
    """A message accepted, sent to a carrier in two parts and delivered, with its receipt."""

    async def scenario():
        store = await Store.open(str(path))
        try:
            body = {"short_message": "Hello there".encode(), "data_coding": 0, "esm_class": 0}
            message_id = await store.accept(NewMessage("acme", "Shop", "447700900001", body,
                                                       registered_delivery=1, segments=2), now=1_790_000_000.0)
            await store.update(message_id, upstream="sim", carrier_id="c0ffee", now=1_790_000_001.0)
            await store.update(message_id, MessageState.DELIVERED, now=1_790_000_002.0)
            return message_id
        finally:
            await store.close()

    message_id = asyncio.run(scenario())
    db = sqlite3.connect(path)
    has_parts = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'carrier_parts'").fetchone() is not None
    if has_parts:
        from smsc.store import parse_id

        with db:
            db.executemany("INSERT INTO carrier_parts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           [("sim", "c0ffee", parse_id(message_id), 1, 2, 2, None, 1_790_000_002.0),
                            ("sim", "c0fff0", parse_id(message_id), 2, 2, None, None, 1_790_000_001.5)])
    db.close()
    return message_id, has_parts


def test_msg_show_prints_fields_history_parts_and_receipts(tmp_path):
    file = tmp_path / "smsc.toml"
    file.write_text(SIMULATED)
    message_id, has_parts = stored_message(tmp_path / "smsc.db")
    done = smsc("msg", "show", message_id, "-c", file, state_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"message {message_id}: DELIVERED\n  account acme, from 'Shop' to '447700900001'")
    assert "  text: 'Hello there'" in out
    assert "  upstream sim, carrier id c0ffee" in out
    assert "history:\n  2026-09-21T14:13:20.000Z ENROUTE\n  2026-09-21T14:13:22.000Z DELIVERED" in out
    assert "receipts to the ESME:\n  #" in out and "to acme: PENDING, 0 attempts" in out
    assert "stat:DELIVRD" in out
    if has_parts:
        assert "  1/2 sim id c0ffee: DELIVERED\n  2/2 sim id c0fff0: no receipt yet" in out


def test_msg_show_json_and_unknown_ids(tmp_path):
    message_id, _ = stored_message(tmp_path / "smsc.db")
    done = smsc("msg", "show", message_id, "--json", state_dir=tmp_path)  # the default store path
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["message"]["id"] == message_id and data["message"]["state"] == "DELIVERED"
    assert data["message"]["body"]["short_message"] == b"Hello there".hex()
    assert [entry["state"] for entry in data["history"]] == ["ENROUTE", "DELIVERED"]
    assert data["receipts"][0]["text"].startswith(f"id:{message_id} sub:002 dlvrd:002")
    for unknown in ("ffffffffffffffff", "not-an-id"):
        missing = smsc("msg", "show", unknown, state_dir=tmp_path)
        assert missing.returncode == 1 and f"no message '{unknown}'" in missing.stderr
    nowhere = smsc("msg", "show", message_id, state_dir=tmp_path / "empty")
    assert nowhere.returncode == 1 and "no store at" in nowhere.stderr


def test_msg_show_follows_a_message_through_the_running_gateway_and_its_simulated_carrier(server, tmp_path):
    """The whole path: submit over SMPP, the simulated carrier's receipt, then `msg show`
    reading the store while the server still runs."""
    process, file, _, log = server
    port = int(log.read_text().split("smsc: listening on 127.0.0.1:", 1)[1].split()[0])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        assert raw.request(sock, raw.BIND_TRANSCEIVER, 1, raw.bind_body("acme", "secret12")).status == 0
        answer = raw.request(sock, raw.SUBMIT_SM, 2, raw.submit_body(text=b"hello carrier", registered_delivery=1))
        assert answer.status == 0
        message_id = answer.body.rstrip(b"\0").decode()
        receipt = raw.read(sock)
        while receipt.command_id != raw.DELIVER_SM:
            receipt = raw.read(sock)
        sock.sendall(raw.pdu(raw.DELIVER_SM | raw.RESP, receipt.sequence, b"\0"))
        wait_for(lambda: "DELIVERED" in smsc("msg", "show", message_id, "-c", file, state_dir=tmp_path / "state")
                 .stdout.split("\n", 1)[0])
    out = smsc("msg", "show", message_id, "-c", file, state_dir=tmp_path / "state").stdout
    assert out.startswith(f"message {message_id}: DELIVERED\n"), out
    assert "  text: 'hello carrier'" in out and "  upstream sim, carrier id " in out
    assert "DELIVERED" in out.split("history:", 1)[1]
    assert f"id:{message_id} sub:001 dlvrd:001" in out.split("receipts to the ESME:", 1)[1]
