# cython: language_level=3
"""Text primitives, Cython twin of smsc/codec/_text_py.py (see its docstring for the
contract: same functions, same results, same exceptions).

GSM-7 work runs over C lookup tables (one uint16 per BMP code point to encode, 128 UCS-2
characters per table to decode) with no Python call per character. UCS-2, Latin-1 and
ASCII are CPython's own C codecs already, so those functions are the pure twin's.
"""
from cpython.array cimport array
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ
from libc.string cimport memcpy

from smsc.codec import gsm_tables
from smsc.codec._text_py import (  # noqa: F401  (re-exported: already C codecs)
    _bad_octet,
    _check_errors,
    _check_fill,
    _check_room,
    decode_ascii,
    decode_latin1,
    decode_ucs2,
    encode_ascii,
    encode_latin1,
    encode_ucs2,
)
from smsc.codec.text_errors import TextDecodeError, UnencodableError

cdef extern from "Python.h":
    object PyUnicode_FromKindAndData(int kind, const void *buffer, Py_ssize_t size)
    int PyUnicode_2BYTE_KIND

ctypedef unsigned short ucs2  # every GSM table character is in the BMP

cdef enum:
    N_LANG = 14         # language ids with tables: 0..13
    STACK = 2048        # units handled without a heap buffer
    ESCAPE = 0x1B
    CR = 0x0D
    ESCAPED = 0x100
    UNMAPPED = 0xFFFF

cdef const unsigned short* _encode_tables[N_LANG][N_LANG]
cdef ucs2 _decode_tables[N_LANG][N_LANG][2][128]
cdef bint _decode_built[N_LANG][N_LANG]
cdef list _keep_alive = []


cdef int _check_slots(int locking, int single) except -1:
    # gsm_tables has a table this build has no C slot for: fail loudly, never overflow.
    if not (0 <= locking < N_LANG and 0 <= single < N_LANG):
        raise ValueError(f"the native text twin has no room for language {max(locking, single)}")
    return 0


cdef const unsigned short* _encode_table(int locking, int single) except NULL:
    cdef array table
    if 0 <= locking < N_LANG and 0 <= single < N_LANG and _encode_tables[locking][single] != NULL:
        return _encode_tables[locking][single]
    table = gsm_tables.encode_table(locking, single)  # ValueError for unknown ids
    _check_slots(locking, single)
    _keep_alive.append(table)
    _encode_tables[locking][single] = table.data.as_ushorts
    return _encode_tables[locking][single]


cdef ucs2* _decode_table(int locking, int single, int shifted) except NULL:
    cdef int septet
    if not (0 <= locking < N_LANG and 0 <= single < N_LANG and _decode_built[locking][single]):
        base, after_escape = gsm_tables.decode_table(locking, single)
        _check_slots(locking, single)
        for septet in range(128):
            _decode_tables[locking][single][0][septet] = ord(base[septet])
            _decode_tables[locking][single][1][septet] = ord(after_escape[septet])
        _decode_built[locking][single] = True
    return _decode_tables[locking][single][shifted]


cdef inline Py_ssize_t _put(unsigned short code, unsigned char* out, Py_ssize_t o) noexcept nogil:
    """Write one encode table entry at out[o]; the next offset, or -1 when unmapped."""
    if code < 0x80:
        out[o] = <unsigned char>code
        return o + 1
    if code == UNMAPPED:
        return -1
    out[o] = ESCAPE
    out[o + 1] = <unsigned char>(code & 0x7F)
    return o + 2


def encode_gsm(str text, int locking=0, int single=0):
    return _encode_gsm(text, locking, single, True)


def try_encode_gsm(str text, int locking=0, int single=0):
    return _encode_gsm(text, locking, single, False)


cdef object _encode_gsm(str text, int locking, int single, bint strict):
    # strict: UnencodableError for the first unmapped character; else None (no
    # exception to build: the advisor probes tables with this).
    cdef const unsigned short* table = _encode_table(locking, single)
    cdef Py_ssize_t n = len(text), i, o = 0
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef const unsigned char* latin
    cdef Py_UCS4 cp
    cdef unsigned char stack[STACK]
    cdef unsigned char* out = stack
    if 2 * n > STACK:
        out = <unsigned char*>PyMem_Malloc(2 * n)
        if out == NULL:
            raise MemoryError()
    try:
        if kind == 1:
            # Latin-1 range strings (every ASCII text): no per-character kind switch.
            latin = <const unsigned char*>data
            for i in range(n):
                o = _put(table[latin[i]], out, o)
                if o < 0:
                    break
        else:
            for i in range(n):
                cp = PyUnicode_READ(kind, data, i)
                o = _put(table[cp] if cp <= 0xFFFF else UNMAPPED, out, o)
                if o < 0:
                    break
        if o >= 0:
            return PyBytes_FromStringAndSize(<char*>out, o)
        if strict:
            raise UnencodableError(text[i], i, "gsm7")
        return None
    finally:
        if out != stack:
            PyMem_Free(out)


def decode_gsm(const unsigned char[:] septets, int locking=0, int single=0, str errors="replace"):
    _check_errors(errors)
    cdef bint strict = errors == "strict"
    cdef ucs2* base = _decode_table(locking, single, 0)
    cdef ucs2* shifted = _decode_table(locking, single, 1)
    cdef ucs2* table
    cdef Py_ssize_t n = septets.shape[0], i = 0, o = 0
    cdef unsigned char septet
    cdef ucs2 stack[STACK]
    cdef ucs2* out = stack
    if n > STACK:
        out = <ucs2*>PyMem_Malloc(n * sizeof(ucs2))
        if out == NULL:
            raise MemoryError()
    try:
        while i < n:
            septet = septets[i]
            table = base
            if septet == ESCAPE:
                i += 1
                if i == n:
                    out[o] = 0x20
                    o += 1
                    break
                septet = septets[i]
                table = shifted
            if septet > 0x7F:
                if strict:
                    raise _bad_octet("a GSM septet", septet, i)
                out[o] = 0xFFFD
            else:
                out[o] = table[septet]
            o += 1
            i += 1
        return PyUnicode_FromKindAndData(PyUnicode_2BYTE_KIND, out, o)
    finally:
        if out != stack:
            PyMem_Free(out)


def pack_septets(const unsigned char[:] septets, int fill_bits=0):
    _check_fill(fill_bits)
    cdef Py_ssize_t n = septets.shape[0], i, o = 0
    cdef bytes result = PyBytes_FromStringAndSize(NULL, (fill_bits + 7 * n + 7) // 8)
    cdef unsigned char* out = <unsigned char*>PyBytes_AS_STRING(result)
    cdef unsigned int acc = 0
    cdef int bits = fill_bits
    for i in range(n):
        acc |= (septets[i] & 0x7F) << bits
        bits += 7
        if bits >= 8:
            out[o] = acc & 0xFF
            o += 1
            acc >>= 8
            bits -= 8
    if bits == 1:
        acc |= CR << 1  # 7 spare bits: CR, so they cannot read as '@'
    if bits:
        out[o] = acc & 0xFF
    return result


def unpack_septets(const unsigned char[:] data, int fill_bits=0, Py_ssize_t count=-1):
    _check_fill(fill_bits)
    cdef Py_ssize_t available = data.shape[0] * 8 - fill_bits, index, bit, byte
    cdef bint drop_padding = False
    cdef int shift
    cdef unsigned int value
    if available < 0:
        available = 0
    if count < 0:
        count = available // 7
        drop_padding = count > 0 and available % 7 == 0
    elif count * 7 > available:
        raise TextDecodeError(f"{count} septets need {count * 7} bits, the data has {available}")
    cdef bytes result = PyBytes_FromStringAndSize(NULL, count)
    cdef unsigned char* out = <unsigned char*>PyBytes_AS_STRING(result)
    for index in range(count):
        bit = fill_bits + index * 7
        byte = bit >> 3
        shift = bit & 7
        value = data[byte] >> shift
        if shift > 1:
            value |= data[byte + 1] << (8 - shift)
        out[index] = value & 0x7F
    if drop_padding and out[count - 1] == CR:
        return result[:count - 1]
    return result


def split_septets(bytes septets, Py_ssize_t room):
    _check_room(room, 2)
    cdef const unsigned char* data = <const unsigned char*>PyBytes_AS_STRING(septets)
    cdef Py_ssize_t start = 0, end, run, n = len(septets)
    cdef list parts = []
    while start < n:
        end = start + room if start + room < n else n
        if end < n:
            # An odd run of escapes at the cut ends with an escape whose code is cut off.
            run = 0
            while end - run > start and data[end - run - 1] == ESCAPE:
                run += 1
            if run & 1:
                end -= 1
        parts.append(PyBytes_FromStringAndSize(<char*>data + start, end - start))
        start = end
    return parts


def split_ucs2(bytes octets, Py_ssize_t room):
    _check_room(room, 4)
    room -= room % 2
    cdef const unsigned char* data = <const unsigned char*>PyBytes_AS_STRING(octets)
    cdef Py_ssize_t start = 0, end, n = len(octets)
    cdef list parts = []
    while start < n:
        end = start + room if start + room < n else n
        if end < n and 0xD8 <= data[end - 2] <= 0xDB:
            end -= 2  # a high surrogate: keep it with its low half
        parts.append(PyBytes_FromStringAndSize(<char*>data + start, end - start))
        start = end
    return parts


def split_octets(bytes data, Py_ssize_t room):
    _check_room(room, 1)
    cdef const char* p = PyBytes_AS_STRING(data)
    cdef Py_ssize_t start, n = len(data)
    return [PyBytes_FromStringAndSize(<char*>p + start, min(room, n - start))
            for start in range(0, n, room)]


def prefix_udh(list chunks, bytes ies, long reference, bint wide):
    cdef Py_ssize_t total = len(chunks), seq, hlen, clen
    cdef unsigned char header[160]
    cdef bytes chunk, part
    cdef unsigned char* out
    if not 1 <= total <= 255:
        raise ValueError(f"a concatenated message has 1..255 parts, not {total}")
    if wide:
        if not 0 <= reference <= 0xFFFF:
            raise ValueError(f"16-bit reference out of range: {reference}")
    elif not 0 <= reference <= 0xFF:
        raise ValueError(f"8-bit reference out of range: {reference}")
    hlen = 1 + len(ies) + (6 if wide else 5)
    if hlen > 140:
        raise ValueError("user data header longer than 140 octets")
    header[0] = hlen - 1
    memcpy(&header[1], PyBytes_AS_STRING(ies), len(ies))
    out = &header[1 + len(ies)]
    if wide:
        out[0] = 0x08
        out[1] = 4
        out[2] = reference >> 8
        out[3] = reference & 0xFF
        out[4] = total
    else:
        out[0] = 0x00
        out[1] = 3
        out[2] = reference
        out[3] = total
    cdef list parts = []
    for seq in range(total):
        chunk = chunks[seq]
        clen = len(chunk)
        part = PyBytes_FromStringAndSize(NULL, hlen + clen)
        out = <unsigned char*>PyBytes_AS_STRING(part)
        memcpy(out, header, hlen - 1)
        out[hlen - 1] = seq + 1
        memcpy(out + hlen, PyBytes_AS_STRING(chunk), clen)
        parts.append(part)
    return parts
