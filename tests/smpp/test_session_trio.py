"""The same conversation over trio memory streams: the core needs no particular runtime."""
from __future__ import annotations

import trio
import trio.testing

from smsc.smpp import pdus
from smsc.smpp.events import NEED_DATA, PeerClosed, RequestReceived, ResponseReceived
from smsc.smpp.session import Session
from smsc.smpp.state import Role, State

from .helpers import NO_TIMERS


class Endpoint:
    """A Session on one end of a trio stream."""

    def __init__(self, role: Role, stream: trio.abc.HalfCloseableStream) -> None:
        self.session = Session(role, now=trio.current_time(), **NO_TIMERS)
        self.stream = stream

    async def send(self, pdu: pdus.Pdu) -> None:
        await self.stream.send_all(self.session.send(pdu, now=trio.current_time()))

    async def next_event(self):
        while (event := self.session.next_event()) is NEED_DATA:
            data = await self.stream.receive_some(65536)
            self.session.receive_data(data, now=trio.current_time())
        return event


async def smsc(end: Endpoint, seen: list) -> None:
    """Accepts the bind, delivers one message, accepts submits, answers everything."""
    while True:
        event = await end.next_event()
        seen.append(f"{type(event).__name__}:{event.pdu.name}")
        match event:
            case RequestReceived(pdu=pdus.BindTransceiver() as bind):
                await end.send(bind.response(system_id="smsc"))
                await end.send(pdus.DeliverSm(source_addr="447700900001", short_message=b"MO"))
            case RequestReceived(pdu=pdus.SubmitSm() as submit):
                await end.send(submit.response(message_id=f"id-{submit.sequence_number}"))
            case RequestReceived(pdu=pdus.Unbind() as unbind):
                await end.send(unbind.response())
                await end.stream.aclose()
                return
            case RequestReceived(pdu=request):
                await end.send(request.response())


async def esme(end: Endpoint) -> dict:
    result: dict = {}
    await end.send(pdus.BindTransceiver(system_id="acme", password="pw"))
    bound = await end.next_event()
    assert isinstance(bound, ResponseReceived) and end.session.state is State.BOUND_TRX
    await end.send(pdus.SubmitSm(destination_addr="447700900000", short_message=b"MT"))
    # The deliver_sm sent right after the bind and our submit's answer cross on the wire.
    while len(result) < 2:
        match await end.next_event():
            case RequestReceived(pdu=pdus.DeliverSm() as deliver):
                result["mo"] = deliver.short_message
                await end.send(deliver.response())
            case ResponseReceived(pdu=pdus.SubmitSmResp() as resp):
                result["message_id"] = resp.message_id
    await end.send(pdus.EnquireLink())
    assert isinstance(await end.next_event(), ResponseReceived)
    await end.send(pdus.Unbind())
    assert isinstance((await end.next_event()).pdu, pdus.UnbindResp)
    assert await end.next_event() == PeerClosed(0)
    result["state"] = end.session.state
    return result


def test_conversation_over_trio_memory_streams():
    async def main():
        esme_stream, smsc_stream = trio.testing.memory_stream_pair()
        seen: list = []
        outcome: dict = {}
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(smsc, Endpoint(Role.SMSC, smsc_stream), seen)

                async def run_esme():
                    outcome.update(await esme(Endpoint(Role.ESME, esme_stream)))

                nursery.start_soon(run_esme)
        return outcome, seen

    outcome, seen = trio.run(main)
    assert outcome == {"mo": b"MO", "message_id": "id-2", "state": State.CLOSED}
    assert seen == [
        "RequestReceived:bind_transceiver", "RequestReceived:submit_sm",
        "ResponseReceived:deliver_sm_resp", "RequestReceived:enquire_link",
        "RequestReceived:unbind",
    ]
