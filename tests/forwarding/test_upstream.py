"""The carrier-side bind: it comes up, comes back after the carrier drops it, and waits
the longer rebind_pause after the carrier refuses our credentials."""
from __future__ import annotations

import asyncio

import msgspec

from smsc.aio.upstream import UpstreamBind, backoff
from smsc.bench.carrier_sim import Behaviour, CarrierSim
from smsc.config import Backoff
from tests.forwarding.conftest import upstream


class Recorder:
    """A LinkHandler that only records what it hears."""

    def __init__(self) -> None:
        self.ready = 0
        self.lost: list[list] = []

    def on_ready(self, link) -> None:
        self.ready += 1

    def on_response(self, link, context, pdu) -> None:
        pass

    def on_timeout(self, link, context) -> None:
        pass

    def on_lost(self, link, contexts) -> None:
        self.lost.append(contexts)

    async def on_request(self, link, pdu) -> int:
        return 0


async def eventually(predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_a_dropped_bind_comes_back_and_a_refused_one_waits_the_rebind_pause():
    asyncio.run(binds())


async def binds() -> None:
    async with CarrierSim(Behaviour(credentials={"smsc": "right"})) as sim:
        good = upstream(port=sim.port, password="right", reconnect=Backoff(initial=0.05, max=0.1, jitter=0.0))
        recorder = Recorder()
        bind = UpstreamBind(good, recorder)
        bind.start()
        await eventually(lambda: bind.link is not None and bind.link.is_bound)
        for connection in list(sim._connections):  # the carrier drops us
            connection.transport.abort()
        await eventually(lambda: bind.connects == 2 and bind.link is not None and bind.link.is_bound)
        assert len(recorder.lost) == 1
        await bind.stop()
        assert sim.counters["unbinds"] == 1  # a goodbye, not a drop

        wrong = msgspec.structs.replace(good, password="wrong", rebind_pause=30.0)
        refused = UpstreamBind(wrong, Recorder())
        refused.start()
        await eventually(lambda: sim.counters["binds_refused"] == 1)
        await asyncio.sleep(0.5)  # ten reconnect backoffs, far less than the rebind pause
        assert sim.counters["binds_refused"] == 1 and refused.connects == 0
        await refused.stop()


def test_backoff_grows_to_its_cap_with_jitter():
    settings = upstream(reconnect=Backoff(initial=1.0, max=8.0, factor=2.0, jitter=0.1))
    waits = [backoff(attempt, settings) for attempt in range(6)]
    for attempt, wait in enumerate(waits):
        base = min(8.0, 2.0 ** attempt)
        assert base * 0.9 <= wait <= base * 1.1
