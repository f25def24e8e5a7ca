"""Every character of every implemented TS 23.038 table, both directions, both twins.

The tables in smsc.codec.gsm_tables are checked against a second transcription: for
languages 0-3 the positional strings below (128 characters per table, "\\uffff" at the
escape, a space where a single shift table defines nothing) in Android's GsmAlphabet
layout, and the gsm0338 package for the default tables; for languages 4-13 the grids of
tests/vectors/text_national_tables.txt (from the CSV tables of TS 23.038 V18).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from smsc.codec import gsm_tables
from smsc.codec.text_errors import UnencodableError

SECOND_SOURCE_LOCKING = {
    0: "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5\u0394_"
       "\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\uffff\u00c6\u00e6\u00df\u00c9"
       " !\"#\u00a4%&'()*+,-./0123456789:;<=>?\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ"
       "\u00c4\u00d6\u00d1\u00dc\u00a7\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0",
    1: "@\u00a3$\u00a5\u20ac\u00e9\u00f9\u0131\u00f2\u00c7\n\u011e\u011f\r\u00c5\u00e5\u0394_"
       "\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\uffff\u015e\u015f\u00df\u00c9"
       " !\"#\u00a4%&'()*+,-./0123456789:;<=>?\u0130ABCDEFGHIJKLMNOPQRSTUVWXYZ"
       "\u00c4\u00d6\u00d1\u00dc\u00a7\u00e7abcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0",
    3: "@\u00a3$\u00a5\u00ea\u00e9\u00fa\u00ed\u00f3\u00e7\n\u00d4\u00f4\r\u00c1\u00e1\u0394_"
       "\u00aa\u00c7\u00c0\u221e^\\\u20ac\u00d3|\uffff\u00c2\u00e2\u00ca\u00c9"
       " !\"#\u00ba%&'()*+,-./0123456789:;<=>?\u00cdABCDEFGHIJKLMNOPQRSTUVWXYZ"
       "\u00c3\u00d5\u00da\u00dc\u00a7~abcdefghijklmnopqrstuvwxyz\u00e3\u00f5`\u00fc\u00e0",
}
_DEFAULT_SHIFT = (
    "          \u000c         ^                   {}     \\            [~] |"
    "                                    \u20ac                          "
)
SECOND_SOURCE_SINGLE = {
    0: _DEFAULT_SHIFT,
    1: "          \u000c         ^                   {}     \\            [~] |      \u011e \u0130"
       "         \u015e               \u00e7 \u20ac \u011f \u0131         \u015f            ",
    2: "         \u00e7\u000c         ^                   {}     \\            [~] |\u00c1       "
       "\u00cd     \u00d3     \u00da           \u00e1   \u20ac   \u00ed     \u00f3     \u00fa          ",
    3: "     \u00ea   \u00e7\u000c\u00d4\u00f4 \u00c1\u00e1  \u03a6\u0393^\u03a9\u03a0\u03a8\u03a3"
       "\u0398     \u00ca        {}     \\            [~] |\u00c0       \u00cd     \u00d3     "
       "\u00da     \u00c3\u00d5    \u00c2   \u20ac   \u00ed     \u00f3     \u00fa     \u00e3\u00f5  \u00e2",
}


def _locking_chars(language):
    if language not in SECOND_SOURCE_LOCKING:
        return gsm_tables.locking_characters(language)  # checked against the vectors
    return {s: c for s, c in enumerate(SECOND_SOURCE_LOCKING[language]) if s != 0x1B}


def _single_chars(language):
    if language not in SECOND_SOURCE_SINGLE:
        return gsm_tables.SINGLE_SHIFT_TABLES[language]
    return {s: c for s, c in enumerate(SECOND_SOURCE_SINGLE[language]) if c != " "}


def test_second_source_strings_are_whole_tables():
    for table in (*SECOND_SOURCE_LOCKING.values(), *SECOND_SOURCE_SINGLE.values()):
        assert len(table) == 128


@pytest.mark.parametrize("language", sorted(SECOND_SOURCE_LOCKING))
def test_locking_tables_match_second_source(language):
    ours = gsm_tables.LOCKING_TABLES[language]
    assert {s: c for s, c in enumerate(ours) if s != 0x1B} == _locking_chars(language)


@pytest.mark.parametrize("language", sorted(SECOND_SOURCE_SINGLE))
def test_single_shift_tables_match_second_source(language):
    assert gsm_tables.SINGLE_SHIFT_TABLES[language] == _single_chars(language)


def test_default_tables_match_gsm0338_package():
    pytest.importorskip("gsm0338")  # registers the "gsm03.38" codec
    for septet, char in _locking_chars(0).items():
        assert char.encode("gsm03.38") == bytes((septet,))
    for septet, char in _single_chars(0).items():
        assert char.encode("gsm03.38") == bytes((0x1B, septet))


VECTORS = Path(__file__).parent.parent / "vectors" / "text_national_tables.txt"
_NAMED_CELLS = {"SP": " ", "LF": "\n", "CR": "\r", "QM": '"'}

# Where the CSV transcription and the handsets' tables (Android, Mozilla) disagree. This
# module follows the handsets: they are what decodes the text in the end.
KNOWN_DIFFERENCES = {
    # A CSV file cannot hold a bare comma: the spec's "," at 0x2C became "'" there.
    **{("locking", language, 0x2C): (",", "'") for language in range(4, 14)},
    # U+0CAA is already at 0x3D; the letter sequence 0C9F-0CA4 needs U+0CA1 here.
    ("locking", 7, 0x24): ("\u0ca1", "\u0caa"),
    # Every other single shift table has the euro sign at 0x65, and so do the handsets.
    ("single", 12, 0x65): ("\u20ac", None),
}


def _second_source() -> dict[tuple[str, int], dict[int, str]]:
    tables: dict[tuple[str, int], dict[int, str]] = {}
    rows: list[list[str]] = []
    for line in VECTORS.read_text(encoding="utf-8").splitlines():
        if line.startswith(("locking", "single")):
            kind, language = line.split()
            rows = []
            tables[(kind, int(language))] = {}
        elif line and not line.startswith("#"):
            rows.append(line.split(" "))
            low = len(rows) - 1
            for high, cell in enumerate(rows[-1]):
                septet = high * 16 + low
                if cell == "__" or septet == 0x1B:
                    continue
                char = _NAMED_CELLS.get(cell) or (chr(int(cell, 16)) if len(cell) == 4 else cell)
                tables[list(tables)[-1]][septet] = char
    return tables


def test_national_tables_4_to_13_match_second_source():
    second = _second_source()
    assert len(second) == 20
    found = {}
    for (kind, language), theirs in second.items():
        if kind == "locking":
            ours = gsm_tables.locking_characters(language)
        else:
            ours = gsm_tables.SINGLE_SHIFT_TABLES[language]
        for septet in set(ours) | set(theirs):
            if ours.get(septet) != theirs.get(septet):
                found[(kind, language, septet)] = (ours.get(septet), theirs.get(septet))
    assert found == KNOWN_DIFFERENCES


COMBINATIONS = [(lock, single) for lock in (0, 1, 3) for single in (0, 1, 2, 3)] + [
    (lang, lang) for lang in range(4, 14)] + [(0, 6), (6, 0)]


@pytest.mark.parametrize(("locking", "single"), COMBINATIONS)
def test_every_locking_character_both_directions(codec, locking, single):
    chars = _locking_chars(locking)
    for septet, char in chars.items():
        lowest = min(s for s, c in chars.items() if c == char)  # a character held twice
        assert codec.text.encode_gsm(char, locking, single) == bytes((lowest,)), (septet, char)
        assert codec.text.decode_gsm(bytes((septet,)), locking, single) == char


@pytest.mark.parametrize(("locking", "single"), COMBINATIONS)
def test_every_single_shift_character_both_directions(codec, locking, single):
    base = set(_locking_chars(locking).values())
    for septet, char in _single_chars(single).items():
        assert codec.text.decode_gsm(bytes((0x1B, septet)), locking, single) == char
        expected = 1 if char in base else 2  # the cheaper form wins
        assert len(codec.text.encode_gsm(char, locking, single)) == expected, char


@pytest.mark.parametrize(("locking", "single"), COMBINATIONS)
def test_whole_table_round_trips_as_one_text(codec, locking, single):
    text = "".join(_locking_chars(locking).values()) + "".join(_single_chars(single).values())
    encoded = codec.text.encode_gsm(text, locking, single)
    assert codec.text.decode_gsm(encoded, locking, single) == text


def test_characters_outside_the_tables_are_refused(codec):
    for char in "`\x1b\u00e1\u0436\U0001f600\t":
        with pytest.raises(UnencodableError) as info:
            codec.text.encode_gsm("ok " + char, 0, 0)
        assert (info.value.char, info.value.position) == (char, 3)


def test_turkish_letters_need_the_turkish_tables(codec):
    text = "\u015eimdi \u0130stanbul'da \u011fel"
    with pytest.raises(UnencodableError):
        codec.text.encode_gsm(text)
    assert codec.text.decode_gsm(codec.text.encode_gsm(text, 0, 1), 0, 1) == text
    assert len(codec.text.encode_gsm(text, 1, 1)) == len(text)  # all in the locking table


def test_unknown_language_ids_are_refused(codec):
    with pytest.raises(ValueError, match="locking shift table for language 2"):
        codec.text.encode_gsm("a", 2, 0)
    with pytest.raises(ValueError, match="single shift table for language 14"):
        codec.text.decode_gsm(b"a", 0, 14)


def test_undefined_locking_positions_decode_as_replacement(codec):
    assert codec.text.decode_gsm(b"\x00\x0c", 7, 7) == "\ufffd\ufffd"  # Kannada


def test_hindi_text_fits_the_hindi_tables(codec):
    text = "\u0928\u092e\u0938\u094d\u0924\u0947 OTP 4821"
    septets = codec.text.encode_gsm(text, 6, 6)
    assert codec.text.decode_gsm(septets, 6, 6) == text
    assert len(septets) == len(text) + 3  # O, T, P come from the single shift table
