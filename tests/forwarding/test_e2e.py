"""End to end over 127.0.0.1: smpplib -> smsc -> carrier simulator -> receipt/MO back."""
from __future__ import annotations

import smpplib.consts

from smsc.smpp import status
from smsc.smpp.constants import MessageState, Tag
from smsc.smpp.pdus import DeliverSm
from smsc.config import MoRoute
from tests.forwarding.conftest import bound, forwarding_config, wait_for


def read_until(client, command: str, limit: int = 20):
    for _ in range(limit):
        pdu = client.read_pdu()
        if pdu.command == command:
            return pdu
    raise AssertionError(f"no {command} in {limit} PDUs")


def test_submit_reaches_the_carrier_and_its_receipt_comes_back_with_our_id(serve, tmp_path, sim_of):
    server = serve(forwarding_config(tmp_path))
    client = bound(server)
    client.send_message(source_addr="Shop", destination_addr="447700900001", short_message=b"hello there",
                        registered_delivery=1)
    message_id = read_until(client, "submit_sm_resp").message_id.decode()
    receipt = read_until(client, "deliver_sm")
    client.send_pdu(smpplib.smpp.make_pdu("deliver_sm_resp", client=client, sequence=receipt.sequence))
    assert receipt.receipted_message_id.decode() == message_id
    assert b"stat:DELIVRD" in receipt.short_message and f"id:{message_id}".encode() in receipt.short_message
    stored = server.call(server.store.get(message_id))
    assert stored.state == MessageState.DELIVERED and stored.upstream == "carrier" and stored.carrier_id
    assert sim_of(server).counters["submit_sm"] == 1
    client.unbind()
    client.disconnect()
