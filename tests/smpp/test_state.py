"""The bind state table, alone and as two real sessions apply it."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from smsc.smpp import pdus, status
from smsc.smpp.errors import StateError
from smsc.smpp.events import NEED_DATA, ProtocolError, RequestReceived, ResponseReceived, UnmatchedResponse
from smsc.smpp.state import BOUND, RESPONSE_BIT, TRANSITIONS, Role, State, transition

from .helpers import SAMPLES, SessionPair, feed, wire

ESME, SMSC = Role.ESME, Role.SMSC


def allowed(state: State, pdu_class: type[pdus.Pdu], sender: Role) -> bool:
    return (state, pdu_class.command_id, sender) in TRANSITIONS


# --- the table itself ----------------------------------------------------------------


def test_nothing_is_sent_on_a_closed_connection():
    assert not [key for key in TRANSITIONS if key[0] is State.CLOSED]
    with pytest.raises(StateError):
        transition(State.CLOSED, pdus.SubmitSmResp(command_status=status.ESME_RSYSERR), SMSC)


def test_every_request_allowed_can_be_answered_even_after_an_unbind():
    for (state, command_id, sender) in TRANSITIONS:
        request = pdus.PDU_CLASSES[command_id]
        response = pdus.RESPONSE_CLASS.get(request)
        if command_id & RESPONSE_BIT or response is None or request in pdus.BIND_CLASSES:
            continue
        assert allowed(state, response, sender.peer), (state, request, sender)
        assert allowed(State.UNBOUND, response, sender.peer), (request, sender)


def test_each_side_sends_only_its_own_operations():
    smsc_only = {pdus.DeliverSm, pdus.AlertNotification, pdus.Outbind, pdus.SubmitSmResp,
                 pdus.BindTransmitterResp, pdus.BindReceiverResp, pdus.BindTransceiverResp}
    esme_only = {pdus.SubmitSm, pdus.SubmitMulti, pdus.QuerySm, pdus.CancelSm, pdus.ReplaceSm,
                 pdus.DeliverSmResp, *pdus.BIND_CLASSES}
    for state in State:
        for cls in smsc_only:
            assert not allowed(state, cls, ESME)
        for cls in esme_only:
            assert not allowed(state, cls, SMSC)


def test_binds_move_only_through_a_successful_response():
    for bind in pdus.BIND_CLASSES:
        assert transition(State.OPEN, bind(), ESME) is State.OPEN
    assert transition(State.OPEN, pdus.BindTransmitterResp(), SMSC) is State.BOUND_TX
    assert transition(State.OPEN, pdus.BindReceiverResp(), SMSC) is State.BOUND_RX
    assert transition(State.OPEN, pdus.BindTransceiverResp(), SMSC) is State.BOUND_TRX
    refused = pdus.BindTransceiverResp(command_status=status.ESME_RBINDFAIL)
    assert transition(State.OPEN, refused, SMSC) is State.OPEN


def test_an_error_answer_is_allowed_anywhere_open_and_moves_nothing():
    refusal = pdus.SubmitSmResp(sequence_number=4, command_status=status.ESME_RINVBNDSTS)
    for state in set(State) - {State.CLOSED}:
        assert transition(state, refusal, SMSC) is state
        assert transition(state, refusal, ESME) is state  # answering a misplaced submit_sm


@pytest.mark.parametrize("state", BOUND)
def test_second_bind_is_already_bound(state):
    with pytest.raises(StateError) as info:
        transition(state, pdus.BindTransceiver(sequence_number=9), ESME)
    assert info.value.command_status == status.ESME_RALYBND
    assert info.value.sequence_number == 9


@pytest.mark.parametrize("pdu,sender,state", [
    (pdus.SubmitSm(), ESME, State.OPEN),
    (pdus.SubmitSm(), ESME, State.BOUND_RX),
    (pdus.SubmitSm(), ESME, State.UNBOUND),
    (pdus.DeliverSm(), SMSC, State.BOUND_TX),
    (pdus.DeliverSm(), SMSC, State.OPEN),
    (pdus.DataSm(), ESME, State.BOUND_RX),
    (pdus.DataSm(), SMSC, State.BOUND_TX),
    (pdus.Unbind(), ESME, State.OPEN),
    (pdus.BindTransmitter(), ESME, State.UNBOUND),
])
def test_wrong_bind_state(pdu, sender, state):
    with pytest.raises(StateError) as info:
        transition(state, pdu, sender)
    assert info.value.command_status == status.ESME_RINVBNDSTS


# --- two sessions applying it ----------------------------------------------------------


def test_submit_before_bind():
    pair = SessionPair()
    with pytest.raises(StateError) as info:
        pair.esme.send(pdus.SubmitSm())
    assert info.value.command_status == status.ESME_RINVBNDSTS
    assert pair.esme.outstanding == 0
    # and from a client that does not check: answered with the precise status
    (event,) = feed(pair.smsc, wire(pdus.SubmitSm(sequence_number=77)))
    assert isinstance(event, ProtocolError) and not event.close
    assert event.answer == pdus.SubmitSmResp(sequence_number=77, command_status=status.ESME_RINVBNDSTS)
    pair.smsc.send(event.answer)  # the answer itself is allowed before the bind


def test_second_bind_on_a_bound_session():
    pair = SessionPair()
    pair.bind()
    (event,) = feed(pair.smsc, wire(pdus.BindTransmitter(sequence_number=5)))
    assert isinstance(event, ProtocolError)
    assert event.answer == pdus.BindTransmitterResp(sequence_number=5, command_status=status.ESME_RALYBND)
    assert pair.smsc.state is State.BOUND_TRX


@pytest.mark.parametrize("bind,sender,operation", [
    (pdus.BindReceiver, "esme", pdus.SubmitSm),  # a receiver may not submit
    (pdus.BindTransmitter, "smsc", pdus.DeliverSm),  # a transmitter is delivered nothing
])
def test_operation_outside_the_bind_type(bind, sender, operation):
    pair = SessionPair()
    pair.bind(bind)
    sending = getattr(pair, sender)
    with pytest.raises(StateError) as info:
        sending.send(operation())
    assert info.value.command_status == status.ESME_RINVBNDSTS
    (event,) = feed(pair.other(sending), wire(operation(sequence_number=8)))
    assert event.answer == pdus.RESPONSE_CLASS[operation](sequence_number=8, command_status=status.ESME_RINVBNDSTS)


def test_refused_bind_leaves_both_sides_open_and_a_retry_works():
    pair = SessionPair()
    (request,) = pair.send(pair.esme, pdus.BindTransmitter(password="wrong"))
    pair.answer(pair.smsc, request, status.ESME_RINVPASWD)
    assert pair.esme.state is pair.smsc.state is State.OPEN
    pair.bind(pdus.BindTransmitter)
    assert pair.esme.state is pair.smsc.state is State.BOUND_TX


def test_a_bind_response_answering_no_bind_of_ours_binds_nothing():
    pair = SessionPair()
    (event,) = feed(pair.esme, wire(pdus.BindTransceiverResp(sequence_number=1)))
    assert isinstance(event, UnmatchedResponse)
    assert pair.esme.state is State.OPEN


def test_unbind_then_only_answers():
    pair = SessionPair()
    pair.bind()
    (submit,) = pair.send(pair.esme, pdus.SubmitSm(short_message=b"before"))
    (unbind,) = pair.send(pair.esme, pdus.Unbind())
    assert pair.esme.state is pair.smsc.state is State.UNBOUND
    with pytest.raises(StateError):
        pair.smsc.send(pdus.DeliverSm())
    pair.answer(pair.smsc, submit, message_id="m1")  # still owed after the unbind
    pair.answer(pair.smsc, unbind)
    assert pair.esme.state is pair.smsc.state is State.UNBOUND
    assert pair.esme.outstanding == 0


def test_crossing_unbinds():
    pair = SessionPair()
    pair.bind()
    to_smsc = pair.esme.send(pdus.Unbind())
    to_esme = pair.smsc.send(pdus.Unbind())
    (at_smsc,) = feed(pair.smsc, to_smsc)
    (at_esme,) = feed(pair.esme, to_esme)
    assert isinstance(at_smsc, RequestReceived) and isinstance(at_esme, RequestReceived)


# --- hypothesis: every (state, PDU, role, direction) obeys the table ---------------------

STATES = list(State)
CLASSES = list(SAMPLES)


@settings(max_examples=150, deadline=None)
@given(state=st.sampled_from(STATES), cls=st.sampled_from(CLASSES), role=st.sampled_from(list(Role)),
       sending=st.booleans(), failed=st.booleans())
def test_sessions_obey_the_table(state, cls, role, sending, failed):
    pair = SessionPair(window=100)
    pair.to_state(state)
    session = pair.esme if role is ESME else pair.smsc
    pdu = SAMPLES[cls]
    is_response = bool(cls.command_id & RESPONSE_BIT)
    if is_response and failed:
        pdu = replace(pdu, command_status=status.ESME_RSYSERR)
    sender = role if sending else role.peer
    try:
        expected = transition(state, pdu, sender)
    except StateError as error:
        expected = error
    if sending:
        check_send(session, pdu, expected)
    else:
        check_receive(session, state, replace(pdu, sequence_number=4242), expected)


def check_send(session, pdu, expected):
    if isinstance(expected, StateError):
        with pytest.raises(StateError) as info:
            session.send(pdu)
        assert info.value.command_status == expected.command_status
    else:
        assert session.send(pdu)
        assert session.state is expected


def check_receive(session, state, pdu, expected):
    events = feed(session, wire(pdu))
    if state is State.CLOSED:
        assert events == []  # nothing is read after the peer closed
        return
    (event,) = events
    if isinstance(expected, StateError):
        assert isinstance(event, ProtocolError) and isinstance(event.error, StateError)
        assert event.error.command_status == expected.command_status
        if pdu.is_response:
            assert event.answer is None  # nothing is ever answered to a response
        else:
            assert event.answer.command_status == expected.command_status
            assert event.answer.sequence_number == 4242
        assert session.state is state
    elif pdu.is_response:
        assert isinstance(event, (UnmatchedResponse, ResponseReceived))
    else:
        assert event == RequestReceived(pdu)
        assert session.state is expected
    assert session.next_event() is NEED_DATA
