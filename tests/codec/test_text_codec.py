"""Text primitives on both twins: packing (TS 23.038 6.1.2), decoding policies, UCS-2,
Latin-1, IA5, splitting; and the twins against each other."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsc import codec as codec_switch
from smsc.codec.text_errors import TextDecodeError, UnencodableError

def examples(n: int):
    # The codec fixture only selects a module: nothing in it needs resetting per example.
    return settings(max_examples=n, suppress_health_check=[HealthCheck.function_scoped_fixture])


GSM_TEXT = st.text(
    alphabet="@£$¥èéùìòÇ\nØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡AZÄÖÑÜ§¿azäöñüà"
             "\f^{}\\[~]|€",
    max_size=400,
)


def _bits_model(septets: bytes, fill: int) -> bytes:
    # Independent model of 7-bit packing: a little-endian bit string.
    bits = "0" * fill + "".join(format(s, "07b")[::-1] for s in septets)
    if len(bits) % 8 == 1:
        bits += format(0x0D, "07b")[::-1]  # CR in 7 spare bits
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8][::-1], 2) for i in range(0, len(bits), 8))


def test_packing_known_vector(codec):
    assert codec.text.pack_septets(b"hellohello").hex() == "e8329bfd4697d9ec37"
    assert codec.text.unpack_septets(bytes.fromhex("e8329bfd4697d9ec37")) == b"hellohello"


def test_seven_spare_bits_hold_cr_and_are_dropped(codec):
    packed = codec.text.pack_septets(b"1234567")
    assert len(packed) == 7 and packed[-1] >> 1 == 0x0D
    assert codec.text.unpack_septets(packed) == b"1234567"
    assert codec.text.unpack_septets(packed, count=7) == b"1234567"
    assert codec.text.unpack_septets(codec.text.pack_septets(b"12345678")) == b"12345678"


@examples(60)
@given(septets=st.binary(max_size=200).map(lambda b: bytes(x & 0x7F for x in b)),
       fill=st.integers(0, 6))
def test_packing_matches_bit_model_and_round_trips(codec, septets, fill):
    packed = codec.text.pack_septets(septets, fill)
    assert packed == _bits_model(septets, fill)
    assert codec.text.unpack_septets(packed, fill, len(septets)) == septets


def test_unpack_refuses_a_count_beyond_the_data(codec):
    with pytest.raises(TextDecodeError, match="3 septets need 21 bits, the data has 16"):
        codec.text.unpack_septets(b"\x00\x00", 0, 3)
    with pytest.raises(ValueError, match="fill_bits"):
        codec.text.pack_septets(b"a", 7)


def test_decode_policy_for_invalid_septets(codec):
    t = codec.text
    assert t.decode_gsm(b"a\x80b\xff") == "a\ufffdb\ufffd"
    assert t.decode_gsm(b"ab\x1b") == "ab "  # trailing escape
    assert t.decode_gsm(b"\x1b\x1ba") == " a"  # escape-escape: reserved, a space
    assert t.decode_gsm(b"\x1bA") == "A"  # undefined in the extension: the base character
    assert t.decode_gsm(b"\x1b\xc1") == "\ufffd"
    with pytest.raises(TextDecodeError, match="octet 0x80 at position 1 is not a GSM septet"):
        t.decode_gsm(b"a\x80", errors="strict")
    with pytest.raises(ValueError, match="errors must be"):
        t.decode_gsm(b"a", errors="ignore")


def test_ucs2_surrogate_pairs_and_bad_input(codec):
    t = codec.text
    assert t.encode_ucs2("a\U0001f600") == b"\x00a\xd8\x3d\xde\x00"
    assert t.decode_ucs2(b"\x00a\xd8\x3d\xde\x00") == "a\U0001f600"
    assert t.decode_ucs2(b"\x00a\x00") == "a\ufffd"
    assert t.decode_ucs2(b"\xd8\x3d\x00a") == "\ufffda"
    with pytest.raises(TextDecodeError):
        t.decode_ucs2(b"\x00a\x00", errors="strict")
    with pytest.raises(UnencodableError) as info:
        t.encode_ucs2("ab\ud800")
    assert (info.value.position, info.value.encoding) == (2, "ucs2")


def test_latin1_and_ascii(codec):
    t = codec.text
    assert t.encode_latin1("café ÿ") == "café ÿ".encode("latin-1")
    assert t.decode_latin1(bytes(range(256))) == bytes(range(256)).decode("latin-1")
    with pytest.raises(UnencodableError, match="'€' \\(U\\+20AC\\) at position 2 cannot be encoded in latin1"):
        t.encode_latin1("ab€")
    assert t.encode_ascii("plain") == b"plain"
    with pytest.raises(UnencodableError):
        t.encode_ascii("é")
    assert t.decode_ascii(b"a\xe9") == "a\ufffd"
    with pytest.raises(TextDecodeError, match="octet 0xE9 at position 1 is not ASCII"):
        t.decode_ascii(b"a\xe9", errors="strict")


def test_long_texts_beyond_the_native_stack_buffer(codec):
    text = ("Long € text [with] escapes " * 200)[:5000]
    septets = codec.text.encode_gsm(text)
    assert len(septets) > 4096 and codec.text.decode_gsm(septets) == text
    with pytest.raises(UnencodableError) as info:
        codec.text.encode_gsm(text + "ж")
    assert info.value.position == 5000


def test_try_encode_gsm_answers_none_instead_of_raising(codec):
    assert codec.text.try_encode_gsm("ok €") == codec.text.encode_gsm("ok €")
    assert codec.text.try_encode_gsm("ok ж") is None
    assert codec.text.try_encode_gsm("\u0131", 1, 0) == b"\x07"


def test_split_septets_never_cuts_an_escape(codec):
    septets = codec.text.encode_gsm("a" * 152 + "€" + "b")
    parts = codec.text.split_septets(septets, 153)
    assert parts == [septets[:152], septets[152:]]
    # An escape run: "\x1b\x1b" pairs must stay whole too.
    assert codec.text.split_septets(b"a\x1b\x1b\x1b(", 3) == [b"a\x1b\x1b", b"\x1b("]


def test_split_ucs2_never_cuts_a_surrogate_pair(codec):
    octets = codec.text.encode_ucs2("a" * 66 + "\U0001f600" + "b")
    parts = codec.text.split_ucs2(octets, 134)
    assert parts == [octets[:132], octets[132:]]
    assert codec.text.split_octets(b"x" * 300, 134) == [b"x" * 134, b"x" * 134, b"x" * 32]


def test_prefix_udh_layouts(codec):
    parts = codec.text.prefix_udh([b"AB", b"C"], b"", 0x42, False)
    assert parts == [bytes.fromhex("0500034202 01") + b"AB", bytes.fromhex("0500034202 02") + b"C"]
    wide = codec.text.prefix_udh([b"A"], bytes.fromhex("240101"), 0x1234, True)
    assert wide == [bytes.fromhex("09 240101 0804123401 01") + b"A"]
    with pytest.raises(ValueError, match="8-bit reference out of range: 256"):
        codec.text.prefix_udh([b"A"], b"", 256, False)


@examples(80)
@given(text=GSM_TEXT)
def test_gsm_round_trip(codec, text):
    assert codec.text.decode_gsm(codec.text.encode_gsm(text)) == text


@examples(150)
@given(text=st.text(max_size=200), lang=st.sampled_from([(0, 0), (1, 1), (0, 2), (3, 3)]))
def test_decode_of_encode_is_the_text_whenever_encodable(codec, text, lang):
    t = codec.text
    for encode, decode in ((lambda x: t.encode_gsm(x, *lang), lambda b: t.decode_gsm(b, *lang)),
                           (t.encode_ucs2, t.decode_ucs2),
                           (t.encode_latin1, t.decode_latin1),
                           (t.encode_ascii, t.decode_ascii)):
        try:
            encoded = encode(text)
        except UnencodableError as exc:
            assert text[exc.position] == exc.char
            continue
        assert decode(encoded) == text


# --- the twins against each other ------------------------------------------------------

def _outcome(function, *args):
    try:
        return ("ok", function(*args))
    except Exception as exc:  # the very same exception, message and attributes
        return ("error", type(exc), str(exc), getattr(exc, "position", None))


def _twins():
    if codec_switch.FORCED_PURE:
        pytest.skip("SMSC_PUREPYTHON=1: no native twin to compare")
    return codec_switch.load_twin("text", "cython"), codec_switch.load_twin("text", "python")


@examples(150)
@given(text=st.text(max_size=300) | GSM_TEXT, lang=st.sampled_from([(0, 0), (1, 1), (0, 2), (3, 3), (2, 2)]))
def test_twins_encode_identically(text, lang):
    native, pure = _twins()
    for name in ("encode_gsm", "try_encode_gsm"):
        assert _outcome(getattr(native, name), text, *lang) == _outcome(getattr(pure, name), text, *lang)
    for name in ("encode_ucs2", "encode_latin1", "encode_ascii"):
        assert _outcome(getattr(native, name), text) == _outcome(getattr(pure, name), text)


@settings(max_examples=150)
@given(data=st.binary(max_size=300), fill=st.integers(0, 6), room=st.integers(0, 160),
       errors=st.sampled_from(["replace", "strict"]))
def test_twins_decode_pack_and_split_identically(data, fill, room, errors):
    native, pure = _twins()
    assert _outcome(native.decode_gsm, data, 0, 0, errors) == _outcome(pure.decode_gsm, data, 0, 0, errors)
    assert _outcome(native.decode_gsm, data, 3, 2, errors) == _outcome(pure.decode_gsm, data, 3, 2, errors)
    assert native.pack_septets(data, fill) == pure.pack_septets(data, fill)
    assert native.unpack_septets(data, fill) == pure.unpack_septets(data, fill)
    count = room  # any count, fitting or not
    assert _outcome(native.unpack_septets, data, fill, count) == _outcome(pure.unpack_septets, data, fill, count)
    for name in ("split_septets", "split_ucs2", "split_octets"):
        assert _outcome(getattr(native, name), data, room) == _outcome(getattr(pure, name), data, room)


def test_compiled_twin_is_active_unless_forced_pure():
    from smsc.codec import text

    if codec_switch.FORCED_PURE:
        assert text.__name__ == "smsc.codec._text_py"
    else:
        assert text.__name__ == "smsc.codec._text_c"
        assert text.__file__.endswith((".so", ".pyd"))
        assert codec_switch.active()["text"] == "cython"
