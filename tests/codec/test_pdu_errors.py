"""Each way a PDU can be malformed gives its precise error: class, command_status, field,
and the sequence_number / command_id the answer needs. Both twins."""
from __future__ import annotations

import struct

import pytest

from smsc.smpp import pdus, status as st
from smsc.smpp.errors import Answer, FramingError, PduDecodeError, PduEncodeError, UnknownCommandError

SEQ = 0x01020304


def frame(command_id: int, body: bytes = b"", command_status: int = 0, length: int | None = None) -> bytes:
    length = 16 + len(body) if length is None else length
    return struct.pack(">IIII", length, command_id, command_status, SEQ) + body


# A valid submit_sm body, field by field, so a test can break exactly one of them.
SUBMIT_FIELDS = {
    "service_type": b"\0", "source_addr_ton": b"\x01", "source_addr_npi": b"\x01", "source_addr": b"123\0",
    "dest_addr_ton": b"\x01", "dest_addr_npi": b"\x01", "destination_addr": b"456\0", "esm_class": b"\0",
    "protocol_id": b"\0", "priority_flag": b"\0", "schedule_delivery_time": b"\0", "validity_period": b"\0",
    "registered_delivery": b"\0", "replace_if_present_flag": b"\0", "data_coding": b"\0",
    "sm_default_msg_id": b"\0", "short_message": b"\x02hi",
}


def submit_sm(tlvs: bytes = b"", **fields: bytes) -> bytes:
    return frame(0x04, b"".join({**SUBMIT_FIELDS, **fields}.values()) + tlvs)


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


def test_valid_submit_sm_decodes(codec):
    pdu = codec.pdu.decode(submit_sm(tlv(0x1403, b"v")))
    assert (pdu.source_addr, pdu.destination_addr, pdu.short_message, pdu.tlvs) == ("123", "456", b"hi", ((0x1403, b"v"),))


@pytest.mark.parametrize("data", [b"", b"\0" * 15, frame(0x15, length=15), frame(0x15, length=17), frame(0x15, b"\0", length=16)],
                         ids=["empty", "short header", "length under 16", "length over data", "length under data"])
def test_framing_errors(codec, data):
    with pytest.raises(FramingError) as info:
        codec.pdu.decode(data)
    assert info.value.command_status == st.ESME_RINVCMDLEN
    assert info.value.fatal and info.value.answer is Answer.GENERIC_NACK


def test_decode_header_needs_16_octets(codec):
    with pytest.raises(FramingError):
        codec.pdu.decode_header(b"\0" * 15)
    assert codec.pdu.decode_header(frame(0x15) + b"rest") == (16, 0x15, 0, SEQ)


def test_unknown_command_id_is_answered_with_generic_nack(codec):
    with pytest.raises(UnknownCommandError) as info:
        codec.pdu.decode(frame(0x0000_0099))
    error = info.value
    assert (error.command_status, error.sequence_number, error.command_id) == (st.ESME_RINVCMDID, SEQ, None)
    assert error.answer is Answer.GENERIC_NACK


BODY_ERRORS = {
    # C-octet strings longer than their maximum (size counts the NUL) or without NUL.
    "service_type too long": (submit_sm(service_type=b"ABCDEF\0"), st.ESME_RINVSERTYP, "service_type"),
    "source_addr too long": (submit_sm(source_addr=b"1" * 21 + b"\0"), st.ESME_RINVSRCADR, "source_addr"),
    "destination_addr no NUL": (frame(0x04, b"".join(list(SUBMIT_FIELDS.values())[:6]) + b"456"),
                                st.ESME_RINVDSTADR, "destination_addr"),
    # Integers outside their allowed values.
    "source ton": (submit_sm(source_addr_ton=b"\x07"), st.ESME_RINVSRCTON, "source_addr_ton"),
    "source npi": (submit_sm(source_addr_npi=b"\x02"), st.ESME_RINVSRCNPI, "source_addr_npi"),
    "dest ton": (submit_sm(dest_addr_ton=b"\x09"), st.ESME_RINVDSTTON, "dest_addr_ton"),
    "dest npi": (submit_sm(dest_addr_npi=b"\x05"), st.ESME_RINVDSTNPI, "dest_addr_npi"),
    "priority": (submit_sm(priority_flag=b"\x04"), st.ESME_RINVPRTFLG, "priority_flag"),
    "registered_delivery": (submit_sm(registered_delivery=b"\x20"), st.ESME_RINVREGDLVFLG, "registered_delivery"),
    "replace flag": (submit_sm(replace_if_present_flag=b"\x02"), st.ESME_RINVREPFLAG, "replace_if_present_flag"),
    # Time fields: empty or 16 characters YYMMDDhhmmsstnnp.
    "schedule wrong length": (submit_sm(schedule_delivery_time=b"2601011200\0"), st.ESME_RINVSCHED, "schedule_delivery_time"),
    "schedule bad sign": (submit_sm(schedule_delivery_time=b"260101120000000X\0"), st.ESME_RINVSCHED,
                          "schedule_delivery_time"),
    "schedule month 13": (submit_sm(schedule_delivery_time=b"261301120000000+\0"), st.ESME_RINVSCHED,
                          "schedule_delivery_time"),
    "validity offset 49": (submit_sm(validity_period=b"260101120000049+\0"), st.ESME_RINVEXPIRY, "validity_period"),
    "validity not digits": (submit_sm(validity_period=b"00000a000000000R\0"), st.ESME_RINVEXPIRY, "validity_period"),
    "validity too long": (submit_sm(validity_period=b"260101120000000+0\0"), st.ESME_RINVEXPIRY, "validity_period"),
    # short_message: sm_length past the end of the PDU.
    "sm_length past end": (submit_sm(short_message=b"\x09hi"), st.ESME_RINVMSGLEN, "short_message"),
    "sm_length 255": (submit_sm(short_message=b"\xff" + b"x" * 255), st.ESME_RINVMSGLEN, "short_message"),
    # A body cut short inside an integer field: command_length disagrees with the body.
    "cut before esm_class": (frame(0x04, b"".join(list(SUBMIT_FIELDS.values())[:7])), st.ESME_RINVCMDLEN, "esm_class"),
    "cut before sm_length": (frame(0x04, b"".join(list(SUBMIT_FIELDS.values())[:16])), st.ESME_RINVCMDLEN,
                             "short_message"),
    # TLVs.
    "tlv header cut": (submit_sm(b"\x02\x0c\x00"), st.ESME_RINVOPTPARSTREAM, "tlvs"),
    "tlv value cut": (submit_sm(b"\x02\x0c\x00\x02\x01"), st.ESME_RINVOPTPARSTREAM, "tlvs"),
    "vendor tlv value cut": (submit_sm(b"\x14\x00\x00\x09abc"), st.ESME_RINVOPTPARSTREAM, "tlvs"),
    "tlv length outside spec": (submit_sm(tlv(0x020C, b"\x01")), st.ESME_RINVPARLEN, "sar_msg_ref_num"),
    "empty tlv with a value": (submit_sm(tlv(0x130C, b"\x01")), st.ESME_RINVPARLEN, "alert_on_message_delivery"),
    "cstr tlv without NUL": (submit_sm(tlv(0x001E, b"abc")), st.ESME_RINVOPTPARAMVAL, "receipted_message_id"),
    "cstr tlv NUL inside": (submit_sm(tlv(0x001E, b"a\0c\0")), st.ESME_RINVOPTPARAMVAL, "receipted_message_id"),
    # Octets after the body of an operation that has no optional parameters.
    "enquire_link with body": (frame(0x15, b"\0\0\0\0"), st.ESME_RINVCMDLEN, "command_length"),
    "query_sm trailing": (frame(0x03, b"1\0\1\1" + b"2\0" + b"x"), st.ESME_RINVCMDLEN, "command_length"),
    # submit_multi destination lists.
    "no destinations": (frame(0x21, b"\0\1\1a\0\0"), st.ESME_RINVNUMDESTS, "dest_addresses"),
    "255 destinations": (frame(0x21, b"\0\1\1a\0\xff"), st.ESME_RINVNUMDESTS, "dest_addresses"),
    "bad dest_flag": (frame(0x21, b"\0\1\1a\0\1\3"), st.ESME_RINVDESTFLAG, "dest_flag"),
    "dl_name too long": (frame(0x21, b"\0\1\1a\0\1\2" + b"n" * 21 + b"\0"), st.ESME_RINVDLNAME, "dl_name"),
    "sme address bad ton": (frame(0x21, b"\0\1\1a\0\1\1\x08\1b\0"), st.ESME_RINVDSTTON, "dest_addr_ton"),
    "dest list cut": (frame(0x21, b"\0\1\1a\0\2\1\1\1b\0"), st.ESME_RINVCMDLEN, "dest_flag"),
    # Responses: errors carry the response's command_id (nothing is answered to them).
    "submit_sm_resp id too long": (frame(0x80000004, b"m" * 65 + b"\0"), st.ESME_RINVMSGID, "message_id"),
    "unsuccess list 255": (frame(0x80000021, b"id\0\xff"), st.ESME_RINVNUMDESTS, "unsuccess_smes"),
    "unsuccess error code cut": (frame(0x80000021, b"id\0\1\1\1a\0\0\0"), st.ESME_RINVCMDLEN, "error_status_code"),
    "bind password too long": (frame(0x09, b"sys\0" + b"p" * 9 + b"\0" + b"\0\x34\0\0\0"), st.ESME_RINVPASWD, "password"),
}


@pytest.mark.parametrize("data, status, field", BODY_ERRORS.values(), ids=BODY_ERRORS.keys())
def test_body_errors(codec, data, status, field):
    with pytest.raises(PduDecodeError) as info:
        codec.pdu.decode(data)
    error = info.value
    assert (error.status_name, error.field) == (st.status_name(status), field)
    assert (error.sequence_number, error.command_id) == (SEQ, int.from_bytes(data[4:8], "big"))
    assert error.answer is (Answer.NONE if error.command_id & 0x80000000 else Answer.RESPONSE)


def test_error_response_may_have_no_body(codec):
    pdu = codec.pdu.decode(frame(0x80000004, command_status=st.ESME_RTHROTTLED))
    assert pdu == pdus.SubmitSmResp(SEQ, st.ESME_RTHROTTLED)
    # ... but an OK response still needs its body.
    with pytest.raises(PduDecodeError):
        codec.pdu.decode(frame(0x80000004))


def test_deliver_sm_resp_without_its_null_message_id_is_accepted(codec):
    assert codec.pdu.decode(frame(0x80000005)) == pdus.DeliverSmResp(SEQ)
    assert codec.pdu.encode(pdus.DeliverSmResp(SEQ)) == frame(0x80000005, b"\0")


def test_unknown_tlvs_survive_byte_for_byte(codec):
    vendor = tlv(0x1400, b"\x00\xff") + tlv(0x3FFF, b"") + tlv(0x0099, b"odd")
    wire = submit_sm(tlv(0x020C, b"\x04\xd2") + vendor)
    pdu = codec.pdu.decode(wire)
    assert pdu.tlvs == ((0x020C, 1234), (0x1400, b"\x00\xff"), (0x3FFF, b""), (0x0099, b"odd"))
    assert codec.pdu.encode(pdu) == wire


ENCODE_ERRORS = {
    "cstr too long": (pdus.SubmitSm(source_addr="1" * 21), "source_addr"),
    "cstr with NUL": (pdus.SubmitSm(source_addr="1\0"), "source_addr"),
    "not latin-1": (pdus.SubmitSm(destination_addr="\u20ac"), "destination_addr"),
    "not a str": (pdus.BindTransmitter(system_id=b"bytes"), "system_id"),
    "u8 out of range": (pdus.SubmitSm(protocol_id=256), "protocol_id"),
    "u8 not allowed": (pdus.SubmitSm(source_addr_ton=7), "source_addr_ton"),
    "sequence_number over u32": (pdus.EnquireLink(sequence_number=1 << 32), "sequence_number"),
    "bad time": (pdus.SubmitSm(schedule_delivery_time="tomorrow"), "schedule_delivery_time"),
    "short_message too long": (pdus.SubmitSm(short_message=b"x" * 255), "short_message"),
    "short_message str": (pdus.SubmitSm(short_message="text"), "short_message"),
    "no destinations": (pdus.SubmitMulti(), "dest_addresses"),
    "tlv int too big": (pdus.SubmitSm(tlvs=((0x020C, 1 << 16),)), "sar_msg_ref_num"),
    "tlv octets too long": (pdus.SubmitSm(tlvs=((0x0202, b"x" * 24),)), "source_subaddress"),
    "tlv not a pair": (pdus.SubmitSm(tlvs=((0x020C,),)), "tlvs"),
    "vendor tlv not bytes": (pdus.SubmitSm(tlvs=((0x1400, "text"),)), "tlv 0x1400"),
    "empty tlv with value": (pdus.SubmitSm(tlvs=((0x130C, 1),)), "alert_on_message_delivery"),
    "not a PDU class": (pdus.SmeAddress(), None),
}


@pytest.mark.parametrize("pdu, field", ENCODE_ERRORS.values(), ids=ENCODE_ERRORS.keys())
def test_encode_errors(codec, pdu, field):
    with pytest.raises(PduEncodeError) as info:
        codec.pdu.encode(pdu)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)
