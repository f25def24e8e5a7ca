"""What the HTTP API takes and gives, as msgspec types, and how a request becomes stored
messages: the same NewMessage an SMPP submit_sm becomes (the SMPP body fields, with the
text encoded by the text core), so routing, throttling and receipts do not know which
door a message came in by.
"""
from __future__ import annotations

import base64
import binascii
import time
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec

from smsc.codec import twin
from smsc.codec.decoding import part_text, read_part
from smsc.codec.segmentation import TextOptions, count, split, split_binary
from smsc.config import Smpp
from smsc.codec.text_errors import TextError
from smsc.smpp.constants import MessageState
from smsc.store import Message, NewMessage

E164 = Annotated[str, msgspec.Meta(pattern=r"^\+?[1-9][0-9]{6,14}$", description="E.164 number")]
# A number (3-15 digits) or an alphanumeric sender ID of at most 11 characters (GSM 03.40).
Sender = Annotated[str, msgspec.Meta(pattern=r"^(\+?[0-9]{3,15}|[A-Za-z0-9 ._&-]{1,11})$")]
Url = Annotated[str, msgspec.Meta(pattern=r"^https?://[^/\s]+", max_length=2000)]
Category = Literal["transactional", "promotional"]

# Long texts are stored as one message carried in message_payload; the upstream cuts it
# for carriers that want UDH or SAR parts. Counting matches the cut (segmentation.py).
_STORE_OPTIONS = TextOptions(concatenation="payload")
# What split() gives a GSM default alphabet text under _STORE_OPTIONS when it fits one
# part: its unpacked septets as they are, data_coding gsm_data_coding, no UDH.
_GSM_SINGLE_PART = 160
_GSM_CODING = _STORE_OPTIONS.gsm_data_coding


class SendRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: E164 | Annotated[list[E164], msgspec.Meta(min_length=1)]
    from_: Sender = msgspec.field(name="from")
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=10000)] | None = None
    binary: Annotated[str, msgspec.Meta(max_length=50000)] | None = None  # base64
    data_coding: Annotated[int, msgspec.Meta(ge=0, le=255)] | None = None
    schedule_at: datetime | None = None  # RFC 3339 with an offset
    validity: Annotated[float, msgspec.Meta(gt=0, le=30 * 86400)] | None = None  # seconds
    receipt: bool = True
    category: Category = "transactional"
    client_ref: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    webhook_url: Url | None = None


class PreviewRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=10000)]


class OptOutRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    handset: E164
    sender: Annotated[str, msgspec.Meta(max_length=15)] = ""
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class RequestError(Exception):
    """A request refused: HTTP `status`, a stable `code`, the `field` at fault."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.field, self.headers = status, code, field, headers

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": str(self)}
        if self.field:
            error["field"] = self.field
        return {"error": error}


def text_body(text: str) -> tuple[dict[str, Any], int, str]:
    """The SMPP body fields carrying `text` in the alphabet the text core picks, its parts
    and encoding. A text of the GSM default alphabet that fits one part (most texts sent:
    codes, reminders) is what split() makes of it, found without split()'s choosing and
    counting objects; tests/http check the two agree."""
    septets = twin("text").try_encode_gsm(text)
    if septets is not None and len(septets) <= _GSM_SINGLE_PART:
        return _body(septets, _GSM_CODING, 0, ()), 1, "gsm7"
    segmented = split(text, _STORE_OPTIONS)
    (short_message, tlvs), = segmented.parts()
    counted = segmented.count
    return _body(short_message, counted.data_coding, segmented.esm_class, tlvs), counted.parts, counted.encoding


def _body(short_message: bytes, data_coding: int, esm_class: int, tlvs: Any) -> dict[str, Any]:
    return {"short_message": short_message, "data_coding": data_coding, "esm_class": esm_class,
            "tlvs": [list(tlv) for tlv in tlvs], "protocol_id": 0, "priority_flag": 0,
            "replace_if_present_flag": 0, "sm_default_msg_id": 0}


@lru_cache(maxsize=256)
def _sender_address(sender: str) -> tuple[str, int, int]:
    """(address, TON, NPI): international number 1/1, alphanumeric 5/0. (Cached: an
    account sends from a few senders.)"""
    if sender.lstrip("+").isdigit():
        return sender.lstrip("+"), 1, 1
    return sender, 5, 0


def content(request: SendRequest) -> tuple[dict[str, Any], int, str]:
    """(SMPP body fields, parts, encoding) for the request's text or binary."""
    if request.text is not None and request.binary is None:
        if request.data_coding is not None:
            raise RequestError(422, "invalid_content", "data_coding goes with binary; text picks its own", "data_coding")
        return text_body(request.text)
    if request.text is not None or request.binary is None:
        raise RequestError(422, "invalid_content", "give exactly one of text and binary", "text")
    try:
        data = base64.b64decode(request.binary, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(422, "invalid_binary", "binary is not valid base64", "binary") from None
    if not data:
        raise RequestError(422, "invalid_binary", "binary is empty", "binary")
    coding = 0x04 if request.data_coding is None else request.data_coding
    segmented = split_binary(data, _STORE_OPTIONS, data_coding=coding)
    (short_message, tlvs), = segmented.parts()
    return _body(short_message, coding, segmented.esm_class, tlvs), segmented.count.parts, "binary"


def new_messages(request: SendRequest, account: str, now: float,
                 smpp: Smpp = Smpp()) -> tuple[list[NewMessage], str, int]:
    """One NewMessage per recipient (duplicates sent once), their encoding and parts."""
    body, parts, encoding = content(request)
    source, body["source_addr_ton"], body["source_addr_npi"] = _sender_address(request.from_)
    body["dest_addr_ton"] = body["dest_addr_npi"] = 1
    body["category"], body["channel"] = request.category, "http"
    if request.client_ref is not None:
        body["client_ref"] = request.client_ref
    if request.webhook_url is not None:
        body["webhook_url"] = request.webhook_url
    scheduled = None
    if request.schedule_at is not None:
        if request.schedule_at.tzinfo is None:
            raise RequestError(422, "invalid_schedule", "schedule_at needs a UTC offset (RFC 3339)", "schedule_at")
        scheduled = request.schedule_at.timestamp()
        if scheduled <= now:
            scheduled = None  # due already: at once
    start = scheduled or now
    # As over SMPP: [smpp] default_validity when none is asked, capped at max_validity.
    expires = smpp.expiry(start, None if request.validity is None else start + request.validity)
    receipt = 1 if request.receipt else 0
    to = request.to
    recipients = (to,) if isinstance(to, str) else dict.fromkeys(to)
    messages = [NewMessage(account, source, number.lstrip("+"), body, "", receipt, parts, scheduled, expires)
                for number in recipients]
    return messages, encoding, parts


def preview(text: str) -> dict[str, Any]:
    counted = count(text, _STORE_OPTIONS)
    return {"encoding": counted.encoding, "data_coding": counted.data_coding, "parts": counted.parts,
            "characters": counted.characters, "units": counted.units, "units_per_part": counted.per_part,
            "units_left": counted.remaining, "ucs2_forced_by": list(counted.ucs2_forced_by)}


def body_text(body: dict[str, Any]) -> str:
    """The text a deliver_sm body (an MO) carries, decoded; "" for binary or undecodable."""
    coding = body.get("data_coding", 0)
    tlvs = tuple(tuple(tlv) for tlv in body.get("tlvs", ()))
    try:
        return part_text(read_part(body.get("short_message", b""), body.get("esm_class", 0), coding, tlvs), coding)
    except TextError:
        return ""


def rfc3339(epoch: float | None) -> str | None:
    """UTC, milliseconds, "Z": what datetime's isoformat(timespec="milliseconds") gives
    (microseconds rounded half-even, then cut to milliseconds), at a fifth of its cost
    (every answer to a submit carries one)."""
    if epoch is None:
        return None
    second, fraction = divmod(epoch, 1.0)
    micro = round(fraction * 1e6)
    if micro == 1_000_000:
        second, micro = second + 1, 0
    return f"{_utc_second(int(second))}.{micro // 1000:03d}Z"


@lru_cache(maxsize=64)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def state_name(state: MessageState | int) -> str:
    return MessageState(state).name.lower()


def message_view(message: Message, history: list[tuple[MessageState, float]] | None = None,
                 receipts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body = message.body
    view: dict[str, Any] = {
        "id": message.id, "state": state_name(message.state), "to": message.destination, "from": message.source,
        "submitted": rfc3339(message.submitted), "scheduled": rfc3339(message.scheduled),
        "expires": rfc3339(message.expires), "final": rfc3339(message.final), "parts": message.segments,
        "error": message.error, "upstream": message.upstream, "category": body.get("category", "transactional"),
        "client_ref": body.get("client_ref"), "receipt": bool(message.registered_delivery & 0x03),
    }
    if history is not None:
        view["history"] = [{"state": state_name(state), "time": rfc3339(when)} for state, when in history]
    if receipts is not None:
        view["receipts"] = receipts
    return view
