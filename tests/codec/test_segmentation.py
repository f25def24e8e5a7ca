"""Choosing an encoding, counting and splitting (smsc.codec.segmentation) on both twins."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsc.codec import segmentation
from smsc.codec.decoding import read_part
from smsc.codec.reassembly import join_parts
from smsc.codec.segmentation import ReferenceAllocator, TextOptions
from smsc.codec.text_errors import MessageTooLongError, UnencodableError
from smsc.codec.udh import fill_bits, parse_udh

TURKISH = "\u015eimdi \u0130stanbul'da \u00e7ok g\u00fczel bir g\u00fcn, \u011fel bak\u0131n"


def count(codec, text, **options):
    return segmentation.count(text, TextOptions(**options), twin=codec.text)


def split(codec, text, reference=7, **options):
    return segmentation.split(text, TextOptions(**options), reference, twin=codec.text)


def examples(n: int):
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize(
    ("text", "encoding", "parts", "per_part", "remaining"),
    [
        ("", "gsm7", 1, 160, 160),
        ("a" * 153, "gsm7", 1, 160, 7),
        ("a" * 154, "gsm7", 1, 160, 6),
        ("a" * 160, "gsm7", 1, 160, 0),
        ("a" * 161, "gsm7", 2, 153, 145),
        ("a" * 153 * 2, "gsm7", 2, 153, 0),
        ("a" * 307, "gsm7", 3, 153, 152),
        ("€" * 80, "gsm7", 1, 160, 0),
        ("a" * 159 + "€", "gsm7", 2, 153, 145),  # 161 septets
        ("a" * 152 + "€" + "b" * 10, "gsm7", 2, 153, 141),  # the escape moves whole to part 2
        ("ж" * 67, "ucs2", 1, 70, 3),
        ("ж" * 70, "ucs2", 1, 70, 0),
        ("ж" * 68 + "\U0001f600", "ucs2", 1, 70, 0),  # an emoji ends exactly at 70
        ("ж" * 69 + "\U0001f600", "ucs2", 2, 67, 63),  # ... or does not fit: whole to part 2
        ("a" * 158 + "€", "gsm7", 1, 160, 0),  # an escape ends exactly at 160
        ("ж" * 71, "ucs2", 2, 67, 63),
        ("ж" * 134, "ucs2", 2, 67, 0),
        ("ж" * 66 + "\U0001f600" + "ж" * 10, "ucs2", 2, 67, 55),  # the pair moves whole
        ("\U0001f600" * 35, "ucs2", 1, 70, 0),
        ("\U0001f600" * 36, "ucs2", 2, 67, 61),
    ],
)
def test_boundaries(codec, text, encoding, parts, per_part, remaining):
    counted = count(codec, text)
    assert (counted.encoding, counted.parts, counted.per_part, counted.remaining) == (
        encoding, parts, per_part, remaining)
    assert len(split(codec, text).short_messages) == parts


def test_16_bit_reference_leaves_152_septets(codec):
    counted = count(codec, "a" * 161, wide_reference=True)
    assert (counted.parts, counted.per_part) == (2, 152)
    first = split(codec, "a" * 161, reference=0x1234, wide_reference=True).short_messages[0]
    assert first[:7] == bytes.fromhex("06080412340201")


def test_255_parts_and_no_more(codec):
    assert len(split(codec, "a" * 153 * 255).short_messages) == 255
    with pytest.raises(MessageTooLongError, match="256 parts"):
        split(codec, "a" * (153 * 255 + 1))


def test_national_tables_are_chosen_and_announced(codec):
    assert count(codec, TURKISH).encoding == "ucs2"
    assert set(count(codec, TURKISH).ucs2_forced_by) == {"\u015e", "\u0130", "\u00e7", "\u011f", "\u0131"}
    counted = count(codec, TURKISH, languages=(1,))
    assert (counted.encoding, counted.locking_shift, counted.single_shift) == ("gsm7", 0, 1)
    assert counted.per_part == 155  # 140 octets less UDHL and the 0x24 IE: 4 octets
    only_locking = count(codec, TURKISH * 6, languages=(1,))
    assert (only_locking.locking_shift, only_locking.parts) == (1, 2)  # cheaper than 3
    assert count(codec, TURKISH * 6, languages=(1,), locking_shift=False).parts == 3
    segmented = split(codec, TURKISH, languages=(1,))
    assert segmented.esm_class == 0x40
    udh, body = parse_udh(segmented.short_messages[0])
    assert (udh.single_shift, udh.locking_shift) == (1, 0)
    assert codec.text.decode_gsm(body, 0, 1) == TURKISH


def test_hindi_goes_out_in_gsm7_with_the_hindi_tables(codec):
    text = "\u0906\u092a\u0915\u093e OTP 482913 \u0939\u0948\u0964 " * 4
    assert count(codec, text).encoding == "ucs2"
    counted = count(codec, text, languages=(6,))
    assert (counted.encoding, counted.locking_shift, counted.single_shift) == ("gsm7", 6, 6)
    assert counted.parts == 1 < count(codec, text).parts
    segmented = split(codec, text, languages=(6,))
    udh, _ = parse_udh(segmented.short_messages[0])
    assert (udh.locking_shift, udh.single_shift) == (6, 6)


def test_locking_table_alone_when_the_default_extension_carries_the_rest(codec):
    counted = count(codec, "€[" * 51, languages=(1,))  # € in the Turkish locking table
    assert (counted.locking_shift, counted.single_shift, counted.units, counted.parts) == (1, 0, 153, 1)
    hindi = count(codec, "\u0915 OTP", languages=(6, 4))
    assert (hindi.locking_shift, hindi.single_shift) == (6, 6)  # its own, not Bengali's


def test_force_and_forbid_ucs2(codec):
    assert count(codec, "plain", force_ucs2=True).encoding == "ucs2"
    with pytest.raises(UnencodableError) as info:
        count(codec, "ok ж", ucs2=False)
    assert (info.value.char, info.value.position) == ("ж", 3)
    assert count(codec, "café", ucs2=False, latin1=True).encoding == "gsm7"
    assert count(codec, "caf\u00ed", ucs2=False, latin1=True).encoding == "latin1"


def test_latin1_wins_when_escapes_would_cost_a_part(codec):
    text = "[]" * 70  # 280 septets in GSM-7, 140 octets in Latin-1
    assert count(codec, text).parts == 2
    counted = count(codec, text, latin1=True)
    assert (counted.encoding, counted.data_coding, counted.parts) == ("latin1", 3, 1)


def test_transliteration_is_opt_in(codec):
    text = "\u201cHello\u201d \u2013 it\u2019s r\u00e1pido\u2026"
    assert count(codec, text).encoding == "ucs2"
    counted = count(codec, text, transliterate=True)
    assert counted.encoding == "gsm7"
    assert counted.text == '"Hello" - it\'s rapido...'
    assert count(codec, "\u0436", transliterate=True).encoding == "ucs2"  # no stand-in


def test_sar_and_message_payload(codec):
    text = "a" * 200
    sar = split(codec, text, reference=300, concatenation="sar", wide_reference=True)
    assert sar.esm_class == 0 and len(sar.short_messages) == 2
    assert sar.parts()[1] == (b"a" * 48, ((0x020C, 300), (0x020E, 2), (0x020F, 2)))
    payload = split(codec, text, concatenation="payload")
    assert payload.short_messages == (b"",)
    assert payload.tlvs == (((0x0424, b"a" * 200),),)
    assert payload.count.parts == 2  # what the handset receives, for billing


def test_binary_is_passed_through_in_8_bit_parts(codec):
    data = bytes(range(256)) * 2
    segmented = segmentation.split_binary(data, TextOptions(), 3, twin=codec.text)
    assert (segmented.count.encoding, segmented.count.data_coding, segmented.count.per_part) == ("binary", 4, 134)
    assert [len(sm) for sm in segmented.short_messages] == [140, 140, 140, 116]
    assert b"".join(sm[6:] for sm in segmented.short_messages) == data
    single = segmentation.split_binary(b"\x00" * 140, TextOptions(), data_coding=2, twin=codec.text)
    assert single.short_messages == (b"\x00" * 140,) and single.esm_class == 0


def test_reference_callable_is_called_only_when_needed(codec):
    calls = []

    def allocate():
        calls.append(1)
        return 9

    split(codec, "short", reference=allocate)
    assert calls == []
    assert split(codec, "a" * 200, reference=allocate).short_messages[0][3] == 9
    assert calls == [1]


def test_packed_parts_start_after_fill_bits(codec):
    text = "Fill bits " * 30
    segmented = split(codec, text, packed=True)
    units = []
    for short_message in segmented.short_messages:
        assert len(short_message) <= 140
        assert fill_bits(6) == 1
        units.append(read_part(short_message, 0x40, 0, packed=True, twin=codec.text))
    assert join_parts(units, 0, twin=codec.text) == text


OPTIONS = st.builds(
    TextOptions,
    languages=st.sampled_from([(), (1,), (2,), (3,), (1, 2, 3), (6,), (4, 13)]),
    locking_shift=st.booleans(),
    latin1=st.booleans(),
    concatenation=st.sampled_from(["udh", "sar"]),
    wide_reference=st.booleans(),
    packed=st.booleans(),
)
TEXT = st.text(max_size=700) | st.text(alphabet="a€[ç\u015e\U0001f600ж\u0915\u0964A", max_size=700)


def _air_octets(short_message: bytes, has_udh: bool, options: TextOptions, encoding: str) -> int:
    """Octets the part takes on the air, UDH included."""
    header = short_message[0] + 1 if has_udh else 0
    body = len(short_message) - header
    if encoding != "gsm7" or options.packed:
        return header + body
    return header + (fill_bits(header) if header else 0) // 8 + -(-(body * 7 + fill_bits(header)) // 8)


@examples(120)
@given(text=TEXT, options=OPTIONS)
def test_every_part_fits_and_the_parts_give_the_text_back(codec, text, options):
    try:
        segmented = segmentation.split(text, options, 77, twin=codec.text)
    except MessageTooLongError:
        return
    counted = segmented.count
    assert len(segmented.short_messages) == counted.parts
    received = []
    for short_message, tlvs in segmented.parts():
        has_udh = bool(segmented.esm_class & 0x40)
        assert _air_octets(short_message, has_udh, options, counted.encoding) <= 140
        received.append(read_part(short_message, segmented.esm_class, counted.data_coding, tlvs,
                                  packed=options.packed, twin=codec.text))
    assert join_parts(received, counted.data_coding, twin=codec.text) == text
    if counted.parts > 1:
        concats = [part.concat for part in received]
        assert [c.seq for c in concats] == list(range(1, counted.parts + 1))
        assert {c.reference for c in concats} == {77}


@examples(60)
@given(text=TEXT, options=OPTIONS)
def test_twins_count_and_split_identically(codec, text, options):
    from smsc.codec import FORCED_PURE, load_twin

    if FORCED_PURE:
        pytest.skip("SMSC_PUREPYTHON=1: no native twin to compare")

    def outcome(twin):
        try:
            return segmentation.split(text, options, 5, twin=load_twin("text", twin))
        except MessageTooLongError as exc:
            return str(exc)

    assert outcome("cython") == outcome("python")


def test_allocator_never_repeats_within_255_per_destination():
    allocator = ReferenceAllocator(rng=random.Random(1))
    refs = [allocator.next("+905551112233") for _ in range(255)]
    assert sorted(refs) == list(range(1, 256))
    assert allocator.next("+905551112233") == refs[0]  # then it wraps
    other = [allocator.next("+34600000000") for _ in range(3)]
    assert len(set(other)) == 3
    wide = ReferenceAllocator(wide=True, rng=random.Random(2))
    assert all(1 <= wide.next("x") <= 0xFFFF for _ in range(1000))


def test_allocator_forgets_the_least_recently_used_destination():
    allocator = ReferenceAllocator(max_destinations=2, rng=random.Random(3))
    allocator.next("a")
    allocator.next("b")
    allocator.next("a")
    allocator.next("c")  # forgets "b"
    assert len(allocator) == 2
