"""User Data Header (TS 23.040 9.2.3.24): parse and build.

    parse_udh(user_data) -> (Udh, body)   # UdhError when the header is malformed
    Udh(elements).to_bytes()              # UDHL + IEs, every IE kept in wire order
    national_language_ies(locking, single) -> bytes

A `Udh` keeps every information element as (iei, value) in wire order, unknown ones
included, so a header passes through unchanged. Its properties read the ones the text
core understands: `concat` (IEI 0x00 with an 8-bit reference, 0x08 with a 16-bit one)
and the national language shift tables (0x24 single shift, 0x25 locking shift).
As the spec says, a repeated IE counts by its last occurrence, and a concatenation IE
with a wrong length, a zero total, or a sequence number of 0 or above the total is
ignored (the part is then a message of its own).
"""
from __future__ import annotations

from dataclasses import dataclass

from smsc.codec.text_errors import UdhError

IEI_CONCAT_8 = 0x00
IEI_CONCAT_16 = 0x08
IEI_PORTS_8 = 0x04
IEI_PORTS_16 = 0x05
IEI_SINGLE_SHIFT = 0x24
IEI_LOCKING_SHIFT = 0x25


@dataclass(frozen=True, slots=True)
class Concat:
    reference: int
    total: int
    seq: int
    wide: bool  # 16-bit reference (IEI 0x08)


@dataclass(frozen=True, slots=True)
class Udh:
    elements: tuple[tuple[int, bytes], ...] = ()

    def _last(self, iei: int) -> bytes | None:
        for key, value in reversed(self.elements):
            if key == iei:
                return value
        return None

    @property
    def concat(self) -> Concat | None:
        for iei, value in reversed(self.elements):
            if iei == IEI_CONCAT_8 and len(value) == 3:
                concat = Concat(value[0], value[1], value[2], False)
            elif iei == IEI_CONCAT_16 and len(value) == 4:
                concat = Concat(value[0] << 8 | value[1], value[2], value[3], True)
            else:
                continue
            return concat if 1 <= concat.seq <= concat.total else None
        return None

    def _language(self, iei: int) -> int:
        value = self._last(iei)
        return value[0] if value and len(value) == 1 else 0

    @property
    def single_shift(self) -> int:
        return self._language(IEI_SINGLE_SHIFT)

    @property
    def locking_shift(self) -> int:
        return self._language(IEI_LOCKING_SHIFT)

    def to_bytes(self) -> bytes:
        body = b"".join(_element(iei, value) for iei, value in self.elements)
        if len(body) > 139:
            raise UdhError(f"user data header of {len(body)} octets does not fit in 140")
        return bytes((len(body),)) + body


def _element(iei: int, value: bytes) -> bytes:
    if not 0 <= iei <= 0xFF or len(value) > 0xFF:
        raise UdhError(f"information element 0x{iei:02X} cannot be encoded ({len(value)} octets)")
    return bytes((iei, len(value))) + value


def parse_udh(user_data: bytes) -> tuple[Udh, bytes]:
    """Split user data that starts with a UDH (esm_class UDHI) into (Udh, body)."""
    if not user_data:
        raise UdhError("UDHI is set but the user data is empty")
    end = 1 + user_data[0]
    if end > len(user_data):
        raise UdhError(f"UDH length {user_data[0]} runs past the {len(user_data)} octets of user data")
    elements = []
    i = 1
    while i < end:
        if i + 2 > end:
            raise UdhError(f"information element at octet {i} has no length octet")
        iei, length = user_data[i], user_data[i + 1]
        if i + 2 + length > end:
            raise UdhError(f"information element 0x{iei:02X} at octet {i} runs past the UDH")
        elements.append((iei, bytes(user_data[i + 2:i + 2 + length])))
        i += 2 + length
    return Udh(tuple(elements)), bytes(user_data[end:])


def national_language_ies(locking: int, single: int) -> bytes:
    """The IEs announcing national tables (none for the default alphabet)."""
    out = b""
    if single:
        out += bytes((IEI_SINGLE_SHIFT, 1, single))
    if locking:
        out += bytes((IEI_LOCKING_SHIFT, 1, locking))
    return out


def fill_bits(udh_octets: int) -> int:
    """Zero bits after a UDH of `udh_octets` (UDHL included) so that packed septets
    start on a septet boundary (TS 23.040 9.2.3.24)."""
    return (7 - udh_octets * 8 % 7) % 7
