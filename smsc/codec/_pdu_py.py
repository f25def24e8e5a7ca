"""SMPP 3.4 PDU encode/decode, the pure-Python reference twin.

It reads each class's BODY (smsc.smpp.pdus), compiled at import into one straight-line
reader and writer per class. The Cython twin (native/_pdu_c.pyx) walks the same BODY in C
for all but submit_multi and defers to this module for anything its fast path does not
accept, so the two raise equal errors.

Rules enforced both ways, so that whatever `encode` writes `decode` accepts:
- C-octet strings are latin-1 str; their `size` counts the NUL; no NUL inside.
- 1-octet integers in 0..255 and in the field's `allowed` set when it has one.
- time fields empty or a valid SMPP time (smsc.smpp.times).
- short_message at most 254 octets; submit_multi has 1..254 destinations.
- TLVs of a tag listed in TLV_SPEC have that type and a length within its bounds; other
  tags carry raw bytes, written back byte for byte.
"""
from __future__ import annotations

import itertools
from string import Template
from struct import Struct
from typing import Any, Callable

from smsc.smpp import pdus, status as st
from smsc.smpp.constants import HEADER_SIZE, TLV_SPEC, Tag, TlvType
from smsc.smpp.errors import FramingError, PduDecodeError, PduEncodeError, UnknownCommandError
from smsc.smpp.pdus import Field, Kind, Pdu
from smsc.smpp.times import is_valid_time

__all__ = ["decode", "decode_header", "encode"]

_HEADER = Struct(">IIII")
_TLV_HEADER = Struct(">HH")
_MAX_U32 = 0xFFFFFFFF

# TLV_SPEC as plain ints, with each tag's name for errors: enum lookups and Tag(tag).name
# cost microseconds per TLV. Integer TLVs have a fixed size (low == high).
_TLV_INT, _TLV_CSTR, _TLV_OCTETS, _TLV_EMPTY = range(4)
_TlvRule = tuple[int, int, int, str]
_TLV_KIND = {TlvType.INT1: _TLV_INT, TlvType.INT2: _TLV_INT, TlvType.INT4: _TLV_INT, TlvType.CSTR: _TLV_CSTR,
             TlvType.OCTETS: _TLV_OCTETS, TlvType.EMPTY: _TLV_EMPTY}
_TLVS: dict[int, _TlvRule] = {
    int(tag): (_TLV_KIND[kind], low, high, Tag(tag).name.lower()) for tag, (kind, low, high) in TLV_SPEC.items()
}
# Integer TLVs (the most common) take a shortcut both ways: tag -> (unpack the value,
# pack header and value, size, limit), one struct call each.
_INT_TLVS = {
    tag: (Struct(">" + "BH_I"[high - 1]).unpack_from, Struct(">HH" + "BH_I"[high - 1]).pack, high, 1 << (8 * high))
    for tag, (kind, low, high, _) in _TLVS.items() if kind == _TLV_INT
}

# Small ints for the kinds: the walk compares them in its hot loop.
_U8, _CSTR, _TIME, _SM, _DESTS, _UNSUCCESS, _INT32 = range(7)
_CODE = {Kind.U8: _U8, Kind.CSTR: _CSTR, Kind.TIME: _TIME, Kind.SHORT_MESSAGE: _SM,
         Kind.DEST_ADDRESSES: _DESTS, Kind.UNSUCCESS_SMES: _UNSUCCESS, Kind.U32: _INT32}


# Each class's BODY is compiled once, at import, into one straight-line reader and one
# writer function (as dataclasses builds __init__): an interpreted walk costs a loop turn
# and attribute lookups per field and ran at half the speed. The templates are their
# steps, one per field kind: $i numbers the field, F$i and A$i (the Field and its allowed
# set) are bound in the functions' namespace. A run of 1-octet integers shares one bounds
# check; when it fails, RUN$i[end - pos] is the first field past the end.
_READ_STEP = {
    _CSTR: """
    nul = text.find("\\0", pos, pos + $size)
    if nul < 0:
        raise _field_error(where, F$i, "no NUL within $size octets")
    v$i = text[pos:nul]
    pos = nul + 1""",
    _SM: """
    if pos >= end:
        raise _field_error(where, F$i, "body ends before this field", ESME_RINVCMDLEN)
    sm_end = pos + 1 + data[pos]
    if sm_end > end or data[pos] > $size:
        raise _field_error(where, F$i, f"sm_length {data[pos]} past the end of the PDU or over $size")
    v$i = data[pos + 1:sm_end]
    pos = sm_end""",
    _INT32: """
    if pos + 4 > end:
        raise _field_error(where, F$i, "body ends before this field", ESME_RINVCMDLEN)
    v$i = int.from_bytes(data[pos:pos + 4], "big")
    pos += 4""",
    _DESTS: """
    v$i, pos = _read_list(data, text, pos, F$i, where)""",
}
_READ_STEP[_UNSUCCESS] = _READ_STEP[_DESTS]
_READ_STEP[_TIME] = _READ_STEP[_CSTR] + """
    if v$i and not is_valid_time(v$i):
        raise _field_error(where, F$i, f"{v$i!r} is not an SMPP time")"""
_READ_RUN = """
    if pos + $count > end:
        raise _field_error(where, RUN$i[end - pos], "body ends before this field", ESME_RINVCMDLEN)"""
_READ_RUN_ITEM = """
    v$i = data[pos + $offset]"""
_CHECK_ALLOWED = """
    if v$i not in A$i:
        raise _field_error(where, F$i, f"value {v$i} not allowed")"""
_READ_TLVS = """
    tlvs = _read_tlvs(data, pos, where)
    pos = end"""
# The operation defines no optional parameters, so its body is complete: octets past it
# mean command_length disagrees with the body (ESME_RINVCMDLEN, as for a body cut short).
# ESME_ROPTPARNOTALLWD would claim they are a parameter, which nothing here can know.
_REJECT_TRAILING = """
    if pos != end:
        raise _field_error(where, "command_length", f"{end - pos} octets after the body", ESME_RINVCMDLEN)"""

# Writer steps check one field each and name what goes into the one bytes %-format
# that builds the body: (step, format piece, format arguments).
_WRITE_STEP = {
    _U8: ("""
    v$i = source.$name
    if not isinstance(v$i, int) or not 0 <= v$i <= 255:
        raise _encode_error(pdu, "$name", f"{v$i!r} is not a 1-octet integer")""", b"%c", "v$i"),
    _CSTR: ("""
    v$i = source.$name
    if not isinstance(v$i, str):
        raise _encode_error(pdu, "$name", f"{v$i!r} is not a str")
    try:
        b$i = v$i.encode("latin-1")
    except UnicodeEncodeError:
        raise _encode_error(pdu, "$name", f"{v$i!r} is not latin-1 text") from None
    if len(b$i) >= $size or 0 in b$i:
        raise _encode_error(pdu, "$name", f"{v$i!r} longer than $max or holds a NUL")""", b"%s\0", "b$i"),
    _SM: ("""
    v$i = source.$name
    if not isinstance(v$i, bytes) or len(v$i) > $size:
        raise _encode_error(pdu, "$name", "must be bytes of at most $size octets")""", b"%c%s", "len(v$i), v$i"),
    _INT32: ("""
    v$i = source.$name
    if not isinstance(v$i, int) or not 0 <= v$i <= 0xFFFFFFFF:
        raise _encode_error(pdu, "$name", f"{v$i!r} is not a 4-octet integer")""", b"%s", "v$i.to_bytes(4, 'big')"),
    _DESTS: ("", b"%s", "_list_bytes(F$i, source.$name, pdu)"),
}
_WRITE_STEP[_UNSUCCESS] = _WRITE_STEP[_DESTS]
_WRITE_STEP[_TIME] = (_WRITE_STEP[_CSTR][0] + """
    if not is_valid_time(v$i):
        raise _encode_error(pdu, "$name", f"{v$i!r} is not an SMPP time")""", *_WRITE_STEP[_CSTR][1:])
_WRITE_ALLOWED = """
    if v$i not in A$i:
        raise _encode_error(pdu, "$name", f"value {v$i} not allowed")"""


def _compile(cls: type, fields: tuple[Field, ...], top: bool) -> tuple[Callable, Callable]:
    """(reader, writer) for `fields` of `cls`. reader(data, text, pos, where, head) reads
    from data[pos:] (text is data decoded as latin-1) and returns (cls(*head, *values),
    pos after them); writer(source, pdu) returns source's fields as bytes."""
    namespace: dict[str, Any] = {**_GENERATED_GLOBALS, "cls": cls}
    read, write, pieces, args = [], [], [], []

    def emit(steps: list[str], template: str, **names: Any) -> None:
        steps.append(Template(template).substitute(names))

    for i, field in enumerate(fields):
        code = _CODE[field.kind]
        names = {"i": i, "size": field.size, "max": field.size - 1, "name": field.name}
        namespace[f"F{i}"], namespace[f"A{i}"] = field, field.allowed
        if code != _U8:
            emit(read, _READ_STEP[code], **names)
        elif i == 0 or _CODE[fields[i - 1].kind] != _U8:  # the first of a run
            run = tuple(itertools.takewhile(lambda f: f.kind is Kind.U8, fields[i:]))
            namespace[f"RUN{i}"] = run
            emit(read, _READ_RUN, i=i, count=len(run))
            for offset in range(len(run)):
                emit(read, _READ_RUN_ITEM, i=i + offset, offset=offset)
            read.append(f"\n    pos += {len(run)}")
        step, piece, arg = _WRITE_STEP[code]
        emit(write, step, **names)
        if field.allowed is not None:
            emit(read, _CHECK_ALLOWED, **names)
            emit(write, _WRITE_ALLOWED, **names)
        pieces.append(piece)
        emit(args, arg, **names)
    values = [f"v{i}" for i in range(len(fields))]
    if top and cls.HAS_TLVS:
        read.append(_READ_TLVS)
        values.append("tlvs")
        pieces.append(b"%s")
        args.append("_tlv_bytes(source.tlvs, pdu)")
    elif top:
        read.append(_REJECT_TRAILING)
    namespace["FORMAT"] = b"".join(pieces)
    source = (
        "def read(data, text, pos, where, head):\n    end = len(data)" + "".join(read)
        + f"\n    return cls(*head, {', '.join(values)}), pos\n"
        + "def write(source, pdu):" + "".join(write)
        + f"\n    return FORMAT % ({''.join(a + ', ' for a in args)})\n"
    )
    exec(compile(source, f"<smsc codec for {cls.__name__}>", "exec"), namespace)
    return namespace["read"], namespace["write"]


def _field_error(where: tuple[type[Pdu], int], field: Field | str, message: str,
                 status: int | None = None) -> PduDecodeError:
    cls, sequence = where
    name = field if isinstance(field, str) else field.name
    status = field.status if status is None else status  # type: ignore[union-attr]
    return PduDecodeError(f"{cls.__name__}.{name}: {message}", command_status=status, field=name,
                          sequence_number=sequence, command_id=cls.command_id)


# The entries of submit_multi's and submit_multi_resp's lists, each with its own reader.
_DEST_FLAG = Field("dest_flag", Kind.U8, status=st.ESME_RINVDESTFLAG,
                   allowed=frozenset({pdus.DEST_FLAG_SME, pdus.DEST_FLAG_DISTRIBUTION_LIST}))
_ENTRY_FIELDS = {
    pdus.SmeAddress: pdus.DEST_21,
    pdus.DistributionList: (Field("dl_name", Kind.CSTR, 21, st.ESME_RINVDLNAME),),
    pdus.UnsuccessSme: (*pdus.DEST_21, Field("error_status_code", Kind.U32)),
}
_ENTRY_CLASSES = {
    Kind.DEST_ADDRESSES: (pdus.SmeAddress, pdus.DistributionList),
    Kind.UNSUCCESS_SMES: (pdus.UnsuccessSme,),
}
_DEST_FLAGS = {pdus.DEST_FLAG_SME: pdus.SmeAddress, pdus.DEST_FLAG_DISTRIBUTION_LIST: pdus.DistributionList}
_GENERATED_GLOBALS: dict[str, Any] = {}  # filled below, once the helpers exist


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
    found = _BY_COMMAND_ID.get(command_id)
    if found is None:
        raise UnknownCommandError(f"unknown command_id 0x{command_id:08X}", sequence_number=sequence)
    cls, read = found
    if length == HEADER_SIZE and (command_status and cls.BODY_OPTIONAL_ON_ERROR or cls.BODY_OPTIONAL):
        return cls(sequence, command_status)
    # C-strings are sliced from one latin-1 decode of the whole PDU, not decoded one by one.
    return read(data, data.decode("latin-1"), HEADER_SIZE, (cls, sequence), (sequence, command_status))[0]


def _read_list(data: bytes, text: str, pos: int, field: Field,
               where: tuple[type[Pdu], int]) -> tuple[tuple[Any, ...], int]:
    minimum = 1 if field.kind is Kind.DEST_ADDRESSES else 0
    if pos >= len(data):
        raise _field_error(where, field, "body ends before this field", st.ESME_RINVCMDLEN)
    count = data[pos]
    if not minimum <= count <= field.size:
        raise _field_error(where, field, f"{count} entries, must be {minimum} to {field.size}")
    pos += 1
    entries = []
    for _ in range(count):
        if minimum:  # submit_multi: each dest_address starts with its dest_flag
            if pos >= len(data):
                raise _field_error(where, _DEST_FLAG, "body ends before this field", st.ESME_RINVCMDLEN)
            entry_cls = _DEST_FLAGS.get(data[pos])
            if entry_cls is None:
                raise _field_error(where, _DEST_FLAG, f"value {data[pos]} not allowed")
            pos += 1
        else:
            entry_cls = pdus.UnsuccessSme
        entry, pos = _READERS[entry_cls](data, text, pos, where, ())
        entries.append(entry)
    return tuple(entries), pos


def _read_tlvs(data: bytes, pos: int, where: tuple[type[Pdu], int]) -> tuple[tuple[int, Any], ...]:
    end = len(data)
    tlvs = []
    while pos < end:
        if pos + 4 > end:
            raise _field_error(where, "tlvs", "truncated TLV header", st.ESME_RINVOPTPARSTREAM)
        tag, size = _TLV_HEADER.unpack_from(data, pos)
        pos += 4 + size
        if pos > end:
            raise _field_error(where, "tlvs", f"TLV 0x{tag:04X} value past the end", st.ESME_RINVOPTPARSTREAM)
        fast = _INT_TLVS.get(tag)
        if fast is not None and size == fast[2]:
            tlvs.append((tag, fast[0](data, pos - size)[0]))
            continue
        spec = _TLVS.get(tag)
        raw = data[pos - size:pos]
        tlvs.append((tag, raw if spec is None else _tlv_value(raw, spec, where)))
    return tuple(tlvs)


def _tlv_value(raw: bytes, spec: _TlvRule, where: tuple[type[Pdu], int]) -> Any:
    kind, low, high, name = spec
    if not low <= len(raw) <= high:
        raise _field_error(where, name, f"length {len(raw)} not in {low}..{high}", st.ESME_RINVPARLEN)
    if kind == _TLV_INT:
        return int.from_bytes(raw, "big")
    if kind == _TLV_CSTR:
        if raw.find(0) != len(raw) - 1:
            raise _field_error(where, name, "not one NUL-terminated string", st.ESME_RINVOPTPARAMVAL)
        return raw[:-1].decode("latin-1")
    return raw if kind == _TLV_OCTETS else None


# --- encode ---------------------------------------------------------------------------


def encode(pdu: Pdu) -> bytes:
    """The whole PDU on the wire. PduEncodeError when a field breaks its rule."""
    cls = type(pdu)
    write = _PDU_WRITERS.get(cls)
    if write is None:
        raise PduEncodeError(f"{cls.__name__} is not one of the PDU classes of smsc.smpp.pdus")
    sequence, status = pdu.sequence_number, pdu.command_status
    if not (isinstance(sequence, int) and isinstance(status, int) and 0 <= sequence <= _MAX_U32 and 0 <= status <= _MAX_U32):
        raise _header_error(pdu)
    # An error response carries no body (sections 4.1.2 and 4.4.2: the body is not
    # returned when command_status is non-zero), whatever its fields hold.
    body = b"" if status and cls.BODY_OPTIONAL_ON_ERROR else write(pdu, pdu)
    return _HEADER.pack(HEADER_SIZE + len(body), cls.command_id, status, sequence) + body


def _header_error(pdu: Pdu) -> PduEncodeError:
    for name in ("sequence_number", "command_status"):
        value = getattr(pdu, name)
        if not isinstance(value, int) or not 0 <= value <= _MAX_U32:
            return _encode_error(pdu, name, f"{value!r} is not a 4-octet integer")
    raise AssertionError("called for a valid header")


def _encode_error(pdu: Pdu, name: str, message: str) -> PduEncodeError:
    cls = type(pdu)
    return PduEncodeError(f"{cls.__name__}.{name}: {message}", field=name,
                          sequence_number=pdu.sequence_number, command_id=cls.command_id)


def _latin1(value: Any, name: str, pdu: Pdu) -> bytes:
    if not isinstance(value, str):
        raise _encode_error(pdu, name, f"{value!r} is not a str")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise _encode_error(pdu, name, f"{value!r} is not latin-1 text") from None


def _list_bytes(field: Field, entries: Any, pdu: Pdu) -> bytes:
    minimum = 1 if field.kind is Kind.DEST_ADDRESSES else 0
    if type(entries) is not tuple or not minimum <= len(entries) <= field.size:
        raise _encode_error(pdu, field.name, f"must be a tuple of {minimum} to {field.size} entries")
    allowed = _ENTRY_CLASSES[field.kind]
    out = bytearray((len(entries),))
    for entry in entries:
        if type(entry) not in allowed:
            raise _encode_error(pdu, field.name, f"{entry!r} is not one of {[c.__name__ for c in allowed]}")
        if minimum:
            out.append(pdus.DEST_FLAG_SME if type(entry) is pdus.SmeAddress else pdus.DEST_FLAG_DISTRIBUTION_LIST)
        out += _WRITERS[type(entry)](entry, pdu)
    return bytes(out)


def _tlv_bytes(tlvs: Any, pdu: Pdu) -> bytes:
    if type(tlvs) is not tuple:
        raise _encode_error(pdu, "tlvs", "must be a tuple of (tag, value) pairs")
    out = []
    for item in tlvs:
        if type(item) is tuple and len(item) == 2 and isinstance(item[0], int):
            fast = _INT_TLVS.get(item[0])
            if fast is not None and isinstance(item[1], int) and 0 <= item[1] < fast[3]:
                out.append(fast[1](item[0], fast[2], item[1]))
                continue
        out.append(_tlv_item_bytes(item, pdu))
    return b"".join(out)


def _tlv_item_bytes(item: Any, pdu: Pdu) -> bytes:
    if type(item) is not tuple or len(item) != 2 or not isinstance(item[0], int) or not 0 <= item[0] <= 0xFFFF:
        raise _encode_error(pdu, "tlvs", f"{item!r} is not a (tag, value) pair")
    tag, value = item
    spec = _TLVS.get(tag)
    if spec is None:
        if not isinstance(value, bytes) or len(value) > 0xFFFF:
            raise _encode_error(pdu, f"tlv 0x{tag:04X}", f"{value!r} is not bytes of at most 65535 octets")
        raw = value
    else:
        raw = _tlv_raw(value, spec, pdu)
    return _TLV_HEADER.pack(tag, len(raw)) + raw


def _tlv_raw(value: Any, spec: _TlvRule, pdu: Pdu) -> bytes:
    kind, low, high, name = spec
    if kind == _TLV_INT:
        if not isinstance(value, int) or not 0 <= value < 1 << (8 * high):
            raise _encode_error(pdu, name, f"{value!r} is not a {high}-octet integer")
        return value.to_bytes(high, "big")
    if kind == _TLV_CSTR:
        raw = _latin1(value, name, pdu)
        if 0 in raw:
            raise _encode_error(pdu, name, f"{value!r} holds a NUL")
        raw += b"\0"
    elif kind == _TLV_EMPTY:
        if value is not None:
            raise _encode_error(pdu, name, f"{value!r}: this TLV carries no value (None)")
        return b""
    elif not isinstance(value, bytes):
        raise _encode_error(pdu, name, f"{value!r} is not bytes")
    else:
        raw = value
    if not low <= len(raw) <= high:
        raise _encode_error(pdu, name, f"length {len(raw)} not in {low}..{high}")
    return raw


_GENERATED_GLOBALS.update(
    ESME_RINVCMDLEN=st.ESME_RINVCMDLEN, is_valid_time=is_valid_time, _field_error=_field_error,
    _encode_error=_encode_error, _read_list=_read_list, _read_tlvs=_read_tlvs, _list_bytes=_list_bytes,
    _tlv_bytes=_tlv_bytes,
)
_COMPILED = {
    **{cls: _compile(cls, cls.BODY, top=True) for cls in pdus.PDU_CLASSES.values()},
    **{cls: _compile(cls, fields, top=False) for cls, fields in _ENTRY_FIELDS.items()},
}
_READERS = {cls: reader for cls, (reader, _) in _COMPILED.items()}
_WRITERS = {cls: writer for cls, (_, writer) in _COMPILED.items()}
_BY_COMMAND_ID = {command_id: (cls, _READERS[cls]) for command_id, cls in pdus.PDU_CLASSES.items()}
_PDU_WRITERS = {cls: _WRITERS[cls] for cls in pdus.PDU_CLASSES.values()}
