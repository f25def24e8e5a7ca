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
    metrics.submit_response.labels(channel="smpp"|"http"|"upstream").observe(seconds)
    metrics.throttled.labels(channel=..., name=...).inc()
"""
from __future__ import annotations

import time
from typing import Any, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from smsc.smpp.constants import MessageState
from smsc.store import Store

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_RECEIPT = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.registry = registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        # Called with this Metrics at each scrape, to set gauges from live objects.
        self.before_scrape: list[Callable[["Metrics"], None]] = []
        self.messages = Gauge("smsc_messages_live", "Live messages by state, account and upstream",
                              ["state", "account", "upstream"], registry=registry)
        self.accepted = Counter("smsc_messages_accepted", "Messages accepted", ["account", "channel"],
                                registry=registry)
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
        self.submit_response = Histogram("smsc_submit_response_seconds", "Submit to response (after the commit)",
                                         ["channel"], buckets=_LATENCY, registry=registry)
        self.submit_receipt = Histogram("smsc_submit_receipt_seconds", "Accept to final state (receipt)",
                                        ["account"], buckets=_RECEIPT, registry=registry)
        self.webhooks = Counter("smsc_webhook_deliveries", "Webhook attempts by outcome (delivered, failed, dead)",
                                ["account", "outcome"], registry=registry)
        self.throttled = Counter("smsc_throttled", "Requests refused for rate", ["channel", "name"],
                                 registry=registry)
        self.http_requests = Counter("smsc_http_requests", "HTTP API requests", ["route", "status"],
                                     registry=registry)

    def child(self, metric: Any, *values: str) -> Any:
        """metric.labels(*values), remembered: labels() costs more than the count itself."""
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def webhook(self, account: str, outcome: str) -> None:
        self.child(self.webhooks, account, outcome).inc()

    def receipt_latency(self, account: str, seconds: float) -> None:
        self.child(self.submit_receipt, account).observe(max(0.0, seconds))

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
