"""Protocol errors. Each carries its wire answer, so an adapter never guesses.

`command_status` is the status to answer with. `sequence_number` and `command_id` are
those of the offending PDU when its header could be read (else None). `answer` says how:
GENERIC_NACK for what cannot be tied to a known operation, RESPONSE for the matching
*_resp, NONE for errors in responses (nothing is answered to a response). `fatal` means
the byte stream cannot be trusted any more: answer, then close.
"""
from __future__ import annotations

from enum import Enum

from smsc.smpp import status


class Answer(Enum):
    GENERIC_NACK = "generic_nack"
    RESPONSE = "response"
    NONE = "none"


class SmppError(Exception):
    """Base of every protocol error; `command_status` defaults to ESME_RSYSERR."""

    default_status = status.ESME_RSYSERR

    def __init__(
        self,
        message: str,
        *,
        command_status: int | None = None,
        sequence_number: int | None = None,
        command_id: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.command_status = self.default_status if command_status is None else command_status
        self.sequence_number = sequence_number
        self.command_id = command_id
        self.field = field

    @property
    def status_name(self) -> str:
        return status.status_name(self.command_status)

    @property
    def answer(self) -> Answer:
        if self.command_id is None:
            return Answer.GENERIC_NACK
        if self.command_id & 0x80000000:
            return Answer.NONE
        return Answer.RESPONSE

    fatal = False

    def __str__(self) -> str:
        return f"{self.status_name}: {self.args[0]}"

    def __eq__(self, other: object) -> bool:
        # Two errors are the same when they would produce the same answer (used by the
        # differential tests comparing the native and the pure-Python codec).
        return (
            type(self) is type(other)
            and self.args == other.args  # type: ignore[attr-defined]
            and self.command_status == other.command_status  # type: ignore[attr-defined]
            and self.sequence_number == other.sequence_number  # type: ignore[attr-defined]
            and self.command_id == other.command_id  # type: ignore[attr-defined]
            and self.field == other.field  # type: ignore[attr-defined]
        )

    __hash__ = Exception.__hash__


class FramingError(SmppError):
    """command_length is impossible (too short, over the maximum PDU size): the stream
    has lost its frame boundaries. Answer generic_nack ESME_RINVCMDLEN and close."""

    default_status = status.ESME_RINVCMDLEN
    fatal = True

    @property
    def answer(self) -> Answer:
        return Answer.GENERIC_NACK


class UnknownCommandError(SmppError):
    """command_id names no SMPP 3.4 operation: generic_nack ESME_RINVCMDID, keep going."""

    default_status = status.ESME_RINVCMDID

    @property
    def answer(self) -> Answer:
        return Answer.GENERIC_NACK


class PduDecodeError(SmppError):
    """The body of a known operation is malformed or a field breaks the specification's
    rules; `field` names it. Answer the operation's *_resp with `command_status`."""

    default_status = status.ESME_RINVMSGLEN


class PduEncodeError(SmppError, ValueError):
    """A PDU object cannot be put on the wire (a field too long, out of range)."""


class StateError(SmppError):
    """The operation is not allowed in the session's bind state (section 2.3)."""

    default_status = status.ESME_RINVBNDSTS


class WindowFullError(SmppError):
    """More unacknowledged requests than the window allows."""

    default_status = status.ESME_RTHROTTLED
