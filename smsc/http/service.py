"""What the runtime starts for the HTTP side, in one object: compliance (used by SMPP
submits too), the webhook queues and their dispatcher, metrics, and the API listener
when [http] enabled: in this process, or with [http] workers = N in N worker processes
(smsc.http.pool) that hand plain sends to this one.

    http = HttpService(runtime)      # after the runtime made its store and gateway
    await http.start(); ...; await http.stop()   # stop before the store closes
"""
from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from smsc.compliance import Compliance
from smsc.config import Config
from smsc.http.api import HttpApi
from smsc.http.metrics import Metrics
from smsc.http.pool import WorkerPool
from smsc.http.webhooks import Dispatcher, WebhookQueues
from smsc.log import get_logger
from smsc.store import http_tables

HOUSEKEEPING_INTERVAL = 60.0


class HttpService:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.gateway = runtime.gateway
        self.store = runtime.store
        self.metrics = Metrics(clock=runtime.clock)
        self.compliance = Compliance(self.config, self.store)
        self.dispatcher = Dispatcher(self.store, lambda: self.config, clock=runtime.clock, metrics=self.metrics)
        self.api: HttpApi | None = None
        self.pool: WorkerPool | None = None  # [http] workers >= 1
        self._housekeeping: asyncio.Task[None] | None = None
        self.log = get_logger("smsc.http")

    @property
    def config(self) -> Config:
        return self.gateway.config  # follows reloads

    @property
    def addresses(self) -> list[tuple[str, int, bool]]:
        if self.pool is not None:
            return self.pool.addresses
        return [] if self.api is None else self.api.addresses

    def _ready(self) -> list[str]:
        return [] if self.runtime.addresses else ["no SMPP listener up"]

    async def start(self) -> None:
        await self.compliance.load()
        self.gateway.compliance = self.compliance
        self.store.mo_hook = self.compliance.enqueue_mo
        self.store.outbound_queue = WebhookQueues.of(self.config)
        self.dispatcher.start()
        self.metrics.before_scrape.append(self._live_gauges)
        self._housekeeping = asyncio.get_running_loop().create_task(self._housekeeping_loop(), name="smsc-http-house")
        if self.config.http.enabled:
            self.api = HttpApi(self.gateway, self.compliance, self.metrics, ready=self._ready,
                               clock=self.runtime.clock)
            if self.config.http.workers:
                self.pool = WorkerPool(self.api, self.config.http.workers)
                await self.pool.start()  # it starts the API, on its internal socket
            else:
                await self.api.start()

    def apply(self, config: Config) -> None:
        """A reload: compliance rules, which accounts' events go to their webhook queue
        (the store's outbound_queue, data made from the config), and webhook queues for
        accounts added."""
        self.compliance.apply(config)
        self.store.outbound_queue = WebhookQueues.of(config)
        self.dispatcher.sync()
        if self.pool is not None:
            self.pool.apply(config)

    async def stop(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
        if self.pool is not None:
            await self.pool.stop()  # the workers finish what is in flight: the API and store still up
        elif self.api is not None:
            await self.api.stop()
        await self.dispatcher.stop()

    async def _housekeeping_loop(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            try:
                await self.housekeeping()
            except Exception as exc:  # a busy disk: next round
                self.log.error("http_housekeeping_failed", error=repr(exc))

    async def housekeeping(self) -> None:
        """Forget Idempotency-Keys past their time, and the client references of messages
        the store purged (store.retention)."""
        now, config = self.runtime.clock(), self.config
        await http_tables.forget_idempotency(self.store, now - config.http.idempotency_ttl)
        await http_tables.forget_client_refs(self.store, now - config.store.retention)

    def _live_gauges(self, metrics: Metrics) -> None:
        """Binds up per account (SMPP server) and per upstream, upstream queue depths, SMPP
        throttling per account, the forwarder's and inbound side's event counters."""
        metrics.binds_up.clear()
        server = self.runtime.server
        accounts = Counter(conn.account.system_id for conn in (server.connections if server else ())
                           if conn.account is not None)
        for name, count in accounts.items():
            metrics.binds_up.labels(kind="account", name=name).set(count)
        gateway = self.runtime.gateway
        for name, count in (gateway.throttled.items() if gateway is not None else ()):
            metrics.throttled.counts[("smpp", name)] = count
        for side, part in (("forwarder", self.runtime.forwarder), ("inbound", self.runtime.inbound)):
            for event, count in (part.counters.items() if part is not None else ()):
                metrics.forwarding.counts[(side, event)] = count
        forwarder = self.runtime.forwarder
        for name, queue in (forwarder.queues.items() if forwarder is not None else ()):
            metrics.binds_up.labels(kind="upstream", name=name).set(sum(link.is_bound for link in queue.links))
            metrics.upstream_queue.labels(upstream=name).set(queue.held)
