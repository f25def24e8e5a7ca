# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""SMPP 3.4 PDU encode/decode, the Cython twin of smsc/codec/_pdu_py.py.

Every operation whose body is made of 1-octet integers, C-octet strings, time strings and
short_message (all but submit_multi and its response) is walked in C over a plan built at
import from the same pdus.BODY the reference reads, so the two cannot drift apart.

Only well-formed input takes the fast path. On anything it does not accept (a broken
field, an unusual TLV, submit_multi) it hands the same input to the reference twin, whose
answer, the PDU or the precise SmppError, is then the answer: both twins raise equal
errors by construction, and the fast path only has to be right about what is valid.
"""
from cpython.bytes cimport (PyBytes_AS_STRING, PyBytes_Check, PyBytes_CheckExact, PyBytes_FromStringAndSize,
                            PyBytes_GET_SIZE)
from cpython.long cimport PyLong_AsUnsignedLongLong, PyLong_Check
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport (PyUnicode_1BYTE_DATA, PyUnicode_1BYTE_KIND, PyUnicode_Check,
                              PyUnicode_DecodeLatin1, PyUnicode_GET_LENGTH, PyUnicode_KIND)
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memchr, memcpy

from msgspec.structs import astuple

from smsc.codec import _pdu_py as _reference
from smsc.smpp import pdus
from smsc.smpp.pdus import Kind
from smsc.smpp.times import is_valid_time

__all__ = ["decode", "decode_header", "encode"]

cdef enum:
    MAX_FIELDS = 24
    BODY_BUFFER = 1024  # larger than any plan's longest body (checked when plans are built)
    HEADER_SIZE = 16

cdef enum FieldKind:
    F_U8 = 1
    F_CSTR = 2
    F_TIME = 3
    F_SM = 4

cdef enum TlvKind:
    T_UNKNOWN = 0
    T_INT = 1
    T_CSTR = 2
    T_OCTETS = 3
    T_EMPTY = 4

cdef dict _FIELD_KINDS = {Kind.U8: F_U8, Kind.CSTR: F_CSTR, Kind.TIME: F_TIME, Kind.SHORT_MESSAGE: F_SM}
cdef dict _TLV_KINDS = {_reference._TLV_INT: T_INT, _reference._TLV_CSTR: T_CSTR,
                        _reference._TLV_OCTETS: T_OCTETS, _reference._TLV_EMPTY: T_EMPTY}

# TLV rules by tag, as C arrays: T_UNKNOWN (raw bytes) for every tag TLV_SPEC does not list.
cdef unsigned char _tlv_kind[65536]
cdef unsigned short _tlv_low[65536]
cdef unsigned short _tlv_high[65536]


cdef class _Plan:
    """One operation's body as C arrays: kind, size (NUL included) and allowed values."""

    cdef object cls
    cdef Py_ssize_t n
    cdef bint has_tlvs, body_optional_on_error
    cdef uint32_t command_id
    cdef unsigned char kind[MAX_FIELDS]
    cdef int size[MAX_FIELDS]
    cdef unsigned char allowed[MAX_FIELDS][256]


cdef _Plan _make_plan(cls):
    """The plan for `cls`, or None when it has a field the C walk does not handle."""
    cdef _Plan plan = _Plan()
    cdef Py_ssize_t i, value, longest = 0
    expected = ("sequence_number", "command_status", *[f.name for f in cls.BODY])
    expected += ("tlvs",) if cls.HAS_TLVS else ()
    # Decode builds the Struct positionally and encode reads astuple(): both need the
    # class's fields in wire order.
    if len(cls.BODY) > MAX_FIELDS or cls.__struct_fields__ != expected:
        return None
    plan.cls, plan.n, plan.command_id = cls, len(cls.BODY), cls.command_id
    plan.has_tlvs, plan.body_optional_on_error = cls.HAS_TLVS, cls.BODY_OPTIONAL_ON_ERROR
    for i, field in enumerate(cls.BODY):
        if field.kind not in _FIELD_KINDS:
            return None
        plan.kind[i] = _FIELD_KINDS[field.kind]
        plan.size[i] = field.size
        longest += field.size + 1
        for value in range(256):
            plan.allowed[i][value] = field.allowed is None or value in field.allowed
    return plan if longest < BODY_BUFFER else None


cdef dict _PLANS = {}  # command_id -> _Plan
cdef dict _PLANS_BY_CLASS = {}  # class -> _Plan


def _build_tables():
    for cls in pdus.PDU_CLASSES.values():
        plan = _make_plan(cls)
        if plan is not None:
            _PLANS[cls.command_id] = plan
            _PLANS_BY_CLASS[cls] = plan
    for tag, (kind, low, high, _name) in _reference._TLVS.items():
        _tlv_kind[tag], _tlv_low[tag], _tlv_high[tag] = _TLV_KINDS[kind], low, high


_build_tables()


cdef inline uint32_t _be32(const unsigned char* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef inline void _put32(unsigned char* p, uint32_t v) noexcept nogil:
    p[0] = v >> 24
    p[1] = v >> 16
    p[2] = v >> 8
    p[3] = v


def decode_header(data):
    """(command_length, command_id, command_status, sequence_number) of the first 16 octets."""
    cdef const unsigned char[:] view = data
    if view.shape[0] < HEADER_SIZE:
        return _reference.decode_header(data)  # raises FramingError
    cdef const unsigned char* p = &view[0]
    return _be32(p), _be32(p + 4), _be32(p + 8), _be32(p + 12)


def decode(data):
    """One whole PDU, header included, into its class from smsc.smpp.pdus."""
    if not PyBytes_CheckExact(data):
        data = bytes(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
    if n >= HEADER_SIZE and _be32(p) == n:
        plan = _PLANS.get(_be32(p + 4))
        if plan is not None:
            pdu = _decode_body(<_Plan>plan, p, n)
            if pdu is not None:
                return pdu
    return _reference.decode(data)


cdef object _decode_body(_Plan plan, const unsigned char* p, Py_ssize_t n):
    cdef uint32_t status = _be32(p + 8)
    cdef Py_ssize_t pos = HEADER_SIZE, i, length
    cdef const unsigned char* nul
    cdef unsigned char kind
    if n == HEADER_SIZE and status and plan.body_optional_on_error:
        return plan.cls(_be32(p + 12), status)
    cdef tuple args = PyTuple_New(plan.n + 2 + plan.has_tlvs)
    _set(args, 0, _be32(p + 12))
    _set(args, 1, status)
    for i in range(plan.n):
        kind = plan.kind[i]
        if kind == F_U8:
            if pos >= n or not plan.allowed[i][p[pos]]:
                return None
            _set(args, i + 2, p[pos])
            pos += 1
        elif kind == F_SM:
            if pos >= n:
                return None
            length = p[pos]
            if length > plan.size[i] or pos + 1 + length > n:
                return None
            _set(args, i + 2, PyBytes_FromStringAndSize(<const char*>p + pos + 1, length))
            pos += 1 + length
        else:
            nul = <const unsigned char*>memchr(p + pos, 0, min(<Py_ssize_t>plan.size[i], n - pos))
            if nul == NULL:
                return None
            length = nul - (p + pos)
            value = PyUnicode_DecodeLatin1(<const char*>p + pos, length, NULL) if length else ""
            if kind == F_TIME and length and not is_valid_time(value):
                return None
            _set(args, i + 2, value)
            pos += length + 1
    if plan.has_tlvs:
        tlvs = _decode_tlvs(p, pos, n)
        if tlvs is None:
            return None
        _set(args, plan.n + 2, tlvs)
    elif pos != n:
        return None
    return plan.cls(*args)


cdef inline void _set(tuple args, Py_ssize_t i, object value):
    Py_INCREF(value)  # PyTuple_SET_ITEM steals a reference
    PyTuple_SET_ITEM(args, i, value)


cdef object _decode_tlvs(const unsigned char* p, Py_ssize_t pos, Py_ssize_t n):
    cdef list tlvs = []
    cdef unsigned int tag, length, kind, i
    cdef uint64_t number
    while pos < n:
        if pos + 4 > n:
            return None
        tag = (p[pos] << 8) | p[pos + 1]
        length = (p[pos + 2] << 8) | p[pos + 3]
        pos += 4
        if pos + length > n:
            return None
        kind = _tlv_kind[tag]
        if kind == T_UNKNOWN or kind == T_OCTETS:
            if kind and not _tlv_low[tag] <= length <= _tlv_high[tag]:
                return None
            value = PyBytes_FromStringAndSize(<const char*>p + pos, length)
        elif not _tlv_low[tag] <= length <= _tlv_high[tag]:
            return None
        elif kind == T_INT:
            if length > 4:
                return None
            number = 0
            for i in range(length):
                number = (number << 8) | p[pos + i]
            value = number
        elif kind == T_CSTR:
            if length == 0 or memchr(p + pos, 0, length) != p + pos + length - 1:
                return None
            value = PyUnicode_DecodeLatin1(<const char*>p + pos, length - 1, NULL)
        else:
            value = None
        tlvs.append((tag, value))
        pos += length
    return tuple(tlvs)


# --- encode ---------------------------------------------------------------------------


def encode(pdu):
    """The whole PDU on the wire. PduEncodeError when a field breaks its rule."""
    plan = _PLANS_BY_CLASS.get(type(pdu))
    if plan is not None:
        data = _encode(<_Plan>plan, pdu)
        if data is not None:
            return data
    return _reference.encode(pdu)


cdef inline bint _as_uint(object value, uint64_t limit, uint64_t* out):
    """Whether `value` is an int (IntEnum members too) in 0..limit; its value in *out."""
    if not PyLong_Check(value):
        return False
    try:
        out[0] = PyLong_AsUnsignedLongLong(value)
    except OverflowError:  # negative, or over 64 bits
        return False
    return out[0] <= limit


cdef object _encode(_Plan plan, pdu):
    cdef unsigned char buf[BODY_BUFFER]
    cdef uint64_t sequence = 0, status = 0, number = 0
    cdef Py_ssize_t pos = HEADER_SIZE, i, length, tlv_length = 0
    cdef unsigned char kind
    cdef const unsigned char* text
    cdef tuple values = astuple(pdu)
    if not _as_uint(values[0], 0xFFFFFFFF, &sequence) or not _as_uint(values[1], 0xFFFFFFFF, &status):
        return None
    # An error response carries no body (sections 4.1.2 and 4.4.2), as in the reference.
    if not (status and plan.body_optional_on_error):
        for i in range(plan.n):
            value = values[i + 2]
            kind = plan.kind[i]
            if kind == F_U8:
                if not _as_uint(value, 255, &number) or not plan.allowed[i][number]:
                    return None
                buf[pos] = number
                pos += 1
            elif kind == F_SM:
                if not PyBytes_Check(value):
                    return None
                length = PyBytes_GET_SIZE(value)
                if length > plan.size[i]:
                    return None
                buf[pos] = length
                memcpy(buf + pos + 1, PyBytes_AS_STRING(value), length)
                pos += 1 + length
            else:
                if not PyUnicode_Check(value) or PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND:
                    return None
                length = PyUnicode_GET_LENGTH(value)
                text = PyUnicode_1BYTE_DATA(value)
                if length >= plan.size[i] or memchr(text, 0, length) != NULL:
                    return None
                if kind == F_TIME and length and not is_valid_time(value):
                    return None
                memcpy(buf + pos, text, length)
                buf[pos + length] = 0
                pos += length + 1
        if plan.has_tlvs:
            tlvs = values[plan.n + 2]
            tlv_length = _tlvs_length(tlvs)
            if tlv_length < 0:
                return None
    data = PyBytes_FromStringAndSize(NULL, pos + tlv_length)
    cdef unsigned char* out = <unsigned char*>PyBytes_AS_STRING(data)
    memcpy(out, buf, pos)
    _put32(out, pos + tlv_length)
    _put32(out + 4, plan.command_id)
    _put32(out + 8, status)
    _put32(out + 12, sequence)
    if tlv_length:
        _write_tlvs(tlvs, out + pos)
    return data


cdef Py_ssize_t _tlvs_length(object tlvs):
    """The encoded length of `tlvs`, or -1 when one breaks a rule (the reference says which)."""
    cdef Py_ssize_t total = 0, length
    cdef unsigned int tag, kind
    cdef uint64_t number
    if type(tlvs) is not tuple:
        return -1
    for item in <tuple>tlvs:
        if type(item) is not tuple or len(<tuple>item) != 2:
            return -1
        tag_object, value = <tuple>item
        if not _as_uint(tag_object, 0xFFFF, &number):
            return -1
        tag = <unsigned int>number
        kind = _tlv_kind[tag]
        if kind == T_UNKNOWN or kind == T_OCTETS:
            if not PyBytes_Check(value):
                return -1
            length = PyBytes_GET_SIZE(value)
            if length > 0xFFFF or (kind and not _tlv_low[tag] <= length <= _tlv_high[tag]):
                return -1
        elif kind == T_INT:
            length = _tlv_high[tag]
            if not _as_uint(value, (1ULL << (8 * length)) - 1, &number):
                return -1
        elif kind == T_CSTR:
            if not PyUnicode_Check(value) or PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND:
                return -1
            length = PyUnicode_GET_LENGTH(value) + 1
            if memchr(PyUnicode_1BYTE_DATA(value), 0, length - 1) != NULL \
                    or not _tlv_low[tag] <= length <= _tlv_high[tag]:
                return -1
        else:  # T_EMPTY
            if value is not None:
                return -1
            length = 0
        total += 4 + length
    return total


cdef int _write_tlvs(tuple tlvs, unsigned char* out) except -1:
    """Write `tlvs`, already checked by _tlvs_length, at `out`."""
    cdef unsigned int tag, kind, length, i
    cdef uint64_t number
    for tag_object, value in tlvs:
        tag = tag_object
        kind = _tlv_kind[tag]
        if kind == T_INT:
            length = _tlv_high[tag]
            number = value
            for i in range(length):
                out[4 + i] = number >> (8 * (length - 1 - i))
        elif kind == T_CSTR:
            length = PyUnicode_GET_LENGTH(value) + 1
            memcpy(out + 4, PyUnicode_1BYTE_DATA(value), length - 1)
            out[3 + length] = 0
        elif kind == T_EMPTY:
            length = 0
        else:
            length = PyBytes_GET_SIZE(value)
            memcpy(out + 4, PyBytes_AS_STRING(value), length)
        out[0], out[1], out[2], out[3] = tag >> 8, tag & 0xFF, length >> 8, length & 0xFF
        out += 4 + length
    return 0
