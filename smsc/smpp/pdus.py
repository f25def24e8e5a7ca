"""One immutable class per SMPP 3.4 operation, fields named as in the specification.

Classes are msgspec Structs (frozen, slotted, no GC tracking): building one with twenty
fields costs about 100 ns, which matters at hundreds of thousands of PDUs a second.

Each class states its body as BODY, a tuple of Field in wire order: the one schema both
codec twins, the tests and `smsc pdu decode` read. The header's command_id is a class
constant; sequence_number and command_status are fields of every PDU. sm_length and
number_of_dests / no_unsuccess are not fields: they are derived from short_message and
the lists. Optional parameters are `tlvs`, a tuple of (tag, value) pairs in wire order,
values typed per constants.TLV_SPEC (int, str, bytes, None) and raw bytes for tags it
does not list, so unknown and vendor TLVs survive decode and re-encode byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import msgspec

from smsc.smpp import status as st
from smsc.smpp.constants import CommandId

Tlvs = tuple[tuple[int, Any], ...]


class Kind(Enum):
    U8 = "u8"  # 1-octet integer
    U32 = "u32"  # 4-octet integer
    CSTR = "cstr"  # C-octet string (latin-1 str), `size` counts the NUL
    TIME = "time"  # C-octet string in SMPP time format: empty or 16 characters
    SHORT_MESSAGE = "sm"  # sm_length octet then that many octets (0..254)
    DEST_ADDRESSES = "dests"  # number_of_dests then dest_address list (submit_multi)
    UNSUCCESS_SMES = "unsuccess"  # no_unsuccess then unsuccess_sme list


TON_VALUES = frozenset(range(7))
NPI_VALUES = frozenset({0, 1, 3, 4, 6, 8, 9, 10, 14, 18})


@dataclass(frozen=True, slots=True)
class Field:
    """One body field: its wire kind, the maximum size for strings (NUL included), the
    status answered when it breaks the rules, and the values allowed for integers."""

    name: str
    kind: Kind
    size: int = 0
    status: int = st.ESME_RINVMSGLEN
    allowed: frozenset[int] | None = None


def _cstr(name: str, size: int, status: int) -> Field:
    return Field(name, Kind.CSTR, size, status)


def _ton(name: str, status: int) -> Field:
    return Field(name, Kind.U8, status=status, allowed=TON_VALUES)


def _npi(name: str, status: int) -> Field:
    return Field(name, Kind.U8, status=status, allowed=NPI_VALUES)


def _u8(name: str, status: int = st.ESME_RINVMSGLEN, allowed: frozenset[int] | None = None) -> Field:
    return Field(name, Kind.U8, status=status, allowed=allowed)


SOURCE_21 = (
    _ton("source_addr_ton", st.ESME_RINVSRCTON),
    _npi("source_addr_npi", st.ESME_RINVSRCNPI),
    _cstr("source_addr", 21, st.ESME_RINVSRCADR),
)
DEST_21 = (
    _ton("dest_addr_ton", st.ESME_RINVDSTTON),
    _npi("dest_addr_npi", st.ESME_RINVDSTNPI),
    _cstr("destination_addr", 21, st.ESME_RINVDSTADR),
)
SERVICE_TYPE = _cstr("service_type", 6, st.ESME_RINVSERTYP)
MESSAGE_ID_65 = _cstr("message_id", 65, st.ESME_RINVMSGID)
SCHEDULE = Field("schedule_delivery_time", Kind.TIME, 17, st.ESME_RINVSCHED)
VALIDITY = Field("validity_period", Kind.TIME, 17, st.ESME_RINVEXPIRY)
REGISTERED_DELIVERY = _u8("registered_delivery", st.ESME_RINVREGDLVFLG, frozenset(range(0x20)))
SM_DEFAULT_MSG_ID = _u8("sm_default_msg_id", st.ESME_RINVDFTMSGID)
SHORT_MESSAGE = Field("short_message", Kind.SHORT_MESSAGE, 254, st.ESME_RINVMSGLEN)
MESSAGE_BODY_TAIL = (  # submit_sm / deliver_sm / submit_multi after the addresses
    _u8("esm_class", st.ESME_RINVESMCLASS),
    _u8("protocol_id"),
    _u8("priority_flag", st.ESME_RINVPRTFLG, frozenset(range(4))),
    SCHEDULE,
    VALIDITY,
    REGISTERED_DELIVERY,
    _u8("replace_if_present_flag", st.ESME_RINVREPFLAG, frozenset({0, 1})),
    _u8("data_coding"),
    SM_DEFAULT_MSG_ID,
    SHORT_MESSAGE,
)
BIND_BODY = (
    _cstr("system_id", 16, st.ESME_RINVSYSID),
    _cstr("password", 9, st.ESME_RINVPASWD),
    _cstr("system_type", 13, st.ESME_RINVSYSTYP),
    _u8("interface_version"),
    _ton("addr_ton", st.ESME_RINVSRCTON),
    _npi("addr_npi", st.ESME_RINVSRCNPI),
    _cstr("address_range", 41, st.ESME_RINVSRCADR),
)
DATA_SM_ADDRESSES = (
    _ton("source_addr_ton", st.ESME_RINVSRCTON),
    _npi("source_addr_npi", st.ESME_RINVSRCNPI),
    _cstr("source_addr", 65, st.ESME_RINVSRCADR),
    _ton("dest_addr_ton", st.ESME_RINVDSTTON),
    _npi("dest_addr_npi", st.ESME_RINVDSTNPI),
    _cstr("destination_addr", 65, st.ESME_RINVDSTADR),
)


class Pdu(msgspec.Struct, frozen=True, gc=False):
    """Base of every PDU. Subclasses set command_id, BODY and HAS_TLVS."""

    command_id: ClassVar[int]
    BODY: ClassVar[tuple[Field, ...]] = ()
    HAS_TLVS: ClassVar[bool] = False
    # A response whose command_status is not 0 may carry no body (sections 4.1.2, 4.4.2).
    BODY_OPTIONAL_ON_ERROR: ClassVar[bool] = False
    # Decode accepts a PDU with no body at all, whatever its status (the fields keep
    # their defaults); encode still writes the body.
    BODY_OPTIONAL: ClassVar[bool] = False

    sequence_number: int = 0
    command_status: int = 0

    @property
    def name(self) -> str:
        return CommandId(self.command_id).name.lower()

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & 0x80000000)

    def tlv(self, tag: int, default: Any = None) -> Any:
        """The value of the first optional parameter with this tag."""
        for t, value in getattr(self, "tlvs", ()):
            if t == tag:
                return value
        return default

    def response(self, command_status: int = 0, **fields: Any) -> "Pdu":
        """The *_resp answering this request, with the same sequence_number."""
        resp_cls = RESPONSE_CLASS[type(self)]
        return resp_cls(sequence_number=self.sequence_number, command_status=command_status, **fields)


# --- session management -------------------------------------------------------------


class BindTransmitter(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER
    BODY: ClassVar[tuple[Field, ...]] = BIND_BODY
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


class BindReceiver(BindTransmitter, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER


class BindTransceiver(BindTransmitter, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER


class BindTransmitterResp(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER_RESP
    BODY: ClassVar[tuple[Field, ...]] = (_cstr("system_id", 16, st.ESME_RINVSYSID),)
    HAS_TLVS: ClassVar[bool] = True
    BODY_OPTIONAL_ON_ERROR: ClassVar[bool] = True
    system_id: str = ""
    tlvs: Tlvs = ()


class BindReceiverResp(BindTransmitterResp, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER_RESP


class BindTransceiverResp(BindTransmitterResp, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER_RESP


class Outbind(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.OUTBIND
    BODY: ClassVar[tuple[Field, ...]] = BIND_BODY[:2]
    system_id: str = ""
    password: str = ""


class Unbind(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.UNBIND


class UnbindResp(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.UNBIND_RESP


class GenericNack(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.GENERIC_NACK


class EnquireLink(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK


class EnquireLinkResp(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK_RESP


# --- message submission and delivery -------------------------------------------------


class SubmitSm(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM
    BODY: ClassVar[tuple[Field, ...]] = (SERVICE_TYPE, *SOURCE_21, *DEST_21, *MESSAGE_BODY_TAIL)
    HAS_TLVS: ClassVar[bool] = True
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = ()


class DeliverSm(SubmitSm, frozen=True, gc=False):
    """Same layout as submit_sm; schedule_delivery_time, validity_period and
    replace_if_present_flag are unused (NULL / 0) in deliver_sm."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM


class SubmitSmResp(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP
    BODY: ClassVar[tuple[Field, ...]] = (MESSAGE_ID_65,)
    BODY_OPTIONAL_ON_ERROR: ClassVar[bool] = True
    message_id: str = ""


class DeliverSmResp(SubmitSmResp, frozen=True, gc=False):
    """message_id is unused (NULL) in deliver_sm_resp."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP
    # Clients that leave out the lone NUL of an OK deliver_sm_resp exist; refusing the
    # acknowledgement would only make the receipt or MO message be delivered again.
    BODY_OPTIONAL: ClassVar[bool] = True


class SmeAddress(msgspec.Struct, frozen=True, gc=False):
    """A dest_address of submit_multi with dest_flag 1 (an SME address)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


class DistributionList(msgspec.Struct, frozen=True, gc=False):
    """A dest_address of submit_multi with dest_flag 2 (a distribution list name)."""

    dl_name: str = ""


class UnsuccessSme(msgspec.Struct, frozen=True, gc=False):
    """One entry of submit_multi_resp's unsuccess_sme list."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0


DEST_FLAG_SME = 1
DEST_FLAG_DISTRIBUTION_LIST = 2
MAX_DESTINATIONS = 254  # number_of_dests, section 4.5.1


class SubmitMulti(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI
    BODY: ClassVar[tuple[Field, ...]] = (
        SERVICE_TYPE,
        *SOURCE_21,
        Field("dest_addresses", Kind.DEST_ADDRESSES, MAX_DESTINATIONS, st.ESME_RINVNUMDESTS),
        *MESSAGE_BODY_TAIL,
    )
    HAS_TLVS: ClassVar[bool] = True
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addresses: tuple[SmeAddress | DistributionList, ...] = ()
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = ()


class SubmitMultiResp(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI_RESP
    BODY: ClassVar[tuple[Field, ...]] = (
        MESSAGE_ID_65,
        Field("unsuccess_smes", Kind.UNSUCCESS_SMES, MAX_DESTINATIONS, st.ESME_RINVNUMDESTS),
    )
    BODY_OPTIONAL_ON_ERROR: ClassVar[bool] = True
    message_id: str = ""
    unsuccess_smes: tuple[UnsuccessSme, ...] = ()


class DataSm(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.DATA_SM
    BODY: ClassVar[tuple[Field, ...]] = (
        SERVICE_TYPE,
        *DATA_SM_ADDRESSES,
        _u8("esm_class", st.ESME_RINVESMCLASS),
        REGISTERED_DELIVERY,
        _u8("data_coding"),
    )
    HAS_TLVS: ClassVar[bool] = True
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: Tlvs = ()


class DataSmResp(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.DATA_SM_RESP
    BODY: ClassVar[tuple[Field, ...]] = (MESSAGE_ID_65,)
    HAS_TLVS: ClassVar[bool] = True
    BODY_OPTIONAL_ON_ERROR: ClassVar[bool] = True
    message_id: str = ""
    tlvs: Tlvs = ()


# --- ancillary operations ---------------------------------------------------------------


class QuerySm(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.QUERY_SM
    BODY: ClassVar[tuple[Field, ...]] = (MESSAGE_ID_65, *SOURCE_21)
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""


class QuerySmResp(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.QUERY_SM_RESP
    BODY: ClassVar[tuple[Field, ...]] = (
        MESSAGE_ID_65,
        Field("final_date", Kind.TIME, 17, st.ESME_RQUERYFAIL),
        _u8("message_state", st.ESME_RQUERYFAIL),
        _u8("error_code"),
    )
    BODY_OPTIONAL_ON_ERROR: ClassVar[bool] = True
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0


class CancelSm(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.CANCEL_SM
    BODY: ClassVar[tuple[Field, ...]] = (SERVICE_TYPE, MESSAGE_ID_65, *SOURCE_21, *DEST_21)
    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


class CancelSmResp(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.CANCEL_SM_RESP


class ReplaceSm(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.REPLACE_SM
    BODY: ClassVar[tuple[Field, ...]] = (
        MESSAGE_ID_65,
        *SOURCE_21,
        SCHEDULE,
        VALIDITY,
        REGISTERED_DELIVERY,
        SM_DEFAULT_MSG_ID,
        SHORT_MESSAGE,
    )
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


class ReplaceSmResp(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.REPLACE_SM_RESP


class AlertNotification(Pdu, frozen=True, gc=False):
    command_id: ClassVar[int] = CommandId.ALERT_NOTIFICATION
    BODY: ClassVar[tuple[Field, ...]] = (
        _ton("source_addr_ton", st.ESME_RINVSRCTON),
        _npi("source_addr_npi", st.ESME_RINVSRCNPI),
        _cstr("source_addr", 65, st.ESME_RINVSRCADR),
        _ton("esme_addr_ton", st.ESME_RINVDSTTON),
        _npi("esme_addr_npi", st.ESME_RINVDSTNPI),
        _cstr("esme_addr", 65, st.ESME_RINVDSTADR),
    )
    HAS_TLVS: ClassVar[bool] = True
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""
    tlvs: Tlvs = ()


PDU_CLASSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter, BindTransmitterResp, BindReceiver, BindReceiverResp,
        BindTransceiver, BindTransceiverResp, Outbind, Unbind, UnbindResp, GenericNack,
        SubmitSm, SubmitSmResp, SubmitMulti, SubmitMultiResp, DeliverSm, DeliverSmResp,
        DataSm, DataSmResp, QuerySm, QuerySmResp, CancelSm, CancelSmResp,
        ReplaceSm, ReplaceSmResp, EnquireLink, EnquireLinkResp, AlertNotification,
    )
}

RESPONSE_CLASS: dict[type[Pdu], type[Pdu]] = {
    cls: PDU_CLASSES[cls.command_id | 0x80000000]
    for cls in PDU_CLASSES.values()
    if not cls.command_id & 0x80000000 and cls.command_id | 0x80000000 in PDU_CLASSES
}

BIND_CLASSES = (BindTransmitter, BindReceiver, BindTransceiver)


def to_jsonable(pdu: Pdu) -> dict[str, Any]:
    """Every field of a PDU as JSON-friendly values (bytes as hex), TLVs by tag name."""
    from smsc.smpp.constants import Tag

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, msgspec.Struct):
            return {f: plain(getattr(value, f)) for f in value.__struct_fields__}
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    out: dict[str, Any] = {"command": pdu.name, "command_id": f"0x{pdu.command_id:08X}",
                           "command_status": st.status_name(pdu.command_status)}
    for name in pdu.__struct_fields__:
        if name == "command_status":
            continue
        if name == "tlvs":
            out["tlvs"] = [
                {"tag": f"0x{tag:04X}", "name": Tag(tag).name.lower() if tag in Tag._value2member_map_ else None,
                 "value": plain(value)}
                for tag, value in pdu.tlvs
            ]
        else:
            out[name] = plain(getattr(pdu, name))
    return out
