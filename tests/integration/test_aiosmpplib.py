"""A second, independent client: aiosmpplib binds, submits and gets its receipt."""
from __future__ import annotations

import asyncio
import logging

from aiosmpplib import ESME, BindMode, DeliverSm, PhoneNumber, SubmitSm, SubmitSmResp
from aiosmpplib.hook import AbstractHook

from smsc.smpp.constants import MessageState
from tests.integration.conftest import PASSWORD


class Collecting(AbstractHook):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()

    async def sending(self, smpp_message, pdu, client_id) -> None:
        pass

    async def received(self, smpp_message, pdu, client_id) -> None:
        if isinstance(smpp_message, (SubmitSmResp, DeliverSm)):
            await self.inbox.put(smpp_message)

    async def send_error(self, smpp_message, error, client_id) -> None:
        await self.inbox.put(error)


def test_aiosmpplib_binds_submits_and_gets_its_receipt(server):
    async def scenario() -> tuple[SubmitSmResp, DeliverSm]:
        hook = Collecting()
        esme = ESME("127.0.0.1", server.port(), "shop", PASSWORD, bind_mode=BindMode.TRANSCEIVER,
                    hook=hook, log_level=logging.WARNING)
        running = asyncio.create_task(esme.start())
        try:
            await esme.broker.enqueue(SubmitSm(short_message="Your code is 1234", source=PhoneNumber("Shop"),
                                               destination=PhoneNumber("447700900001"), registered_delivery=1,
                                               log_id="otp-1"))
            submitted = await asyncio.wait_for(hook.inbox.get(), 10)
            assert isinstance(submitted, SubmitSmResp), submitted
            # What an upstream will do in the next issue: the carrier delivered it.
            # (update() makes its future on the store's loop: called there, not here.)
            async def deliver() -> None:
                await server.store.update(submitted.message_id, MessageState.DELIVERED)

            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(deliver(), server.loop))
            receipt = await asyncio.wait_for(hook.inbox.get(), 10)
            return submitted, receipt
        finally:
            await esme.stop()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    submitted, receipt = asyncio.run(scenario())
    assert submitted.command_status == 0 and submitted.message_id
    assert isinstance(receipt, DeliverSm) and receipt.is_receipt()
    parsed = receipt.parse_receipt()
    assert parsed["id"] == submitted.message_id and parsed["stat"] == "DELIVRD"
    assert server.call(server.store.get(submitted.message_id)).state == MessageState.DELIVERED
