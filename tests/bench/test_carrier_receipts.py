"""The simulator's receipts, encoded from their parts, are byte for byte the PDU dlr's
fields give through the codec; its plain path (every submit accepted) answers as the
general one."""
from __future__ import annotations

import re
import socket
from dataclasses import replace

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as s

from smsc.bench.carrier_sim import Behaviour, ReceiptEncoder
from smsc.codec import pdu as pdu_codec
from smsc.dlr import parse_text, receipt_deliver_sm
from smsc.smpp.constants import MessageState, Npi, Ton
from smsc.smpp.pdus import BindTransceiver, DeliverSm, GenericNack, Pdu, SubmitSm, SubmitSmResp

from tests.bench.conftest import running_sim

ADDRESS = s.text(s.characters(min_codepoint=1, max_codepoint=255), max_size=20)
TON, NPI = s.sampled_from([int(t) for t in Ton]), s.sampled_from([int(n) for n in Npi])
SIM_STATES = [(MessageState.DELIVERED, 0), (MessageState.UNDELIVERABLE, 1), (MessageState.EXPIRED, 0)]


def through_the_codec(submit: SubmitSm, message_id: bytes, state: int, error: int, submitted: float,
                      done: float) -> bytes:
    fields = receipt_deliver_sm(
        message_id=message_id.decode(), state=state, submitted=submitted, done=done, source=submit.source_addr,
        destination=submit.destination_addr, source_ton=submit.source_addr_ton, source_npi=submit.source_addr_npi,
        dest_ton=submit.dest_addr_ton, dest_npi=submit.dest_addr_npi, error=error,
        text=submit.short_message[:20].decode("latin-1"))
    fields["tlvs"] = tuple(tuple(tlv) for tlv in fields["tlvs"])
    return pdu_codec.encode(DeliverSm(**fields))


@settings(max_examples=200, deadline=None)
@given(source=ADDRESS, destination=ADDRESS, tons=s.tuples(TON, NPI, TON, NPI),
       text=s.binary(max_size=160), number=s.integers(0, 2**64 - 1), drawn=s.sampled_from(SIM_STATES),
       submitted=s.floats(1.6e9, 4.0e9), delay=s.floats(0, 7200),
       other=s.sampled_from([MessageState.ENROUTE, MessageState.REJECTED, MessageState.DELETED]))
def test_encoded_receipts_equal_dlr_through_the_codec(source, destination, tons, text, number, drawn, submitted,
                                                       delay, other):
    submit = SubmitSm(source_addr_ton=tons[0], source_addr_npi=tons[1], source_addr=source, dest_addr_ton=tons[2],
                      dest_addr_npi=tons[3], destination_addr=destination, registered_delivery=1, short_message=text)
    message_id = b"%016x" % number
    encoder = ReceiptEncoder()
    for state, error in (drawn, (other, 0), (other, number % 1000)):
        expected = through_the_codec(submit, message_id, state, error, submitted, submitted + delay)
        assert encoder.encode(submit, message_id, state, error, submitted, submitted + delay) == expected
        # the cached text around the id serves the next receipt of the same minutes
        assert encoder.encode(submit, message_id, state, error, submitted, submitted + delay) == expected


def test_the_text_echoes_the_submit_in_ascii():
    submit = SubmitSm(source_addr="SHOP", destination_addr="447700900001",
                      short_message="Grüße aus Köln, 20 Zeichen".encode("latin-1"))
    encoded = ReceiptEncoder().encode(submit, b"00000000000000ff", MessageState.DELIVERED, 0, 1.8e9, 1.8e9 + 1)
    receipt = pdu_codec.decode(encoded)
    assert receipt.short_message.endswith(b"stat:DELIVRD err:000 text:Gr??e aus K?ln, 20 Z")  # 20 octets
    assert receipt.source_addr == "447700900001" and receipt.destination_addr == "SHOP"
    assert receipt.sequence_number == 0 and receipt.esm_class == 0x04


def test_the_cache_of_texts_stays_small():
    encoder = ReceiptEncoder()
    submit = SubmitSm(source_addr="SHOP", destination_addr="447700900001", short_message=b"hi")
    for minute in range(2000):
        at = 1.8e9 + 60 * minute
        assert encoder.encode(submit, b"0" * 16, MessageState.DELIVERED, 0, at, at) == through_the_codec(
            submit, b"0" * 16, MessageState.DELIVERED, 0, at, at)
    assert len(encoder._texts) <= 1024


# --- the plain path (every submit accepted) and the general one, over a socket ----------

PLAIN = Behaviour(receipts=True, undeliv_share=0.3, expired_share=0.2, seed=8)
# the same draws, through the general path: a throttle no test reaches (it draws nothing)
GENERAL = replace(PLAIN, throttle_rate=1e9)


def _exchange(behaviour: Behaviour, frames: list[bytes], expected: int) -> list[Pdu]:
    """Bind a transceiver, send `frames`, and read `expected` PDUs back (bind_resp first)."""
    with running_sim(behaviour) as sim, socket.create_connection(("127.0.0.1", sim.port), timeout=5) as sock:
        sock.sendall(pdu_codec.encode(BindTransceiver(sequence_number=1, system_id="esme", password="x")))
        sock.sendall(b"".join(frames))
        data, pdus = b"", []
        while len(pdus) < expected:
            data += sock.recv(65536)
            while len(data) >= 4 and len(data) >= int.from_bytes(data[:4], "big"):
                length = int.from_bytes(data[:4], "big")
                pdus.append(pdu_codec.decode(data[:length]))
                data = data[length:]
        assert sim.plain == (behaviour == PLAIN)
    return pdus


def _submits(count: int) -> list[bytes]:
    return [pdu_codec.encode(SubmitSm(sequence_number=2 + i, source_addr="SHOP", dest_addr_ton=1, dest_addr_npi=1,
                                      destination_addr=f"4477009{i:05d}", registered_delivery=1,
                                      short_message=b"hello %d" % i)) for i in range(count)]


def _without_dates(pdu: Pdu) -> Pdu:
    if isinstance(pdu, DeliverSm):
        return msgspec.structs.replace(pdu, short_message=re.sub(rb"date:\d+", b"", pdu.short_message))
    return pdu


def test_the_plain_path_answers_and_receipts_as_the_general_one():
    plain, general = (_exchange(b, _submits(40), 81) for b in (PLAIN, GENERAL))
    assert [_without_dates(p) for p in plain] == [_without_dates(p) for p in general]
    assert sum(isinstance(p, DeliverSm) for p in plain) == 40
    assert {parse_text(p.short_message).stat for p in plain if isinstance(p, DeliverSm)} == {
        "DELIVRD", "UNDELIV", "EXPIRED"}


@pytest.mark.parametrize("behaviour", [PLAIN, GENERAL])
def test_a_submit_that_does_not_decode_gets_generic_nack_and_the_next_one_is_answered(behaviour):
    bad = bytearray(_submits(1)[0])
    bad[-len(b"hello 0") - 1] = 0xFF  # sm_length past the end of the PDU
    pdus = _exchange(behaviour, [bytes(bad), *_submits(1)], 4)
    nack, answer = pdus[1], pdus[2]
    assert isinstance(nack, GenericNack) and nack.command_status and nack.sequence_number == 2
    assert isinstance(answer, SubmitSmResp) and answer.command_status == 0 and answer.message_id
