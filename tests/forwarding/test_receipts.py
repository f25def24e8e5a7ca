"""Receipts from the carrier: per part for long messages (one receipt for the client when
all parts are final), and before the submit_sm_resp they answer."""
from __future__ import annotations

import asyncio
import time

from smsc import dlr
from smsc.aio.inbound import Inbound
from smsc.smpp import status
from smsc.smpp.constants import EsmClass, MessageState
from smsc.smpp.pdus import DeliverSm
from smsc.store import NewMessage, Store
from smsc.store import forwarding as fw
from tests.forwarding.conftest import bound, forwarding_config, simulated, upstream


def receipts_for(client, message_id: str, quiet: float = 0.5) -> list:
    """The deliver_sm the client gets until `quiet` seconds pass without one (acked)."""
    client._socket.settimeout(quiet)
    got = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pdu = client.read_pdu()
        except Exception:
            break
        if pdu.command == "deliver_sm":
            client.send_pdu(client_pdu_resp(client, pdu))
            got.append(pdu)
    return [pdu for pdu in got if pdu.receipted_message_id.decode() == message_id]


def client_pdu_resp(client, pdu):
    import smpplib.smpp
    resp = smpplib.smpp.make_pdu("deliver_sm_resp", client=client)
    resp.sequence = pdu.sequence  # make_pdu takes sequence= but does not use it: the ack must match
    return resp


def submit(client, **fields) -> str:
    client.send_message(source_addr="Shop", destination_addr="447700900001", registered_delivery=1, **fields)
    resp = client.read_pdu()
    assert resp.status == 0
    return resp.message_id.decode()


def test_a_long_message_goes_in_parts_and_the_client_gets_one_receipt_when_all_are_final(serve, tmp_path, sim_of):
    server = serve(forwarding_config(tmp_path))
    client = bound(server)
    text = ("twenty chars of text" * 19).encode()  # 380 GSM-7 characters: three parts
    message_id = submit(client, short_message=b"", message_payload=text)
    receipts = receipts_for(client, message_id)
    assert len(receipts) == 1 and b"stat:DELIVRD" in receipts[0].short_message
    sim = sim_of(server)
    assert sim.counters["submit_sm"] == 3 and sim.receipt_states["DELIVERED"] == 3
    stored = server.call(server.store.get(message_id))
    assert stored.state == MessageState.DELIVERED and stored.segments == 3
    client.unbind()
    client.disconnect()


def test_a_receipt_before_its_submit_sm_resp_is_kept_and_applied(serve, tmp_path, sim_of):
    server = serve(forwarding_config(tmp_path, upstreams=(simulated(receipt_first=True),)))
    client = bound(server)
    message_id = submit(client, short_message=b"quick carrier")
    receipts = receipts_for(client, message_id, quiet=2.5)  # housekeeping (1 s) may be the one to match it
    assert len(receipts) == 1
    assert server.call(server.store.get(message_id)).state == MessageState.DELIVERED
    counters = server.runtime.inbound.counters
    # Which way it went depends on timing: matched at once, or kept and applied later.
    assert counters["receipts_applied"] == 1 and counters["receipts_unknown"] == counters["receipts_early_applied"]
    client.unbind()
    client.disconnect()


def test_an_unknown_receipt_is_answered_kept_and_applied_when_its_id_turns_up(tmp_path):
    asyncio.run(unknown_receipt_kept_then_applied(tmp_path))


async def unknown_receipt_kept_then_applied(tmp_path) -> None:
    store = await Store.open(str(tmp_path / "s.db"))
    try:
        config = forwarding_config(tmp_path, upstreams=(upstream(message_id_format="hex"),))
        inbound = Inbound(config, store)
        settings = config.upstreams[0]
        message_id = await store.accept(NewMessage("shop", "Shop", "447700900001", {"short_message": b"x"},
                                                   registered_delivery=1))
        receipt = DeliverSm(esm_class=EsmClass.TYPE_DELIVERY_RECEIPT, short_message=dlr.build_text(
            "00FF", MessageState.DELIVERED, 0.0, 0.0).encode())  # hex, where the carrier said 255
        assert await inbound.handle(settings, receipt) == 0
        assert inbound.counters["receipts_unknown"] == 1
        assert (await store.get(message_id)).state == MessageState.ENROUTE
        await store.update(message_id, upstream=settings.name, carrier_id="255")
        applying = inbound.sent(settings, ["255"])
        assert applying is not None  # a kept receipt may match: it is looked up
        await applying
        assert (await store.get(message_id)).state == MessageState.DELIVERED
        assert inbound.counters["receipts_early_applied"] == 1
        assert await inbound.handle(settings, receipt) == 0  # a repeat: answered, counted
        assert inbound.counters["receipts_unknown"] == 2 or inbound.counters["receipts_repeated"] == 1
    finally:
        await store.close()


def test_an_mo_no_route_takes_is_refused_with_a_non_zero_status(tmp_path):
    asyncio.run(unrouted_mo(tmp_path))


async def unrouted_mo(tmp_path) -> None:
    store = await Store.open(str(tmp_path / "s.db"))
    try:
        config = forwarding_config(tmp_path)
        inbound = Inbound(config, store)
        mo = DeliverSm(source_addr="447700900777", destination_addr="12345", short_message=b"STOP")
        assert await inbound.handle(config.upstreams[0], mo) == status.ESME_RX_R_APPN
    finally:
        await store.close()


def test_a_carrier_reporting_only_the_last_part_still_ends_the_message(tmp_path):
    asyncio.run(only_last_part_reported(tmp_path))


async def only_last_part_reported(tmp_path) -> None:
    now = [1_000.0]
    store = await Store.open(str(tmp_path / "s.db"), clock=lambda: now[0])
    try:
        config = forwarding_config(tmp_path)
        inbound = Inbound(config, store, clock=lambda: now[0])
        settings = config.upstreams[0]
        message_id = await store.accept(NewMessage("shop", "Shop", "447700900001", {"short_message": b""},
                                                   registered_delivery=1, segments=3))
        await fw.record_parts(store, settings.name, message_id, ["a1", "a2", "a3"], now[0])
        await store.update(message_id, upstream=settings.name, carrier_id="a1")
        receipt = DeliverSm(esm_class=EsmClass.TYPE_DELIVERY_RECEIPT, short_message=dlr.build_text(
            "a3", MessageState.UNDELIVERABLE, 0.0, 0.0, err=11).encode())
        assert await inbound.handle(settings, receipt) == 0
        await inbound.housekeeping()
        assert (await store.get(message_id)).state == MessageState.ENROUTE  # the others may still come
        now[0] += config.forwarding.parts_grace + 1
        await inbound.housekeeping()
        assert (await store.get(message_id)).state == MessageState.UNDELIVERABLE
    finally:
        await store.close()


def test_read_receipt_takes_the_tlvs_else_the_text_and_the_first_of_a_repeated_tag():
    from smsc.aio.inbound import read_receipt
    from smsc.smpp.constants import Tag

    both = DeliverSm(esm_class=EsmClass.TYPE_DELIVERY_RECEIPT, short_message=b"id:zz stat:EXPIRED",
                     tlvs=((int(Tag.RECEIPTED_MESSAGE_ID), "Ab12"), (int(Tag.MESSAGE_STATE), 5),
                           (int(Tag.NETWORK_ERROR_CODE), dlr.network_error_code(17)),
                           (int(Tag.MESSAGE_STATE), 2)))
    facts = read_receipt(both)
    assert (facts.carrier_id, facts.state, facts.error) == ("Ab12", MessageState.UNDELIVERABLE, 17)
    text_only = DeliverSm(esm_class=EsmClass.TYPE_DELIVERY_RECEIPT,
                          short_message=dlr.build_text("77", MessageState.EXPIRED, 0.0, 60.0, err=3).encode())
    facts = read_receipt(text_only)
    assert (facts.carrier_id, facts.state, facts.error) == ("77", MessageState.EXPIRED, 3)
    # an unknown message_state value: the text's stat word decides
    odd_state = DeliverSm(esm_class=EsmClass.TYPE_DELIVERY_RECEIPT, short_message=b"id:9 stat:DELIVRD",
                          tlvs=((int(Tag.MESSAGE_STATE), 99),))
    assert read_receipt(odd_state).state == MessageState.DELIVERED
    assert read_receipt(DeliverSm(short_message=b"hello")) is None  # MO


def test_a_read_of_receipts_is_answered_in_order_after_one_commit(tmp_path):
    asyncio.run(read_of_receipts(tmp_path))


async def read_of_receipts(tmp_path) -> None:
    store = await Store.open(str(tmp_path / "s.db"))
    try:
        config = forwarding_config(tmp_path)
        inbound = Inbound(config, store)
        settings = config.upstreams[0]
        first, second = await store.accept_many(
            [NewMessage("shop", "Shop", "447700900001", {"short_message": b"x"}, registered_delivery=1)] * 2)
        await store.update_many([(first, settings.name, "a1"), (second, settings.name, "a2")])

        def receipt(sequence_number: int, carrier_id: str, state: MessageState) -> DeliverSm:
            return DeliverSm(sequence_number=sequence_number, esm_class=EsmClass.TYPE_DELIVERY_RECEIPT,
                             short_message=dlr.build_text(carrier_id, state, 0.0, 0.0, err=11).encode())

        read = [receipt(1, "a1", MessageState.DELIVERED), receipt(2, "a2", MessageState.ENROUTE),
                receipt(3, "a2", MessageState.UNDELIVERABLE), receipt(4, "a1", MessageState.DELIVERED),
                DeliverSm(sequence_number=5, esm_class=EsmClass.TYPE_DELIVERY_RECEIPT, short_message=b"stat:DELIVRD")]
        before = store.transactions
        answers: list[tuple[int, int | BaseException, int]] = []
        done = asyncio.Event()

        def respond(pdu, outcome) -> None:
            answers.append((pdu.sequence_number, outcome, store.transactions - before))
            if len(answers) == len(read):
                done.set()

        inbound.answer_read(settings, read, respond)
        await asyncio.wait_for(done.wait(), 5)
        # The intermediate and the unreadable at once; the finals in order after their commit.
        assert answers == [(2, 0, 0), (5, 0, 0), (1, 0, 1), (3, 0, 1), (4, 0, 1)]
        assert (inbound.counters["receipts_applied"], inbound.counters["receipts_repeated"]) == (2, 1)
        assert [(await store.get(i)).state for i in (first, second)] == [MessageState.DELIVERED,
                                                                         MessageState.UNDELIVERABLE]
    finally:
        await store.close()
