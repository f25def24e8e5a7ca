"""The SMPP 3.4 bind state machine: one table, read by `transition`.

TRANSITIONS maps (state, command_id, sender) to the state after that PDU; a key that is
not in it is a PDU the sender may not send in that state. It follows the PDU table of
section 2.3, who issues what (sections 4.1 to 4.12), and section 2.2's rule that a
transceiver may do all a transmitter and a receiver may do. Two deliberate additions:

- UNBOUND, the state between an unbind and the close (SMPP 5.0 names it; 3.4 does not):
  no new work, but responses to requests made before the unbind are still owed, and an
  unbind crossing the peer's own unbind is allowed.
- enquire_link in OPEN (as SMPP 5.0 allows): a link check before the bind is harmless
  and some clients send one.

A bind changes state only through its response: the bind_*_resp with command_status 0
moves OPEN to the bound state named by the response. Which side sends and which receives
does not matter here: the session asks with the *sender* of the PDU, so the table is the
same for the ESME side and the SMSC side.
"""
from __future__ import annotations

from enum import Enum

from smsc.smpp import status
from smsc.smpp.constants import RESPONSE_BIT
from smsc.smpp.constants import CommandId as C
from smsc.smpp.errors import StateError
from smsc.smpp.pdus import Pdu


class State(Enum):
    OPEN = "open"  # connected, not bound yet
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBOUND = "unbound"  # an unbind was sent or received; closing
    CLOSED = "closed"  # the connection is gone

    # Members are singletons: identity hashing is correct, and the table lookup on every
    # PDU is faster than with Enum's name-hashing __hash__, written in Python.
    __hash__ = object.__hash__


class Role(Enum):
    ESME = "esme"
    SMSC = "smsc"

    __hash__ = object.__hash__  # as State's

    @property
    def peer(self) -> "Role":
        return Role.SMSC if self is Role.ESME else Role.ESME


OPEN, BOUND_TX, BOUND_RX, BOUND_TRX, UNBOUND, CLOSED = State
ESME, SMSC = Role
BOUND = (BOUND_TX, BOUND_RX, BOUND_TRX)
TRANSMITTING = (BOUND_TX, BOUND_TRX)  # the ESME may submit
RECEIVING = (BOUND_RX, BOUND_TRX)  # the SMSC may deliver
BIND_REQUESTS = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER})

# (command, sender, states in which the sender may send it). Responses are also allowed
# in UNBOUND: they answer requests made before the unbind.
_RULES: tuple[tuple[int, Role, tuple[State, ...]], ...] = (
    # session management, sections 4.1, 4.2, 4.11
    (C.BIND_TRANSMITTER, ESME, (OPEN,)),
    (C.BIND_RECEIVER, ESME, (OPEN,)),
    (C.BIND_TRANSCEIVER, ESME, (OPEN,)),
    (C.OUTBIND, SMSC, (OPEN,)),
    (C.UNBIND, ESME, (*BOUND, UNBOUND)),
    (C.UNBIND, SMSC, (*BOUND, UNBOUND)),
    (C.UNBIND_RESP, ESME, (*BOUND, UNBOUND)),
    (C.UNBIND_RESP, SMSC, (*BOUND, UNBOUND)),
    (C.ENQUIRE_LINK, ESME, (OPEN, *BOUND)),
    (C.ENQUIRE_LINK, SMSC, (OPEN, *BOUND)),
    (C.ENQUIRE_LINK_RESP, ESME, (OPEN, *BOUND, UNBOUND)),
    (C.ENQUIRE_LINK_RESP, SMSC, (OPEN, *BOUND, UNBOUND)),
    (C.GENERIC_NACK, ESME, (OPEN, *BOUND, UNBOUND)),
    (C.GENERIC_NACK, SMSC, (OPEN, *BOUND, UNBOUND)),
    # ESME to SMSC: submission and the operations on submitted messages, 4.4 to 4.10
    (C.SUBMIT_SM, ESME, TRANSMITTING),
    (C.SUBMIT_SM_RESP, SMSC, (*TRANSMITTING, UNBOUND)),
    (C.SUBMIT_MULTI, ESME, TRANSMITTING),
    (C.SUBMIT_MULTI_RESP, SMSC, (*TRANSMITTING, UNBOUND)),
    (C.QUERY_SM, ESME, TRANSMITTING),
    (C.QUERY_SM_RESP, SMSC, (*TRANSMITTING, UNBOUND)),
    (C.CANCEL_SM, ESME, TRANSMITTING),
    (C.CANCEL_SM_RESP, SMSC, (*TRANSMITTING, UNBOUND)),
    (C.REPLACE_SM, ESME, TRANSMITTING),
    (C.REPLACE_SM_RESP, SMSC, (*TRANSMITTING, UNBOUND)),
    (C.DATA_SM, ESME, TRANSMITTING),
    (C.DATA_SM_RESP, SMSC, (*TRANSMITTING, UNBOUND)),
    # SMSC to ESME: delivery, 4.6, 4.7, 4.12
    (C.DELIVER_SM, SMSC, RECEIVING),
    (C.DELIVER_SM_RESP, ESME, (*RECEIVING, UNBOUND)),
    (C.DATA_SM, SMSC, RECEIVING),
    (C.DATA_SM_RESP, ESME, (*RECEIVING, UNBOUND)),
    (C.ALERT_NOTIFICATION, SMSC, RECEIVING),
)

# What a PDU moves to, when not "stays where it is".
_MOVES: dict[int, State] = {
    C.BIND_TRANSMITTER_RESP: BOUND_TX,
    C.BIND_RECEIVER_RESP: BOUND_RX,
    C.BIND_TRANSCEIVER_RESP: BOUND_TRX,
    C.UNBIND: UNBOUND,
    C.UNBIND_RESP: UNBOUND,
}

TRANSITIONS: dict[tuple[State, int, Role], State] = {
    (state, command_id, sender): _MOVES.get(command_id, state)
    for command_id, sender, states in _RULES
    for state in states
}
TRANSITIONS.update(
    {(OPEN, resp, SMSC): bound for resp, bound in _MOVES.items() if bound in BOUND}
)


def transition(state: State, pdu: Pdu, sender: Role) -> State:
    """The state after `sender` sends `pdu` in `state`; StateError if it may not.

    A response with a non-zero command_status is an answer saying "no": it is allowed in
    every state but CLOSED (the peer must learn why, a submit_sm before the bind
    included) and moves nothing, so a refused bind leaves the session OPEN.
    """
    command_id = pdu.command_id
    if pdu.command_status and command_id & RESPONSE_BIT and state is not CLOSED:
        return state
    try:
        return TRANSITIONS[state, command_id, sender]
    except KeyError:
        raise _refusal(state, pdu, sender) from None


def _refusal(state: State, pdu: Pdu, sender: Role) -> StateError:
    if pdu.command_id in BIND_REQUESTS and state in BOUND:
        code, why = status.ESME_RALYBND, f"already {state.value}"
    else:
        code, why = status.ESME_RINVBNDSTS, f"not allowed from the {sender.value} in state {state.value}"
    return StateError(f"{pdu.name} {why}", command_status=code,
                      sequence_number=pdu.sequence_number, command_id=pdu.command_id)
