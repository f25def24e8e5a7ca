"""What the runtime starts for the HTTP side, in one object: compliance (used by SMPP
submits too), the webhook queues and their dispatcher, metrics, and the API listener
when [http] enabled.

    http = HttpService(runtime)      # after the runtime made its store and gateway
    await http.start(); ...; await http.stop()   # stop before the store closes
"""
from __future__ import annotations

from typing import Any

from smsc.compliance import Compliance
from smsc.config import Config
from smsc.http.api import HttpApi
from smsc.http.metrics import Metrics
from smsc.http.webhooks import Dispatcher, queue_for


class HttpService:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.gateway = runtime.gateway
        self.store = runtime.store
        self.metrics = Metrics(clock=runtime.clock)
        self.compliance = Compliance(self.config, self.store)
        self.dispatcher = Dispatcher(self.store, lambda: self.config, clock=runtime.clock, metrics=self.metrics)
        self.api: HttpApi | None = None

    @property
    def config(self) -> Config:
        return self.gateway.config  # follows reloads

    @property
    def addresses(self) -> list[tuple[str, int, bool]]:
        return [] if self.api is None else self.api.addresses

    def _ready(self) -> list[str]:
        return [] if self.runtime.addresses else ["no SMPP listener up"]

    async def start(self) -> None:
        await self.compliance.load()
        self.gateway.compliance = self.compliance
        self.store.outbound_queue = queue_for(lambda: self.config)
        self.dispatcher.start()
        if self.config.http.enabled:
            self.api = HttpApi(self.gateway, self.compliance, self.metrics, ready=self._ready,
                               clock=self.runtime.clock)
            await self.api.start()

    async def stop(self) -> None:
        if self.api is not None:
            await self.api.stop()
        await self.dispatcher.stop()
