"""Timers without sleeping: time is the number the test passes in."""
from __future__ import annotations

from smsc.smpp import pdus
from smsc.smpp.events import (
    BindTimeout, EnquireLinkDue, InactivityTimeout, ResponseReceived, ResponseTimeout,
    UnmatchedResponse,
)
from smsc.smpp.state import State

from .helpers import SessionPair, feed


def test_enquire_link_due_after_the_interval_idle():
    pair = SessionPair(now=100.0, enquire_link_interval=30.0)
    assert pair.esme.next_deadline() is None  # never before the bind
    pair.bind()  # at t=100
    assert pair.esme.next_deadline() == 130.0
    assert pair.esme.tick(129.9) == []
    assert pair.esme.tick(130.0) == [EnquireLinkDue()]
    assert pair.esme.tick(130.1) == []  # reported once per idle interval
    assert pair.esme.next_deadline() == 160.0
    (link,) = pair.send(pair.esme, pdus.EnquireLink(), now=131.0)
    assert pair.esme.next_deadline() == 161.0


def test_traffic_in_either_direction_postpones_the_link_check():
    pair = SessionPair(enquire_link_interval=30.0)
    pair.bind()
    (deliver,) = pair.send(pair.smsc, pdus.DeliverSm(), now=20.0)  # smsc sends
    assert pair.smsc.tick(45.0) == []
    pair.smsc.receive_data(pair.esme.send(deliver.pdu.response(), now=40.0), now=40.0)  # smsc receives
    assert pair.smsc.tick(65.0) == []
    assert pair.smsc.tick(70.0) == [EnquireLinkDue()]


def test_response_timeout_frees_the_window_and_the_late_answer_is_unmatched():
    pair = SessionPair(window=1, response_timeout=10.0)
    pair.bind()
    (submit,) = pair.send(pair.esme, pdus.SubmitSm(short_message=b"slow"), context="m", now=5.0)
    assert pair.esme.next_deadline() == 15.0
    assert pair.esme.tick(14.99) == []
    (timeout,) = pair.esme.tick(15.0)
    assert timeout == ResponseTimeout(submit.pdu, 5.0, "m")
    assert pair.esme.outstanding == 0
    assert pair.esme.tick(100.0) == []
    (late,) = pair.send(pair.smsc, submit.pdu.response(message_id="1"))
    assert isinstance(late, UnmatchedResponse)


def test_response_timeouts_come_oldest_first_and_answered_ones_never():
    pair = SessionPair(window=5, response_timeout=10.0)
    pair.bind()
    requests = [pair.send(pair.esme, pdus.SubmitSm(), context=t, now=t)[0] for t in (1.0, 2.0, 3.0)]
    answer = pair.answer(pair.smsc, requests[0])
    assert isinstance(answer, ResponseReceived)
    assert pair.esme.next_deadline() == 12.0
    assert [e.context for e in pair.esme.tick(13.0)] == [2.0, 3.0]


def test_bind_timeout_on_a_connection_that_never_binds():
    pair = SessionPair(now=0.0, bind_timeout=5.0)
    assert pair.smsc.next_deadline() == 5.0
    assert pair.smsc.tick(4.0) == []
    assert pair.smsc.tick(5.0) == [BindTimeout()]
    assert pair.smsc.tick(50.0) == []  # once
    assert pair.smsc.next_deadline() is None


def test_no_bind_timeout_once_bound():
    pair = SessionPair(now=0.0, bind_timeout=5.0)
    pair.bind()
    assert pair.smsc.state is State.BOUND_TRX
    assert pair.smsc.tick(50.0) == []


def test_inactivity_timeout_counts_from_the_last_bytes_received():
    pair = SessionPair(now=0.0, inactivity_timeout=60.0)
    pair.smsc.receive_data(pair.esme.send(pdus.BindTransmitter(), now=10.0), now=10.0)
    assert pair.smsc.next_deadline() == 70.0
    bind = pair.smsc.next_event()
    # our own sending does not count: a peer that only listens is still silent
    pair.smsc.send(bind.pdu.response(), now=50.0)
    assert pair.smsc.next_deadline() == 70.0
    assert pair.smsc.tick(69.0) == []
    assert pair.smsc.tick(70.0) == [InactivityTimeout()]
    assert pair.smsc.tick(71.0) == []  # again only after another silent period
    assert pair.smsc.tick(130.0) == [InactivityTimeout()]


def test_all_timers_off():
    pair = SessionPair()
    pair.bind()
    pair.esme.send(pdus.SubmitSm())
    assert pair.esme.next_deadline() is None
    assert pair.esme.tick(1e9) == []


def test_no_timers_after_close():
    pair = SessionPair(bind_timeout=1.0, inactivity_timeout=1.0)
    feed(pair.smsc, b"")
    assert pair.smsc.state is State.CLOSED
    assert pair.smsc.next_deadline() is None
    assert pair.smsc.tick(100.0) == []
