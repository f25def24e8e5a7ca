"""Text primitives, pure-Python twin (reference). native/_text_c.pyx is the fast twin.

Both twins export these functions with the same behaviour and the same exceptions
(smsc.codec.text_errors). Everything above them (choosing an encoding, splitting into
parts with a UDH, reassembly) lives in pure modules that call the active twin.

GSM 7-bit default alphabet and national tables (TS 23.038; `locking`/`single` are
language ids from smsc.codec.gsm_tables, 0 = default):
    encode_gsm(text, locking=0, single=0) -> bytes
        Unpacked septets, one per octet (what SMPP carries with data_coding 0). A
        single shift character costs two septets (0x1B, code). UnencodableError names
        the first character no table holds, with its position.
    try_encode_gsm(text, locking=0, single=0) -> bytes | None
        The same, None instead of the error (cheap probing of tables).
    decode_gsm(septets, locking=0, single=0, errors="replace") -> str
        Never fails under "replace": an octet above 0x7F becomes U+FFFD, an escape
        before a septet the single shift table lacks shows that septet's base character
        (TS 23.038 6.2.1.1), escape-escape and a trailing escape show as a space.
        "strict" raises TextDecodeError for octets above 0x7F instead.
    pack_septets(septets, fill_bits=0) -> bytes
        7-bit packing (TS 23.038 6.1.2.1.1), after `fill_bits` zero bits (the padding
        that aligns text after a UDH, TS 23.040 9.2.3.24). When 7 bits are left over in
        the last octet they hold CR, not '@' (6.1.2.3.1).
    unpack_septets(data, fill_bits=0, count=-1) -> bytes
        The inverse; count=-1 takes every whole septet and drops a trailing CR that
        fills exactly 7 spare bits (packed text without a septet count is ambiguous
        there, as in the spec). TextDecodeError when `count` needs more bits than given.
UCS-2 / UTF-16BE (data_coding 0x08), astral characters as surrogate pairs:
    encode_ucs2(text) -> bytes; decode_ucs2(data, errors="replace") -> str
        A lone surrogate in `text` is unencodable. Decoding replaces an odd final octet
        and unpaired surrogates with U+FFFD ("strict": TextDecodeError).
Latin-1 (0x03) and IA5/ASCII (0x01):
    encode_latin1(text), encode_ascii(text) -> bytes (UnencodableError)
    decode_latin1(data) -> str (every octet is valid)
    decode_ascii(data, errors="replace") -> str (octets above 0x7F: U+FFFD or error)
Splitting encoded text into chunks of at most `room` units, never cutting a character:
    split_septets(septets, room) -> list[bytes]   (not between 0x1B and its code)
    split_ucs2(octets, room) -> list[bytes]       (room in octets; not inside a pair)
    split_octets(data, room) -> list[bytes]       (8-bit data: plain cuts)
    prefix_udh(chunks, ies, reference, wide) -> list[bytes]
        Each chunk behind a User Data Header: UDHL, `ies` (already encoded, e.g. the
        national language IEs), then the concatenation IE (0x00 with an 8-bit reference,
        or 0x08 with a 16-bit one when `wide`), numbered 1..len(chunks).
"""
from __future__ import annotations

from functools import lru_cache

from smsc.codec import gsm_tables
from smsc.codec.text_errors import TextDecodeError, UnencodableError

ESCAPE = 0x1B
CR = 0x0D
_NOT_GSM = "\uffff"  # never in a translated GSM text, which is all ASCII


# --- GSM 7-bit ------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _gsm_translation(locking: int, single: int) -> dict[int, str]:
    # str.translate table: each mapped code point to its septet(s) as ASCII characters.
    # Unmapped code points below 256 map to a non-ASCII sentinel so that an unmapped
    # ASCII character (e.g. '`') cannot slip through unchanged.
    table = gsm_tables.encode_table(locking, single)
    out: dict[int, str] = {cp: _NOT_GSM for cp in range(256)}
    for cp, code in enumerate(table):
        if code != gsm_tables.UNMAPPED:
            out[cp] = chr(code) if code < gsm_tables.ESCAPED else "\x1b" + chr(code & 0x7F)
    return out


def try_encode_gsm(text: str, locking: int = 0, single: int = 0) -> bytes | None:
    septets = text.translate(_gsm_translation(locking, single))
    return septets.encode("ascii") if septets.isascii() else None


def encode_gsm(text: str, locking: int = 0, single: int = 0) -> bytes:
    septets = try_encode_gsm(text, locking, single)
    if septets is not None:
        return septets
    table = gsm_tables.encode_table(locking, single)
    for position, char in enumerate(text):
        cp = ord(char)
        if cp > 0xFFFF or table[cp] == gsm_tables.UNMAPPED:
            raise UnencodableError(char, position, "gsm7")
    raise AssertionError("unreachable: a character failed translation but is mapped")


@lru_cache(maxsize=None)
def _gsm_base_translation(locking: int, single: int) -> dict[int, str]:
    base, _ = gsm_tables.decode_table(locking, single)
    return {septet: char for septet, char in enumerate(base)}


def _bad_octet(what: str, octet: int, position: int) -> TextDecodeError:
    return TextDecodeError(f"octet 0x{octet:02X} at position {position} is not {what}")


def decode_gsm(septets: bytes, locking: int = 0, single: int = 0, errors: str = "replace") -> str:
    _check_errors(errors)
    septets = bytes(septets)  # any bytes-like, as the native twin takes
    if ESCAPE not in septets and septets.isascii():
        return septets.decode("ascii").translate(_gsm_base_translation(locking, single))
    base, shifted = gsm_tables.decode_table(locking, single)
    out = []
    i, n = 0, len(septets)
    while i < n:
        septet = septets[i]
        table = base
        if septet == ESCAPE:
            i += 1
            if i == n:
                out.append(" ")
                break
            septet = septets[i]
            table = shifted
        if septet > 0x7F:
            if errors == "strict":
                raise _bad_octet("a GSM septet", septet, i)
            out.append("\ufffd")
        else:
            out.append(table[septet])
        i += 1
    return "".join(out)


def _check_errors(errors: str) -> None:
    if errors not in ("replace", "strict"):
        raise ValueError(f"errors must be 'replace' or 'strict', not {errors!r}")


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    _check_fill(fill_bits)
    out = bytearray()
    acc, bits = 0, fill_bits
    for septet in septets:
        acc |= (septet & 0x7F) << bits
        bits += 7
        if bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits == 1:
        acc |= CR << 1  # 7 spare bits: CR, so they cannot read as '@'
    if bits:
        out.append(acc & 0xFF)
    return bytes(out)


def _check_fill(fill_bits: int) -> None:
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits}")


def unpack_septets(data: bytes, fill_bits: int = 0, count: int = -1) -> bytes:
    _check_fill(fill_bits)
    available = len(data) * 8 - fill_bits
    if available < 0:
        available = 0
    if count < 0:
        count = available // 7
        drop_padding = count > 0 and available % 7 == 0
    elif count * 7 > available:
        raise TextDecodeError(f"{count} septets need {count * 7} bits, the data has {available}")
    else:
        drop_padding = False
    out = bytearray(count)
    for index in range(count):
        bit = fill_bits + index * 7
        byte, shift = divmod(bit, 8)
        value = data[byte] >> shift
        if shift > 1:
            value |= data[byte + 1] << (8 - shift)
        out[index] = value & 0x7F
    if drop_padding and out[-1] == CR:
        del out[-1]
    return bytes(out)


# --- UCS-2, Latin-1, ASCII --------------------------------------------------------------

def _encode(text: str, codec: str, encoding: str) -> bytes:
    try:
        return text.encode(codec)
    except UnicodeEncodeError as exc:
        raise UnencodableError(text[exc.start], exc.start, encoding) from None


def _decode(data: bytes, codec: str, errors: str, failure) -> str:
    _check_errors(errors)
    try:
        return data.decode(codec, errors)
    except UnicodeDecodeError as exc:
        raise failure(exc) from None


def encode_ucs2(text: str) -> bytes:
    return _encode(text, "utf-16-be", "ucs2")


def decode_ucs2(data: bytes, errors: str = "replace") -> str:
    return _decode(data, "utf-16-be", errors, lambda exc: TextDecodeError(
        f"octets {exc.start}..{exc.end - 1} are not valid UTF-16BE: {exc.reason}"))


def encode_latin1(text: str) -> bytes:
    return _encode(text, "latin-1", "latin1")


def decode_latin1(data: bytes) -> str:
    return data.decode("latin-1")


def encode_ascii(text: str) -> bytes:
    return _encode(text, "ascii", "ascii")


def decode_ascii(data: bytes, errors: str = "replace") -> str:
    return _decode(data, "ascii", errors,
                   lambda exc: _bad_octet("ASCII", data[exc.start], exc.start))


# --- splitting --------------------------------------------------------------------------

def _check_room(room: int, minimum: int) -> None:
    if room < minimum:
        raise ValueError(f"room per part must be at least {minimum}, not {room}")


def split_septets(septets: bytes, room: int) -> list[bytes]:
    _check_room(room, 2)
    parts = []
    start, n = 0, len(septets)
    while start < n:
        end = min(start + room, n)
        if end < n:
            # A run of escapes that starts on a character boundary pairs up from its
            # first octet: an odd run at the cut ends with an escape whose code is cut off.
            run = 0
            while end - run > start and septets[end - run - 1] == ESCAPE:
                run += 1
            if run % 2:
                end -= 1
        parts.append(septets[start:end])
        start = end
    return parts


def split_ucs2(octets: bytes, room: int) -> list[bytes]:
    _check_room(room, 4)
    room -= room % 2
    parts = []
    start, n = 0, len(octets)
    while start < n:
        end = min(start + room, n)
        if end < n and 0xD8 <= octets[end - 2] <= 0xDB:
            end -= 2  # a high surrogate: keep it with its low half
        parts.append(octets[start:end])
        start = end
    return parts


def split_octets(data: bytes, room: int) -> list[bytes]:
    _check_room(room, 1)
    return [data[i:i + room] for i in range(0, len(data), room)]


def prefix_udh(chunks: list[bytes], ies: bytes, reference: int, wide: bool) -> list[bytes]:
    total = len(chunks)
    if not 1 <= total <= 255:
        raise ValueError(f"a concatenated message has 1..255 parts, not {total}")
    if wide:
        if not 0 <= reference <= 0xFFFF:
            raise ValueError(f"16-bit reference out of range: {reference}")
        concat = bytes((0x08, 4, reference >> 8, reference & 0xFF, total))
    else:
        if not 0 <= reference <= 0xFF:
            raise ValueError(f"8-bit reference out of range: {reference}")
        concat = bytes((0x00, 3, reference, total))
    header = bytes((len(ies) + len(concat) + 1,)) + ies + concat
    if len(header) > 140:
        raise ValueError("user data header longer than 140 octets")
    return [header + bytes((seq,)) + chunk for seq, chunk in enumerate(chunks, 1)]
