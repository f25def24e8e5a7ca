from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc import dlr
from smsc.smpp.constants import EsmClass, MessageState, RegisteredDelivery, Tag

SUBMITTED = datetime(2023, 11, 14, 22, 13, tzinfo=timezone.utc).timestamp()
DONE = datetime(2023, 11, 14, 22, 15, 42, tzinfo=timezone.utc).timestamp()


def test_build_text_is_the_customary_layout():
    text = dlr.build_text("0123abcd", MessageState.DELIVERED, SUBMITTED, DONE,
                          text="hello world, this is longer than twenty")
    assert text == ("id:0123abcd sub:001 dlvrd:001 submit date:2311142213 done date:2311142215"
                    " stat:DELIVRD err:000 text:hello world, this is")


def test_undelivered_counts_nothing_delivered_and_carries_the_error():
    text = dlr.build_text("7", MessageState.UNDELIVERABLE, SUBMITTED, DONE, err=34, sub=3)
    assert "sub:003 dlvrd:000" in text and "stat:UNDELIV err:034" in text


@pytest.mark.parametrize("state", list(MessageState))
def test_build_then_parse_round_trips(state):
    text = dlr.build_text("ff00", state, SUBMITTED, DONE, err=5, text="Hi")
    receipt = dlr.parse_text(text)
    assert receipt == dlr.Receipt(id="ff00", sub=1, dlvrd=1 if state == MessageState.DELIVERED else 0,
                                  submit_date=SUBMITTED, done_date=DONE - 42, stat=dlr.stat_word(state),
                                  state=state, err="005", text="Hi")


def test_parse_is_tolerant_of_case_order_seconds_and_missing_fields():
    receipt = dlr.parse_text(b"STAT:delivered ID:12345 Submit_Date:231114221342 done date:2311142215"
                             b" Text:two  spaces kept")
    assert receipt.id == "12345"
    assert receipt.state is MessageState.DELIVERED and receipt.stat == "delivered"
    assert receipt.submit_date == SUBMITTED + 42
    assert receipt.done_date == DONE - 42
    assert receipt.sub is None and receipt.dlvrd is None and receipt.err is None
    assert receipt.text == "two  spaces kept"


def test_parse_keeps_unknown_words_and_bad_dates_as_absent():
    receipt = dlr.parse_text("id:9 stat:WEIRD submit date:9999999999 done date:12")
    assert receipt.stat == "WEIRD" and receipt.state is None
    assert receipt.submit_date is None and receipt.done_date is None


@pytest.mark.parametrize("text", ["", "hello there", "sub:001 dlvrd:001", "identity:5"])
def test_text_without_id_or_stat_is_not_a_receipt(text):
    assert dlr.parse_text(text) is None


@pytest.mark.parametrize("word,state", [
    ("DELIVRD", MessageState.DELIVERED), ("delivered", MessageState.DELIVERED),
    ("UNDELIV", MessageState.UNDELIVERABLE), ("failed", MessageState.UNDELIVERABLE),
    ("REJECTD", MessageState.REJECTED), ("ACCEPTD", MessageState.ACCEPTED),
    ("EXPIRED", MessageState.EXPIRED), ("DELETED", MessageState.DELETED),
    ("ENROUTE", MessageState.ENROUTE), ("UNKNOWN", MessageState.UNKNOWN), ("nonsense", None),
])
def test_stat_words(word, state):
    assert dlr.state_of_word(word) is state


@pytest.mark.parametrize("a,b,same", [
    ("1a2b", "6699", True), ("6699", "1A2B", True), ("00ff", "FF", True), ("0012", "12", True),
    ("10", "16", False), ("10", "a", True), ("abc", "abd", False), ("x-1", "X-1", True),
    ("x-1", "x-2", False),
])
def test_same_message_id_across_bases(a, b, same):
    assert dlr.same_message_id(a, b) is same
    assert dlr.same_message_id(b, a) is same


def test_receipt_tlvs():
    assert dlr.receipt_tlvs("abc", MessageState.DELIVERED) == (
        (Tag.RECEIPTED_MESSAGE_ID, "abc"), (Tag.MESSAGE_STATE, 2))
    tlvs = dict(dlr.receipt_tlvs("abc", MessageState.UNDELIVERABLE, error=0x0102,
                                 network_type=dlr.NETWORK_TYPE_GSM))
    assert tlvs[Tag.NETWORK_ERROR_CODE] == b"\x03\x01\x02"


@pytest.mark.parametrize("registered,state,wanted", [
    (RegisteredDelivery.NO_RECEIPT, MessageState.DELIVERED, False),
    (RegisteredDelivery.RECEIPT_ON_FINAL, MessageState.DELIVERED, True),
    (RegisteredDelivery.RECEIPT_ON_FINAL, MessageState.EXPIRED, True),
    (RegisteredDelivery.RECEIPT_ON_FAILURE, MessageState.DELIVERED, False),
    (RegisteredDelivery.RECEIPT_ON_FAILURE, MessageState.UNDELIVERABLE, True),
    (RegisteredDelivery.RECEIPT_ON_FAILURE | RegisteredDelivery.INTERMEDIATE_NOTIFICATION,
     MessageState.REJECTED, True),
    (0x03, MessageState.DELIVERED, False),  # reserved value: no receipt
])
def test_wants_receipt(registered, state, wanted):
    assert dlr.wants_receipt(registered, state) is wanted


def test_receipt_deliver_sm_goes_back_to_the_sender():
    fields = dlr.receipt_deliver_sm(message_id="abc", state=MessageState.EXPIRED, submitted=SUBMITTED,
                                    done=DONE, source="Shop", destination="447700900001", source_ton=5,
                                    dest_ton=1, dest_npi=1, segments=2, error=7, text="Your code")
    assert (fields["source_addr"], fields["source_addr_ton"], fields["source_addr_npi"]) == ("447700900001", 1, 1)
    assert (fields["destination_addr"], fields["dest_addr_ton"]) == ("Shop", 5)
    assert fields["esm_class"] == EsmClass.TYPE_DELIVERY_RECEIPT
    receipt = dlr.parse_text(fields["short_message"])
    assert (receipt.id, receipt.state, receipt.sub, receipt.dlvrd, receipt.err) == (
        "abc", MessageState.EXPIRED, 2, 0, "007")
    assert [Tag.RECEIPTED_MESSAGE_ID, "abc"] in fields["tlvs"]
    assert [Tag.NETWORK_ERROR_CODE, b"\x08\x00\x07"] in fields["tlvs"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(dlr.STAT_WORDS)), st.one_of(st.none(), st.integers(0, 999)), st.integers(1, 9),
       st.text(max_size=30), st.floats(0, 4e9, allow_nan=False), st.floats(0, 100_000, allow_nan=False))
def test_receipt_deliver_sm_carries_exactly_build_text_and_receipt_tlvs(state, error, segments, text, submitted, took):
    # receipt_deliver_sm makes its text and TLVs itself (it runs for every final state):
    # they must stay what the public builders give.
    fields = dlr.receipt_deliver_sm(message_id="00000000000a1b2c", state=state, submitted=submitted,
                                    done=submitted + took, source="Shop", destination="447700900001",
                                    segments=segments, error=error, text=text)
    delivered = segments if state == MessageState.DELIVERED else 0
    expected = dlr.build_text("00000000000a1b2c", state, submitted, submitted + took, err=error or 0, sub=segments,
                              dlvrd=delivered, text=text)
    assert fields["short_message"] == expected.encode("ascii", "replace")
    assert fields["tlvs"] == [list(tlv) for tlv in dlr.receipt_tlvs("00000000000a1b2c", state, error)]
