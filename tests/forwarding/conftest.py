"""Gateways forwarding to carrier simulators on 127.0.0.1, for the forwarding tests.

`forwarding_config` builds a config with one account ("shop", transceiver), upstreams and
routes; `serve` (from tests/integration) runs it. Upstreams marked `simulated` get an
in-process carrier (runtime.simulators[name]); others point at a port the test gives.
"""
from __future__ import annotations

from typing import Any

import msgspec
import pytest

from smsc.config import Backoff, Config, MoRoute, Route, Simulated, Upstream
from tests.integration.conftest import PASSWORD, make_config, serve, quiet_logs, wait_for  # noqa: F401

FAST_RECONNECT = Backoff(initial=0.05, max=0.5, jitter=0.1)


def upstream(name: str = "carrier", **fields: Any) -> Upstream:
    fields.setdefault("system_id", "smsc")
    fields.setdefault("reconnect", FAST_RECONNECT)
    fields.setdefault("throughput", 10_000.0)
    fields.setdefault("window", 50)
    return Upstream(name=name, **fields)


def simulated(name: str = "carrier", **behaviour: Any) -> Upstream:
    behaviour.setdefault("receipt_delay", 0.05)
    return upstream(name, simulated=Simulated(**behaviour))


def forwarding_config(tmp_path, upstreams: tuple[Upstream, ...] = (), routes: tuple[Route, ...] | None = None,
                      mo_routes: tuple[MoRoute, ...] = (), **fields: Any) -> Config:
    upstreams = upstreams or (simulated(),)
    if routes is None:
        routes = (Route(name="everything", upstream=upstreams[0].name),)
    return msgspec.structs.replace(make_config(tmp_path), upstreams=upstreams, routes=routes, mo_routes=mo_routes,
                                   **fields)


def bound(server, kind: str = "transceiver"):
    client = server.client()
    getattr(client, f"bind_{kind}")(system_id="shop", password=PASSWORD)
    return client


@pytest.fixture
def sim_of():
    def get(server, name: str = "carrier"):
        return server.runtime.simulators[name]
    return get
