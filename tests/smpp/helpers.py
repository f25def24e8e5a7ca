"""Two real Sessions wired back to back in memory (after h11's tests/helpers.py
ConnectionPair): what one side sends is fed to the other, and the events it produced are
returned, so a test reads as a conversation."""
from __future__ import annotations

from typing import Any

from smsc.codec import pdu as pdu_codec
from smsc.smpp import pdus
from smsc.smpp.events import NEED_DATA, Event, RequestReceived, ResponseReceived
from smsc.smpp.session import Session
from smsc.smpp.state import Role, State

# One instance of every operation that the codec can encode with only these fields set.
SAMPLES: dict[type[pdus.Pdu], pdus.Pdu] = {
    cls: cls() for cls in pdus.PDU_CLASSES.values() if cls is not pdus.SubmitMulti
}
SAMPLES[pdus.SubmitMulti] = pdus.SubmitMulti(
    dest_addresses=(pdus.SmeAddress(destination_addr="4412345"),), short_message=b"hi")

BIND_FOR_STATE = {
    State.BOUND_TX: pdus.BindTransmitter,
    State.BOUND_RX: pdus.BindReceiver,
    State.BOUND_TRX: pdus.BindTransceiver,
}

# Timers off unless a test turns one on, so they never interfere with a conversation.
NO_TIMERS: dict[str, Any] = dict(
    bind_timeout=None, enquire_link_interval=None, response_timeout=None, inactivity_timeout=None)


def drain(session: Session) -> list[Event]:
    """Every event the session can report from what it has been fed."""
    events = []
    while (event := session.next_event()) is not NEED_DATA:
        events.append(event)
    return events


def feed(session: Session, data: bytes) -> list[Event]:
    session.receive_data(data)
    return drain(session)


def wire(pdu: pdus.Pdu) -> bytes:
    """A PDU's bytes as any peer would send them, bypassing the sending side's checks."""
    return pdu_codec.encode(pdu)


class SessionPair:
    """An ESME session and an SMSC session, connected."""

    def __init__(self, now: float = 0.0, **settings: Any) -> None:
        settings = {**NO_TIMERS, **settings}
        self.esme = Session(Role.ESME, now=now, **settings)
        self.smsc = Session(Role.SMSC, now=now, **settings)

    def other(self, session: Session) -> Session:
        return self.smsc if session is self.esme else self.esme

    def send(self, sender: Session, pdu: pdus.Pdu, **kwargs: Any) -> list[Event]:
        """`sender` sends `pdu`; returns what the other side made of it."""
        return feed(self.other(sender), sender.send(pdu, **kwargs))

    def answer(self, responder: Session, event: Event, command_status: int = 0, **fields: Any) -> ResponseReceived:
        """`responder` answers the request it received in `event`; returns the single
        ResponseReceived event the requester reports."""
        assert isinstance(event, RequestReceived), event
        (received,) = self.send(responder, event.pdu.response(command_status, **fields))
        assert isinstance(received, ResponseReceived), received
        return received

    def bind(self, bind_class: type[pdus.Pdu] = pdus.BindTransceiver) -> None:
        (request,) = self.send(self.esme, bind_class(system_id="esme", password="secret"))
        self.answer(self.smsc, request, system_id="smsc")

    def to_state(self, state: State) -> None:
        """Drive both sides into `state` through a real conversation."""
        if state in BIND_FOR_STATE:
            self.bind(BIND_FOR_STATE[state])
        elif state is State.UNBOUND:
            self.bind()
            self.send(self.esme, pdus.Unbind())
        elif state is State.CLOSED:
            feed(self.esme, b"")
            feed(self.smsc, b"")
        assert self.esme.state is self.smsc.state is state
