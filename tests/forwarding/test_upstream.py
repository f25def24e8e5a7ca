"""The carrier-side bind: it comes up, comes back after the carrier drops it, and waits
the longer rebind_pause after the carrier refuses our credentials."""
from __future__ import annotations

import asyncio
import functools

import msgspec

from smsc.aio.upstream import UpstreamBind, UpstreamLink, backoff
from smsc.bench.carrier_sim import Behaviour, CarrierSim
from smsc.codec import pdu as pdu_codec
from smsc.config import Backoff
from smsc.smpp import status
from smsc.smpp.framing import Framer
from smsc.smpp.pdus import RESPONSE_CLASS, DeliverSm
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

    def on_requests(self, link, pdus, respond) -> None:
        for pdu in pdus:
            respond(pdu, 0)


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


class Answering(Recorder):
    """Answers each deliver_sm as its short_message says: "later" when the test calls its
    `respond`, "fail" with the exception a failing store gives; a read with a "raise"
    by raising (before answering any of it)."""

    def __init__(self) -> None:
        super().__init__()
        self.later: list = []
        self.reads: list[list[int]] = []

    def on_requests(self, link, pdus, respond) -> None:
        self.reads.append([pdu.sequence_number for pdu in pdus])
        if any(pdu.short_message == b"raise" for pdu in pdus):
            raise RuntimeError("a bug in the handler")
        for pdu in pdus:
            if pdu.short_message == b"fail":
                respond(pdu, OSError("disk full"))
            else:
                self.later.append(functools.partial(respond, pdu))


def test_a_deliver_sm_is_answered_when_the_handler_responds_and_a_failure_is_a_temporary_error():
    asyncio.run(answers())


async def answers() -> None:
    answered: asyncio.Queue = asyncio.Queue()

    async def carrier(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = Framer()
        while data := await reader.read(65536):
            framer.feed(data)
            for frame in framer:
                pdu = pdu_codec.decode(frame)
                if pdu.is_response:
                    await answered.put(pdu)
                    if pdu.sequence_number == 9:  # in a read of its own
                        writer.write(pdu_codec.encode(DeliverSm(sequence_number=8, short_message=b"raise")))
                elif type(pdu) in RESPONSE_CLASS and not isinstance(pdu, DeliverSm):  # the bind, an enquire_link
                    writer.write(pdu_codec.encode(pdu.response()))
                    if pdu.name.startswith("bind"):
                        writer.write(b"".join(pdu_codec.encode(DeliverSm(sequence_number=n, short_message=text))
                                              for n, text in ((7, b"later"), (9, b"fail"))))

    server = await asyncio.start_server(carrier, "127.0.0.1", 0)
    handler = Answering()
    link = await UpstreamLink.open(upstream(port=server.sockets[0].getsockname()[1]), handler)
    first, second = [await asyncio.wait_for(answered.get(), 5) for _ in range(2)]
    assert [(first.sequence_number, first.command_status), (second.sequence_number, second.command_status)] == [
        (9, status.ESME_RX_T_APPN), (8, status.ESME_RX_T_APPN)]  # the carrier sends them again later
    await asyncio.sleep(0.05)
    assert answered.empty() and len(handler.later) == 1  # not answered before its handler says
    handler.later[0](0)
    last = await asyncio.wait_for(answered.get(), 5)
    assert (last.sequence_number, last.command_status, type(last).__name__) == (7, 0, "DeliverSmResp")
    link.close()
    server.close()
