"""End to end over 127.0.0.1: smpplib -> smsc -> carrier simulator -> receipt/MO back."""
from __future__ import annotations

import pytest
import smpplib.consts

from smsc.smpp import status
from smsc.smpp.constants import MessageState
from smsc.bench.carrier_sim import Behaviour
from smsc.smpp.pdus import DeliverSm, DeliverSmResp
from smsc.config import MoRoute
from tests.forwarding.conftest import Wire, bound, forwarding_config, on_loop, upstream, wait_for
from tests.integration.conftest import with_writer


def read_until(client, command: str, limit: int = 20):
    for _ in range(limit):
        pdu = client.read_pdu()
        if pdu.command == command:
            return pdu
    raise AssertionError(f"no {command} in {limit} PDUs")


@pytest.mark.parametrize("writer", ["loop", "process"])
def test_submit_reaches_the_carrier_and_its_receipt_comes_back_with_our_id(serve, tmp_path, sim_of, writer):
    server = serve(with_writer(forwarding_config(tmp_path), writer))
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


def mo(destination: str, text: bytes) -> DeliverSm:
    return DeliverSm(source_addr_ton=1, source_addr_npi=1, source_addr="447700900777",
                     destination_addr=destination, short_message=text)


@pytest.mark.parametrize("writer", ["loop", "process"])
def test_mo_from_the_carrier_reaches_the_routed_account_and_an_unrouted_one_is_refused(serve, tmp_path, sim_of,
                                                                                      writer):
    config = forwarding_config(tmp_path, mo_routes=(MoRoute(name="shop-number", destinations=("4470",),
                                                            account="shop"),))
    server = serve(with_writer(config, writer))
    client = bound(server)
    sim = sim_of(server)
    wait_for(lambda: sim.counters["binds"] >= 1)
    on_loop(server, sim.deliver, "smsc", None, mo("447000111", b"YES please"))
    delivered = read_until(client, "deliver_sm")
    client.send_pdu(smpplib.smpp.make_pdu("deliver_sm_resp", client=client, sequence=delivered.sequence))
    assert delivered.short_message == b"YES please" and delivered.destination_addr.decode() == "447000111"
    assert delivered.source_addr.decode() == "447700900777"
    on_loop(server, sim.deliver, "smsc", None, mo("999", b"STOP"))
    wait_for(lambda: server.runtime.inbound.counters["mo_unrouted"] == 1)
    wait_for(lambda: sim.counters["deliver_sm_resp"] == 2)
    client.unbind()
    client.disconnect()


def test_the_carrier_sees_a_non_zero_deliver_sm_resp_for_an_unrouted_mo(serve, tmp_path, carrier_side):
    sim, proxy = carrier_side(Behaviour(), proxied=True)
    wire = Wire()
    proxy.taps.append(wire)
    config = forwarding_config(tmp_path, upstreams=(upstream(port=proxy.port),),
                               mo_routes=(MoRoute(name="shop-number", destinations=("4470",), account="shop"),))
    server = serve(config)
    wait_for(lambda: sim.counters["binds"] >= 1)
    carrier_side.thread.run(sim.deliver, "smsc", None, mo("999", b"STOP"))
    carrier_side.thread.run(sim.deliver, "smsc", None, mo("447000111", b"YES"))
    wait_for(lambda: len(wire.answers(DeliverSmResp, "up")) == 2)
    by_destination = {pdu.destination_addr: wire.answers(DeliverSmResp, "up")[pdu.sequence_number].command_status
                      for _, direction, pdu in wire.frames if direction == "down" and type(pdu) is DeliverSm}
    assert by_destination == {"999": status.ESME_RX_R_APPN, "447000111": 0}
    assert server.runtime.inbound.counters["mo_queued"] == 1
