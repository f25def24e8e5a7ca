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

_LENGTH = Struct(">I")


class Framer:
    """Feed it chunks with `feed`; take whole PDUs with `frames` (all there are), `next_frame`
    or by iterating.

    After a FramingError the framer stays broken: it raises the same error again and
    drops whatever it is fed, since nothing after a bad length can be trusted.

    The buffer is the bytes of the last read as they came, PDUs cut out of it by slicing
    (one copy each), while reads end on PDU boundaries, as a busy link's mostly do. A PDU
    left incomplete by a read goes before the next read's bytes; when the part already in
    is longer than the read (a PDU trickling in), the two are gathered in a bytearray
    instead, turned back into bytes once the PDU is whole. Either way each byte fed is
    copied a bounded number of times: time and memory linear in what is fed.
    """

    __slots__ = ("max_pdu_size", "_buffer", "_offset", "_error")

    def __init__(self, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> None:
        if max_pdu_size < HEADER_SIZE:
            raise ValueError(f"max_pdu_size must be at least {HEADER_SIZE}")
        self.max_pdu_size = max_pdu_size
        self._buffer: bytes | bytearray = b""  # PDUs not yet taken start at _offset
        self._offset = 0
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned as a PDU."""
        return len(self._buffer) - self._offset

    def feed(self, data: bytes) -> None:
        if self._error is not None:
            return
        buffer, start = self._buffer, self._offset
        if type(buffer) is bytearray:
            buffer += data
        elif start == len(buffer):
            self._buffer, self._offset = data if type(data) is bytes else bytes(data), 0
            return
        elif len(buffer) - start <= len(data):
            self._buffer, self._offset = buffer[start:] + data, 0
            return
        else:
            buffer = self._buffer = bytearray(memoryview(buffer)[start:]) + data
            self._offset = 0
        # Gathering: bytes again once the PDU is whole (or its length is bad: `frames` says so).
        if len(buffer) >= 4 and _LENGTH.unpack_from(buffer)[0] <= len(buffer):
            self._buffer = bytes(buffer)

    def frames(self, limit: int = -1) -> list[bytes]:
        """The whole PDUs fed and not yet taken, oldest first, at most `limit` of them (-1:
        no limit); none until more is fed. A bad command_length raises FramingError once
        the PDUs before it are taken."""
        if self._error is not None:
            raise self._error
        buffer, start, most = self._buffer, self._offset, self.max_pdu_size
        size = len(buffer)
        frames: list[bytes] = []
        while limit and size - start >= 4:
            (length,) = _LENGTH.unpack_from(buffer, start)
            end = start + length
            if end > size or not HEADER_SIZE <= length <= most:
                if not frames:
                    self._incomplete(length)
                break
            frames.append(buffer[start:end])  # bytes: a bytearray holds no whole PDU (feed)
            start = end
            limit -= 1
        if start == size:
            self._buffer, self._offset = b"", 0
        elif limit and start:  # an incomplete PDU left: only it is kept
            self._buffer, self._offset = buffer[start:], 0
        else:
            self._offset = start
        return frames

    def next_frame(self) -> bytes | None:
        """The next whole PDU, or None until more data is fed."""
        frames = self.frames(1)
        return frames[0] if frames else None

    def _incomplete(self, length: int) -> None:
        if HEADER_SIZE <= length <= self.max_pdu_size:
            return None  # a valid length whose PDU has not all arrived yet
        self._error = FramingError(
            f"command_length {length} outside {HEADER_SIZE}..{self.max_pdu_size}")
        self._buffer = b""
        self._offset = 0
        raise self._error

    def __iter__(self) -> Iterator[bytes]:
        while (frame := self.next_frame()) is not None:
            yield frame
