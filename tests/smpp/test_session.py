"""Two real sessions talking in memory: conversations, bad input, windows, sequence numbers."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from smsc.smpp import pdus, status
from smsc.smpp.errors import FramingError, PduEncodeError, StateError, UnknownCommandError, WindowFullError
from smsc.smpp.events import (
    NEED_DATA, PeerClosed, ProtocolError, RequestReceived, ResponseReceived, UnmatchedResponse,
)
from smsc.smpp.session import MAX_SEQUENCE
from smsc.smpp.state import State

from .helpers import SAMPLES, SessionPair, feed, wire


def test_full_conversation():
    pair = SessionPair()
    esme, smsc = pair.esme, pair.smsc

    (bind,) = pair.send(esme, pdus.BindTransceiver(system_id="acme", password="pw"))
    assert bind.pdu.system_id == "acme" and bind.pdu.sequence_number == 1
    assert smsc.state is State.OPEN  # not bound until the answer goes out
    bound = pair.answer(smsc, bind, system_id="smsc")
    assert bound.request.system_id == "acme"
    assert esme.state is smsc.state is State.BOUND_TRX

    (submit,) = pair.send(esme, pdus.SubmitSm(destination_addr="447700900000", short_message=b"hello"),
                          context="msg-1")
    assert submit.pdu.short_message == b"hello" and submit.pdu.sequence_number == 2
    accepted = pair.answer(smsc, submit, message_id="abc123")
    assert accepted.pdu.message_id == "abc123"
    assert accepted.request.destination_addr == "447700900000"
    assert accepted.context == "msg-1"

    (deliver,) = pair.send(smsc, pdus.DeliverSm(source_addr="447700900000", short_message=b"id:abc123"))
    assert deliver.pdu.sequence_number == 1  # each side numbers its own requests
    pair.answer(esme, deliver)

    for side in (esme, smsc):
        (link,) = pair.send(side, pdus.EnquireLink())
        pair.answer(pair.other(side), link)

    (unbind,) = pair.send(esme, pdus.Unbind())
    pair.answer(smsc, unbind)
    assert esme.state is smsc.state is State.UNBOUND
    assert esme.outstanding == smsc.outstanding == 0
    assert not esme.inbound_window_full

    assert feed(esme, b"") == [PeerClosed(0)]
    assert esme.state is State.CLOSED
    assert esme.next_event() is NEED_DATA


def test_unknown_command_id_gets_generic_nack_and_the_session_goes_on():
    pair = SessionPair()
    pair.bind()
    garbage = (16).to_bytes(4, "big") + (0x0000_0FF0).to_bytes(4, "big") + bytes(4) + (31).to_bytes(4, "big")
    (event,) = feed(pair.smsc, garbage)
    assert isinstance(event, ProtocolError) and isinstance(event.error, UnknownCommandError)
    assert event.answer == pdus.GenericNack(sequence_number=31, command_status=status.ESME_RINVCMDID)
    assert not event.close
    (nack,) = feed(pair.esme, pair.smsc.send(event.answer))
    assert isinstance(nack, UnmatchedResponse)  # the ESME never sent sequence 31
    (submit,) = pair.send(pair.esme, pdus.SubmitSm(short_message=b"still here"))
    assert pair.answer(pair.smsc, submit, message_id="1").pdu.message_id == "1"


def test_malformed_body_gets_the_operation_response_with_its_status():
    pair = SessionPair()
    pair.bind()
    good = wire(pdus.SubmitSm(sequence_number=12, destination_addr="123", short_message=b"x"))
    cut = (len(good) - 3).to_bytes(4, "big") + good[4:-3]  # body ends inside short_message
    (event,) = feed(pair.smsc, cut)
    assert isinstance(event, ProtocolError) and not event.close
    assert isinstance(event.answer, pdus.SubmitSmResp)
    assert event.answer.sequence_number == 12
    assert event.answer.command_status == event.error.command_status != 0
    pair.smsc.send(event.answer)
    (submit,) = pair.send(pair.esme, pdus.SubmitSm())
    assert isinstance(submit, RequestReceived)


def test_impossible_length_is_fatal():
    pair = SessionPair()
    pair.bind()
    events = feed(pair.smsc, wire(pdus.EnquireLink(sequence_number=3)) + b"\x00\x00\x00\x02junk")
    assert isinstance(events[0], RequestReceived)
    error = events[1]
    assert isinstance(error, ProtocolError) and isinstance(error.error, FramingError)
    assert error.close
    assert error.answer == pdus.GenericNack(command_status=status.ESME_RINVCMDLEN)
    assert len(events) == 2  # reported once, then nothing more is read
    assert feed(pair.smsc, wire(pdus.EnquireLink(sequence_number=4))) == []
    assert pair.smsc.send(error.answer)


def test_a_response_nobody_asked_for_is_reported_not_fatal():
    pair = SessionPair()
    pair.bind()
    (event,) = feed(pair.esme, wire(pdus.SubmitSmResp(sequence_number=999, message_id="x")))
    assert event == UnmatchedResponse(pdus.SubmitSmResp(sequence_number=999, message_id="x"))
    # a response of the wrong kind for a sequence number we did use is unmatched too
    pair.esme.send(pdus.SubmitSm())
    (event,) = feed(pair.esme, wire(pdus.QuerySmResp(sequence_number=2)))
    assert isinstance(event, UnmatchedResponse)
    assert pair.esme.outstanding == 1


def test_generic_nack_answers_the_request_it_names():
    pair = SessionPair()
    pair.bind()
    pair.esme.send(pdus.SubmitSm(), context="c")
    (event,) = feed(pair.esme, wire(pdus.GenericNack(sequence_number=2, command_status=status.ESME_RSYSERR)))
    assert isinstance(event, ResponseReceived) and event.context == "c"
    assert pair.esme.outstanding == 0


def test_peer_closing_mid_pdu():
    pair = SessionPair()
    pair.smsc.receive_data(wire(pdus.EnquireLink(sequence_number=1))[:10])
    assert feed(pair.smsc, b"") == [PeerClosed(unparsed=10)]


def test_close_returns_what_will_never_be_answered():
    pair = SessionPair()
    pair.bind()
    pair.esme.send(pdus.SubmitSm(short_message=b"a"), context="first", now=1.0)
    pair.esme.send(pdus.SubmitSm(short_message=b"b"), context="second", now=2.0)
    lost = pair.esme.close()
    assert [(o.context, o.sent_at, o.request.short_message) for o in lost] == [
        ("first", 1.0, b"a"), ("second", 2.0, b"b")]
    assert pair.esme.state is State.CLOSED
    with pytest.raises(StateError):
        pair.esme.send(pdus.EnquireLink())


def test_refused_send_leaves_no_trace():
    pair = SessionPair()
    with pytest.raises(StateError):
        pair.esme.send(pdus.SubmitSm())
    pair.bind()
    with pytest.raises(PduEncodeError):
        pair.esme.send(pdus.SubmitSm(short_message=b"x" * 255))
    assert pair.esme.outstanding == 0
    (submit,) = pair.send(pair.esme, pdus.SubmitSm())
    assert submit.pdu.sequence_number == 2  # the refused ones used no sequence number


# --- windows --------------------------------------------------------------------------


def test_outbound_window():
    pair = SessionPair(window=2)
    pair.bind()
    first, second = (pair.send(pair.esme, pdus.SubmitSm())[0] for _ in range(2))
    with pytest.raises(WindowFullError) as info:
        pair.esme.send(pdus.SubmitSm())
    assert info.value.command_status == status.ESME_RTHROTTLED
    (link,) = pair.send(pair.esme, pdus.EnquireLink())  # a link check is never held back
    pair.answer(pair.smsc, link)
    pair.answer(pair.smsc, first, message_id="1")
    assert isinstance(pair.send(pair.esme, pdus.SubmitSm())[0], RequestReceived)


def test_inbound_window_exceeded_is_answered_throttled():
    pair = SessionPair(window=2)
    pair.bind()
    pair.esme.window = 10  # a client allowing itself more than the server allows it
    first, second = (pair.send(pair.esme, pdus.SubmitSm())[0] for _ in range(2))
    assert pair.smsc.inbound_window_full
    (third,) = pair.send(pair.esme, pdus.SubmitSm())
    assert isinstance(third, ProtocolError) and not third.close
    assert third.answer == pdus.SubmitSmResp(sequence_number=4, command_status=status.ESME_RTHROTTLED)
    (link,) = pair.send(pair.esme, pdus.EnquireLink())  # never throttled
    assert isinstance(link, RequestReceived)
    pair.answer(pair.smsc, link)
    pair.answer(pair.smsc, first, message_id="1")
    assert not pair.smsc.inbound_window_full
    (fourth,) = pair.send(pair.esme, pdus.SubmitSm())
    assert isinstance(fourth, RequestReceived)


# --- sequence numbers -----------------------------------------------------------------


def test_sequence_numbers_wrap_to_one():
    pair = SessionPair(window=10)
    pair.bind()
    (last,) = pair.send(pair.esme, pdus.SubmitSm(sequence_number=MAX_SEQUENCE))
    (wrapped,) = pair.send(pair.esme, pdus.SubmitSm())
    assert (last.pdu.sequence_number, wrapped.pdu.sequence_number) == (MAX_SEQUENCE, 1)


def test_wrapping_skips_numbers_still_outstanding():
    pair = SessionPair(window=10)
    pair.bind()  # used 1, answered
    pair.esme.send(pdus.SubmitSm(sequence_number=4))
    pair.esme.send(pdus.SubmitSm(sequence_number=MAX_SEQUENCE))
    numbers = [feed(pair.smsc, pair.esme.send(pdus.SubmitSm()))[0].pdu.sequence_number for _ in range(4)]
    assert numbers == [1, 2, 3, 5]


def test_a_sequence_number_in_use_cannot_be_reused():
    pair = SessionPair()
    pair.bind()
    pair.esme.send(pdus.SubmitSm(sequence_number=7))
    with pytest.raises(ValueError):
        pair.esme.send(pdus.QuerySm(sequence_number=7))


# --- fuzz: whatever arrives is parsed or a protocol error, never an exception -------------

VALID_STREAM = b"".join(wire(replace(pdu, sequence_number=n)) for n, pdu in enumerate(SAMPLES.values(), 1))


@settings(max_examples=150, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, len(VALID_STREAM) - 1), st.integers(0, 255)), max_size=8),
       tail=st.binary(max_size=40))
def test_damaged_streams_give_events_and_sendable_answers(flips, tail):
    stream = bytearray(VALID_STREAM)
    for index, value in flips:
        stream[index] = value
    pair = SessionPair(window=100)
    pair.bind()
    events = feed(pair.smsc, bytes(stream) + tail)
    parsed = (RequestReceived, ResponseReceived, UnmatchedResponse)
    assert all(isinstance(event, (*parsed, ProtocolError)) for event in events)
    assert sum(isinstance(event, ProtocolError) and event.close for event in events) <= 1
    for event in events:
        if isinstance(event, ProtocolError) and event.answer is not None:
            assert pair.smsc.send(event.answer)
    if not flips and not tail:  # undamaged, every PDU decodes: refusals are the table's only
        assert len(events) == len(SAMPLES)
        assert all(isinstance(getattr(event, "error", None), (StateError, type(None))) for event in events)


def test_what_is_left_of_a_read_is_dropped_by_close():
    pair = SessionPair()
    pair.bind()
    pair.smsc.receive_data(b"".join(wire(pdus.EnquireLink(sequence_number=n)) for n in (3, 4, 5)))
    assert isinstance(pair.smsc.next_event(), RequestReceived)
    pair.smsc.close()
    assert pair.smsc.next_event() is NEED_DATA


def test_a_bad_body_in_a_read_is_answered_and_the_pdus_after_it_still_come():
    pair = SessionPair()
    pair.bind()
    bad = bytearray(wire(pdus.EnquireLink(sequence_number=4)) + b"\x00" * 4)
    bad[3] += 4  # its command_length counts 4 octets after the body: not fatal
    events = feed(pair.smsc, wire(pdus.EnquireLink(sequence_number=3)) + bytes(bad)
                  + wire(pdus.EnquireLink(sequence_number=5)))
    assert [type(event) for event in events] == [RequestReceived, ProtocolError, RequestReceived]
    assert not events[1].close and events[2].pdu.sequence_number == 5
