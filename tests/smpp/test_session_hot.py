"""Session.next_hot: the same conversation as next_event, with a tuple for a matched
response and the bare Pdu for a request. Two twin sessions are fed the same bytes after
the same sends; one is read with next_event, the other with next_hot: what they report
must be the same events and the sessions must end in the same state."""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from smsc.smpp import pdus
from smsc.smpp.events import NEED_DATA, ProtocolError, RequestReceived, ResponseReceived
from smsc.smpp.session import Outstanding, Session
from smsc.smpp.state import Role, State
from tests.smpp.helpers import NO_TIMERS, SAMPLES, SessionPair, drain, wire


def hot_events(session: Session) -> list[Any]:
    """Every item next_hot gives, turned into the events next_event would have given."""
    events: list[Any] = []
    while (item := session.next_hot()) is not NEED_DATA:
        if type(item) is tuple:
            pdu, sent = item
            assert type(sent) is Outstanding
            events.append(ResponseReceived(pdu, sent.request, sent.sent_at, sent.context))
        elif isinstance(item, pdus.Pdu):
            events.append(RequestReceived(item))
        else:
            assert not isinstance(item, (RequestReceived, ResponseReceived)), item
            events.append(item)
    return events


def twins(role: Role, window: int) -> tuple[Session, Session]:
    """Two sessions of `role`, bound as transceivers, each with the same requests out."""
    sessions = []
    for _ in range(2):
        pair = SessionPair(window=window)
        pair.bind()
        session = pair.esme if role is Role.ESME else pair.smsc
        request = pdus.SubmitSm(destination_addr="1") if role is Role.ESME else pdus.DeliverSm(destination_addr="1")
        for n in range(3):
            session.send(request, context=("context", n), now=1.0)
        sessions.append(session)
    return sessions[0], sessions[1]


def state_of(session: Session) -> tuple[Any, ...]:
    return (session.state, dict(session._outstanding), set(session._unanswered), session._broken)


def test_hot_items_for_a_response_and_a_request():
    pair = SessionPair(window=10)
    pair.bind()
    pair.esme.send(pdus.SubmitSm(destination_addr="1"), context=("mine", 0))
    pair.esme.receive_data(wire(pdus.SubmitSmResp(sequence_number=2, message_id="ab"))
                           + wire(pdus.DeliverSm(sequence_number=7, destination_addr="2")))
    response, request = pair.esme.next_hot(), pair.esme.next_hot()
    assert type(response) is tuple and response[0] == pdus.SubmitSmResp(sequence_number=2, message_id="ab")
    assert response[1].context == ("mine", 0) and response[1].request.sequence_number == 2
    assert request == pdus.DeliverSm(sequence_number=7, destination_addr="2")
    assert pair.esme.next_hot() is NEED_DATA
    assert pair.esme.outstanding == 0 and pair.esme.send(request.response())  # owed, then answered


def test_a_refused_bind_stays_open_on_both_paths():
    for read in (drain, hot_events):
        session = Session(Role.ESME, now=0.0, **NO_TIMERS)
        session.send(pdus.BindTransceiver(system_id="a"))
        session.receive_data(wire(pdus.BindTransceiverResp(sequence_number=1, command_status=0x0E)))
        (event,) = read(session)
        assert isinstance(event, ResponseReceived) and session.state is State.OPEN


# Streams of PDUs a peer might send: every operation (allowed or not in the bound state),
# responses matching one of our requests or none, and now and then a damaged byte.
_PDU = st.tuples(st.sampled_from(list(SAMPLES.values())), st.integers(1, 6), st.integers(0, 3))


@settings(max_examples=60, deadline=None)
@given(role=st.sampled_from(list(Role)), stream=st.lists(_PDU, max_size=14), window=st.integers(3, 6),
       flip=st.one_of(st.none(), st.tuples(st.integers(0, 400), st.integers(0, 255))), cut=st.integers(1, 64))
def test_next_hot_reports_what_next_event_reports(role, stream, window, flip, cut):
    data = bytearray(b"".join(wire(replace(pdu, sequence_number=sequence, command_status=status if pdu.is_response else 0))
                              for pdu, sequence, status in stream))
    if flip is not None and data:
        data[flip[0] % len(data)] = flip[1]
    plain, hot = twins(role, window)
    seen_plain, seen_hot = [], []
    for start in range(0, len(data), cut):
        chunk = bytes(data[start:start + cut])
        plain.receive_data(chunk, now=2.0)
        hot.receive_data(chunk, now=2.0)
        seen_plain += drain(plain)
        seen_hot += hot_events(hot)
        assert state_of(plain) == state_of(hot)
    plain.receive_data(b"")
    hot.receive_data(b"")
    seen_plain += drain(plain)
    seen_hot += hot_events(hot)
    assert _comparable(seen_plain) == _comparable(seen_hot)
    assert state_of(plain) == state_of(hot)


def _comparable(events: list[Any]) -> list[Any]:
    # Errors compare by what they carry, not by identity.
    return [(type(event), event.error.command_status, event.error.sequence_number, event.answer, event.close)
            if isinstance(event, ProtocolError) else event for event in events]
