"""What the load generator sends: the message mix, split into submit_sm parts once, and
the destinations. Pure, no I/O.

A mix is a list of MessageSpec with weights. Each spec is split once, at start, with the
project's own segmentation (smsc.codec.segmentation), into SubmitSm templates; sending
each part is encoded by the native codec once, cut around destination_addr, so sending
one is a header and three byte strings (long messages are encoded again per message,
with a fresh concatenation reference). The order is a fixed interleaving
of the weights, so two runs of one scenario send the same traffic.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import chain, cycle, repeat
from math import gcd
from pathlib import Path
from typing import Iterator

from msgspec.structs import replace

from smsc.codec import pdu as pdu_codec
from smsc.codec.segmentation import TAG_SAR_MSG_REF_NUM, TextOptions, split
from smsc.smpp.constants import HEADER_SIZE
from smsc.smpp.pdus import SubmitSm

KINDS = ("short", "long", "ucs2")
DEFAULT_TEXTS = {
    "short": "Your code is 482913. It expires in 10 minutes.",
    # 3 parts of GSM-7 with a UDH (153 septets each)
    "long": ("This is a long GSM-7 message that the load generator splits into several "
             "parts, so that concatenation (UDH, SAR or message_payload) is exercised "
             "the way a real marketing or notification text would exercise it, including "
             "the reassembly work that falls on the carrier side of the link. ") * 2,
    "ucs2": "Привет! Ваш код 482913 — действует 10 минут. 你好 👋",
}


@dataclass(frozen=True)
class MessageSpec:
    kind: str = "short"  # short | long | ucs2
    text: str | None = None  # default: DEFAULT_TEXTS[kind]
    weight: int = 1
    concatenation: str = "udh"  # udh | sar | payload, for texts over one part
    registered_delivery: int = 1
    source_addr: str = "SMSC"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"message kind must be one of {KINDS}, not {self.kind!r}")
        if self.weight < 1:
            raise ValueError("message weight must be at least 1")

    def parts(self) -> tuple[SubmitSm, ...]:
        """The submit_sm templates of this message (destination and sequence unset)."""
        text = self.text if self.text is not None else DEFAULT_TEXTS[self.kind]
        options = TextOptions(concatenation=self.concatenation, force_ucs2=self.kind == "ucs2")
        segmented = split(text, options, reference=1)
        source_ton = 5 if not self.source_addr.isdigit() else 1  # alphanumeric or international
        return tuple(
            SubmitSm(source_addr_ton=source_ton, source_addr_npi=0 if source_ton == 5 else 1,
                     source_addr=self.source_addr, dest_addr_ton=1, dest_addr_npi=1,
                     esm_class=segmented.esm_class, registered_delivery=self.registered_delivery,
                     data_coding=segmented.count.data_coding, short_message=sm, tlvs=tlvs)
            for sm, tlvs in segmented.parts())


def _interleave(weights: list[int]) -> list[int]:
    """Indexes in proportion to the weights, spread out (smooth weighted round robin)."""
    divisor = 0
    for w in weights:
        divisor = gcd(divisor, w)
    weights = [w // divisor for w in weights]
    current = [0] * len(weights)
    order = []
    for _ in range(sum(weights)):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=current.__getitem__)
        current[best] -= sum(weights)
        order.append(best)
    return order


def _with_reference(parts: tuple[SubmitSm, ...], reference: int) -> tuple[SubmitSm, ...]:
    """The parts of one message carrying concatenation reference `reference` (1..255)."""
    if len(parts) == 1:
        return parts
    first = parts[0]
    if first.esm_class & 0x40 and first.short_message[1:3] == b"\x00\x03":  # 8-bit concat IE first
        return tuple(replace(p, short_message=p.short_message[:3] + bytes((reference,)) + p.short_message[4:])
                     for p in parts)
    if first.tlv(TAG_SAR_MSG_REF_NUM) is not None:
        return tuple(replace(p, tlvs=((TAG_SAR_MSG_REF_NUM, reference),) + p.tlvs[1:]) for p in parts)
    return parts


MAX_DESTINATION = 20  # destination_addr is a C-octet string of at most 21 octets
_CACHED = 1_000_000  # numbers of ranges up to this size are encoded once, on first use


class Destinations:
    """Destination numbers from a range `first-last` or a file of one number a line,
    handed out round robin as C-octet strings (NUL included)."""

    def __init__(self, spec: str) -> None:
        path = Path(spec)
        if "-" in spec and not path.exists():
            first, last = spec.split("-", 1)
            if not (first.isdigit() and last.isdigit()) or int(last) < int(first):
                raise ValueError(f"destination range must be FIRST-LAST in digits, not {spec!r}")
            self._first, self._count, self._width = int(first), int(last) - int(first) + 1, len(first)
            numbers = [last]
            self._listed: list[bytes] | None = None
        else:
            numbers = [line.strip() for line in path.read_text().splitlines() if line.strip()]
            if not numbers:
                raise ValueError(f"no destinations in {spec}")
            self._listed, self._count = [n.encode("latin-1") + b"\0" for n in numbers], len(numbers)
        too_long = next((n for n in numbers if len(n) > MAX_DESTINATION), None)
        if too_long is not None:
            raise ValueError(f"destination {too_long!r} is longer than {MAX_DESTINATION} characters")

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[bytes]:
        """The numbers round robin, forever. Made by map, cycle and chain (no Python frame
        a number: the generator takes one per submit)."""
        if self._listed is not None:
            return cycle(self._listed)
        numbers = range(self._first, self._first + self._count)
        number = (b"%%0%dd\0" % self._width).__mod__
        if self._count > _CACHED:  # made again each round, not kept
            return chain.from_iterable(map(partial(map, number), repeat(numbers)))
        return cycle(map(number, numbers))  # cycle keeps the first round's


# A part ready to send: the encoded body before and after destination_addr, the
# command_length without the destination, and whether it asks for a receipt.
Prepared = tuple[bytes, bytes, int, bool]


def prepare(part: SubmitSm) -> Prepared:
    """Encode `part` (its destination ignored) once, cut around destination_addr."""
    encoded = pdu_codec.encode(replace(part, destination_addr=""))
    at = HEADER_SIZE + len(part.service_type) + 1 + 2 + len(part.source_addr.encode("latin-1")) + 1 + 2
    assert encoded[at] == 0, "destination_addr is not where SMPP 3.4 section 4.4.1 puts it"
    before, after = encoded[HEADER_SIZE:at], encoded[at + 1:]
    return before, after, HEADER_SIZE + len(before) + len(after), bool(part.registered_delivery & 0x03)


class MessageSource:
    """An endless stream of (Prepared part, destination) pairs: whole messages in mix
    order, each to the next destination with its own concatenation reference."""

    def __init__(self, mix: list[MessageSpec], destinations: Destinations) -> None:
        if not mix:
            raise ValueError("the message mix is empty")
        self.templates = [spec.parts() for spec in mix]
        self._weights = [spec.weight for spec in mix]
        self._destinations = destinations
        self.parts = self._parts()

    @property
    def parts_per_message(self) -> float:
        """The mean number of submit_sm per message, weighted as the mix is."""
        return sum(w * len(t) for w, t in zip(self._weights, self.templates)) / sum(self._weights)

    def _parts(self) -> Iterator[tuple[Prepared, bytes]]:
        prepared = [tuple(prepare(p) for p in parts) for parts in self.templates]
        order = cycle(_interleave(self._weights))
        if all(len(parts) == 1 for parts in prepared):  # zipped in C: no Python frame a submit
            return zip(map([parts[0] for parts in prepared].__getitem__, order), iter(self._destinations))
        return self._parts_of_long(prepared, order)

    def _parts_of_long(self, prepared: list[tuple[Prepared, ...]],
                       order: Iterator[int]) -> Iterator[tuple[Prepared, bytes]]:
        next_destination = iter(self._destinations).__next__
        reference = 0
        for index in order:
            destination = next_destination()
            if len(prepared[index]) == 1:
                yield prepared[index][0], destination
                continue
            reference = reference % 255 + 1
            for part in _with_reference(self.templates[index], reference):
                yield prepare(part), destination
