"""How a request becomes stored messages: the text body's short cut agrees with split()."""
from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.codec.segmentation import TextOptions, split
from smsc.http.messages import SendRequest, new_messages, text_body

# The default alphabet, its extension (two septets each), characters only UCS-2 carries.
ALPHABET = st.sampled_from("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà"
                           "^{}\\[~]|€" "✓中😀ą")


def expected(text: str) -> tuple[dict, int, str]:
    segmented = split(text, TextOptions(concatenation="payload"))
    (short_message, tlvs), = segmented.parts()
    counted = segmented.count
    return ({"short_message": short_message, "data_coding": counted.data_coding, "esm_class": segmented.esm_class,
             "tlvs": [list(tlv) for tlv in tlvs], "protocol_id": 0, "priority_flag": 0, "replace_if_present_flag": 0,
             "sm_default_msg_id": 0}, counted.parts, counted.encoding)


@settings(max_examples=150, deadline=None)
@given(st.text(ALPHABET, min_size=1, max_size=200) | st.sampled_from(["a" * 160, "a" * 161, "€" * 80, "€" * 81,
                                                                      "a" * 159 + "€", "Your code is 123456"]))
def test_text_body_is_what_split_makes(text: str) -> None:
    assert text_body(text) == expected(text)


def test_one_message_per_distinct_recipient_sharing_one_body() -> None:
    request = msgspec.json.decode(b'{"to": ["+447700900001", "447700900002", "+447700900001"], "from": "+4479",'
                                  b' "text": "hi", "receipt": false, "client_ref": "r1"}', type=SendRequest)
    messages, encoding, parts = new_messages(request, "shop", 1000.0)
    assert [m.destination for m in messages] == ["447700900001", "447700900002"]
    assert (encoding, parts) == ("gsm7", 1)
    first = messages[0]
    assert (first.account, first.source, first.registered_delivery, first.segments, first.scheduled) == (
        "shop", "4479", 0, 1, None)
    assert first.body["source_addr_ton"] == 1 and first.body["client_ref"] == "r1" and first.body["channel"] == "http"
    assert first.expires is not None and first.expires > 1000.0
