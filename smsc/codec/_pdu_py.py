"""SMPP 3.4 PDU encode/decode, the pure-Python reference twin.

It walks each class's BODY (smsc.smpp.pdus) generically, through a plan of
(kind, field) steps made once per class. The Cython twin (native/_pdu_c.pyx) specialises
the hot operations and defers to this module for everything else, errors included, so
the two raise equal errors.

Rules enforced both ways, so that whatever `encode` writes `decode` accepts:
- C-octet strings are latin-1 str; their `size` counts the NUL; no NUL inside.
- 1-octet integers in 0..255 and in the field's `allowed` set when it has one.
- time fields empty or a valid SMPP time (smsc.smpp.times).
- short_message at most 254 octets; submit_multi has 1..254 destinations.
- TLVs of a tag listed in TLV_SPEC have that type and a length within its bounds; other
  tags carry raw bytes, written back byte for byte.
"""
from __future__ import annotations

from struct import Struct
from typing import Any

from smsc.smpp import pdus, status as st
from smsc.smpp.constants import HEADER_SIZE, TLV_SPEC, Tag, TlvType
from smsc.smpp.errors import FramingError, PduDecodeError, PduEncodeError, UnknownCommandError
from smsc.smpp.pdus import Field, Kind, Pdu
from smsc.smpp.times import is_valid_time

__all__ = ["decode", "decode_header", "encode"]

_HEADER = Struct(">IIII")
_TLV_HEADER = Struct(">HH")
_U32 = Struct(">I")
_MAX_U32 = 0xFFFFFFFF
_INT_TLV_SIZE = {TlvType.INT1: 1, TlvType.INT2: 2, TlvType.INT4: 4}

# Small ints for the kinds: the walk compares them in its hot loop.
_U8, _CSTR, _TIME, _SM, _DESTS, _UNSUCCESS, _INT32 = range(7)
_CODE = {Kind.U8: _U8, Kind.CSTR: _CSTR, Kind.TIME: _TIME, Kind.SHORT_MESSAGE: _SM,
         Kind.DEST_ADDRESSES: _DESTS, Kind.UNSUCCESS_SMES: _UNSUCCESS, Kind.U32: _INT32}

Plan = tuple[tuple[int, Field], ...]


def _plan(fields: tuple[Field, ...]) -> Plan:
    return tuple((_CODE[f.kind], f) for f in fields)


_PLANS: dict[type, Plan] = {cls: _plan(cls.BODY) for cls in pdus.PDU_CLASSES.values()}
# The entries of submit_multi's and submit_multi_resp's lists.
_DEST_FLAG = Field("dest_flag", Kind.U8, status=st.ESME_RINVDESTFLAG,
                   allowed=frozenset({pdus.DEST_FLAG_SME, pdus.DEST_FLAG_DISTRIBUTION_LIST}))
_SME_ADDRESS = _plan(pdus.DEST_21)
_DL_NAME = _plan((Field("dl_name", Kind.CSTR, 21, st.ESME_RINVDLNAME),))
_UNSUCCESS_SME = _plan((*pdus.DEST_21, Field("error_status_code", Kind.U32)))
_PLANS.update({pdus.SmeAddress: _SME_ADDRESS, pdus.DistributionList: _DL_NAME,
               pdus.UnsuccessSme: _UNSUCCESS_SME})


def decode_header(data: bytes) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence_number) of the first 16 octets."""
    if len(data) < HEADER_SIZE:
        raise FramingError(f"a PDU header is {HEADER_SIZE} octets, got {len(data)}")
    return _HEADER.unpack_from(data)


def decode(data: bytes) -> Pdu:
    """One whole PDU, header included, into its class from smsc.smpp.pdus."""
    if type(data) is not bytes:
        data = bytes(data)
    length, command_id, command_status, sequence = decode_header(data)
    if length < HEADER_SIZE or length != len(data):
        raise FramingError(f"command_length {length} but {len(data)} octets", sequence_number=sequence)
    cls = pdus.PDU_CLASSES.get(command_id)
    if cls is None:
        raise UnknownCommandError(f"unknown command_id 0x{command_id:08X}", sequence_number=sequence)
    if length == HEADER_SIZE and command_status and cls.BODY_OPTIONAL_ON_ERROR:
        return cls(sequence, command_status)
    values: list[Any] = [sequence, command_status]
    where = (cls, sequence)
    pos = _read(data, HEADER_SIZE, _PLANS[cls], values, where)
    if cls.HAS_TLVS:
        values.append(_read_tlvs(data, pos, where))
    elif pos != length:
        # The operation defines no optional parameters, so its body is complete: octets
        # past it mean command_length disagrees with the body (ESME_RINVCMDLEN, as for a
        # body cut short). ESME_ROPTPARNOTALLWD would claim they are a parameter, which
        # nothing here can know.
        raise _decode_error(where, "command_length", st.ESME_RINVCMDLEN, f"{length - pos} octets after the body")
    return cls(*values)


def _decode_error(where: tuple[type[Pdu], int], name: str, status: int, message: str) -> PduDecodeError:
    cls, sequence = where
    return PduDecodeError(f"{cls.__name__}.{name}: {message}", command_status=status, field=name,
                          sequence_number=sequence, command_id=cls.command_id)


def _read(data: bytes, pos: int, plan: Plan, values: list[Any], where: tuple[type[Pdu], int]) -> int:
    """Append the values of `plan`'s fields read from data[pos:] and return the new pos."""
    end = len(data)
    for code, field in plan:
        if code == _CSTR or code == _TIME:
            nul = data.find(0, pos, pos + field.size)
            if nul < 0:
                raise _decode_error(where, field.name, field.status, f"no NUL within {field.size} octets")
            value = data[pos:nul].decode("latin-1") if nul != pos else ""
            if code == _TIME and value and not is_valid_time(value):
                raise _decode_error(where, field.name, field.status, f"{value!r} is not an SMPP time")
            values.append(value)
            pos = nul + 1
            continue
        if pos >= end:
            raise _decode_error(where, field.name, st.ESME_RINVCMDLEN, "body ends before this field")
        if code == _U8:
            value = data[pos]
            if field.allowed is not None and value not in field.allowed:
                raise _decode_error(where, field.name, field.status, f"value {value} not allowed")
            values.append(value)
            pos += 1
        elif code == _SM:
            sm_end = pos + 1 + data[pos]
            if sm_end > end or data[pos] > field.size:
                raise _decode_error(where, field.name, field.status,
                                    f"sm_length {data[pos]} past the end of the PDU or over {field.size}")
            values.append(data[pos + 1:sm_end])
            pos = sm_end
        elif code == _INT32:
            if pos + 4 > end:
                raise _decode_error(where, field.name, st.ESME_RINVCMDLEN, "body ends before this field")
            values.append(_U32.unpack_from(data, pos)[0])
            pos += 4
        else:
            pos = _read_list(data, pos, code, field, values, where)
    return pos


def _read_list(data: bytes, pos: int, code: int, field: Field, values: list[Any],
               where: tuple[type[Pdu], int]) -> int:
    count, minimum = data[pos], 1 if code == _DESTS else 0
    if not minimum <= count <= field.size:
        raise _decode_error(where, field.name, field.status, f"{count} entries, must be {minimum} to {field.size}")
    pos += 1
    entries: list[Any] = []
    for _ in range(count):
        if code == _UNSUCCESS:
            entry_cls = pdus.UnsuccessSme
        else:
            flag: list[int] = []
            pos = _read(data, pos, ((_U8, _DEST_FLAG),), flag, where)
            entry_cls = pdus.SmeAddress if flag[0] == pdus.DEST_FLAG_SME else pdus.DistributionList
        entry: list[Any] = []
        pos = _read(data, pos, _PLANS[entry_cls], entry, where)
        entries.append(entry_cls(*entry))
    values.append(tuple(entries))
    return pos


def _read_tlvs(data: bytes, pos: int, where: tuple[type[Pdu], int]) -> tuple[tuple[int, Any], ...]:
    end = len(data)
    tlvs = []
    while pos < end:
        if pos + 4 > end:
            raise _decode_error(where, "tlvs", st.ESME_RINVOPTPARSTREAM, "truncated TLV header")
        tag, size = _TLV_HEADER.unpack_from(data, pos)
        pos += 4 + size
        if pos > end:
            raise _decode_error(where, "tlvs", st.ESME_RINVOPTPARSTREAM, f"TLV 0x{tag:04X} value past the end")
        raw = data[pos - size:pos]
        spec = TLV_SPEC.get(tag)
        tlvs.append((tag, raw if spec is None else _tlv_value(tag, raw, spec, where)))
    return tuple(tlvs)


def _tlv_value(tag: int, raw: bytes, spec: tuple[TlvType, int, int], where: tuple[type[Pdu], int]) -> Any:
    kind, low, high = spec
    if not low <= len(raw) <= high:
        raise _decode_error(where, _tag_name(tag), st.ESME_RINVPARLEN, f"length {len(raw)} not in {low}..{high}")
    if kind == TlvType.OCTETS:
        return raw
    if kind == TlvType.CSTR:
        if raw.find(0) != len(raw) - 1:
            raise _decode_error(where, _tag_name(tag), st.ESME_RINVOPTPARAMVAL, "not one NUL-terminated string")
        return raw[:-1].decode("latin-1")
    if kind == TlvType.EMPTY:
        return None
    return int.from_bytes(raw, "big")


def _tag_name(tag: int) -> str:
    return Tag(tag).name.lower()


# --- encode ---------------------------------------------------------------------------


def encode(pdu: Pdu) -> bytes:
    """The whole PDU on the wire. PduEncodeError when a field breaks its rule."""
    cls = type(pdu)
    for name in ("sequence_number", "command_status"):
        value = getattr(pdu, name)
        if type(value) is not int or not 0 <= value <= _MAX_U32:
            raise _encode_error(pdu, name, f"{value!r} is not a 4-octet integer")
    out = bytearray(HEADER_SIZE)
    # An error response carries no body (sections 4.1.2 and 4.4.2: the body is not
    # returned when command_status is non-zero), whatever its fields hold.
    if not (pdu.command_status and cls.BODY_OPTIONAL_ON_ERROR):
        _write(out, pdu, _PLANS[cls], pdu)
        if cls.HAS_TLVS:
            _write_tlvs(out, pdu.tlvs, pdu)
    _HEADER.pack_into(out, 0, len(out), cls.command_id, pdu.command_status, pdu.sequence_number)
    return bytes(out)


def _encode_error(pdu: Pdu, name: str, message: str) -> PduEncodeError:
    cls = type(pdu)
    return PduEncodeError(f"{cls.__name__}.{name}: {message}", field=name,
                          sequence_number=pdu.sequence_number, command_id=cls.command_id)


def _latin1(value: Any, name: str, pdu: Pdu) -> bytes:
    if type(value) is not str:
        raise _encode_error(pdu, name, f"{value!r} is not a str")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise _encode_error(pdu, name, f"{value!r} is not latin-1 text") from None


def _write(out: bytearray, source: Any, plan: Plan, pdu: Pdu) -> None:
    """Append `plan`'s fields of `source` (the PDU or one of its list entries) to `out`."""
    for code, field in plan:
        value = getattr(source, field.name)
        if code == _U8:
            if type(value) is not int or not 0 <= value <= 255:
                raise _encode_error(pdu, field.name, f"{value!r} is not a 1-octet integer")
            if field.allowed is not None and value not in field.allowed:
                raise _encode_error(pdu, field.name, f"value {value} not allowed")
            out.append(value)
        elif code == _CSTR or code == _TIME:
            raw = _latin1(value, field.name, pdu)
            if len(raw) >= field.size or 0 in raw:
                raise _encode_error(pdu, field.name, f"{value!r} longer than {field.size - 1} or holds a NUL")
            if code == _TIME and not is_valid_time(value):
                raise _encode_error(pdu, field.name, f"{value!r} is not an SMPP time")
            out += raw
            out.append(0)
        elif code == _SM:
            if type(value) is not bytes or len(value) > field.size:
                raise _encode_error(pdu, field.name, f"must be bytes of at most {field.size} octets")
            out.append(len(value))
            out += value
        elif code == _INT32:
            if type(value) is not int or not 0 <= value <= _MAX_U32:
                raise _encode_error(pdu, field.name, f"{value!r} is not a 4-octet integer")
            out += _U32.pack(value)
        else:
            _write_list(out, code, field, value, pdu)


def _write_list(out: bytearray, code: int, field: Field, entries: Any, pdu: Pdu) -> None:
    minimum = 1 if code == _DESTS else 0
    if type(entries) is not tuple or not minimum <= len(entries) <= field.size:
        raise _encode_error(pdu, field.name, f"must be a tuple of {minimum} to {field.size} entries")
    allowed = (pdus.UnsuccessSme,) if code == _UNSUCCESS else (pdus.SmeAddress, pdus.DistributionList)
    out.append(len(entries))
    for entry in entries:
        if type(entry) not in allowed:
            raise _encode_error(pdu, field.name, f"{entry!r} is not one of {[c.__name__ for c in allowed]}")
        if code == _DESTS:
            out.append(pdus.DEST_FLAG_SME if type(entry) is pdus.SmeAddress else pdus.DEST_FLAG_DISTRIBUTION_LIST)
        _write(out, entry, _PLANS[type(entry)], pdu)


def _write_tlvs(out: bytearray, tlvs: Any, pdu: Pdu) -> None:
    if type(tlvs) is not tuple:
        raise _encode_error(pdu, "tlvs", "must be a tuple of (tag, value) pairs")
    for item in tlvs:
        if type(item) is not tuple or len(item) != 2 or type(item[0]) is not int or not 0 <= item[0] <= 0xFFFF:
            raise _encode_error(pdu, "tlvs", f"{item!r} is not a (tag, value) pair")
        tag, value = item
        spec = TLV_SPEC.get(tag)
        if spec is None:
            if type(value) is not bytes or len(value) > 0xFFFF:
                raise _encode_error(pdu, f"tlv 0x{tag:04X}", f"{value!r} is not bytes of at most 65535 octets")
            raw = value
        else:
            raw = _tlv_raw(tag, value, spec, pdu)
        out += _TLV_HEADER.pack(tag, len(raw))
        out += raw


def _tlv_raw(tag: int, value: Any, spec: tuple[TlvType, int, int], pdu: Pdu) -> bytes:
    (kind, low, high), name = spec, _tag_name(tag)
    if kind == TlvType.OCTETS:
        if type(value) is not bytes:
            raise _encode_error(pdu, name, f"{value!r} is not bytes")
        raw = value
    elif kind == TlvType.CSTR:
        raw = _latin1(value, name, pdu)
        if 0 in raw:
            raise _encode_error(pdu, name, f"{value!r} holds a NUL")
        raw += b"\0"
    elif kind == TlvType.EMPTY:
        if value is not None:
            raise _encode_error(pdu, name, f"{value!r}: this TLV carries no value (None)")
        raw = b""
    else:
        size = _INT_TLV_SIZE[kind]
        if type(value) is not int or not 0 <= value < 1 << (8 * size):
            raise _encode_error(pdu, name, f"{value!r} is not a {size}-octet integer")
        raw = value.to_bytes(size, "big")
    if not low <= len(raw) <= high:
        raise _encode_error(pdu, name, f"length {len(raw)} not in {low}..{high}")
    return raw
