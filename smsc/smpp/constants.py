"""SMPP 3.4 numbers: command ids, optional parameter (TLV) tags and types, field values.

Section numbers refer to the SMPP 3.4 specification (issue 2, 1999-10-12).
"""
from __future__ import annotations

from enum import IntEnum

HEADER_SIZE = 16
INTERFACE_VERSION = 0x34
RESPONSE_BIT = 0x80000000


class CommandId(IntEnum):
    """Section 5.1.2.1."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class TlvType(IntEnum):
    """How a TLV value is carried: the codec turns each into a Python type."""

    INT1 = 1  # int
    INT2 = 2  # int
    INT4 = 4  # int
    CSTR = 5  # str (latin-1), NUL-terminated on the wire
    OCTETS = 6  # bytes
    EMPTY = 7  # no value on the wire; None in Python


class Tag(IntEnum):
    """Optional parameter tags, section 5.3.2."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


# tag -> (type, minimum value length, maximum value length) on the wire, section 5.3.2.
# A CSTR length counts its terminating NUL. Tags not listed here (vendor-specific ones in
# 0x1400-0x3FFF among them) are kept as raw bytes and re-encoded byte for byte.
TLV_SPEC: dict[int, tuple[TlvType, int, int]] = {
    Tag.DEST_ADDR_SUBUNIT: (TlvType.INT1, 1, 1),
    Tag.DEST_NETWORK_TYPE: (TlvType.INT1, 1, 1),
    Tag.DEST_BEARER_TYPE: (TlvType.INT1, 1, 1),
    Tag.DEST_TELEMATICS_ID: (TlvType.INT2, 2, 2),
    Tag.SOURCE_ADDR_SUBUNIT: (TlvType.INT1, 1, 1),
    Tag.SOURCE_NETWORK_TYPE: (TlvType.INT1, 1, 1),
    Tag.SOURCE_BEARER_TYPE: (TlvType.INT1, 1, 1),
    Tag.SOURCE_TELEMATICS_ID: (TlvType.INT1, 1, 1),
    Tag.QOS_TIME_TO_LIVE: (TlvType.INT4, 4, 4),
    Tag.PAYLOAD_TYPE: (TlvType.INT1, 1, 1),
    Tag.ADDITIONAL_STATUS_INFO_TEXT: (TlvType.CSTR, 1, 256),
    Tag.RECEIPTED_MESSAGE_ID: (TlvType.CSTR, 1, 65),
    Tag.MS_MSG_WAIT_FACILITIES: (TlvType.INT1, 1, 1),
    Tag.PRIVACY_INDICATOR: (TlvType.INT1, 1, 1),
    Tag.SOURCE_SUBADDRESS: (TlvType.OCTETS, 2, 23),
    Tag.DEST_SUBADDRESS: (TlvType.OCTETS, 2, 23),
    Tag.USER_MESSAGE_REFERENCE: (TlvType.INT2, 2, 2),
    Tag.USER_RESPONSE_CODE: (TlvType.INT1, 1, 1),
    Tag.SOURCE_PORT: (TlvType.INT2, 2, 2),
    Tag.DESTINATION_PORT: (TlvType.INT2, 2, 2),
    Tag.SAR_MSG_REF_NUM: (TlvType.INT2, 2, 2),
    Tag.LANGUAGE_INDICATOR: (TlvType.INT1, 1, 1),
    Tag.SAR_TOTAL_SEGMENTS: (TlvType.INT1, 1, 1),
    Tag.SAR_SEGMENT_SEQNUM: (TlvType.INT1, 1, 1),
    Tag.SC_INTERFACE_VERSION: (TlvType.INT1, 1, 1),
    Tag.CALLBACK_NUM_PRES_IND: (TlvType.INT1, 1, 1),
    Tag.CALLBACK_NUM_ATAG: (TlvType.OCTETS, 0, 65),
    Tag.NUMBER_OF_MESSAGES: (TlvType.INT1, 1, 1),
    Tag.CALLBACK_NUM: (TlvType.OCTETS, 4, 19),
    Tag.DPF_RESULT: (TlvType.INT1, 1, 1),
    Tag.SET_DPF: (TlvType.INT1, 1, 1),
    Tag.MS_AVAILABILITY_STATUS: (TlvType.INT1, 1, 1),
    Tag.NETWORK_ERROR_CODE: (TlvType.OCTETS, 3, 3),
    Tag.MESSAGE_PAYLOAD: (TlvType.OCTETS, 0, 65535),
    Tag.DELIVERY_FAILURE_REASON: (TlvType.INT1, 1, 1),
    Tag.MORE_MESSAGES_TO_SEND: (TlvType.INT1, 1, 1),
    Tag.MESSAGE_STATE: (TlvType.INT1, 1, 1),
    Tag.USSD_SERVICE_OP: (TlvType.OCTETS, 1, 1),
    Tag.DISPLAY_TIME: (TlvType.INT1, 1, 1),
    Tag.SMS_SIGNAL: (TlvType.INT2, 2, 2),
    Tag.MS_VALIDITY: (TlvType.INT1, 1, 1),
    Tag.ALERT_ON_MESSAGE_DELIVERY: (TlvType.EMPTY, 0, 0),
    Tag.ITS_REPLY_TYPE: (TlvType.INT1, 1, 1),
    Tag.ITS_SESSION_INFO: (TlvType.OCTETS, 2, 2),
}

VENDOR_TAG_RANGE = range(0x1400, 0x4000)


class Ton(IntEnum):
    """Type of number, section 5.2.5."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(IntEnum):
    """Numbering plan indicator, section 5.2.6."""

    UNKNOWN = 0
    ISDN = 1  # E.163/E.164
    DATA = 3  # X.121
    TELEX = 4  # F.69
    LAND_MOBILE = 6  # E.212
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14  # IP
    WAP_CLIENT_ID = 18


class MessageState(IntEnum):
    """message_state, section 5.2.28."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


FINAL_STATES = frozenset(
    {MessageState.DELIVERED, MessageState.EXPIRED, MessageState.DELETED,
     MessageState.UNDELIVERABLE, MessageState.REJECTED}
)
# A state's number (a store column, a message_state TLV) as MessageState: a dict lookup
# costs ~0.5 us less than the enum's call.
STATE_OF = {int(state): state for state in MessageState}


class EsmClass:
    """esm_class bits, section 5.2.12."""

    MODE_MASK = 0x03
    MODE_DEFAULT = 0x00
    MODE_DATAGRAM = 0x01
    MODE_FORWARD = 0x02
    MODE_STORE_AND_FORWARD = 0x03
    TYPE_MASK = 0x3C
    TYPE_DELIVERY_RECEIPT = 0x04
    TYPE_DELIVERY_ACK = 0x08
    TYPE_USER_ACK = 0x10
    TYPE_CONVERSATION_ABORT = 0x18
    TYPE_INTERMEDIATE_NOTIFICATION = 0x20
    UDHI = 0x40
    REPLY_PATH = 0x80


class DataCoding:
    """data_coding values, section 5.2.19."""

    DEFAULT = 0x00  # SMSC default alphabet (GSM 03.38 unless configured otherwise)
    IA5 = 0x01
    BINARY_1 = 0x02
    LATIN_1 = 0x03
    BINARY = 0x04
    JIS = 0x05
    CYRILLIC = 0x06
    HEBREW = 0x07
    UCS2 = 0x08
    PICTOGRAM = 0x09
    ISO_2022_JP = 0x0A
    KANJI = 0x0D
    KS_C_5601 = 0x0E


class RegisteredDelivery:
    """registered_delivery bits, section 5.2.17."""

    RECEIPT_MASK = 0x03
    NO_RECEIPT = 0x00
    RECEIPT_ON_FINAL = 0x01  # success or failure
    RECEIPT_ON_FAILURE = 0x02
    SME_ACK_MASK = 0x0C
    INTERMEDIATE_NOTIFICATION = 0x10
