"""Opt-in transliteration to what GSM-7 can carry (TextOptions(transliterate=True)).

Only characters that no allowed GSM table holds are touched, one at a time:
1. the explicit table below (typographic punctuation, spaces, symbols, ligatures);
2. else Unicode compatibility decomposition (NFKD) with combining marks dropped, when
   every resulting character is encodable: "á" -> "a", "ł" stays, "ﬁ" -> "fi";
3. else the character is left alone (it then forces UCS-2, or raises when UCS-2 is
   not allowed). Nothing ever becomes a silent "?".
"""
from __future__ import annotations

import unicodedata
from typing import Callable

TABLE = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u2039": "'", "\u203a": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u2022": "*", "\u00b7": ".",
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u200a": " ",
    "\u202f": " ", "\u2007": " ", "\u200b": "", "\ufeff": "",
    "\u00a9": "(c)", "\u00ae": "(R)", "\u2122": "TM", "\u00d7": "x", "\u00f7": "/",
    "\u02c6": "^", "\u02dc": "~", "\u00b0": "o",
    "\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d", "\u0153": "oe", "\u0152": "OE",
    "\u00f0": "d", "\u00d0": "D", "\u00fe": "th", "\u00de": "Th",
}


def transliterate(text: str, encodable: Callable[[str], bool]) -> str:
    """`text` with every character for which `encodable(char)` is false replaced, where
    a replacement exists that is itself encodable."""
    replacements: dict[str, str] = {}
    for char in set(text):
        if encodable(char):
            continue
        substitute = TABLE.get(char)
        if substitute is None:
            decomposed = unicodedata.normalize("NFKD", char)
            substitute = "".join(c for c in decomposed if not unicodedata.combining(c))
        if substitute != char and all(encodable(c) for c in substitute):
            replacements[char] = substitute
    if not replacements:
        return text
    return text.translate(str.maketrans(replacements))
