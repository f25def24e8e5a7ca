"""Compliance in the one submit path: STOP over SMS blocks the next promotional message
over HTTP and over SMPP, START lets it through again; HELP answers; quiet hours defer a
promotional message to the window's end; opt-outs import and export as CSV and every
consent change is in the append-only audit."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from smsc.compliance import keyword_of, number, quiet_end
from smsc.config import Compliance
from smsc.smpp import status
from tests.integration.conftest import PASSWORD

from .conftest import account, http_config

HANDSET = "447700900001"
PROMO = {"to": "+" + HANDSET, "from": "Shop", "text": "50% off today", "category": "promotional"}
MO = {"source_addr": HANDSET, "destination_addr": "12345", "data_coding": 0, "esm_class": 0, "tlvs": []}


def mo(server, text: str) -> str | None:
    """An MO as a carrier's deliver_sm brings it; the keyword found."""
    compliance = server.runtime.http.compliance
    body = MO | {"short_message": text.encode()}
    keyword, _ = server.call(compliance.receive_mo("shop", HANDSET, "12345", text, body))
    return keyword


def test_an_mo_queued_by_the_upstream_path_goes_through_compliance(serve_http):
    server = serve_http()
    api = server.api()
    # What smsc.aio.inbound does with a carrier's MO for the account.
    server.call(server.store.enqueue("shop", MO | {"short_message": b"STOP"}, kind="mo"))
    assert [o["handset"] for o in api.get("/v1/optouts")[1]["optouts"]] == [HANDSET]
    assert api.post("/v1/messages", PROMO)[0] == 403
    assert len(server.call(server.store.outbound("shop"))) == 1  # and the MO itself is queued


def smpp_submit(server) -> int:
    client = server.client()
    client.bind_transmitter(system_id="shop", password=PASSWORD)
    try:
        client.send_message(source_addr_ton=5, source_addr="Shop", dest_addr_ton=1, destination_addr=HANDSET,
                            short_message=b"50% off today")
        return client.read_pdu().status
    finally:
        client.unbind()
        client.disconnect()


def test_stop_blocks_promotional_over_http_and_smpp_and_start_lets_it_through(serve_http, tmp_path):
    rules = Compliance(stop_reply="You are unsubscribed. Reply START to resubscribe.", quiet_start="00:00",
                       quiet_end="00:01", time_zones={})
    server = serve_http(http_config(tmp_path, account("shop", smpp_category="promotional", quiet_hours=False),
                                    compliance=rules))
    api = server.api()
    assert api.post("/v1/messages", PROMO)[0] == 201
    assert smpp_submit(server) == 0

    assert mo(server, "  Stop. ") == "stop"
    status_code, body, _ = api.post("/v1/messages", PROMO)
    assert status_code == 403 and body["error"]["code"] == "recipient_opted_out" and body["error"]["field"] == "to"
    assert smpp_submit(server) == status.ESME_RINVDSTADR
    # Transactional messages still go (the account allows them to opted-out handsets).
    assert api.post("/v1/messages", PROMO | {"category": "transactional"})[0] == 201
    # A bulk send goes to the others and lists who was refused.
    status_code, body, _ = api.post("/v1/messages", PROMO | {"to": ["+" + HANDSET, "+447700900002"]})
    assert status_code == 201 and [m["to"] for m in body["messages"]] == ["447700900002"]
    assert body["rejected"][0]["to"] == HANDSET
    # The confirmation went out as a message to the handset, from the number it wrote to.
    page = api.get("/v1/messages")[1]["messages"]
    assert any(m["to"] == HANDSET and m["from"] == "12345" for m in page)

    assert mo(server, "start") == "start"
    assert api.post("/v1/messages", PROMO)[0] == 201
    assert smpp_submit(server) == 0
    assert mo(server, "stop sending me stuff") is None  # not the keyword alone: an ordinary MO

    audit = api.get("/v1/consent-audit")[1].splitlines()
    assert audit[0] == "time,event,handset,sender,source,text"
    assert [line.split(",")[1] for line in audit[1:]] == ["opt-out", "opt-in"]
    with sqlite3.connect(server.runtime.config.store.path) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE consent_audit SET text = 'edited'")


def test_an_account_can_refuse_transactional_messages_to_opted_out_handsets(serve_http, tmp_path):
    server = serve_http(http_config(tmp_path, account("shop", transactional_to_opted_out=False)))
    api = server.api()
    mo(server, "STOP")
    assert api.post("/v1/messages", PROMO | {"category": "transactional"})[0] == 403


def test_help_is_audited_and_changes_nothing(serve_http, tmp_path):
    server = serve_http(http_config(tmp_path, compliance=Compliance(help_reply="Shop: help at shop.example")))
    api = server.api()
    assert mo(server, "help") == "help"
    assert api.get("/v1/optouts")[1] == {"optouts": []}
    assert api.get("/v1/consent-audit")[1].splitlines()[1].split(",")[1] == "help"


def test_optouts_import_export_and_api(serve_http):
    server = serve_http()
    api = server.api()
    csv_in = "handset,sender\n+44 7700 900003,\n00447700900004,\n"
    status_code, body, _ = api.post("/v1/optouts", raw=csv_in.encode(), headers={"Content-Type": "text/csv"})
    assert (status_code, body) == (201, {"imported": 2})
    assert api.post("/v1/optouts", {"handset": "+447700900005"})[0] == 201
    exported = api.get("/v1/optouts", headers={"Accept": "text/csv"})[1].splitlines()
    assert [line.split(",")[0] for line in exported] == ["handset", "447700900003", "447700900004", "447700900005"]
    assert api.request("DELETE", "/v1/optouts/447700900004")[0] == 204
    assert [o["handset"] for o in api.get("/v1/optouts")[1]["optouts"]] == ["447700900003", "447700900005"]
    bad = api.post("/v1/optouts", raw=b"handset\nnot-a-number\n", headers={"Content-Type": "text/csv"})
    assert bad[0] == 422 and "line 2" in bad[1]["error"]["message"]
    # Not CSV at all (a field over the csv module's limit): refused as such, not a 500.
    huge = api.post("/v1/optouts", raw=b"handset\n" + b"1" * 140_000 + b"\n", headers={"Content-Type": "text/csv"})
    assert huge[0] == 422 and huge[1]["error"]["code"] == "invalid_csv"


def test_quiet_hours_defer_a_promotional_message_to_the_window_end(serve_http, tmp_path):
    now = datetime.now(timezone.utc)
    # A window around now in UTC (the destination's zone here): 2 hours wide, ends on the hour.
    start, end = f"{(now.hour - 1) % 24:02d}:00", f"{(now.hour + 1) % 24:02d}:00"
    rules = Compliance(quiet_start=start, quiet_end=end, time_zones={}, default_time_zone="UTC")
    server = serve_http(http_config(tmp_path, compliance=rules))
    api = server.api()
    body = api.post("/v1/messages", PROMO | {"validity": 3600})[1]
    message = server.call(server.store.get(body["messages"][0]["id"]))
    expected = quiet_end(now, datetime.strptime(start, "%H:%M").time(), datetime.strptime(end, "%H:%M").time())
    assert message.scheduled == expected and message.expires == pytest.approx(expected + 3600, abs=1)
    assert body["messages"][0]["scheduled"] is not None
    # Not due before the window ends, due at its end: then it is sent.
    assert server.call(server.store.due(now=expected - 1)) == []
    assert [m.id for m in server.call(server.store.due(now=expected))] == [message.id]
    # A transactional one is not deferred.
    body = api.post("/v1/messages", PROMO | {"category": "transactional"})[1]
    assert body["messages"][0]["scheduled"] is None


@pytest.mark.parametrize("local, expected", [
    ("2026-03-10T22:30", "2026-03-11T08:00"),  # late evening: next morning
    ("2026-03-10T03:00", "2026-03-10T08:00"),  # after midnight: this morning
    ("2026-03-10T12:00", None),
    ("2026-03-10T08:00", None),  # the end is outside
    ("2026-03-10T21:00", "2026-03-11T08:00"),  # the start is inside
])
def test_quiet_end_wraps_past_midnight(local, expected):
    from datetime import time as clock
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/London")
    moment = datetime.fromisoformat(local).replace(tzinfo=zone)
    got = quiet_end(moment, clock(21), clock(8))
    assert got == (None if expected is None else datetime.fromisoformat(expected).replace(tzinfo=zone).timestamp())


def test_keywords_and_numbers_are_normalised():
    assert keyword_of(" sToP!! ") == "STOP" and keyword_of("stop please") == "STOP PLEASE"
    assert number("+44 (7700) 900-001") == "447700900001" == number("00447700900001")
