"""The client receipt the store builds (default_receipt): its echoed text, read the short
way for plain GSM-7, is the text decode_text reads, and its fields are receipt_deliver_sm's."""
from __future__ import annotations

import msgspec
from hypothesis import given, settings, strategies as st

from smsc import dlr
from smsc.codec.decoding import decode_text
from smsc.smpp.constants import EsmClass, MessageState
from smsc.store.store import _excerpt, default_receipt
from smsc.store.types import Message

# Octets GSM-7 reads as ASCII and octets it does not (@ $ ¤ ¡ Ä ... and the escape), mixed.
OCTETS = st.binary(max_size=200) | st.lists(st.sampled_from(b"Ab1 $@[\x1b\x00\n{~\x80"), max_size=40).map(bytes)


@settings(max_examples=300, deadline=None)
@given(OCTETS, st.sampled_from([0, 1, 3, 8]))
def test_the_excerpt_is_the_start_of_the_text_decode_text_reads(short_message, coding):
    body = {"short_message": short_message, "data_coding": coding, "esm_class": 0}
    try:
        expected = decode_text(short_message, coding)[:dlr.TEXT_CHARS] if short_message else ""
    except Exception:
        expected = ""
    assert _excerpt(body) == expected


def test_a_message_with_a_header_echoes_its_text_after_the_header():
    udh = bytes((5, 0, 3, 7, 2, 1))
    body = {"short_message": udh + b"Hello there", "data_coding": 0, "esm_class": int(EsmClass.UDHI)}
    assert _excerpt(body) == "Hello there"


def test_the_default_receipt_is_receipt_deliver_sm_of_the_message():
    body = {"short_message": b"Your code is 482913. It expires soon", "data_coding": 0, "source_addr_ton": 5,
            "source_addr_npi": 0, "dest_addr_ton": 1, "dest_addr_npi": 1}
    message = Message("00000000000a1b2c", "acme", "Shop", "447700900001", "svc", MessageState.UNDELIVERABLE,
                      1_700_000_000.0, 1_700_000_000.0, None, 1_700_000_050.0, 1_700_000_050.0, 1, 1, "sim", "c1", 34,
                      body)
    assert default_receipt(message, 1_700_000_050.0) == dlr.receipt_deliver_sm(
        message_id=message.id, state=MessageState.UNDELIVERABLE, submitted=1_700_000_000.0, done=1_700_000_050.0,
        source="Shop", destination="447700900001", source_ton=5, source_npi=0, dest_ton=1, dest_npi=1,
        service_type="svc", segments=1, error=34, text="Your code is 482913.")
    assert default_receipt(msgspec.structs.replace(message, registered_delivery=0), 1_700_000_050.0) is None
