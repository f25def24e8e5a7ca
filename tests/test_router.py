import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc import config as cfg
from smsc import router
from smsc.router import MtFacts, Refused, TimedOut, Undelivered
from smsc.smpp.status import ESME_RSUBMITFAIL, ESME_RSYSERR
from smsc.store import NewMessage

UPSTREAMS = ("a", "b", "c", "d")


def table(*routes, mo_routes=()):
    upstreams = tuple(cfg.Upstream(name=name, system_id=name) for name in UPSTREAMS)
    return cfg.Config(upstreams=upstreams, routes=routes, mo_routes=mo_routes)


def route(name="r", **keys):
    if not {"upstream", "balance", "failover"} & keys.keys():
        keys["upstream"] = "a"
    return cfg.Route(name=name, **keys)


def facts(destination="447700900123", account="acme", **keys):
    return MtFacts(account=account, destination=destination, **keys)


def at(text, zone="UTC"):
    """Epoch seconds of a local wall-clock time like '2026-11-27 23:30' (a Friday)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


# --- first match ------------------------------------------------------------------

rules = st.lists(st.fixed_dictionaries({
    "accounts": st.lists(st.sampled_from(["acme", "beta", "gamma"]), max_size=2, unique=True),
    "destinations": st.lists(st.sampled_from(["44", "+447", "0033", "1", "4477"]), max_size=2, unique=True),
    "data_codings": st.lists(st.sampled_from([0, 8]), max_size=1),
}), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(rules, st.sampled_from(["acme", "beta", "zeta"]), st.sampled_from(["447700", "+3361", "0044", "15551", "99"]),
       st.sampled_from([0, 8, 3]))
def test_the_first_matching_rule_wins(filters, account, destination, data_coding):
    routes = tuple(route(f"r{i}", **keys) for i, keys in enumerate(filters))
    decision = router.route_mt(table(*routes), facts(destination, account, data_coding=data_coding), now=0)
    number = router.normalize_number(destination)

    def matches(keys):
        prefixes = [router.normalize_number(p) for p in keys["destinations"]]
        return ((not keys["accounts"] or account in keys["accounts"])
                and (not prefixes or any(number.startswith(p) for p in prefixes))
                and (not keys["data_codings"] or data_coding in keys["data_codings"]))

    expected = next((f"r{i}" for i, keys in enumerate(filters) if matches(keys)), None)
    assert (decision.rule if decision else None) == expected


@settings(max_examples=60, deadline=None)
@given(rules, st.sampled_from(["acme", "beta", "zeta"]), st.sampled_from(["447700", "+3361", "0044", "15551", "99"]),
       st.sampled_from([0, 8, 3]), st.sampled_from(["", "WAP"]))
def test_a_message_routes_as_its_facts(filters, account, destination, data_coding, service_type):
    # The forwarder routes the stored message itself; its facts are read only for a rule
    # that filters on them, and the decision must be the one its facts get.
    routes = tuple(route(f"r{i}", service_types=["WAP"] if i % 2 else [], **keys) for i, keys in enumerate(filters))
    compiled = router.MtTable.of(table(*routes))
    message = NewMessage(account, "Shop", destination, body={"data_coding": data_coding}, service_type=service_type)
    assert router.route_mt(compiled, message, 0) == router.route_mt(compiled, router.facts_of(message), 0)


def test_a_route_to_one_upstream_decides_once_for_every_message():
    compiled = router.MtTable.of(table(route("all", upstream="b", rate=5.0)))
    first, second = (router.route_mt(compiled, facts(number), 0) for number in ("447700900001", "3361000"))
    assert first is second and first.candidates == ("b",) and first.rate == 5.0


def test_a_first_route_without_filters_takes_every_message_before_the_prefixed_ones():
    compiled = router.MtTable.of(table(route("all", upstream="b"), route("uk", destinations=("44",), upstream="c")))
    assert compiled.takes_all is compiled.rules[0]
    assert {router.route_mt(compiled, facts(number), 0).rule for number in ("447700", "+3361", "")} == {"all"}
    # One that filters on anything, or comes after another, is looked up as before.
    assert router.MtTable.of(table(route("uk", destinations=("44",)), route("all"))).takes_all is None
    assert router.MtTable.of(table(route("acme", accounts=("acme",)))).takes_all is None


def test_each_filter_excludes_what_it_does_not_list():
    config = table(route("by-source", sources=("ACME",), upstream="a"),
                   route("by-service", service_types=("WAP",), upstream="b"),
                   route("by-regex", destination_regex=r"1555\d{7}", upstream="c"),
                   route("rest", upstream="d"))
    assert router.route_mt(config, facts(source="ACME"), 0).rule == "by-source"
    assert router.route_mt(config, facts(source="acme", service_type="WAP"), 0).rule == "by-service"
    assert router.route_mt(config, facts("15551234567"), 0).rule == "by-regex"
    assert router.route_mt(config, facts("+15551234567"), 0).rule == "by-regex"  # "+" dropped first
    assert router.route_mt(config, facts("155512345678"), 0).rule == "rest"  # fullmatch, not search


def test_no_matching_route_is_none_and_prefixes_ignore_the_international_prefix():
    config = table(route("uk", destinations=("+44",)))
    assert router.route_mt(config, facts("0044 7700"), 0).rule == "uk"
    assert router.route_mt(config, facts("+447700"), 0).rule == "uk"
    assert router.route_mt(config, facts("07700900123"), 0) is None


# --- actions ----------------------------------------------------------------------


def test_balance_follows_the_weights_over_many_draws():
    config = router.MtTable.of(table(route(balance={"a": 1, "b": 3, "c": 6})))
    draw = random.Random(7).random
    firsts = Counter(router.route_mt(config, facts(), 0, draw=draw).upstream for _ in range(20000))
    for name, share in (("a", 0.1), ("b", 0.3), ("c", 0.6)):
        assert abs(firsts[name] / 20000 - share) < 0.02, firsts


def test_balance_is_deterministic_given_the_random_source():
    config = table(route(balance={"a": 1, "b": 1, "c": 1, "d": 1}))
    runs = [[router.route_mt(config, facts(), 0, draw=random.Random(3).random).candidates for _ in range(5)]
            for _ in range(2)]
    assert runs[0] == runs[1]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(UPSTREAMS), st.floats(0.01, 100), min_size=1),
       st.sets(st.sampled_from(UPSTREAMS)), st.randoms(use_true_random=False))
def test_balance_puts_every_upstream_that_is_up_before_any_that_is_down(weights, down, rng):
    decision = router.route_mt(table(route(balance=weights)), facts(), 0, upstream_up=lambda n: n not in down,
                               draw=rng.random)
    assert sorted(decision.candidates) == sorted(weights)
    states = [name in down for name in decision.candidates]
    assert states == sorted(states)


def test_a_down_upstream_never_takes_a_balanced_message_while_another_is_up():
    config = router.MtTable.of(table(route(balance={"a": 1, "b": 100})))
    draw = random.Random(1).random
    assert {router.route_mt(config, facts(), 0, lambda n: n != "b", draw).upstream for _ in range(500)} == {"a"}


def test_failover_keeps_its_order_with_down_upstreams_last():
    config = table(route(failover=("c", "a", "b")))
    assert router.route_mt(config, facts(), 0).candidates == ("c", "a", "b")
    assert router.route_mt(config, facts(), 0, upstream_up=lambda n: n != "c").candidates == ("a", "b", "c")
    everything_down = router.route_mt(config, facts(), 0, upstream_up=lambda n: False)
    assert everything_down.candidates == ("c", "a", "b")  # still somewhere to queue


def test_the_decision_carries_the_rule_rate_and_budget():
    decision = router.route_mt(table(route("uk", rate=5.0, reroute=cfg.Reroute(budget=1))), facts(), 0)
    assert (decision.rule, decision.upstream, decision.rate, decision.budget) == ("uk", "a", 5.0, 1)


# --- re-routing -------------------------------------------------------------------

REROUTE = cfg.Reroute(statuses=(ESME_RSYSERR,), timeout=10.0, undeliv_errors=("001", "XYZ"), budget=2)


def test_next_upstream_walks_the_chain_within_the_budget():
    decision = router.route_mt(table(route(failover=("a", "b", "c", "d"), reroute=REROUTE)), facts(), 0)
    refused = Refused(ESME_RSYSERR)
    assert router.next_upstream(decision, ["a"], refused) == "b"
    assert router.next_upstream(decision, ["a", "b"], refused) == "c"
    assert router.next_upstream(decision, ["a", "b", "c"], refused) is None  # two re-routes spent


def test_next_upstream_prefers_one_that_is_up_and_stops_when_none_is_left():
    decision = router.route_mt(table(route(failover=("a", "b", "c"), reroute=REROUTE)), facts(), 0)
    assert router.next_upstream(decision, ["a"], TimedOut(), upstream_up=lambda n: n != "b") == "c"
    assert router.next_upstream(decision, ["a"], TimedOut(), upstream_up=lambda n: False) == "b"
    single = router.route_mt(table(route(upstream="a", reroute=REROUTE)), facts(), 0)
    assert router.next_upstream(single, ["a"], TimedOut()) is None


@pytest.mark.parametrize("outcome,moves", [
    (Refused(ESME_RSYSERR), True),
    (Refused(ESME_RSUBMITFAIL), False),
    (TimedOut(), True),
    (Undelivered("1"), True),  # the receipt's err:001 as a number
    (Undelivered(1), True),
    (Undelivered("xyz"), True),
    (Undelivered("002"), False),
    (Undelivered(None), False),
])
def test_which_outcomes_re_route(outcome, moves):
    assert router.reroutes(REROUTE, outcome) is moves


def test_a_timeout_does_not_re_route_unless_the_route_says_so():
    assert not router.reroutes(cfg.Reroute(), TimedOut())
    decision = router.route_mt(table(route(failover=("a", "b"))), facts(), 0)
    assert decision.reroute_after is None and decision.reroute_waits == {}


def test_the_re_route_wait_is_the_shorter_of_the_route_timeout_and_the_upstream_response_timeout():
    upstreams = (cfg.Upstream(name="a", system_id="a", response_timeout=30.0),
                 cfg.Upstream(name="b", system_id="b", response_timeout=5.0))
    config = cfg.Config(upstreams=upstreams, routes=(route(failover=("a", "b"), reroute=REROUTE),))
    decision = router.route_mt(config, facts(), 0)
    assert decision.reroute_waits == {"a": 10.0, "b": 5.0}
    assert decision.reroute_after == 10.0  # of "a", the first candidate
    down_a = router.route_mt(config, facts(), 0, upstream_up=lambda name: name != "a")
    assert down_a.upstream == "b" and down_a.reroute_after == 5.0


# --- time windows -----------------------------------------------------------------

NIGHT = cfg.TimeWindow(days=("fri",), start="22:00", end="06:00")


@pytest.mark.parametrize("local,inside", [
    ("2026-11-27 21:59", False),  # Friday
    ("2026-11-27 22:00", True),
    ("2026-11-27 23:59", True),
    ("2026-11-28 00:00", True),  # Saturday morning: still Friday night
    ("2026-11-28 05:59", True),
    ("2026-11-28 06:00", False),
    ("2026-11-28 22:30", False),  # Saturday night is not listed
    ("2026-11-27 03:00", False),  # Friday morning belongs to Thursday night
])
def test_a_window_past_midnight_belongs_to_the_day_it_starts(local, inside):
    config = table(route("night", windows=(NIGHT,), time_zone="Europe/Paris"))
    assert (router.route_mt(config, facts(), at(local, "Europe/Paris")) is not None) is inside


def test_windows_are_read_in_the_route_time_zone_including_summer_time():
    office = cfg.TimeWindow(days=("mon", "tue", "wed", "thu", "fri"), start="09:00", end="17:00")
    config = table(route("office", windows=(office,), time_zone="Europe/London"))
    summer = at("2026-07-01 08:30", "UTC")  # 09:30 BST, a Wednesday
    winter = at("2026-12-02 08:30", "UTC")  # 08:30 GMT, a Wednesday
    assert router.route_mt(config, facts(), summer) is not None
    assert router.route_mt(config, facts(), winter) is None
    tokyo = table(route("office", windows=(office,), time_zone="Asia/Tokyo"))
    assert router.route_mt(tokyo, facts(), winter) is None  # 17:30 in Tokyo: closed
    assert router.route_mt(tokyo, facts(), winter - 3600) is not None  # 16:30 in Tokyo


@settings(max_examples=100, deadline=None)
@given(st.sets(st.sampled_from(cfg.DAYS), min_size=1), st.integers(0, 1439), st.integers(1, 1440),
       st.integers(0, 7 * 1440 - 1))
def test_a_window_holds_exactly_the_minutes_it_names(days, start, end, minute_of_week):
    if start == end:
        end = (end + 1) % 1441 or 1
    window = cfg.TimeWindow(days=tuple(days), start=f"{start // 60:02d}:{start % 60:02d}",
                            end=f"{end // 60:02d}:{end % 60:02d}")
    monday = datetime(2026, 11, 23, tzinfo=timezone.utc)  # a Monday
    now = (monday + timedelta(minutes=minute_of_week)).timestamp()
    # The oracle: every minute the window covers, walked from each listed day's start.
    covered = set()
    for day in days:
        first = cfg.DAYS.index(day) * 1440 + start
        length = end - start if start < end else 1440 - start + end
        covered.update((first + m) % (7 * 1440) for m in range(length))
    matched = router.route_mt(table(route(windows=(window,))), facts(), now) is not None
    assert matched is (minute_of_week in covered)


# --- MO ---------------------------------------------------------------------------


def test_mo_routes_by_upstream_number_and_keyword_first_match_wins():
    mo = (cfg.MoRoute(name="stop", keywords=("STOP",), webhook="https://example.com/stop"),
          cfg.MoRoute(name="short-b", upstreams=("b",), destinations=("+4412",), account="beta"),
          cfg.MoRoute(name="rest", account="acme"))
    config = table(route(), mo_routes=mo)
    assert router.route_mo(config, "a", "441234", "stop please") == router.MoTarget("stop", None,
                                                                                   "https://example.com/stop")
    assert router.route_mo(config, "b", "00441234", "Hello").account == "beta"
    assert router.route_mo(config, "a", "441234", "Hello").rule == "rest"
    assert router.route_mo(config, "b", "441234", None).rule == "short-b"  # no text: no keyword
    assert router.route_mo(table(route()), "a", "1", "x") is None


def test_the_keyword_is_the_first_word_in_any_case():
    assert router.first_word("  Stop\tnow") == "stop"
    assert router.first_word("") is None and router.first_word(None) is None
