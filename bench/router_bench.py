"""How long routing one MT message takes (smsc.router.route_mt), by table size and by
which kind of rule matches, beside a linear scan of the rules. Not a test: prints
microseconds per call.

    python bench/router_bench.py [--routes 5 50 500] [--calls 20000]

Each table has N prefix routes to single upstreams (country codes), then one weighted
balance route, one failover route with a time window, and a catch-all; the messages
hit the first route, the balance, the windowed failover and the catch-all (after
every other rule was tried and missed).
"""
from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timezone

from smsc import config as cfg
from smsc import router

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc).timestamp()  # a Monday, noon in Paris


def table(prefix_routes: int) -> router.MtTable:
    upstreams = tuple(cfg.Upstream(name=name, system_id=name) for name in ("a", "b", "c"))
    routes = [cfg.Route(name=f"p{i}", destinations=(f"2{i:04d}", f"+9{i:04d}"), upstream="a")
              for i in range(prefix_routes)]
    routes.append(cfg.Route(name="balance", destinations=("44",), balance={"a": 3, "b": 1}))
    office = cfg.TimeWindow(days=("mon", "tue", "wed", "thu", "fri"), start="08:00", end="20:00")
    routes.append(cfg.Route(name="window", destinations=("33",), windows=(office,), time_zone="Europe/Paris",
                            failover=("c", "a")))
    routes.append(cfg.Route(name="rest", upstream="c"))
    return router.MtTable.of(cfg.Config(upstreams=upstreams, routes=tuple(routes)))


CASES = {"first": "200005550", "balance": "447700900123", "window": "33612345678", "catch-all": "15551234567"}


def linear(compiled: router.MtTable, facts: router.MtFacts, now: float) -> str | None:
    """The plain scan the prefix index replaces: every rule in order (for comparison)."""
    number = router.normalize_number(facts.destination)
    for rule in compiled.rules:
        if (not rule.prefixes or number.startswith(rule.prefixes)) and rule.matches(facts, number, now):
            return rule.route.name
    return None


def best_of_3(call, calls: int) -> float:
    """Microseconds per call, the best of 3 runs (the machine is shared)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - started) / calls * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routes", type=int, nargs="+", default=[5, 50, 500])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    draw = random.Random(1).random
    print("us per message: route_mt (the whole decision), MtTable.match (the rule, by prefix index),"
          " a linear scan (the rule)")
    print(f"{'prefix routes':>13} " + " ".join(f"{case:>20}" for case in CASES))
    for size in args.routes:
        compiled = table(size)
        cells = []
        for case, number in CASES.items():
            facts = router.MtFacts(account="acme", destination=number)
            decision = router.route_mt(compiled, facts, NOW, draw=draw)
            expected = "p0" if case == "first" else case.replace("catch-all", "rest")
            assert decision is not None and decision.rule == expected == linear(compiled, facts, NOW), case
            whole = best_of_3(lambda: router.route_mt(compiled, facts, NOW, draw=draw), args.calls)
            indexed = best_of_3(lambda: compiled.match(facts, NOW), args.calls)
            scanned = best_of_3(lambda: linear(compiled, facts, NOW), args.calls)
            cells.append(f"{whole:6.2f} {indexed:6.2f} {scanned:6.2f}")
        print(f"{size:>13} " + " ".join(cells))


if __name__ == "__main__":
    main()
