"""Delivery receipts: the customary text, the state words, the receipt TLVs. Pure.

The text is the de-facto format of SMPP 3.4 appendix B, which the specification leaves
vendor-specific:

    id:IIIIIIIIII sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
    stat:DELIVRD err:000 text:first twenty chars

We write exactly that (dates in UTC) and read it tolerantly, since carriers vary: any
case, fields missing or reordered, 12-digit dates with seconds, `Text:` or `text:`, and
ids in decimal where the submit_sm_resp gave hex or the other way round (see
`same_message_id`). Times are epoch seconds (float, UTC) as everywhere in the store.
"""
from __future__ import annotations

import functools
import re
from datetime import datetime, timezone
from typing import Any

import msgspec

from smsc.smpp.constants import EsmClass, MessageState, RegisteredDelivery, Tag

# The seven-letter words of appendix B (ENROUTE is not in it but carriers send it).
STAT_WORDS: dict[MessageState, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}
_WORD_STATES: dict[str, MessageState] = {word: state for state, word in STAT_WORDS.items()}
# Spellings seen from carriers besides the seven-letter ones.
_WORD_STATES.update({
    "DELIVERED": MessageState.DELIVERED,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "UNDELIVERED": MessageState.UNDELIVERABLE,
    "FAILED": MessageState.UNDELIVERABLE,
    "ACCEPTED": MessageState.ACCEPTED,
    "REJECTED": MessageState.REJECTED,
    "DELETD": MessageState.DELETED,
})

TEXT_CHARS = 20  # appendix B: the first 20 characters of the short message

# network_error_code's first octet, SMPP 3.4 section 5.3.2.31.
NETWORK_TYPE_GSM = 3
NETWORK_TYPE_SMPP = 7
NETWORK_TYPE_SMSC = 8  # message centre specific


class Receipt(msgspec.Struct, frozen=True, gc=False):
    """What a receipt text said. Fields it did not carry are None."""

    id: str | None = None
    sub: int | None = None
    dlvrd: int | None = None
    submit_date: float | None = None
    done_date: float | None = None
    stat: str | None = None
    state: MessageState | None = None
    err: str | None = None
    text: str = ""


def stat_word(state: int) -> str:
    return STAT_WORDS[MessageState(state)]


def state_of_word(word: str) -> MessageState | None:
    """The MessageState a stat word means, any case; None for a word nobody uses."""
    return _WORD_STATES.get(word.strip().upper())


def format_date(epoch: float) -> str:
    return _format_minute(int(epoch // 60))


@functools.lru_cache(maxsize=256)
def _format_minute(minute: int) -> str:
    # Receipt dates have a minute's precision and receipts come in bursts of close
    # dates: formatting each once (strftime costs microseconds) is worth a small cache.
    return datetime.fromtimestamp(minute * 60, timezone.utc).strftime("%y%m%d%H%M")


def build_text(
    message_id: str,
    state: int,
    submitted: float,
    done: float,
    *,
    err: int = 0,
    sub: int = 1,
    dlvrd: int | None = None,
    text: str = "",
) -> str:
    """The receipt text for one message. `dlvrd` defaults to `sub` when delivered, else 0."""
    if dlvrd is None:
        dlvrd = sub if state == _DELIVERED else 0
    return _text(message_id, state, submitted, done, err, sub, dlvrd, text)


def _text(message_id: str, state: int, submitted: float, done: float, err: int, sub: int, dlvrd: int,
          text: str) -> str:
    # One %-format (a call per field with an f-string's format specs costs more), the
    # three-digit counts and the dates from caches ("%03d" alone costs ~0.25 us);
    # STAT_WORDS by the plain int: an IntEnum key hashes and compares as its value.
    lo, hi, minute = _LAST_MINUTE  # the minute of the last date: most receipts' two dates
    return _TEXT % (message_id, _THREE.get(sub) or "%03d" % sub, _THREE.get(dlvrd) or "%03d" % dlvrd,
                    minute if lo <= submitted < hi else _date(submitted),
                    minute if lo <= done < hi else _date(done), STAT_WORDS[state],
                    _THREE.get(err) or "%03d" % err, text[:TEXT_CHARS])


def _date(epoch: float) -> str:
    """format_date, the minute remembered as _LAST_MINUTE: a range check is ~0.25 us
    cheaper than the cached call."""
    global _LAST_MINUTE
    minute = int(epoch // 60)
    _LAST_MINUTE = (minute * 60, minute * 60 + 60, _format_minute(minute))
    return _LAST_MINUTE[2]


_LAST_MINUTE = (0.0, 0.0, "")


_TEXT = "id:%s sub:%s dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s"
_THREE = {n: "%03d" % n for n in range(256)}
_DELIVERED = int(MessageState.DELIVERED)


# One key: value pair; a value runs to the next known key (or the end, for text).
_KEYS = r"id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text"
_FIELD = re.compile(rf"(?i)(?:^|\s)({_KEYS}):\s*(.*?)(?=\s+(?:{_KEYS}):|$)", re.DOTALL)
_DATE = re.compile(r"\d{10}(\d{2})?")


def _parse_date(value: str) -> float | None:
    if not _DATE.fullmatch(value):
        return None
    fmt = "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
    try:
        return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _parse_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def parse_text(data: str | bytes) -> Receipt | None:
    """Read a receipt text; None when it carries neither an id nor a stat (not a receipt)."""
    if isinstance(data, bytes):
        data = data.decode("latin-1")
    found: dict[str, str] = {}
    for key, value in _FIELD.findall(data.lstrip()):
        key = re.sub(r"[ _]?date$", " date", key.lower())
        found.setdefault(key, value if key == "text" else value.strip())
    if "id" not in found and "stat" not in found:
        return None
    stat = found.get("stat")
    return Receipt(
        id=found.get("id") or None,
        sub=_parse_int(found.get("sub", "")),
        dlvrd=_parse_int(found.get("dlvrd", "")),
        submit_date=_parse_date(found.get("submit date", "")),
        done_date=_parse_date(found.get("done date", "")),
        stat=stat,
        state=state_of_word(stat) if stat else None,
        err=found.get("err"),
        text=found.get("text", ""),
    )


def _readings(message_id: str) -> set[int]:
    """The numbers an id may stand for: decimal and hexadecimal readings."""
    readings = set()
    for base in (10, 16):
        try:
            readings.add(int(message_id, base))
        except ValueError:
            pass
    return readings


def same_message_id(a: str, b: str) -> bool:
    """Whether two ids name the same message: equal ignoring case and leading zeros, or
    one is the other written in another base (a carrier answering `1a2b` in its
    submit_sm_resp and `6699` in its receipt). Two all-digit ids compare as decimals
    only, or `10` and `16` would match through a hex reading."""
    a, b = a.strip().lower(), b.strip().lower()
    if a == b:
        return True
    if a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return bool(_readings(a) & _readings(b))


def network_error_code(code: int, network_type: int = NETWORK_TYPE_SMSC) -> bytes:
    """The 3-octet network_error_code value: network type, then the error big-endian."""
    return bytes((network_type,)) + code.to_bytes(2, "big")


def receipt_tlvs(message_id: str, state: int, error: int | None = None,
                 network_type: int = NETWORK_TYPE_SMSC) -> tuple[tuple[int, Any], ...]:
    """receipted_message_id, message_state and (when there is an error) network_error_code,
    as (tag, value) pairs typed as the codec expects (plain int tags, as decode gives)."""
    return tuple(map(tuple, _tlv_lists(message_id, state, error, network_type)))


def _tlv_lists(message_id: str, state: int, error: int | None,
               network_type: int = NETWORK_TYPE_SMSC) -> list[list[Any]]:
    """`receipt_tlvs` as [tag, value] lists: what a stored receipt keeps (msgpack's form)."""
    tlvs: list[list[Any]] = [[_RECEIPTED_MESSAGE_ID, message_id], [_MESSAGE_STATE, int(state)]]
    if error:
        tlvs.append([_NETWORK_ERROR_CODE, network_error_code(error, network_type)])
    return tlvs


_RECEIPTED_MESSAGE_ID, _MESSAGE_STATE, _NETWORK_ERROR_CODE = (
    int(Tag.RECEIPTED_MESSAGE_ID), int(Tag.MESSAGE_STATE), int(Tag.NETWORK_ERROR_CODE))


def wants_receipt(registered_delivery: int, state: int) -> bool:
    """Whether registered_delivery asks for a receipt on reaching this final state."""
    wanted = registered_delivery & _RECEIPT_MASK
    return wanted == _ON_FINAL or (wanted == _ON_FAILURE and state != _DELIVERED)


_RECEIPT_MASK = RegisteredDelivery.RECEIPT_MASK
_ON_FINAL, _ON_FAILURE = RegisteredDelivery.RECEIPT_ON_FINAL, RegisteredDelivery.RECEIPT_ON_FAILURE


def receipt_deliver_sm(
    *,
    message_id: str,
    state: int,
    submitted: float,
    done: float,
    source: str,
    destination: str,
    source_ton: int = 0,
    source_npi: int = 0,
    dest_ton: int = 0,
    dest_npi: int = 0,
    service_type: str = "",
    segments: int = 1,
    error: int | None = None,
    text: str = "",
) -> dict[str, Any]:
    """The deliver_sm fields of the receipt for one message (plain values, msgpack-able):
    addressed from the message's destination back to its source. Built for every final
    state: its text is made directly (the same as build_text), its TLVs as lists."""
    return receipt_fields(message_id, state, submitted, done, source, destination, source_ton, source_npi, dest_ton,
                          dest_npi, service_type, segments, error, text)


def receipt_fields(message_id: str, state: int, submitted: float, done: float, source: str, destination: str,
                   source_ton: int, source_npi: int, dest_ton: int, dest_npi: int, service_type: str, segments: int,
                   error: int | None, text: str) -> dict[str, Any]:
    """`receipt_deliver_sm` with every argument positional, in its order: for the store's
    writer, which builds one a message (keywords cost ~1 us more a call)."""
    body = _text(message_id, state, submitted, done, error or 0, segments, segments if state == _DELIVERED else 0,
                 text)
    return {
        "service_type": service_type,
        "source_addr_ton": dest_ton,
        "source_addr_npi": dest_npi,
        "source_addr": destination,
        "dest_addr_ton": source_ton,
        "dest_addr_npi": source_npi,
        "destination_addr": source,
        "esm_class": _RECEIPT_ESM_CLASS,
        # ASCII, which reads the same in every alphabet an ESME may assume for data_coding 0
        # closely enough; the echoed text loses what is not ASCII.
        "short_message": body.encode("ascii", "replace"),
        "tlvs": _tlv_lists(message_id, state, error),
    }


_RECEIPT_ESM_CLASS = int(EsmClass.TYPE_DELIVERY_RECEIPT)
