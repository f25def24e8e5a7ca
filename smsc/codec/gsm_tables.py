"""GSM 7-bit alphabets of 3GPP TS 23.038 as data, and the lookup tables built from them.

A GSM-7 text is read through two tables: the *locking shift* table (the base alphabet,
one septet per character; 6.2.1 for the default, annex A.3 for national ones) and the
*single shift* table (reached by the escape septet 0x1B, two septets per character;
6.2.1.1 for the default extension, annex A.2 for national ones). A national table is
announced by a UDH information element (0x25 locking, 0x24 single shift, TS 23.040
9.2.3.24.15/16) carrying the language id below; language 0 is the default alphabet.

Implemented: default (0), Turkish (1: locking and single shift), Spanish (2: single
shift only; the spec defines no Spanish locking table) and Portuguese (3: both). The
Indic and Urdu tables (4-13) are not implemented: their ids are rejected.

Checked against two independent transcriptions of the spec (Android's GsmAlphabet and
the CSV tables of TS 23.038 V18); tests/codec/test_text_tables.py holds the second one.
"""
from __future__ import annotations

from array import array
from functools import lru_cache

ESCAPE = 0x1B
DEFAULT = 0
TURKISH = 1
SPANISH = 2
PORTUGUESE = 3
LANGUAGE_NAMES = {DEFAULT: "default", TURKISH: "turkish", SPANISH: "spanish", PORTUGUESE: "portuguese"}

# Rows of 16 septets (0x00-0x0F, 0x10-0x1F, ...). 0x1B is the escape, never a character:
# it stands here as "\x1b" only to keep the positions.
_DEFAULT_LOCKING = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
_TURKISH_LOCKING = (
    "@£$¥€éùıòÇ\nĞğ\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bŞşßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "İABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "çabcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
_PORTUGUESE_LOCKING = (
    "@£$¥êéúíóç\nÔô\rÁá"
    "Δ_ªÇÀ∞^\\€Ó|\x1bÂâÊÉ"
    " !\"#º%&'()*+,-./"
    "0123456789:;<=>?"
    "ÍABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÃÕÚÜ§"
    "~abcdefghijklmno"
    "pqrstuvwxyzãõ`üà"
)

# Single shift tables: septet after the escape -> character. Every table carries the
# default extension's characters at the same positions (6.2.1.1).
_DEFAULT_SINGLE = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}
_TURKISH_SINGLE = {
    **_DEFAULT_SINGLE,
    0x47: "Ğ", 0x49: "İ", 0x53: "Ş", 0x63: "ç", 0x67: "ğ", 0x69: "ı", 0x73: "ş",
}
_SPANISH_SINGLE = {
    **_DEFAULT_SINGLE,
    0x09: "ç", 0x41: "Á", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú",
    0x61: "á", 0x69: "í", 0x6F: "ó", 0x75: "ú",
}
_PORTUGUESE_SINGLE = {
    **_DEFAULT_SINGLE,
    0x05: "ê", 0x09: "ç", 0x0B: "Ô", 0x0C: "ô", 0x0E: "Á", 0x0F: "á",
    0x12: "Φ", 0x13: "Γ", 0x15: "Ω", 0x16: "Π", 0x17: "Ψ", 0x18: "Σ", 0x19: "Θ",
    0x1F: "Ê", 0x41: "À", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú", 0x5B: "Ã", 0x5C: "Õ",
    0x61: "Â", 0x69: "í", 0x6F: "ó", 0x75: "ú", 0x7B: "ã", 0x7C: "õ", 0x7F: "â",
}

LOCKING_TABLES: dict[int, str] = {
    DEFAULT: _DEFAULT_LOCKING,
    TURKISH: _TURKISH_LOCKING,
    PORTUGUESE: _PORTUGUESE_LOCKING,
}
SINGLE_SHIFT_TABLES: dict[int, dict[int, str]] = {
    DEFAULT: _DEFAULT_SINGLE,
    TURKISH: _TURKISH_SINGLE,
    SPANISH: _SPANISH_SINGLE,
    PORTUGUESE: _PORTUGUESE_SINGLE,
}

# Encode table entries (one uint16 per BMP code point): a septet, ESCAPED | septet for a
# character of the single shift table, or UNMAPPED.
ESCAPED = 0x100
UNMAPPED = 0xFFFF


def check_languages(locking: int, single: int) -> None:
    """ValueError unless both language ids name implemented tables."""
    if locking not in LOCKING_TABLES:
        raise ValueError(f"no GSM locking shift table for language {locking}")
    if single not in SINGLE_SHIFT_TABLES:
        raise ValueError(f"no GSM single shift table for language {single}")


@lru_cache(maxsize=None)
def encode_table(locking: int = DEFAULT, single: int = DEFAULT) -> array:
    """uint16 per BMP code point (see ESCAPED/UNMAPPED). A character in both tables is
    taken from the locking table: one septet is cheaper than two."""
    check_languages(locking, single)
    table = array("H", [UNMAPPED]) * 0x10000
    for septet, char in SINGLE_SHIFT_TABLES[single].items():
        table[ord(char)] = ESCAPED | septet
    for septet, char in enumerate(LOCKING_TABLES[locking]):
        if septet != ESCAPE:
            table[ord(char)] = septet
    return table


@lru_cache(maxsize=None)
def decode_table(locking: int = DEFAULT, single: int = DEFAULT) -> tuple[str, str]:
    """Two 128-character strings: the locking table, and what each septet means after an
    escape. Per TS 23.038 6.2.1.1 a septet the single shift table does not define shows
    as the locking table's character; escape-escape (reserved) shows as a space."""
    check_languages(locking, single)
    base = LOCKING_TABLES[locking].replace("\x1b", " ")
    shifted = list(base)
    for septet, char in SINGLE_SHIFT_TABLES[single].items():
        shifted[septet] = char
    shifted[ESCAPE] = " "
    return base, "".join(shifted)
