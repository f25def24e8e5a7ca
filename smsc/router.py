"""Routing: which upstream carries an MT message, which target gets an MO. Pure: no I/O,
no clock, no randomness of its own (the caller passes `now` and a random source).

    table = MtTable.of(config)                     # once per config (compiles regexes...)
    decision = route_mt(table, MtFacts(account="acme", destination="447700900123"),
                        now=time.time(), upstream_up=lambda name: bound[name] > 0)
    decision.upstream                              # where it goes first
    next_upstream(decision, attempted=("a",), outcome=Refused(ESME_RSYSERR))  # "b" or None

The facts a message is routed on (MtFacts): the account (system_id) that submitted it,
destination_addr, source_addr, data_coding and service_type; and for a time window the
wall-clock `now` in epoch seconds. Numbers are compared without a leading "+" or "00"
(the international prefix), in the rules and in the message alike, and a
destination_regex is matched against the whole number so normalized.

The first route whose filters all match wins (an empty filter matches anything). Its
action gives the candidates, in the order to try them: `upstream` alone; `failover` in
its order; `balance` in a weighted draw without replacement. Upstreams that are up come
first, in that order, then those that are down (in the same order) so that with every
upstream down the message still has a queue to wait in.
"""
from __future__ import annotations

import random
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from smsc.config import DAYS, Config, MoRoute, Reroute, Route, TimeWindow, route_upstreams

UpstreamUp = Callable[[str], bool]
RandomSource = Callable[[], float]  # uniform in [0, 1), e.g. random.Random(seed).random


def _always_up(name: str) -> bool:
    return True


def normalize_number(number: str) -> str:
    """A number without its international prefix ("+" or "00"), for prefix matching."""
    if number.startswith("+"):
        return number[1:]
    if number.startswith("00"):
        return number[2:]
    return number


# --- MT ---------------------------------------------------------------------------


class MtFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What an MT message is routed on."""

    account: str  # system_id of the submitting account
    destination: str  # destination_addr
    source: str = ""  # source_addr
    data_coding: int = 0
    service_type: str = ""


def facts_of(message: Any) -> MtFacts:
    """What a message (smsc.store NewMessage or Message) is routed on."""
    return MtFacts(account=message.account, destination=message.destination, source=message.source,
                   data_coding=message.body.get("data_coding", 0), service_type=message.service_type)


def _facts(source: Any) -> MtFacts:
    return source if type(source) is MtFacts else facts_of(source)


class RouteDecision(msgspec.Struct, frozen=True):
    """The matched rule and what to do with the message."""

    rule: str  # the route's name
    candidates: tuple[str, ...]  # upstreams in the order to try them; the first is now
    rate: float | None  # the route's own rate (messages a second, segments counted)
    reroute: Reroute  # when to go to the next candidate, and how often at most
    # Upstream -> seconds a submit_sm to it may go unanswered before the message moves on:
    # min(reroute.timeout, its response_timeout). Empty: a timeout never re-routes.
    reroute_waits: Mapping[str, float] = {}

    @property
    def upstream(self) -> str:
        return self.candidates[0]

    @property
    def reroute_after(self) -> float | None:
        """The re-route wait of the first candidate (None: a timeout does not re-route)."""
        return self.reroute_waits.get(self.candidates[0])

    @property
    def budget(self) -> int:
        return self.reroute.budget


def _minute_of_week(now: float, zone: zoneinfo.ZoneInfo) -> tuple[int, int]:
    local = datetime.fromtimestamp(now, zone)
    return local.weekday(), local.hour * 60 + local.minute


def _clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class _Window(msgspec.Struct, frozen=True):
    days: frozenset[int]  # 0 is Monday
    start: int  # minutes since midnight
    end: int  # 1440 is midnight at the end of the day

    @classmethod
    def of(cls, window: TimeWindow) -> "_Window":
        return cls(frozenset(DAYS.index(day) for day in window.days), _clock(window.start), _clock(window.end))

    def contains(self, day: int, minute: int) -> bool:
        if self.start < self.end:
            return day in self.days and self.start <= minute < self.end
        # Past midnight: the evening part belongs to the listed day, the morning part to
        # the day after it.
        return (day in self.days and minute >= self.start) or ((day - 1) % 7 in self.days and minute < self.end)


class _MtRule(msgspec.Struct, frozen=True):
    route: Route
    accounts: frozenset[str]
    prefixes: tuple[str, ...]
    regex: re.Pattern[str] | None
    sources: frozenset[str]
    data_codings: frozenset[int]
    service_types: frozenset[str]
    zone: zoneinfo.ZoneInfo
    windows: tuple[_Window, ...]
    reroute_waits: Mapping[str, float]  # shared by every decision of the rule
    # A filter besides the destination prefixes: `matches` must see the message's facts.
    filtered: bool
    # The decision of a route to one upstream, the same for every message it takes: made
    # once (a decision is frozen), not per message.
    fixed: RouteDecision | None

    @classmethod
    def of(cls, route: Route, config: Config) -> "_MtRule":
        regex = re.compile(route.destination_regex) if route.destination_regex is not None else None
        waits = reroute_waits(route, config)
        filtered = bool(route.accounts or regex or route.sources or route.data_codings or route.service_types
                        or route.windows)
        fixed = (None if route.upstream is None else
                 RouteDecision(route.name, (route.upstream,), route.rate, route.reroute, waits))
        return cls(route, frozenset(route.accounts), tuple(normalize_number(p) for p in route.destinations), regex,
                   frozenset(route.sources), frozenset(route.data_codings), frozenset(route.service_types),
                   zoneinfo.ZoneInfo(route.time_zone), tuple(_Window.of(w) for w in route.windows), waits,
                   filtered, fixed)

    def decide(self, upstream_up: UpstreamUp, draw: RandomSource) -> RouteDecision:
        """Where a message this rule took goes: its candidates, in the order to try them."""
        if self.fixed is not None:
            return self.fixed
        route = self.route
        return RouteDecision(route.name, _candidates(route, upstream_up, draw), route.rate, route.reroute,
                             self.reroute_waits)

    def matches(self, facts: MtFacts, number: str, now: float) -> bool:
        """Every filter but the destination prefixes, which MtTable checks first."""
        if self.accounts and facts.account not in self.accounts:
            return False
        if self.regex is not None and self.regex.fullmatch(number) is None:
            return False
        if self.sources and facts.source not in self.sources:
            return False
        if self.data_codings and facts.data_coding not in self.data_codings:
            return False
        if self.service_types and facts.service_type not in self.service_types:
            return False
        if self.windows:
            day, minute = _minute_of_week(now, self.zone)
            return any(window.contains(day, minute) for window in self.windows)
        return True


class MtTable(msgspec.Struct, frozen=True):
    """The MT routes of a config, compiled: build once per (re)load.

    Tables with a route per country or network run to hundreds of rules, so the rules a
    number's prefixes select are found by dictionary (one lookup per distinct prefix
    length) and only those, with the rules that have no prefix filter, are tried, still
    in the config's order."""

    rules: tuple[_MtRule, ...]
    unprefixed: tuple[int, ...]  # rules without a destination prefix: tried for every number
    by_prefix: dict[str, tuple[int, ...]]  # prefix -> the rules listing it and the unprefixed, in order
    lengths: tuple[int, ...]  # the distinct prefix lengths
    # The first rule when it filters on nothing (a table of one catch-all route, or one
    # that ends in it): it takes every message, with no number looked at.
    takes_all: _MtRule | None = None

    @classmethod
    def of(cls, config: Config) -> "MtTable":
        rules = tuple(_MtRule.of(route, config) for route in config.routes)
        unprefixed = tuple(i for i, rule in enumerate(rules) if not rule.prefixes)
        by_prefix: dict[str, list[int]] = {}
        for index, rule in enumerate(rules):
            for prefix in rule.prefixes:
                by_prefix.setdefault(prefix, list(unprefixed)).append(index)
        takes_all = rules[0] if rules and not rules[0].prefixes and not rules[0].filtered else None
        return cls(rules, unprefixed, {prefix: tuple(sorted(indexes)) for prefix, indexes in by_prefix.items()},
                   tuple(sorted({len(prefix) for prefix in by_prefix})), takes_all)

    def match(self, facts: MtFacts, now: float) -> Route | None:
        """The first route whose filters all pass the message."""
        rule = self.rule(facts, now)
        return None if rule is None else rule.route

    def rule(self, facts: MtFacts | Any, now: float) -> _MtRule | None:
        """The first rule taking the message: `facts`, or a message (NewMessage, Message)
        whose facts are read only when a rule filters on more than the destination."""
        if self.takes_all is not None:
            return self.takes_all
        number = normalize_number(facts.destination)
        known = None
        for index in self.candidates(number):
            rule = self.rules[index]
            if not rule.filtered:
                return rule
            if known is None:
                known = _facts(facts)
            if rule.matches(known, number, now):
                return rule
        return None

    def candidates(self, number: str) -> Sequence[int]:
        """The rules whose prefix filter the number passes, in the config's order."""
        if not self.lengths:
            return self.unprefixed
        hits = [hit for length in self.lengths if (hit := self.by_prefix.get(number[:length]))]
        if not hits:
            return self.unprefixed
        return hits[0] if len(hits) == 1 else sorted(set().union(*hits))


def weighted_order(weights: dict[str, float], draw: RandomSource) -> list[str]:
    """The names in a weighted draw without replacement: each next one is picked with a
    chance proportional to its weight among those left."""
    left = dict(weights)
    order = []
    while left:
        point = draw() * sum(left.values())
        for name, weight in left.items():
            point -= weight
            if point < 0:
                break
        # Rounding can leave `point` a hair above 0 after the loop: then the last one.
        order.append(name)
        del left[name]
    return order


def _candidates(route: Route, upstream_up: UpstreamUp, draw: RandomSource) -> tuple[str, ...]:
    if route.upstream is not None:
        return (route.upstream,)
    if route.failover:
        ordered = list(route.failover)
    else:
        up = {name: weight for name, weight in route.balance.items() if upstream_up(name)}
        down = {name: weight for name, weight in route.balance.items() if name not in up}
        return tuple(weighted_order(up, draw) + weighted_order(down, draw))
    return tuple(sorted(ordered, key=lambda name: not upstream_up(name)))  # stable: up first


def route_mt(table: MtTable | Config, facts: MtFacts | Any, now: float, upstream_up: UpstreamUp = _always_up,
             draw: RandomSource = random.random) -> RouteDecision | None:
    """The first route matching the message, or None when no route does. `facts` may be
    the message itself (smsc.store NewMessage or Message): routed as `facts_of` it, its
    facts read only when a rule needs more than the destination."""
    if isinstance(table, Config):
        table = MtTable.of(table)
    rule = table.rule(facts, now)
    return None if rule is None else rule.decide(upstream_up, draw)


def reroute_waits(route: Route, config: Config) -> dict[str, float]:
    """Upstream -> how long a submit_sm to it may go unanswered before the message moves
    on: the route's reroute.timeout, cut to the upstream's response_timeout (when that
    passes, the upstream gives up on the bind anyway). Empty when timeouts do not re-route."""
    if route.reroute.timeout is None:
        return {}
    timeouts = {upstream.name: upstream.response_timeout for upstream in config.upstreams}
    return {name: min(route.reroute.timeout, timeouts[name]) for name in route_upstreams(route) if name in timeouts}


# --- re-routing -------------------------------------------------------------------


class Refused(msgspec.Struct, frozen=True):
    """The upstream answered the submit_sm with this error status."""

    status: int


class TimedOut(msgspec.Struct, frozen=True):
    """No submit_sm_resp within the decision's reroute_after."""


class Undelivered(msgspec.Struct, frozen=True):
    """An UNDELIV receipt, with the err: code it carried (None: none)."""

    error: str | int | None


Outcome = Refused | TimedOut | Undelivered


def _same_error(a: str | int, b: str | int) -> bool:
    """Receipt error codes as numbers when both are ("001" is 1), else by text."""
    a, b = str(a).strip(), str(b).strip()
    if a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return a.casefold() == b.casefold()


def reroutes(rules: Reroute, outcome: Outcome) -> bool:
    """Whether this outcome sends the message on to the next upstream."""
    if isinstance(outcome, Refused):
        return outcome.status in rules.statuses
    if isinstance(outcome, TimedOut):
        return rules.timeout is not None
    return outcome.error is not None and any(_same_error(outcome.error, code) for code in rules.undeliv_errors)


def next_upstream(decision: RouteDecision, attempted: Sequence[str], outcome: Outcome,
                  upstream_up: UpstreamUp = _always_up) -> str | None:
    """The upstream to try after `attempted` (in the order tried) ended in `outcome`, or
    None: the outcome is final, the retry budget is spent, or no candidate is left.
    An upstream that is up is preferred over one that is down."""
    if not reroutes(decision.reroute, outcome) or len(attempted) > decision.reroute.budget:
        return None
    left = [name for name in decision.candidates if name not in attempted]
    return next((name for name in left if upstream_up(name)), left[0] if left else None)


# --- MO ---------------------------------------------------------------------------


class MoTarget(msgspec.Struct, frozen=True):
    """Where an MO goes: the receiver binds of `account`, or an HTTP POST to `webhook`."""

    rule: str
    account: str | None
    webhook: str | None


class _MoRule(msgspec.Struct, frozen=True):
    route: MoRoute
    upstreams: frozenset[str]
    prefixes: tuple[str, ...]
    keywords: frozenset[str]

    @classmethod
    def of(cls, route: MoRoute) -> "_MoRule":
        return cls(route, frozenset(route.upstreams), tuple(normalize_number(p) for p in route.destinations),
                   frozenset(k.casefold() for k in route.keywords))

    def matches(self, upstream: str, number: str, keyword: str | None) -> bool:
        return ((not self.upstreams or upstream in self.upstreams)
                and (not self.prefixes or number.startswith(self.prefixes))
                and (not self.keywords or keyword in self.keywords))


class MoTable(msgspec.Struct, frozen=True):
    rules: tuple[_MoRule, ...]

    @classmethod
    def of(cls, config: Config) -> "MoTable":
        return cls(tuple(_MoRule.of(route) for route in config.mo_routes))


def first_word(text: str | None) -> str | None:
    """The keyword of an MO text: its first word, case-folded (None: no text)."""
    words = text.split(maxsplit=1) if text else []
    return words[0].casefold() if words else None


def route_mo(table: MoTable | Config, upstream: str, destination: str, text: str | None) -> MoTarget | None:
    """The target of an MO that `upstream` delivered for `destination` with `text` (None
    when not text, e.g. binary), or None when no MO route matches."""
    if isinstance(table, Config):
        table = MoTable.of(table)
    number, keyword = normalize_number(destination), first_word(text)
    for rule in table.rules:
        if rule.matches(upstream, number, keyword):
            return MoTarget(rule.route.name, rule.route.account, rule.route.webhook)
    return None
