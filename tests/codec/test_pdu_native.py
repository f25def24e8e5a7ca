"""The Cython twin is the one loaded when built, and it agrees with the pure-Python twin
byte for byte and error for error, on valid PDUs and on damaged ones."""
from __future__ import annotations

import importlib.machinery

import pytest
from hypothesis import given, settings, strategies as st

from smsc import codec as codec_switch
from smsc.smpp.errors import SmppError

from tests.codec.test_pdu_roundtrip import any_pdu

pytestmark = pytest.mark.skipif(codec_switch.FORCED_PURE, reason="SMSC_PUREPYTHON=1: pure-Python twin only")


@pytest.fixture(scope="module")
def twins():
    return codec_switch.load("cython").pdu, codec_switch.load("python").pdu


def test_compiled_twin_is_the_active_one():
    assert codec_switch.active()["pdu"] == "cython"
    assert codec_switch.pdu.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def outcome(decode, data):
    try:
        return decode(data)
    except SmppError as exc:
        return exc


@settings(max_examples=150, deadline=None)
@given(pdu=any_pdu)
def test_twins_write_identical_bytes_and_read_equal_pdus(twins, pdu):
    native, pure = twins
    wire = pure.encode(pdu)
    assert native.encode(pdu) == wire
    assert native.decode(wire) == pure.decode(wire) == pdu


def damage(wire: bytes, data: st.DataObject) -> bytes:
    """`wire` with a few octets of its body changed, cut or added; command_length is
    usually patched to match, so the body parsers (not just framing) see the damage."""
    body = bytearray(wire[16:])
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["set", "cut", "add"]))
        if action == "set" and body:
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
        elif action == "cut" and body:
            del body[data.draw(st.integers(0, len(body) - 1)):]
        else:
            body[data.draw(st.integers(0, len(body))):0] = data.draw(st.binary(min_size=1, max_size=4))
    length = 16 + len(body) if data.draw(st.integers(0, 9)) else int.from_bytes(wire[:4], "big")
    return length.to_bytes(4, "big") + wire[4:16] + bytes(body)


@settings(max_examples=250, deadline=None)
@given(pdu=any_pdu, data=st.data())
def test_twins_agree_on_damaged_pdus(twins, pdu, data):
    native, pure = twins
    damaged = damage(pure.encode(pdu), data)
    assert outcome(native.decode, damaged) == outcome(pure.decode, damaged)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=64))
def test_twins_agree_on_random_bytes(twins, data):
    native, pure = twins
    assert outcome(native.decode, data) == outcome(pure.decode, data)
    if len(data) >= 16:
        assert native.decode_header(data) == pure.decode_header(data)


def test_twins_raise_the_same_encode_errors(twins):
    from smsc.smpp import pdus

    native, pure = twins
    broken = [
        pdus.SubmitSm(source_addr="x" * 21),
        pdus.SubmitSm(source_addr="\u0100"),
        pdus.SubmitSm(esm_class=256),
        pdus.SubmitSm(priority_flag=4),
        pdus.SubmitSm(short_message=b"x" * 255),
        pdus.SubmitSm(validity_period="not a time"),
        pdus.SubmitSm(tlvs=((0x020C, 70000),)),
        pdus.SubmitSm(tlvs=((0x001E, "a\0b"),)),
        pdus.DeliverSmResp(sequence_number=-1),
        pdus.SubmitMulti(),
    ]
    for pdu in broken:
        with pytest.raises(SmppError) as native_error:
            native.encode(pdu)
        with pytest.raises(SmppError) as pure_error:
            pure.encode(pdu)
        assert native_error.value == pure_error.value
