"""Differential test against an independent codec, smpp.pdu3 (`import smpp.pdu`, the one
Jasmin uses): what we encode it decodes to the same fields, and what it encodes we decode
and write back byte for byte. Both twins.

smpp.pdu3 models fields with rich types (enums, datetimes, EsmClass...) and accepts a
narrower domain than the specification in places, so the generated PDUs stay inside it:
sequence_number >= 1, sm_default_msg_id <= 254, esm_class / registered_delivery /
data_coding built from the values it names, 21-octet addresses in data_sm, and only the
TLVs it models with plain values and allows on that operation, and the fields the
specification says are unused (NULL) in deliver_sm and deliver_sm_resp left empty, as it
insists. Left out: submit_multi (its dest_address list is not implemented there,
number_of_dests is commented out) and replace_sm (its decoder fails on sm_length).
"""
from __future__ import annotations

import contextlib
import inspect
import io

import pytest
import msgspec
from hypothesis import given, strategies as st

import smpp.pdu.operations as ref_operations
from smpp.pdu.pdu_encoding import PDUEncoder

from smsc.smpp import pdus
from smsc.smpp.constants import Tag
from tests.codec.test_pdu_roundtrip import codec_settings, cstr, field_strategy, smpp_time, tlv_value

REFERENCE_CLASSES = {
    cls.commandId.name: cls
    for _, cls in inspect.getmembers(ref_operations, inspect.isclass)
    if vars(cls).get("commandId") is not None
}
COMPARED = sorted(
    (cls for cls in pdus.PDU_CLASSES.values()
     if pdus.CommandId(cls.command_id).name.lower() in REFERENCE_CLASSES
     and cls not in (pdus.SubmitMulti, pdus.SubmitMultiResp, pdus.ReplaceSm)),
    key=lambda c: c.command_id,
)
# TLVs smpp.pdu3 carries as plain ints, strings or bytes (others become objects).
PLAIN_TLVS = (
    Tag.QOS_TIME_TO_LIVE, Tag.ADDITIONAL_STATUS_INFO_TEXT, Tag.RECEIPTED_MESSAGE_ID, Tag.USER_MESSAGE_REFERENCE,
    Tag.USER_RESPONSE_CODE, Tag.SOURCE_PORT, Tag.DESTINATION_PORT, Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS,
    Tag.SAR_SEGMENT_SEQNUM, Tag.SC_INTERFACE_VERSION, Tag.MESSAGE_PAYLOAD,
)
FIELD_DOMAIN = {
    "esm_class": st.builds(lambda mode, kind, gsm: mode | kind | gsm, st.integers(0, 3),
                           st.sampled_from([0, 0x04, 0x08, 0x10, 0x18, 0x20]), st.sampled_from([0, 0x40, 0x80, 0xC0])),
    "registered_delivery": st.builds(lambda receipt, ack, note: receipt | ack | note, st.integers(0, 2),
                                     st.sampled_from([0, 4, 8, 12]), st.sampled_from([0, 0x10])),
    "data_coding": st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, *range(0xF0, 0xF8)]),
    "sm_default_msg_id": st.integers(0, 254),
    "message_state": st.integers(1, 8),
}
# It writes an offset of zero as "00+" (the same instant as our "00-").
TIME_DOMAIN = smpp_time.filter(lambda text: not text.endswith("00-"))

UNUSED_FIELDS = {(pdus.DeliverSm, "schedule_delivery_time"), (pdus.DeliverSm, "validity_period"),
                 (pdus.DeliverSmResp, "message_id")}


def reference_strategy(cls: type[pdus.Pdu]) -> st.SearchStrategy[pdus.Pdu]:
    op_name = pdus.CommandId(cls.command_id).name.lower()
    fields = {}
    for field in cls.BODY:
        if field.name in FIELD_DOMAIN:
            fields[field.name] = FIELD_DOMAIN[field.name]
        elif cls is pdus.DataSm and field.name in ("source_addr", "destination_addr"):
            fields[field.name] = cstr(21)
        elif field.kind is pdus.Kind.TIME and (cls, field.name) not in UNUSED_FIELDS:
            fields[field.name] = TIME_DOMAIN
        elif (cls, field.name) in UNUSED_FIELDS:
            fields[field.name] = st.just("")
        else:
            fields[field.name] = field_strategy(field)
    if cls.HAS_TLVS:
        allowed = [int(tag) for tag in PLAIN_TLVS if tag.name.lower() in REFERENCE_CLASSES[op_name].optionalParams]
        # one TLV per tag: smpp.pdu3 keeps them in a dict
        fields["tlvs"] = st.lists(st.sampled_from(allowed), unique=True, max_size=4).flatmap(
            lambda tags: st.tuples(*(st.tuples(st.just(tag), tlv_value(tag)) for tag in tags))
        ) if allowed else st.just(())
    status = st.just(0) if cls.BODY_OPTIONAL_ON_ERROR else st.sampled_from([0, 8, 0x45, 0x58])
    return st.builds(cls, sequence_number=st.integers(1, 0x7FFFFFFF), command_status=status, **fields)


STRATEGIES = {cls: reference_strategy(cls) for cls in COMPARED}


def reference_decode(wire: bytes):
    with contextlib.redirect_stdout(io.StringIO()):  # smpp.pdu3 prints while parsing times
        return PDUEncoder().decode(io.BytesIO(wire))


def reference_encode(pdu) -> bytes:
    return PDUEncoder().encode(pdu)


def sorted_tlvs(pdu: pdus.Pdu) -> pdus.Pdu:
    # smpp.pdu3 writes TLVs in its own order; the set of them is what must agree.
    return pdu if not pdu.HAS_TLVS else msgspec.structs.replace(pdu, tlvs=tuple(sorted(pdu.tlvs)))


def as_ours(theirs, ours):
    """Their value in our type: they read C-strings as bytes and empty ones as None."""
    if isinstance(ours, str):
        return (theirs or b"").decode("latin-1")
    return theirs or b"" if isinstance(ours, bytes) else theirs


@pytest.mark.parametrize("cls", COMPARED, ids=lambda c: c.__name__)
@codec_settings(15)
@given(data=st.data())
def test_reference_reads_what_we_write_and_we_read_what_it_writes(codec, cls, data):
    pdu = data.draw(STRATEGIES[cls])
    wire = codec.pdu.encode(pdu)
    theirs = reference_decode(wire)
    # Their reading of our bytes: same header, same text and octet fields, same TLVs.
    assert (theirs.seqNum, theirs.commandId.name) == (pdu.sequence_number, pdu.name)
    for field in cls.BODY:
        if field.kind in (pdus.Kind.CSTR, pdus.Kind.SHORT_MESSAGE):
            assert as_ours(theirs.params[field.name], getattr(pdu, field.name)) == getattr(pdu, field.name)
    for tag, value in getattr(pdu, "tlvs", ()):
        assert as_ours(theirs.params[Tag(tag).name.lower()], value) == value
    # Their writing of it: we read the same PDU back and write their bytes exactly.
    rewritten = reference_encode(theirs)
    ours = codec.pdu.decode(rewritten)
    assert sorted_tlvs(ours) == sorted_tlvs(pdu)
    assert codec.pdu.encode(ours) == rewritten
