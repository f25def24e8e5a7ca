from __future__ import annotations

import pytest
from msgspec.structs import replace
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.smpp import status
from smsc.smpp.errors import Answer, FramingError
from smsc.smpp.framing import DEFAULT_MAX_PDU_SIZE, Framer

from .helpers import SAMPLES, wire

REAL_PDUS = [wire(replace(pdu, sequence_number=n)) for n, pdu in enumerate(SAMPLES.values(), 1)]


def frame(body: bytes) -> bytes:
    return (16 + len(body)).to_bytes(4, "big") + b"\x00\x00\x00\x15" + bytes(8) + body


def cut_and_feed(stream: bytes, cuts: list[int]) -> list[bytes]:
    framer = Framer()
    out: list[bytes] = []
    start = 0
    for end in [*sorted(cuts), len(stream)]:
        framer.feed(stream[start:end])
        out.extend(framer)
        start = end
    assert framer.buffered == 0
    return out


def test_whole_stream_of_real_pdus():
    assert cut_and_feed(b"".join(REAL_PDUS), []) == REAL_PDUS


def test_byte_by_byte():
    stream = b"".join(REAL_PDUS)
    assert cut_and_feed(stream, list(range(1, len(stream)))) == REAL_PDUS


@settings(max_examples=60)
@given(bodies=st.lists(st.binary(max_size=300), min_size=1, max_size=20), data=st.data())
def test_random_cuts_yield_the_same_pdus(bodies, data):
    frames = [frame(body) for body in bodies]
    stream = b"".join(frames)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=40))
    assert cut_and_feed(stream, cuts) == frames


def test_nothing_until_the_whole_pdu_is_in():
    framer = Framer()
    pdu = REAL_PDUS[0]
    framer.feed(pdu[:-1])
    assert framer.next_frame() is None
    assert framer.buffered == len(pdu) - 1
    framer.feed(pdu[-1:])
    assert framer.next_frame() == pdu
    assert framer.next_frame() is None


@pytest.mark.parametrize("length", [0, 1, 15, DEFAULT_MAX_PDU_SIZE + 1, 0x7FFFFFFF, 0xFFFFFFFF])
def test_impossible_length_rejected_on_its_four_octets(length):
    framer = Framer()
    framer.feed(length.to_bytes(4, "big"))  # not one octet more: no waiting for the rest
    with pytest.raises(FramingError) as info:
        framer.next_frame()
    error = info.value
    assert error.command_status == status.ESME_RINVCMDLEN
    assert error.fatal and error.answer is Answer.GENERIC_NACK


def test_length_over_the_maximum_rejected_even_when_all_octets_are_there():
    framer = Framer(max_pdu_size=32)
    framer.feed(frame(bytes(17)))  # 33 octets, all present
    with pytest.raises(FramingError):
        framer.next_frame()


def test_length_equal_to_the_maximum_accepted():
    framer = Framer(max_pdu_size=32)
    framer.feed(frame(bytes(16)))
    assert len(framer.next_frame()) == 32


def test_good_pdus_before_a_bad_length_still_come_out():
    framer = Framer()
    framer.feed(REAL_PDUS[0] + b"\x00\x00\x00\x03")
    assert framer.next_frame() == REAL_PDUS[0]
    with pytest.raises(FramingError):
        framer.next_frame()


def test_broken_framer_stays_broken_and_buffers_nothing():
    framer = Framer()
    framer.feed(b"\xff\xff\xff\xff")
    with pytest.raises(FramingError) as first:
        framer.next_frame()
    framer.feed(REAL_PDUS[0] * 100)
    assert framer.buffered == 0
    with pytest.raises(FramingError) as again:
        framer.next_frame()
    assert again.value is first.value


def test_many_small_pdus_in_one_chunk_with_a_partial_tail():
    # The consumed front is dropped as we go (white box: the promise is memory and time
    # linear in what is fed), and the partial tail survives it.
    pdus = [frame(n.to_bytes(2, "big")) for n in range(5000)]
    framer = Framer()
    framer.feed(b"".join(pdus) + pdus[0][:7])
    assert list(framer) == pdus
    assert framer.buffered == 7
    assert len(framer._buffer) < 4096
    framer.feed(pdus[0][7:])
    assert list(framer) == [pdus[0]]


def test_max_pdu_size_below_a_header_is_a_programming_error():
    with pytest.raises(ValueError):
        Framer(max_pdu_size=15)


def test_frames_takes_every_whole_pdu_of_a_read_and_keeps_the_tail():
    framer = Framer()
    framer.feed(b"".join(REAL_PDUS) + REAL_PDUS[0][:5])
    assert framer.frames() == REAL_PDUS
    assert framer.frames() == [] and framer.buffered == 5
    framer.feed(REAL_PDUS[0][5:] + REAL_PDUS[1])
    assert framer.frames() == REAL_PDUS[:2] and framer.buffered == 0
    assert all(type(frame) is bytes for frame in REAL_PDUS)


def test_frames_gives_the_good_pdus_before_a_bad_length_then_raises():
    framer = Framer()
    framer.feed(REAL_PDUS[0] + REAL_PDUS[1] + b"\x00\x00\x00\x03")
    assert framer.frames() == REAL_PDUS[:2]
    with pytest.raises(FramingError):
        framer.frames()
    with pytest.raises(FramingError):
        framer.next_frame()


@settings(max_examples=40)
@given(bodies=st.lists(st.binary(max_size=300), min_size=1, max_size=20), data=st.data())
def test_frames_and_next_frame_agree_at_random_cuts(bodies, data):
    frames = [frame(body) for body in bodies]
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=40)))
    framer, out, start = Framer(), [], 0
    for end in [*cuts, len(stream)]:
        framer.feed(bytearray(stream[start:end]))  # any bytes-like chunk; PDUs come out as bytes
        out += framer.frames() if data.draw(st.booleans()) else list(framer)
        start = end
    assert out == frames and all(type(pdu) is bytes for pdu in out)


def test_a_pdu_trickling_in_is_gathered_not_copied_again_at_every_octet():
    # White box: a read shorter than the part of a PDU already in goes into a bytearray
    # (amortised linear), not into a new bytes object of the whole part each time.
    pdu = frame(bytes(DEFAULT_MAX_PDU_SIZE - 16))
    framer = Framer()
    framer.feed(pdu[:1000])
    for n in range(1000, len(pdu) - 1):
        framer.feed(pdu[n:n + 1])
    assert type(framer._buffer) is bytearray and framer.frames() == []
    framer.feed(pdu[-1:] + REAL_PDUS[0])
    assert framer.frames() == [pdu, REAL_PDUS[0]]
    assert framer.buffered == 0
