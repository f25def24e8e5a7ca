"""Fuzz: decode returns a Pdu or raises an SmppError, never anything else, on random
bytes, on random bodies behind a valid header, and on damaged valid PDUs. (bench/fuzz_pdu.py
runs the same property over 100,000+ inputs.)"""
from __future__ import annotations

import struct

from hypothesis import given, strategies as st

from smsc.smpp import pdus
from smsc.smpp.errors import SmppError
from tests.codec.test_pdu_native import damage
from tests.codec.test_pdu_roundtrip import any_pdu, codec_settings

COMMAND_IDS = sorted(pdus.PDU_CLASSES)


def decodes_or_raises_smpp_error(decode, data: bytes) -> None:
    try:
        result = decode(data)
    except SmppError:
        return
    assert isinstance(result, pdus.Pdu)


@codec_settings(1000)
@given(data=st.binary(max_size=300))
def test_random_bytes(codec, data):
    decodes_or_raises_smpp_error(codec.pdu.decode, data)


@codec_settings(1500)
@given(command_id=st.sampled_from(COMMAND_IDS), status=st.sampled_from([0, 1, 0x58]), body=st.binary(max_size=300))
def test_random_bodies_behind_valid_headers(codec, command_id, status, body):
    data = struct.pack(">IIII", 16 + len(body), command_id, status, 1) + body
    decodes_or_raises_smpp_error(codec.pdu.decode, data)


@codec_settings(200)  # generating whole PDUs is the slow part
@given(pdu=any_pdu, data=st.data())
def test_damaged_pdus(codec, pdu, data):
    decodes_or_raises_smpp_error(codec.pdu.decode, damage(codec.pdu.encode(pdu), data))
