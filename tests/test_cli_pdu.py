"""`smsc pdu decode`: every field and TLV of a PDU as JSON, from an argument or stdin; a
malformed PDU prints its error with the status name and exits non-zero. Runs the real
command line in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The deliver_sm receipt (two TLVs) of the golden vectors.
VECTORS = json.loads((Path(__file__).parent / "vectors" / "spec_layouts.json").read_text())["vectors"]
DELIVER_SM = next(v for v in VECTORS if v["name"] == "deliver_sm delivery receipt")


def smsc(*args: str, stdin: str | None = None, pure: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "SMSC_PUREPYTHON": "1" if pure else "0"}
    return subprocess.run([sys.executable, "-m", "smsc", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.mark.parametrize("pure", [False, True], ids=["active", "pure"])
def test_decode_argument_prints_every_field_and_tlv(pure):
    result = smsc("pdu", "decode", DELIVER_SM["hex"], pure=pure)
    assert result.returncode == 0, result.stderr
    fields = json.loads(result.stdout)
    assert fields["command"] == "deliver_sm"
    assert fields["command_id"] == "0x00000005"
    assert fields["sequence_number"] == 0x2A
    for name in ("service_type", "source_addr_ton", "source_addr", "destination_addr", "esm_class",
                 "schedule_delivery_time", "validity_period", "data_coding", "short_message"):
        assert name in fields
    assert fields["tlvs"] == DELIVER_SM["expect"]["tlvs"]


def test_decode_reads_stdin_with_spaces_and_newlines():
    spaced = " ".join(DELIVER_SM["hex"][i:i + 8] for i in range(0, len(DELIVER_SM["hex"]), 8))
    result = smsc("pdu", "decode", stdin=spaced + "\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["short_message"] == DELIVER_SM["expect"]["short_message"]


def test_malformed_pdu_prints_the_error_with_its_status_name():
    # submit_sm whose source_addr_ton is 7 (TON values stop at 6).
    bad = "0000001400000004000000000000000100070000"
    result = smsc("pdu", "decode", bad)
    assert result.returncode != 0
    error = json.loads(result.stderr)
    assert (error["error"], error["field"]) == ("ESME_RINVSRCTON", "source_addr_ton")
    assert result.stdout == ""


def test_framing_error_and_non_hex_input():
    short = smsc("pdu", "decode", "00000010")
    assert short.returncode != 0 and "ESME_RINVCMDLEN" in short.stderr
    not_hex = smsc("pdu", "decode", "xyz")
    assert not_hex.returncode != 0 and "not hexadecimal" in not_hex.stderr
