"""Golden PDUs from tests/vectors/ (each file says where its bytes come from): both twins
decode them to the recorded fields and write them back octet for octet."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from smsc.smpp.pdus import to_jsonable

VECTORS = Path(__file__).parent.parent / "vectors"
SPEC = json.loads((VECTORS / "spec_layouts.json").read_text())["vectors"]
SMPPLIB = json.loads((VECTORS / "smpplib_captures.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", SPEC, ids=[v["name"] for v in SPEC])
def test_spec_layouts(codec, vector):
    wire = bytes.fromhex(vector["hex"])
    pdu = codec.pdu.decode(wire)
    fields = to_jsonable(pdu)
    assert {name: fields[name] for name in vector["expect"]} == vector["expect"]
    assert codec.pdu.encode(pdu) == wire


@pytest.mark.parametrize("vector", SMPPLIB, ids=[f"{v['command']}-{v['sequence']}" for v in SMPPLIB])
def test_smpplib_captures(codec, vector):
    wire = bytes.fromhex(vector["hex"])
    pdu = codec.pdu.decode(wire)
    assert (pdu.name, pdu.sequence_number) == (vector["command"], vector["sequence"])
    for name, value in vector["kwargs"].items():
        if name.startswith("sar_"):
            assert pdu.tlv(to_tag(name)) == value
        else:
            expected = value.encode("latin-1") if name == "short_message" else value
            assert getattr(pdu, name) == expected, name
    assert codec.pdu.encode(pdu) == wire


def to_tag(name: str) -> int:
    from smsc.smpp.constants import Tag

    return Tag[name.upper()]


@pytest.mark.parametrize("vector", SMPPLIB, ids=[f"{v['command']}-{v['sequence']}" for v in SMPPLIB])
def test_smpplib_still_writes_the_recorded_bytes(vector):
    import smpplib.client
    import smpplib.smpp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = smpplib.client.Client("127.0.0.1", 0, allow_unknown_opt_params=True)  # never connected
    kwargs = {k: v.encode("latin-1") if k == "short_message" else v for k, v in vector["kwargs"].items()}
    pdu = smpplib.smpp.make_pdu(vector["command"], client=client, **kwargs)
    pdu.sequence = vector["sequence"]
    assert pdu.generate().hex() == vector["hex"]
