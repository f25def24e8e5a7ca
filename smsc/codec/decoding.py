"""Reading what carriers and ESMEs send: which alphabet a data_coding means, one part's
user data (UDH, SAR, message_payload), and its text.

    alphabet_of(data_coding, default="gsm7") -> str
    read_part(short_message, esm_class, data_coding, tlvs=(), *, packed=False, default="gsm7")
        -> ReceivedPart  (UdhError when UDHI is set and the header is malformed)
    decode_text(units, data_coding, *, default="gsm7", locking=0, single=0,
                errors="replace") -> str

Alphabets: "gsm7", "ascii", "latin1", "ucs2", "binary", or a Python codec name for the
SMPP national sets (0x06 Cyrillic "iso8859_5", 0x07 Hebrew "iso8859_8", 0x0A
"iso2022_jp", 0x0E KS C 5601 "euc_kr"). data_coding 0x00 is the SMSC default alphabet:
`default` says which ("gsm7" or "latin1"; configured per bind). Values above 0x0F are
read as TS 23.038 data coding schemes (general, message waiting and class groups);
compressed or reserved ones are "binary". decode_text refuses "binary" with
TextDecodeError: those octets have no text, the caller passes them through.

Invalid octets never raise under errors="replace": they become U+FFFD (see the twin's
decode_* functions for the exact policy per alphabet).
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

import msgspec

from smsc.codec import gsm_tables
from smsc.codec import twin as active_twin
from smsc.codec.text_errors import TextDecodeError
from smsc.codec.udh import Concat, Udh, fill_bits, parse_udh
from smsc.smpp.constants import EsmClass, Tag

UDHI = EsmClass.UDHI
# TLV tags as plain ints: what smsc.smpp.pdus carries in `tlvs`.
TAG_SAR_MSG_REF_NUM = Tag.SAR_MSG_REF_NUM.value
TAG_SAR_TOTAL_SEGMENTS = Tag.SAR_TOTAL_SEGMENTS.value
TAG_SAR_SEGMENT_SEQNUM = Tag.SAR_SEGMENT_SEQNUM.value
TAG_MESSAGE_PAYLOAD = Tag.MESSAGE_PAYLOAD.value
DEFAULT_ALPHABETS = ("gsm7", "latin1")

_SMPP_CODINGS = {
    0x00: None,  # the default alphabet
    0x01: "ascii",
    0x02: "binary",
    0x03: "latin1",
    0x04: "binary",
    0x05: "binary",  # JIS X 0208 without a stated encoding form
    0x06: "iso8859_5",
    0x07: "iso8859_8",
    0x08: "ucs2",
    0x09: "binary",  # pictograms
    0x0A: "iso2022_jp",
    0x0B: "binary",  # reserved
    0x0C: "binary",  # reserved
    0x0D: "binary",  # JIS X 0212
    0x0E: "euc_kr",
    0x0F: "binary",  # reserved
}
_DCS_ALPHABETS = ("gsm7", "binary", "ucs2", "binary")  # bits 3..2 of a general DCS


def alphabet_of(data_coding: int, default: str = "gsm7") -> str:
    if default not in DEFAULT_ALPHABETS:
        raise ValueError(f"default alphabet must be one of {DEFAULT_ALPHABETS}, not {default!r}")
    if data_coding in _SMPP_CODINGS:
        return _SMPP_CODINGS[data_coding] or default
    group = data_coding & 0xF0
    if group < 0x80:  # general data coding (0x00-0x3F) and automatic deletion (0x40-0x7F)
        if data_coding & 0x20:
            return "binary"  # compressed
        return _DCS_ALPHABETS[(data_coding >> 2) & 3]
    if group in (0xC0, 0xD0):
        return "gsm7"  # message waiting indication, discard / store
    if group == 0xE0:
        return "ucs2"  # message waiting indication, store, UCS-2
    if group == 0xF0:
        return "binary" if data_coding & 0x04 else "gsm7"
    return "binary"  # 0x80-0xBF: reserved groups


class ReceivedPart(msgspec.Struct, frozen=True):
    """One received part. `units` is the user data after its UDH, unpacked to one septet
    per octet when it came packed, so the units of all parts can be joined before
    decoding (an escape or surrogate pair cut by a careless sender joins up again)."""

    units: bytes
    alphabet: str
    udh: Udh | None = None
    concat: Concat | None = None  # from the UDH, else from SAR TLVs
    from_payload: bool = False  # the user data came in message_payload

    @property
    def locking_shift(self) -> int:
        return self.udh.locking_shift if self.udh else 0

    @property
    def single_shift(self) -> int:
        return self.udh.single_shift if self.udh else 0


def _sar(tlvs: tuple[tuple[int, Any], ...]) -> Concat | None:
    values = dict(tlvs)
    try:
        reference = values[TAG_SAR_MSG_REF_NUM]
        total = values[TAG_SAR_TOTAL_SEGMENTS]
        seq = values[TAG_SAR_SEGMENT_SEQNUM]
    except KeyError:
        return None
    if not (isinstance(reference, int) and isinstance(total, int) and isinstance(seq, int)):
        return None
    return Concat(reference, total, seq, True) if 1 <= seq <= total else None


def read_part(short_message: bytes, esm_class: int, data_coding: int,
              tlvs: tuple[tuple[int, Any], ...] = (), *, packed: bool = False,
              default: str = "gsm7", twin: ModuleType | None = None) -> ReceivedPart:
    """Split one deliver_sm/submit_sm/data_sm's user data into its parts. `packed`: the
    peer sends GSM-7 packed 7-bit (a bind setting; SMPP's default is one septet per
    octet)."""
    alphabet = alphabet_of(data_coding, default)
    user_data = short_message
    from_payload = False
    for tag, value in tlvs:
        if tag == TAG_MESSAGE_PAYLOAD and not short_message:
            user_data, from_payload = bytes(value), True
    udh = None
    header_octets = 0
    if esm_class & UDHI:
        udh, body = parse_udh(user_data)
        header_octets = len(user_data) - len(body)
    else:
        body = bytes(user_data)
    if packed and alphabet == "gsm7":
        body = _twin(twin).unpack_septets(body, fill_bits(header_octets) if udh else 0)
    concat = (udh.concat if udh else None) or _sar(tlvs)
    return ReceivedPart(body, alphabet, udh, concat, from_payload)


def _twin(twin: ModuleType | None) -> ModuleType:
    return twin if twin is not None else active_twin("text")


def decode_text(units: bytes, data_coding: int, *, default: str = "gsm7", locking: int = 0,
                single: int = 0, errors: str = "replace", twin: ModuleType | None = None) -> str:
    """The text of user data (without its UDH; GSM-7 unpacked). TextDecodeError for
    binary data, and for invalid octets under errors="strict"."""
    t = _twin(twin)
    alphabet = alphabet_of(data_coding, default)
    if alphabet == "gsm7":
        return t.decode_gsm(units, locking, single, errors)
    if alphabet == "ucs2":
        return t.decode_ucs2(units, errors)
    if alphabet == "latin1":
        return t.decode_latin1(units)
    if alphabet == "ascii":
        return t.decode_ascii(units, errors)
    if alphabet == "binary":
        raise TextDecodeError(f"data_coding 0x{data_coding:02X} is binary data, not text")
    try:
        return bytes(units).decode(alphabet, "strict" if errors == "strict" else "replace")
    except UnicodeDecodeError as exc:
        raise TextDecodeError(f"octets {exc.start}..{exc.end - 1} are not valid {alphabet}") from None


def part_text(part: ReceivedPart, data_coding: int, *, default: str = "gsm7",
              errors: str = "replace", twin: ModuleType | None = None) -> str:
    """decode_text of one part, with the national tables its UDH announces (a table this
    core does not implement reads as the default one)."""
    locking = part.locking_shift if part.locking_shift in gsm_tables.LOCKING_TABLES else 0
    single = part.single_shift if part.single_shift in gsm_tables.SINGLE_SHIFT_TABLES else 0
    return decode_text(part.units, data_coding, default=default, locking=locking,
                       single=single, errors=errors, twin=twin)
