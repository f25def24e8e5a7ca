"""User Data Header layouts of TS 23.040 9.2.3.24 (smsc.codec.udh)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.codec.text_errors import UdhError
from smsc.codec.udh import Concat, Udh, fill_bits, national_language_ies, parse_udh


@pytest.mark.parametrize(
    ("hex_header", "concat"),
    [
        ("050003cc0301", Concat(0xCC, 3, 1, False)),  # 8-bit reference (9.2.3.24.1)
        ("0608041234ff02", Concat(0x1234, 255, 2, True)),  # 16-bit reference (9.2.3.24.8)
        ("050003cc0304", None),  # sequence above the total: ignored
        ("050003cc0300", None),  # sequence 0: ignored
        ("0400020101", None),  # wrong length for IEI 0x00: ignored
        ("0b050400000000 0003010201", Concat(1, 2, 1, False)),  # after a port IE
    ],
)
def test_concatenation_elements(hex_header, concat):
    udh, body = parse_udh(bytes.fromhex(hex_header) + b"text")
    assert body == b"text"
    assert udh.concat == concat


def test_unknown_elements_are_kept_in_order_and_rebuilt_byte_for_byte():
    raw = bytes.fromhex("107003aabbcc0003440201240101250103")
    udh, body = parse_udh(raw + b"x")
    assert [iei for iei, _ in udh.elements] == [0x70, 0x00, 0x24, 0x25]
    assert udh.elements[0] == (0x70, b"\xaa\xbb\xcc")
    assert (udh.single_shift, udh.locking_shift) == (1, 3)
    assert udh.to_bytes() == raw and body == b"x"


def test_repeated_element_counts_by_its_last_occurrence():
    udh, _ = parse_udh(bytes.fromhex("0a000301020100030903 02"))
    assert udh.concat == Concat(9, 3, 2, False)


@pytest.mark.parametrize(
    ("hex_data", "message"),
    [
        ("", "empty"),
        ("05000301", "runs past"),
        ("0100aa", "no length octet"),
        ("03000501", "runs past the UDH"),
    ],
)
def test_malformed_headers_raise_udh_error(hex_data, message):
    with pytest.raises(UdhError, match=message):
        parse_udh(bytes.fromhex(hex_data))


def test_national_language_ies_and_fill_bits():
    assert national_language_ies(0, 0) == b""
    assert national_language_ies(1, 2) == bytes.fromhex("240102 250101")
    # TS 23.040 9.2.3.24: septet alignment after UDHL + UDH.
    assert [fill_bits(n) for n in (0, 6, 7, 4, 10)] == [0, 1, 0, 3, 4]


def test_oversized_element_cannot_be_built():
    with pytest.raises(UdhError):
        Udh(((0x70, b"x" * 256),)).to_bytes()
    with pytest.raises(UdhError):
        Udh(((0x70, b"x" * 138),)).to_bytes()


@settings(max_examples=200)
@given(data=st.binary(max_size=60))
def test_any_octets_parse_or_raise_udh_error(data):
    try:
        udh, body = parse_udh(data)
    except UdhError:
        return
    assert udh.to_bytes() + body == data
