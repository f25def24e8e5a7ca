"""Gateways forwarding to carrier simulators on 127.0.0.1, for the forwarding tests.

`forwarding_config` builds a config with one account ("shop", transceiver), upstreams and
routes; `serve` (from tests/integration) runs it. Upstreams marked `simulated` get an
in-process carrier (runtime.simulators[name]); others point at a port the test gives.
"""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import msgspec
import pytest

from smsc.aio.upstream import UpstreamLink
from smsc.bench.carrier_sim import Behaviour, CarrierSim
from smsc.bench.fault_proxy import FaultProxy
from smsc.codec import pdu as pdu_codec
from smsc.config import Backoff, Config, MoRoute, Route, Simulated, Upstream
from tests.integration.conftest import PASSWORD, account, make_config, serve, quiet_logs, wait_for  # noqa: F401

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
    return msgspec.structs.replace(make_config(tmp_path, (account(rate=100_000.0),)), upstreams=upstreams,
                                   routes=routes, mo_routes=mo_routes, **fields)


def bound(server, kind: str = "transceiver"):
    client = server.client()
    getattr(client, f"bind_{kind}")(system_id="shop", password=PASSWORD)
    return client


@pytest.fixture
def submit_times(monkeypatch) -> list[float]:
    """The monotonic time of every submit_sm smsc writes to a carrier, as it writes it (at
    the carrier, a busy machine can deliver a second's submits late and bunched, which no
    sender could prevent)."""
    written: list[float] = []
    submit = UpstreamLink.submit

    def recorded(link, pdu, context):
        sent = submit(link, pdu, context)
        if sent:
            written.append(time.monotonic())
        return sent

    monkeypatch.setattr(UpstreamLink, "submit", recorded)
    return written


@pytest.fixture
def sim_of():
    def get(server, name: str = "carrier"):
        return server.runtime.simulators[name]
    return get


def on_loop(server, function, *args):
    """Call a plain function on the server's event loop (the simulators live there)."""
    async def call():
        return function(*args)
    return server.call(call())


class LoopThread:
    """An event loop in a daemon thread: the carrier side (simulator, fault proxy) of a
    test, apart from the gateway's loop as a real carrier would be."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def run(self, function: Any, *args: Any) -> Any:
        async def call() -> Any:
            return function(*args)
        return self.call(call())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def carrier_side():
    """carrier_side(behaviour, proxied=False) -> (sim, proxy or None) on their own loop;
    point an upstream at `proxy.port` (or `sim.port`)."""
    thread = LoopThread()
    started: list[Any] = []

    def start(behaviour: Behaviour = Behaviour(), proxied: bool = False):
        sim = thread.call(CarrierSim(behaviour).start())
        started.append(sim)
        proxy = None
        if proxied:
            proxy = thread.call(FaultProxy("127.0.0.1", sim.port).start())
            started.append(proxy)
        return sim, proxy

    start.thread = thread  # type: ignore[attr-defined]
    yield start
    for item in reversed(started):
        thread.call(item.stop())
    thread.close()


class Wire:
    """A FaultProxy tap that decodes what crosses it: `frames` holds (monotonic time,
    "up" (smsc -> carrier) or "down", pdu). One connection at a time (bytes of two
    connections would interleave in its buffers)."""

    def __init__(self) -> None:
        self.buffers = {"up": b"", "down": b""}
        self.frames: list[tuple[float, str, Any]] = []

    def __call__(self, direction: str, data: bytes) -> None:
        buffer = self.buffers[direction] + data
        while len(buffer) >= 16 and len(buffer) >= int.from_bytes(buffer[:4], "big"):
            length = int.from_bytes(buffer[:4], "big")
            self.frames.append((time.monotonic(), direction, pdu_codec.decode(buffer[:length])))
            buffer = buffer[length:]
        self.buffers[direction] = buffer

    def sent(self, command: type) -> list[tuple[float, Any]]:
        return [(at, pdu) for at, direction, pdu in self.frames if direction == "up" and type(pdu) is command]

    def answers(self, command: type, direction: str = "down") -> dict[int, Any]:
        """Responses by sequence number: from the carrier ("down"), or ours ("up")."""
        return {pdu.sequence_number: pdu for _, way, pdu in self.frames if way == direction and type(pdu) is command}
