"""Choosing an encoding, counting parts, and splitting a text into SMPP parts.

    count(text, options=TextOptions()) -> TextCount
        The one count the HTTP preview, throttling and billing all use: encoding and
        data_coding, parts, units per part, units left in the last part, and the
        characters that forced UCS-2.
    split(text, options, reference) -> Segmented
        The parts to submit: short_message octets (with a UDH when needed) and TLVs,
        plus the esm_class bits to OR into the submit (UDHI when parts carry a UDH).
        `reference` is an int, or a zero-argument callable called only when the text
        needs more than one part (e.g. `lambda: allocator.next(destination_addr)`).
    split_binary(data, options, reference, data_coding=0x04) -> Segmented
        8-bit data cut into parts the same ways (140 / 134 / 133 octets).
    ReferenceAllocator(wide=False).next(destination) -> int

Choosing (the advisor): among the encodings `options` allow, the one with the fewest
parts; on a tie GSM-7 before GSM-7 with national tables (fewer tables first) before
Latin-1 before UCS-2. GSM-7 with national tables pays for its UDH information elements
(3 octets each) in every part. A character no allowed encoding carries raises
UnencodableError naming it and its position, unless `transliterate` finds a
replacement (smsc.codec.transliterate).

Units: septets for GSM-7 (a single shift character such as "€" takes two), UTF-16
code units for UCS-2 (an emoji takes two), octets for Latin-1. Parts are never cut
inside an escape sequence or a surrogate pair, so counts come from the real cut.

Room per part (140 octets of user data less the UDH): GSM-7 160 / 153 with an 8-bit
reference / 152 with a 16-bit one, UCS-2 70/67/66, 8-bit 140/134/133; national table
IEs take 3 octets more each. SAR and message_payload are sized as UDH concatenation
is, since the carrier turns them into one on the air.
"""
from __future__ import annotations

import random
from functools import lru_cache
from types import ModuleType
from typing import Any, Callable

import msgspec

from smsc.codec import gsm_tables
from smsc.codec import twin as active_twin
from smsc.codec.decoding import (
    TAG_MESSAGE_PAYLOAD,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    UDHI,
)
from smsc.codec.text_errors import MessageTooLongError, UnencodableError
from smsc.codec.transliterate import transliterate
from smsc.codec.udh import fill_bits, national_language_ies

USER_DATA = 140
MAX_PARTS = 255
DATA_CODING = {"latin1": 0x03, "ucs2": 0x08}
CONCATENATIONS = ("udh", "sar", "payload")


class TextOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What a route/account allows, and how parts are carried."""

    languages: tuple[int, ...] = ()  # national tables allowed (gsm_tables ids); () = none
    locking_shift: bool = True  # national locking shift tables too, not only single shift
    ucs2: bool = True  # UCS-2 allowed
    force_ucs2: bool = False
    latin1: bool = False  # the route takes data_coding 0x03
    transliterate: bool = False
    concatenation: str = "udh"  # "udh" | "sar" | "payload"
    wide_reference: bool = False  # 16-bit concatenation reference (IEI 0x08)
    packed: bool = False  # carrier wants GSM-7 packed 7-bit in short_message
    gsm_data_coding: int = 0x00  # data_coding that means GSM-7 to this carrier

    def __post_init__(self) -> None:
        for language in self.languages:
            if language not in gsm_tables.SINGLE_SHIFT_TABLES or language == 0:
                raise ValueError(f"no national language table {language}")
        if self.concatenation not in CONCATENATIONS:
            raise ValueError(f"concatenation must be one of {CONCATENATIONS}")
        if self.force_ucs2 and not self.ucs2:
            raise ValueError("force_ucs2 needs ucs2 allowed")


class TextCount(msgspec.Struct, frozen=True):
    encoding: str  # "gsm7" | "latin1" | "ucs2" ("binary" from split_binary)
    data_coding: int
    locking_shift: int  # national language id, 0 = default alphabet
    single_shift: int
    characters: int  # code points in the text as sent (after transliteration)
    units: int  # septets / UTF-16 code units / octets
    parts: int
    per_part: int  # units that fit in one part
    remaining: int  # units still free in the last part
    text: str = ""  # the text as sent
    gsm_tables: tuple[tuple[int, int], ...] = ()  # UCS-2 only: the (locking, single) pairs allowed
    forced: bool = False  # UCS-2 was forced by the options, not by the text

    @property
    def ucs2_forced_by(self) -> tuple[str, ...]:
        """The characters that no allowed GSM table carries, in order of appearance, when
        they made the text UCS-2 (computed on demand: the split path never pays for it)."""
        if self.encoding != "ucs2" or self.forced:
            return ()
        encodable = _gsm_encodable(self.gsm_tables)
        return tuple(c for c in dict.fromkeys(self.text) if not encodable(c))


class Segmented(msgspec.Struct, frozen=True):
    """One short_message per part; `tlvs` is () or, per part, the TLVs to add to its
    submit (SAR numbering, or the message_payload of a single submit)."""

    count: TextCount
    esm_class: int  # UDHI (0x40) when the parts carry a UDH, else 0
    short_messages: tuple[bytes, ...]
    tlvs: tuple[tuple[tuple[int, Any], ...], ...] = ()

    def parts(self) -> list[tuple[bytes, tuple[tuple[int, Any], ...]]]:
        """(short_message, tlvs) for each submit."""
        return [(sm, self.tlvs[i] if self.tlvs else ()) for i, sm in enumerate(self.short_messages)]


def _active_twin() -> ModuleType:
    return active_twin("text")


def _room(encoding: str, udh_octets: int) -> int:
    octets = USER_DATA - udh_octets
    if encoding == "gsm7":
        return octets * 8 // 7
    if encoding == "ucs2":
        return octets // 2
    return octets


class _Choice(msgspec.Struct):
    count: TextCount
    units: bytes  # encoded: unpacked septets, UTF-16BE, Latin-1 or binary octets
    ies: bytes  # national language IEs
    multi_room: int
    chunks: list[bytes] | None  # the real cut, when it could not be computed


def _rooms(encoding: str, locking: int, single: int, wide: bool) -> tuple[bytes, int, int]:
    """(national language IEs, room of a lone part, room of each concatenated part)."""
    ies = national_language_ies(locking, single)
    header = 1 + len(ies) if ies else 0
    rooms = _ROOMS[encoding, locking, single, wide] = (
        ies, _room(encoding, header), _room(encoding, 1 + len(ies) + (6 if wide else 5)))
    return rooms


_ROOMS: dict[tuple[str, int, int, bool], tuple[bytes, int, int]] = {}


def _choice(t: ModuleType, encoding: str, encoded: bytes, text: str, characters: int, locking: int,
            single: int, options: TextOptions, data_coding: int | None = None) -> _Choice:
    wide = options.wide_reference
    ies, single_room, multi_room = _ROOMS.get((encoding, locking, single, wide)) or _rooms(
        encoding, locking, single, wide)
    length = len(encoded) >> 1 if encoding == "ucs2" else len(encoded)
    chunks = None
    if length <= single_room:
        parts, per_part, last = 1, single_room, length
    elif length == characters:  # no escapes or surrogate pairs: every cut is clean
        parts, per_part = -(-length // multi_room), multi_room
        last = length - (parts - 1) * multi_room
    else:
        if encoding == "gsm7":
            chunks = t.split_septets(encoded, multi_room)
            last = len(chunks[-1])
        else:
            chunks = t.split_ucs2(encoded, multi_room * 2)
            last = len(chunks[-1]) >> 1
        parts, per_part = len(chunks), multi_room
    if data_coding is None:
        data_coding = options.gsm_data_coding if encoding == "gsm7" else DATA_CODING[encoding]
    tables = _gsm_combinations(options.languages, options.locking_shift) if encoding == "ucs2" else ()
    counted = TextCount(encoding, data_coding, locking, single, len(text), length, parts, per_part,
                        per_part - last, text, tables, options.force_ucs2)
    return _Choice(counted, encoded, ies, multi_room, chunks)


@lru_cache(maxsize=256)
def _allowed_tables(languages: tuple[int, ...], locking_shift: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(locking table ids, single shift table ids) the options allow, the default first."""
    lockings = (0,) + tuple(lang for lang in languages if locking_shift and lang in gsm_tables.LOCKING_TABLES)
    singles = (0,) + tuple(lang for lang in languages if lang in gsm_tables.SINGLE_SHIFT_TABLES)
    return lockings, singles


@lru_cache(maxsize=256)
def _gsm_combinations(languages: tuple[int, ...], locking_shift: bool) -> tuple[tuple[int, int], ...]:
    lockings, singles = _allowed_tables(languages, locking_shift)
    return tuple((locking, single) for locking in lockings for single in singles)


@lru_cache(maxsize=None)
def _locking_charset(language: int) -> frozenset[str]:
    return frozenset(gsm_tables.locking_characters(language).values())


@lru_cache(maxsize=None)
def _single_charset(language: int) -> frozenset[str]:
    return frozenset(gsm_tables.SINGLE_SHIFT_TABLES[language].values())


@lru_cache(maxsize=256)
def _table_sets(languages: tuple[int, ...], locking_shift: bool) -> tuple[tuple, tuple, frozenset[str]]:
    """The allowed tables with their character sets, and all the single shift characters."""
    lockings, singles = _allowed_tables(languages, locking_shift)
    single_sets = tuple((single, _single_charset(single)) for single in singles)
    return (tuple((locking, _locking_charset(locking)) for locking in lockings), single_sets,
            frozenset().union(*(charset for _, charset in single_sets)))


@lru_cache(maxsize=256)
def _gsm_encodable(combos: tuple[tuple[int, int], ...]) -> Callable[[str], bool]:
    """Membership test: can any of these table pairs carry the character?"""
    charsets = (_locking_charset(lock) | _single_charset(single) for lock, single in combos)
    return frozenset().union(*charsets).__contains__


_ENCODING_RANK = {"gsm7": 0, "latin1": 1, "ucs2": 2}


def _preference(choice: _Choice) -> tuple:
    # Fewest parts; then GSM-7 before Latin-1 before UCS-2; then fewer national tables
    # (each costs an IE in every part), then a language's own pair of tables.
    c = choice.count
    tables = (c.locking_shift != 0) + (c.single_shift != 0)
    return c.parts, _ENCODING_RANK[c.encoding], tables, c.locking_shift != c.single_shift


def _choose(text: str, options: TextOptions, t: ModuleType) -> _Choice:
    gsm_possible = not options.force_ucs2
    if not (options.force_ucs2 or options.transliterate):
        septets = t.try_encode_gsm(text)
        if septets is not None and (len(septets) == len(text) or not (options.languages or options.latin1)):
            # The default alphabet with one septet per character, or with nothing
            # but UCS-2 to compare against: nothing is cheaper.
            return _choice(t, "gsm7", septets, text, len(text), 0, 0, options)
        gsm_possible = septets is not None or bool(options.languages)
    if options.transliterate and not options.force_ucs2:
        text = transliterate(text, _gsm_encodable(_gsm_combinations(options.languages, options.locking_shift)))
    characters = len(text)
    candidates: list[_Choice] = []
    if gsm_possible:
        chars = frozenset(text)
        locking_sets, single_sets, any_single = _table_sets(options.languages, options.locking_shift)
        for locking, locking_set in locking_sets:
            rest = chars - locking_set  # what must come from a single shift table
            if not rest <= any_single:
                continue
            # Every single shift table that carries the rest costs the same septets (two
            # a character), so one per locking table: the default extension (no IE), else
            # the language's own, else the first.
            feasible = [single for single, single_set in single_sets if rest <= single_set]
            if feasible:
                single = feasible[0] if feasible[0] == 0 or locking not in feasible else locking
                septets = t.encode_gsm(text, locking, single)
                candidates.append(_choice(t, "gsm7", septets, text, characters, locking, single, options))
    if options.latin1 and not options.force_ucs2:
        try:
            candidates.append(_choice(t, "latin1", t.encode_latin1(text), text, characters, 0, 0, options))
        except UnencodableError:
            pass
    # Any GSM-7 choice beats UCS-2: at worst 2 septets a character leaves >= 73
    # characters a part, against UCS-2's 67 (70 alone).
    if options.ucs2 and not any(c.count.encoding == "gsm7" for c in candidates):
        candidates.append(_choice(t, "ucs2", t.encode_ucs2(text), text, characters, 0, 0, options))
    if not candidates:
        raise _unencodable(text, options, _gsm_combinations(options.languages, options.locking_shift))
    return min(candidates, key=_preference)


def _unencodable(text: str, options: TextOptions, combos: tuple[tuple[int, int], ...]) -> UnencodableError:
    gsm = _gsm_encodable(combos)
    names = "gsm7 or latin1" if options.latin1 else "gsm7"
    for position, char in enumerate(text):
        if not (gsm(char) or (options.latin1 and ord(char) < 256)):
            return UnencodableError(char, position, names)
    raise AssertionError("unreachable: every character is encodable")


def count(text: str, options: TextOptions = TextOptions(), *, twin: ModuleType | None = None) -> TextCount:
    """How `text` goes out under `options` (see the module docstring). `twin` picks a
    text twin (tests); by default the active one."""
    return _choose(text, options, twin or _active_twin()).count


def _chunks(t: ModuleType, choice: _Choice) -> list[bytes]:
    if choice.chunks is not None:
        return choice.chunks
    if choice.count.encoding == "gsm7":
        return t.split_septets(choice.units, choice.multi_room)
    if choice.count.encoding == "ucs2":
        return t.split_ucs2(choice.units, choice.multi_room * 2)
    return t.split_octets(choice.units, choice.multi_room)


def _body(t: ModuleType, choice: _Choice, units: bytes, header_octets: int, options: TextOptions) -> bytes:
    if options.packed and choice.count.encoding == "gsm7":
        return t.pack_septets(units, fill_bits(header_octets))
    return units


def split(text: str, options: TextOptions = TextOptions(), reference: int | Callable[[], int] = 0,
          *, twin: ModuleType | None = None) -> Segmented:
    """The parts that carry `text` under `options` (see the module docstring)."""
    t = twin or _active_twin()
    return _segments(t, _choose(text, options, t), options, reference)


def split_binary(data: bytes, options: TextOptions = TextOptions(), reference: int | Callable[[], int] = 0,
                 data_coding: int = 0x04, *, twin: ModuleType | None = None) -> Segmented:
    """8-bit data (data_coding 0x02/0x04, passed through untouched) in parts of 140
    octets, or 134/133 behind a concatenation UDH; `count.encoding` is "binary"."""
    t = twin or _active_twin()
    choice = _choice(t, "binary", bytes(data), "", len(data), 0, 0, options, data_coding)
    return _segments(t, choice, options, reference)


def _segments(t: ModuleType, choice: _Choice, options: TextOptions,
              reference: int | Callable[[], int]) -> Segmented:
    counted = choice.count
    parts = counted.parts
    if parts > MAX_PARTS:
        raise MessageTooLongError(f"the text needs {parts} parts, at most {MAX_PARTS} are possible")
    ies = choice.ies
    concatenation = options.concatenation
    if parts > 1 and concatenation == "udh":
        chunks = choice.chunks or _chunks(t, choice)
        if options.packed and counted.encoding == "gsm7":
            header = 1 + len(ies) + (6 if options.wide_reference else 5)
            chunks = [t.pack_septets(chunk, fill_bits(header)) for chunk in chunks]
        ref = reference() if callable(reference) else reference
        return Segmented(counted, UDHI, tuple(t.prefix_udh(chunks, ies, ref, options.wide_reference)))
    nli = bytes((len(ies),)) + ies if ies else b""
    esm_class = UDHI if ies else 0
    if parts == 1 or concatenation == "payload":
        body = nli + _body(t, choice, choice.units, len(nli), options)
        if parts == 1:
            return Segmented(counted, esm_class, (body,))
        return Segmented(counted, esm_class, (b"",), (((TAG_MESSAGE_PAYLOAD, body),),))
    ref = reference() if callable(reference) else reference
    chunks = _chunks(t, choice)
    total = len(chunks)
    return Segmented(
        counted,
        esm_class,
        tuple(nli + _body(t, choice, chunk, len(nli), options) for chunk in chunks),
        tuple(
            ((TAG_SAR_MSG_REF_NUM, ref), (TAG_SAR_TOTAL_SEGMENTS, total), (TAG_SAR_SEGMENT_SEQNUM, seq))
            for seq in range(1, total + 1)
        ),
    )


class ReferenceAllocator:
    """Concatenation references, counted per destination so that long messages in flight
    to one handset never share one (until 255, or 65535 when `wide`, later).

    Each destination starts at a random point (`rng`, seedable) so a restart does not
    reuse the references of parts still in flight. At most `max_destinations` are
    remembered; the least recently used is forgotten first.
    """

    def __init__(self, wide: bool = False, max_destinations: int = 100_000,
                 rng: random.Random | None = None) -> None:
        self._limit = 0xFFFF if wide else 0xFF
        self._max = max_destinations
        self._rng = rng or random.Random()
        self._last: dict[str, int] = {}

    def next(self, destination: str) -> int:
        last = self._last.pop(destination, None)
        if last is None:
            last = self._rng.randint(0, self._limit)
            if len(self._last) >= self._max:
                del self._last[next(iter(self._last))]
        ref = last % self._limit + 1  # 1..limit, then wraps to 1
        self._last[destination] = ref
        return ref

    def __len__(self) -> int:
        return len(self._last)
