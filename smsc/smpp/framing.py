"""Cut a TCP byte stream into whole SMPP PDUs.

Every PDU starts with its 4-octet command_length, which counts the whole PDU (section
3.2). The Framer trusts it only between HEADER_SIZE and `max_pdu_size`: anything else
means the stream has lost its frame boundaries, and it says so as soon as the 4 octets
are in, rather than buffering towards the 4 GiB a hostile length could ask for.
"""
from __future__ import annotations

from collections.abc import Iterator
from struct import Struct

from smsc.smpp.constants import HEADER_SIZE
from smsc.smpp.errors import FramingError

DEFAULT_MAX_PDU_SIZE = 64 * 1024

# Consumed bytes are dropped from the front of the buffer once there are this many and
# they are at least half of it: each byte is moved at most about once, and many small
# PDUs in one read are cut out by offset, not by re-slicing the rest each time.
_COMPACT_AT = 4096
_LENGTH = Struct(">I")


class Framer:
    """Feed it chunks with `feed`; take whole PDUs with `next_frame` or by iterating.

    After a FramingError the framer stays broken: it raises the same error again and
    drops whatever it is fed, since nothing after a bad length can be trusted.
    """

    __slots__ = ("max_pdu_size", "_buffer", "_offset", "_error")

    def __init__(self, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> None:
        if max_pdu_size < HEADER_SIZE:
            raise ValueError(f"max_pdu_size must be at least {HEADER_SIZE}")
        self.max_pdu_size = max_pdu_size
        self._buffer = bytearray()
        self._offset = 0
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned as a PDU."""
        return len(self._buffer) - self._offset

    def feed(self, data: bytes) -> None:
        if self._error is None:
            self._buffer += data

    def next_frame(self) -> bytes | None:
        """The next whole PDU, or None until more data is fed."""
        buffer, start = self._buffer, self._offset
        available = len(buffer) - start
        if available < 4:
            if self._error is not None:
                raise self._error
            return None
        (length,) = _LENGTH.unpack_from(buffer, start)
        if length > available or not HEADER_SIZE <= length <= self.max_pdu_size:
            return self._incomplete(length)
        end = start + length
        frame = bytes(buffer[start:end])
        if end == len(buffer):
            buffer.clear()
            end = 0
        elif end >= _COMPACT_AT and end * 2 >= len(buffer):
            del buffer[:end]
            end = 0
        self._offset = end
        return frame

    def _incomplete(self, length: int) -> None:
        if HEADER_SIZE <= length <= self.max_pdu_size:
            return None  # a valid length whose PDU has not all arrived yet
        self._error = FramingError(
            f"command_length {length} outside {HEADER_SIZE}..{self.max_pdu_size}")
        self._buffer = bytearray()
        self._offset = 0
        raise self._error

    def __iter__(self) -> Iterator[bytes]:
        while (frame := self.next_frame()) is not None:
            yield frame
