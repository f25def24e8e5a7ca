"""What goes into and comes out of the store, and the errors it answers with."""
from __future__ import annotations

from enum import IntEnum
from typing import Any

import msgspec

from smsc.smpp import status
from smsc.smpp.constants import MessageState

__all__ = ["ATTEMPTED", "ClaimBusy", "Message", "MessageFinal", "NewMessage", "OutboundItem", "OutboundState",
           "ReceiptOutcome", "StoreError", "UnknownMessage"]

ATTEMPTED = "attempted"  # body key: the upstreams an UNDELIV receipt sent the message away from


class NewMessage(msgspec.Struct, frozen=True, gc=False):
    """A message to accept. `body` is the variable part (short_message, data_coding,
    esm_class, protocol_id, priority_flag, address TON/NPI, tlvs, parts, options...): any
    msgpack-able dict with str keys; tuples come back as lists, bytes stay bytes.
    Times are epoch seconds; `scheduled` None means at once, `expires` None never."""

    account: str
    source: str
    destination: str
    body: dict[str, Any] = {}
    service_type: str = ""
    registered_delivery: int = 0
    segments: int = 1
    scheduled: float | None = None
    expires: float | None = None


class Message(msgspec.Struct, frozen=True, gc=False):
    """A stored message as the gateway sees it."""

    id: str
    account: str
    source: str
    destination: str
    service_type: str
    state: MessageState
    submitted: float
    scheduled: float
    expires: float | None
    updated: float
    final: float | None
    registered_delivery: int
    segments: int
    upstream: str | None
    carrier_id: str | None
    error: int | None
    body: dict[str, Any]

    @property
    def is_final(self) -> bool:
        return self.final is not None


class OutboundState(IntEnum):
    """Where a queued deliver_sm stands. In flight is not a state: see outbound.py."""

    PENDING = 0
    DELIVERED = 1
    EXPIRED = 2


class ReceiptOutcome(IntEnum):
    """What a carrier's final receipt did to the message it names (Store.apply_receipt)."""

    APPLIED = 0  # the message is in the receipt's state now (its client receipt queued)
    REPEATED = 1  # the message was final already: a carrier repeating itself
    UNKNOWN = 2  # no message has that carrier id (yet)
    PARTS = 3  # a message sent in parts: the receipt is about one part (carrier_parts)
    REROUTED = 4  # an UNDELIV the route re-routes on: the message is due again, for the next upstream


class OutboundItem(msgspec.Struct, frozen=True, gc=False):
    """A deliver_sm waiting for an ESME. `body` holds the deliver_sm fields; `attempts`
    counts this one. `message_id` is the message a receipt is about (None for MO)."""

    id: int
    account: str
    kind: str
    message_id: str | None
    body: dict[str, Any]
    attempts: int
    expires: float


class StoreError(Exception):
    """Base of the outcomes the store answers a request with; `command_status` is what
    the SMPP adapter answers when it has nothing more precise."""

    command_status = status.ESME_RSYSERR


class UnknownMessage(StoreError):
    """No such message for this account (another account's message is unknown too, so
    ids do not leak across accounts)."""

    command_status = status.ESME_RINVMSGID


class MessageFinal(StoreError):
    """The message already reached a final state, which is never left."""

    def __init__(self, message_id: str, state: MessageState) -> None:
        super().__init__(f"message {message_id} is already {state.name}")
        self.message_id = message_id
        self.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its own arguments (a writer process sends it back pickled).
        return MessageFinal, (self.message_id, self.state)


class ClaimBusy(StoreError):
    """Another claimer holds this account's outbound queue."""
