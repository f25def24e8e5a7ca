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


def reference_built_pdus():
    """PDUs built with smpp.pdu3's own types (not decoded from our bytes), each with the
    PDU we must read from its encoding."""
    from smpp.pdu import operations as op, pdu_types as t

    udh_ucs2 = b"\x05\x00\x03\x2a\x02\x01" + "Hi".encode("utf-16-be")
    return [
        (op.SubmitSM(seqNum=9, service_type=b"CMT", source_addr_ton=t.AddrTon.ALPHANUMERIC,
                     source_addr_npi=t.AddrNpi.UNKNOWN, source_addr=b"MyBrand", dest_addr_ton=t.AddrTon.INTERNATIONAL,
                     dest_addr_npi=t.AddrNpi.ISDN, destination_addr=b"447700900123",
                     esm_class=t.EsmClass(t.EsmClassMode.STORE_AND_FORWARD, t.EsmClassType.DEFAULT,
                                          [t.EsmClassGsmFeatures.UDHI_INDICATOR_SET]),
                     protocol_id=0, priority_flag=t.PriorityFlag.LEVEL_1,
                     registered_delivery=t.RegisteredDelivery(t.RegisteredDeliveryReceipt.SMSC_DELIVERY_RECEIPT_REQUESTED),
                     replace_if_present_flag=t.ReplaceIfPresentFlag.DO_NOT_REPLACE,
                     data_coding=t.DataCoding(t.DataCodingScheme.RAW, 8), sm_default_msg_id=0,
                     short_message=udh_ucs2, sar_msg_ref_num=42),
         pdus.SubmitSm(9, 0, "CMT", 5, 0, "MyBrand", 1, 1, "447700900123", esm_class=0x43, priority_flag=1,
                       registered_delivery=1, data_coding=8, short_message=udh_ucs2, tlvs=((0x020C, 42),))),
        (op.DeliverSM(seqNum=3, source_addr=b"447700900123", destination_addr=b"MyBrand",
                      esm_class=t.EsmClass(t.EsmClassMode.DEFAULT, t.EsmClassType.SMSC_DELIVERY_RECEIPT),
                      short_message=b"id:1 stat:DELIVRD", receipted_message_id=b"1", message_state=t.MessageState.DELIVERED),
         pdus.DeliverSm(3, source_addr="447700900123", destination_addr="MyBrand", esm_class=4,
                        short_message=b"id:1 stat:DELIVRD", tlvs=((0x0427, 2), (0x001E, "1")))),
        (op.BindTransceiverResp(seqNum=1, system_id=b"SMSC", sc_interface_version=0x34),
         pdus.BindTransceiverResp(1, 0, "SMSC", ((0x0210, 0x34),))),
        (op.BindTransceiverResp(seqNum=1, status=t.CommandStatus.ESME_RBINDFAIL),
         pdus.BindTransceiverResp(1, 0x0D)),
    ]


@pytest.mark.parametrize("index", range(4))
def test_we_read_pdus_built_with_its_own_types(codec, index):
    theirs, expected = reference_built_pdus()[index]
    wire = reference_encode(theirs)
    assert codec.pdu.decode(wire) == expected
    assert codec.pdu.encode(expected) == wire
