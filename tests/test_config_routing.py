"""Config of upstreams, routes and MO routes: the examples, the errors, diff for reload."""
from pathlib import Path

import msgspec
import pytest

from smsc import config as cfg
from tests.config_helpers import HASH, error, parse
from smsc import router
from smsc.smpp.status import ESME_RSYSERR

CONF = Path(__file__).resolve().parents[1] / "conf"
EXAMPLE = CONF / "smsc.example.toml"
ROUTING = CONF / "routing.example.toml"
PASSWORDS = {"CARRIER_UK1_PASSWORD": "uk1", "CARRIER_UK2_PASSWORD": "uk2", "HUB_PASSWORD": "hub",
             "FR_PASSWORD": "fr"}
BASE = f"""
[[accounts]]
system_id = "acme"
password_hash = "{HASH}"
[[upstreams]]
name = "a"
system_id = "x"
[[upstreams]]
name = "b"
system_id = "y"
"""


def test_the_example_states_every_routing_default(tmp_path):
    loaded = cfg.load(EXAMPLE, state_dir=tmp_path)
    [upstream], [route], [mo_route] = loaded.upstreams, loaded.routes, loaded.mo_routes
    assert upstream == cfg.Upstream(name="carrier-a", system_id="acme")
    assert route == cfg.Route(name="everything", upstream="carrier-a")
    assert mo_route == cfg.MoRoute(name="replies", account="acme")


def test_the_routing_example_loads_with_its_passwords_from_the_environment(tmp_path, monkeypatch):
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)
    loaded = cfg.load(ROUTING, state_dir=tmp_path)
    assert [u.password for u in loaded.upstreams] == ["uk1", "uk2", "hub", "hub", "fr"]
    assert loaded.routes[0].reroute.statuses == (ESME_RSYSERR, 0x45, 0x14)  # names resolved
    decision = router.route_mt(loaded, router.MtFacts(account="bank", destination="+447700900123"), 0)
    assert (decision.rule, decision.candidates) == ("uk-otp", ("uk-primary", "uk-backup", "global-hub"))
    monkeypatch.delenv("FR_PASSWORD")
    with pytest.raises(cfg.ConfigError, match=r"upstreams\[4\]\.password_env: environment variable FR_PASSWORD"):
        cfg.load(ROUTING, state_dir=tmp_path)


def test_the_default_sends_everything_to_a_simulated_carrier(tmp_path):
    config, _ = cfg.load_default(tmp_path)
    [carrier] = config.upstreams
    assert carrier.simulated is not None and carrier.simulated.receipts
    decision = router.route_mt(config, router.MtFacts(account="anyone", destination="1"), 0)
    assert decision.candidates == (carrier.name,)


def test_simulated_keys_become_the_simulator_behaviour(tmp_path):
    loaded = parse(BASE.replace('name = "b"\n', 'name = "b"\nsimulated = {error_shares = {ESME_RSYSERR = 0.5},'
                                ' receipt_delay = 0.1}\n'), tmp_path)
    behaviour = loaded.upstream("b").simulated.behaviour("sim")
    assert behaviour.error_shares == {ESME_RSYSERR: 0.5}
    assert (behaviour.system_id, behaviour.receipts, behaviour.receipt_delay) == ("sim", True, 0.1)


ROUTE = '[[routes]]\nname = "r"\n'


@pytest.mark.parametrize("text,expected", [
    ('[[upstreams]]\nname = "a b"\nsystem_id = "x"\n', "upstreams[0].name: Expected str matching regex"),
    ('[[upstreams]]\nname = "a"\n', "upstreams[0].system_id: required key missing"),
    ('[[upstreams]]\nname = "a"\nsystem_id = "x"\npassword = "123456789"\n', "upstreams[0].password: Expected str of length <= 8"),
    ('[[upstreams]]\nname = "a"\nsystem_id = "x"\npassword = "p"\npassword_env = "HOME"\n',
     "upstreams[0].password_env: set password or password_env, not both"),
    ('[[upstreams]]\nname = "a"\nsystem_id = "x"\npassword_env = "SMSC_TEST_UNSET_VARIABLE"\n',
     "upstreams[0].password_env: environment variable SMSC_TEST_UNSET_VARIABLE is not set"),
    ('[[upstreams]]\nname = "a"\nsystem_id = "x"\ntls_ca = "ca.pem"\n', "upstreams[0].tls_ca: set tls = true"),
    ('[[upstreams]]\nname = "a"\nsystem_id = "x"\ntls = true\ntls_ca = "ca.pem"\n', "upstreams[0].tls_ca: no such file"),
    ('[[upstreams]]\nname = "a"\nsystem_id = "x"\nreconnect = {initial = 10.0, max = 5.0}\n',
     "upstreams[0].reconnect.max: must not be below reconnect.initial"),
    ('[[upstreams]]\nname = "a"\nsystem_id = "x"\nthroughput = 5.0\nthroughput_floor = 6.0\n',
     "upstreams[0].throughput_floor: must not be above throughput"),
    ('[[upstreams]]\nname = "a"\nsystem_id = "x"\nconcatenation = "mms"\n', "upstreams[0].concatenation: Invalid enum value 'mms'"),
    ('[[upstreams]]\nname = "a"\nsimulated = {error_shares = {ESME_RNOPE = 0.1}}\n',
     "upstreams[0].simulated: no command_status named ESME_RNOPE"),
    ('[[upstreams]]\nname = "a"\nsimulated = {undeliv_share = 2}\n', "upstreams[0].simulated.undeliv_share: Expected"),
    ('[[upstreams]]\nname = "a"\nsimulated = {receipt = true}\n', "upstreams[0].simulated.receipt: unknown key"),
    (BASE + '[[upstreams]]\nname = "a"\nsystem_id = "z"\n', "upstreams[2].name: 'a' is already upstreams[0]"),
    (BASE + ROUTE, "routes[0]: set exactly one of upstream, balance, failover (got none)"),
    (BASE + ROUTE + 'upstream = "a"\nfailover = ["a", "b"]\n', "routes[0]: set exactly one of upstream, balance, failover (got upstream, failover)"),
    (BASE + ROUTE + 'upstream = "c"\n', "routes[0].upstream: no upstream named 'c'"),
    (BASE + ROUTE + 'failover = ["a", "c"]\n', "routes[0].failover[1]: no upstream named 'c'"),
    (BASE + ROUTE + 'failover = ["a", "a"]\n', "routes[0].failover: list each upstream once"),
    (BASE + '[[upstreams]]\nname = "rx"\nsystem_id = "r"\nbind_type = "receiver"\n' + ROUTE + 'failover = ["a", "rx"]\n',
     "routes[0].failover[1]: upstream 'rx' binds as a receiver: it cannot send"),
    (BASE + '[[upstreams]]\nname = "rx"\nsystem_id = "r"\nbind_type = "receiver"\n' + ROUTE + 'balance = {a = 1, rx = 1}\n',
     "routes[0].balance.rx: upstream 'rx' binds as a receiver"),
    (BASE + ROUTE + 'balance = {a = "x"}\n', "routes[0].balance[...]: Expected float, got str"),
    ('[[upstreams]]\nname = "a"\nsimulated = {error_shares = {ESME_RSYSERR = 1.5}}\n', "upstreams[0].simulated: shares are"),
    (BASE + ROUTE + 'balance = {a = 1, c = 2}\n', "routes[0].balance.c: no upstream named 'c'"),
    (BASE + ROUTE + 'balance = {a = 1, b = 0}\n', "routes[0].balance.b: a weight must be above 0, got 0.0"),
    (BASE + ROUTE + 'upstream = "a"\naccounts = ["acme", "zeta"]\n', "routes[0].accounts[1]: no account named 'zeta'"),
    (BASE + ROUTE + 'upstream = "a"\ndestinations = ["+44", "44x"]\n', "routes[0].destinations[1]: expected digits"),
    (BASE + ROUTE + 'upstream = "a"\ndestination_regex = "44(7"\n', "routes[0].destination_regex: not a valid regular expression"),
    (BASE + ROUTE + 'upstream = "a"\ndestinations = ["+00"]\n', "routes[0].destinations[0]: expected digits"),
    (BASE + ROUTE + 'upstream = "a"\nwindows = [{start = "24:00", end = "06:00"}]\n', "routes[0].windows[0]: start must be"),
    (BASE + ROUTE + 'upstream = "a"\ntime_zone = "Mars/Olympus"\n', "routes[0].time_zone: unknown time zone 'Mars/Olympus'"),
    (BASE + ROUTE + 'upstream = "a"\nwindows = [{start = "25:00"}]\n', "routes[0].windows[0].start: Expected str matching regex"),
    (BASE + ROUTE + 'upstream = "a"\nwindows = [{days = ["fri", "fri"]}]\n', "routes[0].windows[0].days: list each day once"),
    (BASE + ROUTE + 'upstream = "a"\nwindows = [{days = ["friday"]}]\n', "routes[0].windows[0].days[0]: Invalid enum value 'friday'"),
    (BASE + ROUTE + 'upstream = "a"\nwindows = [{start = "10:00", end = "10:00"}]\n', "routes[0].windows[0]: start must be before 24:00 and differ from end"),
    (BASE + ROUTE + 'upstream = "a"\nreroute = {statuses = ["ESME_RSYSERR", "ESME_RBOGUS"]}\n',
     "routes[0].reroute.statuses[1]: no command_status named ESME_RBOGUS"),
    (BASE + ROUTE + 'upstream = "a"\nreroute = {statuses = ["ESME_RTHROTTLED"]}\n',
     "routes[0].reroute.statuses[0]: ESME_ROK and ESME_RTHROTTLED never re-route"),
    (BASE + ROUTE + 'upstream = "a"\nreroute = {budget = -1}\n', "routes[0].reroute.budget: Expected int >= 0"),
    (BASE + ROUTE + 'upstream = "a"\nrate = 0\n', "routes[0].rate: Expected float > 0.0"),
    (BASE + ROUTE + 'upstream = "a"\n' + ROUTE + 'upstream = "b"\n', "routes[1].name: 'r' is already routes[0]"),
    (BASE + '[[mo_routes]]\nname = "m"\n', "mo_routes[0]: set exactly one target: account or webhook"),
    (BASE + '[[mo_routes]]\nname = "m"\naccount = "zeta"\n', "mo_routes[0].account: no account named 'zeta'"),
    (BASE + '[[mo_routes]]\nname = "m"\nwebhook = "ftp://x"\n', "mo_routes[0].webhook: expected an http:// or https:// URL"),
    (BASE + '[[mo_routes]]\nname = "m"\naccount = "acme"\nupstreams = ["c"]\n', "mo_routes[0].upstreams[0]: no upstream named 'c'"),
    (BASE + '[[mo_routes]]\nname = "m"\naccount = "acme"\ndestinations = ["short"]\n', "mo_routes[0].destinations[0]: expected digits"),
    (BASE + '[[mo_routes]]\nname = "m"\naccount = "acme"\nkeyword = ["STOP"]\n', "mo_routes[0].keyword: unknown key"),
])
def test_each_routing_error_names_the_file_and_key(text, expected, tmp_path):
    assert error(text, tmp_path).startswith(f"conf/x.toml: {expected}")


def test_relative_ca_paths_are_read_from_the_config_directory(tmp_path):
    (tmp_path / "ca.pem").write_text("not checked here")
    loaded = parse('[[upstreams]]\nname = "a"\nsystem_id = "x"\ntls = true\ntls_ca = "ca.pem"\n', tmp_path)
    assert loaded.upstreams[0].tls_ca == str(tmp_path / "ca.pem")


# --- diff -------------------------------------------------------------------------


def test_diff_names_what_changed_and_keeps_the_rest(tmp_path):
    old = parse(BASE + ROUTE + 'upstream = "a"\n[[mo_routes]]\nname = "m"\naccount = "acme"\n', tmp_path)
    assert not cfg.diff(old, old)
    new = parse(BASE.replace('system_id = "y"', 'system_id = "y2"') + '[[upstreams]]\nname = "c"\nsystem_id = "z"\n'
                + ROUTE + 'upstream = "c"\n[[mo_routes]]\nname = "m"\naccount = "acme"\n'
                + "[smpp]\nbind_timeout = 5.0\n", tmp_path)
    changes = cfg.diff(old, new)
    assert changes
    assert changes.upstreams == cfg.Changes(added=("c",), changed=("b",))
    assert changes.upstreams.kept("a") and not changes.upstreams.kept("b")
    assert changes.routes == cfg.Changes(changed=("r",)) and changes.routes_changed
    assert not changes.accounts and not changes.mo_routes and not changes.mo_routes_changed
    assert changes.sections == ("smpp",)


def test_diff_sees_a_new_route_order_and_a_removed_account(tmp_path):
    two_routes = BASE + ROUTE + 'upstream = "a"\n' + ROUTE.replace('"r"', '"s"') + 'upstream = "b"\n'
    old = parse(two_routes, tmp_path)
    new = msgspec.structs.replace(old, routes=old.routes[::-1], accounts=())
    changes = cfg.diff(old, new)
    assert changes.routes == cfg.Changes() and changes.routes_changed  # same routes, new order
    assert changes.accounts == cfg.Changes(removed=("acme",))


def test_a_changed_password_in_the_environment_is_a_changed_upstream(tmp_path, monkeypatch):
    text = '[[upstreams]]\nname = "a"\nsystem_id = "x"\npassword_env = "SMSC_TEST_PASSWORD"\n'
    monkeypatch.setenv("SMSC_TEST_PASSWORD", "one")
    old = parse(text, tmp_path)
    monkeypatch.setenv("SMSC_TEST_PASSWORD", "two")
    assert cfg.diff(old, parse(text, tmp_path)).upstreams.changed == ("a",)
