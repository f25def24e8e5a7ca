"""What a Session reports: small frozen records, matched on by type in the adapter."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smsc.smpp.errors import SmppError
from smsc.smpp.pdus import Pdu


class NeedData:
    """Nothing more can be reported until more bytes arrive (or the peer closes)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A request the peer may send in this state; answer it with `pdu.response(...)`."""

    pdu: Pdu


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """The answer to a request we sent: `request` as sent (sequence number assigned),
    `sent_at` its send time, `context` what was passed to Session.send with it."""

    pdu: Pdu
    request: Pdu
    sent_at: float
    context: Any = None


@dataclass(frozen=True, slots=True)
class UnmatchedResponse:
    """A response answering no request of ours (late, after its timeout, or bogus)."""

    pdu: Pdu


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The peer broke the protocol. Send `answer` if there is one (a generic_nack or the
    *_resp carrying `error.command_status` and the offending sequence number); if
    `close`, then close the connection: the byte stream cannot be trusted."""

    error: SmppError
    answer: Pdu | None
    close: bool


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """The peer closed the connection; `unparsed` octets of a partial PDU were left."""

    unparsed: int = 0


@dataclass(frozen=True, slots=True)
class EnquireLinkDue:
    """Bound and idle for enquire_link_interval: time to send an enquire_link."""


@dataclass(frozen=True, slots=True)
class ResponseTimeout:
    """No answer to `request` within response_timeout; it is no longer outstanding."""

    request: Pdu
    sent_at: float
    context: Any = None


@dataclass(frozen=True, slots=True)
class BindTimeout:
    """Connected for bind_timeout without a successful bind: close the connection."""


@dataclass(frozen=True, slots=True)
class InactivityTimeout:
    """Nothing received from the peer for inactivity_timeout: close the connection."""


Event = (RequestReceived | ResponseReceived | UnmatchedResponse | ProtocolError | PeerClosed
         | EnquireLinkDue | ResponseTimeout | BindTimeout | InactivityTimeout)
