"""Prometheus metrics of one running gateway (GET /metrics), in a registry of its own so
that several gateways in one process (tests) do not mix.

Counters and histograms are updated where things happen (the HTTP API, the webhook
dispatcher); what the store knows (messages by state, queue depths and ages) is read
from it when scraped, so it is right after a restart too.

Hooks for the other parts, all on `Metrics` (the runtime's `http.metrics`); gauges of
live objects are best set by a function in `before_scrape` (see smsc/http/service.py):
    metrics.binds_up.labels(kind="upstream"|"account", name=...).set(n)
    metrics.upstream_queue.labels(upstream=...).set(depth)
    metrics.upstream_oldest.labels(upstream=...).set(seconds)
    metrics.submit_response.observe(seconds, "smpp"|"http"|"upstream")
    metrics.throttled.inc("smpp"|"http", account name)
    metrics.forwarding.counts[("forwarder"|"inbound", event)] = n   (copied at scrape)

What is counted on every request (requests, accepts, submit latency, throttling) is a
Tally or a Timings: plain dicts exported when scraped. A prometheus_client child takes
a lock and costs 1-5 us an update; these cost a dict update (an HTTP submit made three).
"""
from __future__ import annotations

import time
from bisect import bisect_left
from typing import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from smsc.smpp.constants import MessageState
from smsc.store import Store

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_RECEIPT = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


class Tally:
    """A labelled counter kept in a dict, exported at scrape (name gets _total there)."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...],
                 registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.counts: dict[tuple[str, ...], float] = {}
        registry.register(self)

    def inc(self, *labels: str, amount: float = 1) -> None:
        self.counts[labels] = self.counts.get(labels, 0) + amount

    def take(self) -> list[tuple[list[str], float]]:
        """The counts so far, forgotten here (a worker process sends them on)."""
        counts, self.counts = self.counts, {}
        return [(list(labels), value) for labels, value in counts.items()]

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, value in list(self.counts.items()):
            family.add_metric(labels, value)
        yield family


class Timings:
    """A labelled histogram kept in lists: per label values, counts per bucket and the sum."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...], buckets: tuple[float, ...],
                 registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.bounds = buckets
        self.series: dict[tuple[str, ...], list[float]] = {}  # labels -> [count per bucket..., +Inf, sum]
        registry.register(self)

    def observe(self, seconds: float, *labels: str) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self.bounds) + 2)
        series[bisect_left(self.bounds, seconds)] += 1  # le: a value on a bound is in it
        series[-1] += seconds

    def take(self) -> list[tuple[list[str], list[float]]]:
        series, self.series = self.series, {}
        return [(list(labels), values) for labels, values in series.items()]

    def add(self, labels: tuple[str, ...], values: list[float]) -> None:
        """Another process's series (from take()) added to this one."""
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self.bounds) + 2)
        for i, value in enumerate(values[:len(series)]):
            series[i] += value

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, series in list(self.series.items()):
            cumulative, buckets = 0.0, []
            for bound, count in zip((*map(floatToGoString, self.bounds), "+Inf"), series):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric(labels, buckets, series[-1])
        yield family


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.registry = registry = CollectorRegistry()
        # Called with this Metrics at each scrape, to set gauges from live objects.
        self.before_scrape: list[Callable[["Metrics"], None]] = []
        self.messages = Gauge("smsc_messages_live", "Live messages by state, account and upstream",
                              ["state", "account", "upstream"], registry=registry)
        self.accepted = Tally("smsc_messages_accepted", "Messages accepted", ("account", "channel"), registry)
        self.waiting = Gauge("smsc_messages_waiting", "Messages due and not yet handed to an upstream",
                             registry=registry)
        self.waiting_oldest = Gauge("smsc_messages_waiting_oldest_seconds", "Age of the oldest waiting message",
                                    registry=registry)
        self.upstream_queue = Gauge("smsc_upstream_queue_depth", "Messages queued for an upstream", ["upstream"],
                                    registry=registry)
        self.upstream_oldest = Gauge("smsc_upstream_queue_oldest_seconds", "Age of the oldest queued message",
                                     ["upstream"], registry=registry)
        self.outbound = Gauge("smsc_outbound_queued", "Receipts and MO waiting per queue (account or webhook)",
                              ["queue"], registry=registry)
        self.outbound_oldest = Gauge("smsc_outbound_oldest_seconds", "Age of the oldest waiting receipt or MO",
                                     ["queue"], registry=registry)
        self.binds_up = Gauge("smsc_binds_up", "Binds up", ["kind", "name"], registry=registry)
        self.submit_response = Timings("smsc_submit_response_seconds", "Submit to response (after the commit)",
                                       ("channel",), _LATENCY, registry)
        self.submit_receipt = Timings("smsc_submit_receipt_seconds", "Accept to final state (receipt)",
                                      ("account",), _RECEIPT, registry)
        self.webhooks = Tally("smsc_webhook_deliveries", "Webhook attempts by outcome (delivered, failed, dead)",
                              ("account", "outcome"), registry)
        self.throttled = Tally("smsc_throttled", "Requests refused for rate", ("channel", "name"), registry)
        self.forwarding = Tally("smsc_forwarding_events", "What happened to submits to carriers and what"
                                " carriers sent (receipts applied, unknown, repeated; MO queued, unrouted...)",
                                ("side", "event"), registry)
        self.http_requests = Tally("smsc_http_requests", "HTTP API requests", ("route", "status"), registry)

    def add(self, requests: list[tuple[list[str], float]], timings: list[tuple[list[str], list[float]]]) -> None:
        """What an HTTP worker process counted (smsc.http.rpc.Counts)."""
        for labels, amount in requests:
            self.http_requests.inc(*labels, amount=amount)
        for labels, values in timings:
            self.submit_response.add(tuple(labels), values)

    def webhook(self, account: str, outcome: str) -> None:
        self.webhooks.inc(account, outcome)

    def receipt_latency(self, account: str, seconds: float) -> None:
        self.submit_receipt.observe(max(0.0, seconds), account)

    async def refresh(self, store: Store) -> None:
        """Read the gauges the store knows, then those the running parts know."""
        for collect in self.before_scrape:
            collect(self)
        now = self.clock()
        reader = store.reader
        self.messages.clear()
        sql = ("SELECT state, account, COALESCE(upstream, ''), COUNT(*) FROM messages INDEXED BY messages_live"
               " WHERE final IS NULL GROUP BY 1, 2, 3")
        async with reader.execute(sql) as cursor:
            for state, account, upstream, count in await cursor.fetchall():
                self.messages.labels(state=MessageState(state).name.lower(), account=account,
                                     upstream=upstream).set(count)
        sql = "SELECT COUNT(*), MIN(scheduled) FROM messages WHERE final IS NULL AND upstream IS NULL AND scheduled <= ?"
        async with reader.execute(sql, (now,)) as cursor:
            count, oldest = await cursor.fetchone()
        self.waiting.set(count)
        self.waiting_oldest.set(0 if oldest is None else now - oldest)
        self.outbound.clear()
        self.outbound_oldest.clear()
        sql = "SELECT account, COUNT(*), MIN(created) FROM outbound WHERE state = 0 GROUP BY account"
        async with reader.execute(sql) as cursor:
            for queue, count, oldest in await cursor.fetchall():
                self.outbound.labels(queue=queue).set(count)
                self.outbound_oldest.labels(queue=queue).set(now - oldest)

    def render(self) -> bytes:
        return generate_latest(self.registry)
