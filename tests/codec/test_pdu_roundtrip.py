"""Every PDU class survives encode -> decode on both twins, and the twins write the same
bytes. The strategies here (valid values only, read from pdus.BODY) are shared with the
other PDU tests."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from smsc.smpp import pdus
from smsc.smpp.constants import TLV_SPEC, TlvType, VENDOR_TAG_RANGE
from smsc.smpp.pdus import Field, Kind

U32 = st.integers(0, 0xFFFFFFFF)


def codec_settings(max_examples: int) -> settings:
    # The `codec` fixture only picks an implementation: nothing in it needs a reset
    # between generated inputs.
    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

LATIN1 = st.characters(min_codepoint=1, max_codepoint=255)


def cstr(size: int) -> st.SearchStrategy[str]:
    return st.text(LATIN1, max_size=size - 1)


absolute_time = st.builds(
    "{:02d}{:02d}{:02d}{:02d}{:02d}{:02d}{:d}{:02d}{}".format,
    st.integers(0, 99), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
    st.integers(0, 59), st.integers(0, 59), st.integers(0, 9), st.integers(0, 48), st.sampled_from("+-"),
)
relative_time = st.builds("{:012d}000R".format, st.integers(0, 10**12 - 1))
smpp_time = st.one_of(st.just(""), absolute_time, relative_time)

sme_address = st.builds(pdus.SmeAddress, st.integers(0, 6), st.sampled_from(sorted(pdus.NPI_VALUES)), cstr(21))
distribution_list = st.builds(pdus.DistributionList, cstr(21))
unsuccess_sme = st.builds(pdus.UnsuccessSme, st.integers(0, 6), st.sampled_from(sorted(pdus.NPI_VALUES)),
                          cstr(21), U32)


def tlv_value(tag: int) -> st.SearchStrategy:
    kind, low, high = TLV_SPEC[tag]
    if kind in (TlvType.INT1, TlvType.INT2, TlvType.INT4):
        return st.integers(0, (1 << (8 * high)) - 1)
    if kind == TlvType.CSTR:
        return st.text(LATIN1, min_size=low - 1, max_size=min(high - 1, 40))
    if kind == TlvType.EMPTY:
        return st.none()
    return st.binary(min_size=low, max_size=min(high, 300))


known_tlv = st.sampled_from(sorted(TLV_SPEC)).flatmap(lambda tag: st.tuples(st.just(int(tag)), tlv_value(tag)))
unknown_tlv = st.tuples(
    st.one_of(st.sampled_from(VENDOR_TAG_RANGE), st.integers(0, 0xFFFF).filter(lambda t: t not in TLV_SPEC)),
    st.binary(max_size=40),
)
tlvs = st.lists(st.one_of(known_tlv, unknown_tlv), max_size=4).map(tuple)


def field_strategy(field: Field) -> st.SearchStrategy:
    if field.kind is Kind.U8:
        return st.sampled_from(sorted(field.allowed)) if field.allowed is not None else st.integers(0, 255)
    if field.kind is Kind.U32:
        return U32
    if field.kind is Kind.CSTR:
        return cstr(field.size)
    if field.kind is Kind.TIME:
        return smpp_time
    if field.kind is Kind.SHORT_MESSAGE:
        return st.binary(max_size=field.size)
    if field.kind is Kind.DEST_ADDRESSES:
        return st.lists(st.one_of(sme_address, distribution_list), min_size=1, max_size=4).map(tuple)
    return st.lists(unsuccess_sme, max_size=4).map(tuple)


def pdu_strategy(cls: type[pdus.Pdu], command_status: st.SearchStrategy[int] | None = None) -> st.SearchStrategy:
    """Valid instances of `cls`. Error responses that drop their body get status 0
    unless `command_status` says otherwise, so that they round-trip."""
    if command_status is None:
        command_status = st.just(0) if cls.BODY_OPTIONAL_ON_ERROR else U32
    fields = {f.name: field_strategy(f) for f in cls.BODY}
    if cls.HAS_TLVS:
        fields["tlvs"] = tlvs
    return st.builds(cls, sequence_number=U32, command_status=command_status, **fields)


CLASSES = sorted(pdus.PDU_CLASSES.values(), key=lambda c: c.command_id)
any_pdu = st.sampled_from(CLASSES).flatmap(pdu_strategy)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@codec_settings(20)
@given(data=st.data())
def test_every_class_round_trips(codec, cls, data):
    pdu = data.draw(pdu_strategy(cls))
    wire = codec.pdu.encode(pdu)
    assert codec.pdu.decode_header(wire) == (len(wire), cls.command_id, pdu.command_status, pdu.sequence_number)
    assert codec.pdu.decode(wire) == pdu


@pytest.mark.parametrize("cls", [c for c in CLASSES if c.BODY_OPTIONAL_ON_ERROR], ids=lambda c: c.__name__)
@codec_settings(10)
@given(data=st.data())
def test_error_responses_are_sent_without_body(codec, cls, data):
    # Sections 4.1.2 / 4.4.2: a response with a non-zero command_status has no body.
    pdu = data.draw(pdu_strategy(cls, command_status=st.integers(1, 0xFFFFFFFF)))
    wire = codec.pdu.encode(pdu)
    assert len(wire) == 16
    assert codec.pdu.decode(wire) == cls(pdu.sequence_number, pdu.command_status)


def test_enum_members_encode_as_their_values(codec):
    from smsc.smpp.constants import MessageState, Npi, Tag, Ton

    with_enums = pdus.DeliverSm(source_addr_ton=Ton.INTERNATIONAL, source_addr_npi=Npi.ISDN,
                                tlvs=((Tag.MESSAGE_STATE, MessageState.DELIVERED), (Tag.RECEIPTED_MESSAGE_ID, "id")))
    with_ints = pdus.DeliverSm(source_addr_ton=1, source_addr_npi=1, tlvs=((0x0427, 2), (0x001E, "id")))
    assert codec.pdu.encode(with_enums) == codec.pdu.encode(with_ints)
    assert codec.pdu.decode(codec.pdu.encode(with_enums)) == with_ints


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_struct_fields_follow_the_wire_order(cls):
    # Both twins build PDUs positionally from the BODY walk.
    tlvs = ("tlvs",) if cls.HAS_TLVS else ()
    assert cls.__struct_fields__ == ("sequence_number", "command_status", *(f.name for f in cls.BODY), *tlvs)
