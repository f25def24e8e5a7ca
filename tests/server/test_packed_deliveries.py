"""Queued deliver_sm taken packed (OutboundClaim.take_packed) and decoded straight into
the DeliverSm (gateway.deliver_sm_of), against the dict way they replace."""
from __future__ import annotations

import asyncio

import pytest

from smsc import dlr
from smsc.gateway import deliver_sm_of
from smsc.smpp.constants import MessageState, Tag
from smsc.smpp.pdus import DeliverSm
from smsc.store import OutboundState, Store
from smsc.store.blobs import pack

NOW = 1_700_000_000.0
RECEIPT = dlr.receipt_deliver_sm(message_id="00000000000004d2", state=MessageState.DELIVERED, submitted=NOW,
                                 done=NOW + 3, source="447700900001", destination="Shop", source_ton=1,
                                 source_npi=1, text="Your code is 1234")


def test_a_packed_receipt_decodes_to_the_deliver_sm_its_fields_make():
    deliver = deliver_sm_of(pack(RECEIPT))
    fields = {name: value for name, value in RECEIPT.items() if name != "tlvs"}
    assert deliver == DeliverSm(**fields, tlvs=tuple(tuple(tlv) for tlv in RECEIPT["tlvs"]))
    assert deliver.tlv(Tag.RECEIPTED_MESSAGE_ID) == "00000000000004d2"


def test_keys_that_are_no_body_field_are_ignored_and_the_session_numbers_it():
    body = {**RECEIPT, "incomplete": True, "sequence_number": 7, "command_status": 8}
    deliver = deliver_sm_of(pack(body))
    assert (deliver.sequence_number, deliver.command_status) == (0, 0)
    assert deliver == deliver_sm_of(pack(RECEIPT))


@pytest.mark.parametrize("bad", [{"short_message": "text"}, {"esm_class": "4"}, {"tlvs": [[1]]}])
def test_a_value_of_the_wrong_type_is_a_value_error(bad):
    with pytest.raises(ValueError):
        deliver_sm_of(pack({**RECEIPT, **bad}))


def test_take_packed_gives_handed_and_stored_items_as_the_store_keeps_them(tmp_path):
    async def scenario():
        store = await Store.open(str(tmp_path / "smsc.db"), clock=lambda: NOW, lease=60.0)
        try:
            stored = [await store.enqueue("acme", {**RECEIPT, "esm_class": n}, kind="receipt") for n in range(2)]
            claim = store.claim_outbound("acme")
            from_table = await claim.take_packed(10)  # and now caught up: new items are handed over
            handed = [await store.enqueue("acme", {**RECEIPT, "esm_class": 2}, kind="receipt")]
            from_hand = await claim.take_packed(10)
            in_flight = claim.in_flight
            await claim.release()  # unanswered: due again at once
            return stored, from_table, handed, from_hand, in_flight, await store.outbound("acme")
        finally:
            await store.close()

    stored, from_table, handed, from_hand, in_flight, rows = asyncio.run(scenario())
    assert [item_id for item_id, _ in from_table] == stored
    assert [item_id for item_id, _ in from_hand] == handed
    assert [deliver_sm_of(body).esm_class for _, body in from_table + from_hand] == [0, 1, 2]
    assert all(type(body) is bytes for _, body in from_table + from_hand)
    assert in_flight == 3
    assert rows == [(item_id, OutboundState.PENDING, 1) for item_id in stored + handed]
