"""The HTTP API against a real gateway: send, status, list, cancel, preview, idempotency,
and the refusals (each a 4xx naming its field, never a 5xx)."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from smsc.http import openapi
from smsc.http.api import OPENAPI

from tests.integration.conftest import PASSWORD

from .conftest import Api, account, http_config

SEND = {"to": "+447700900001", "from": "Shop", "text": "Your code is 123456"}


def test_send_then_status_history_and_list_by_client_ref(serve_http):
    api = serve_http().api()
    status, body, _ = api.post("/v1/messages", SEND | {"to": ["+447700900001", "+447700900002"], "client_ref": "order-7"})
    assert status == 201
    assert body["encoding"] == "gsm7" and body["parts"] == 1 and body["rejected"] == []
    ids = [m["id"] for m in body["messages"]]
    assert [m["to"] for m in body["messages"]] == ["447700900001", "447700900002"]

    status, message, _ = api.get(f"/v1/messages/{ids[0]}")
    assert status == 200
    assert message["state"] == "enroute" and message["client_ref"] == "order-7" and message["from"] == "Shop"
    assert message["history"][0]["state"] == "enroute" and message["receipts"] == []

    status, page, _ = api.get("/v1/messages?client_ref=order-7")
    assert [m["id"] for m in page["messages"]] == ids
    status, page, _ = api.get("/v1/messages?client_ref=order-7&limit=1")
    assert [m["id"] for m in page["messages"]] == ids[:1] and page["next"] == ids[0]
    status, page, _ = api.get(f"/v1/messages?client_ref=order-7&after={ids[0]}")
    assert [m["id"] for m in page["messages"]] == ids[1:]
    status, page, _ = api.get(f"/v1/messages?since={time.time() - 60}")
    assert [m["id"] for m in page["messages"]] == ids
    status, page, _ = api.get(f"/v1/messages?until={time.time() - 60}")
    assert page["messages"] == []


def test_a_long_unicode_text_is_counted_by_the_text_core(serve_http):
    api = serve_http().api()
    status, body, _ = api.post("/v1/messages", SEND | {"text": "Привет " * 20})
    assert status == 201 and body["encoding"] == "ucs2" and body["parts"] == 3  # 140 chars, 67 a part


def test_binary_with_its_data_coding(serve_http):
    server = serve_http()
    api = server.api()
    status, body, _ = api.post("/v1/messages", {"to": "447700900001", "from": "12345", "binary": "AAEC/w==",
                                                "data_coding": 245})
    assert status == 201 and body["encoding"] == "binary"
    stored = server.call(server.store.get(body["messages"][0]["id"]))
    assert stored.body["short_message"] == b"\x00\x01\x02\xff" and stored.body["data_coding"] == 245
    assert stored.body["source_addr_ton"] == 1


def test_cancel_a_scheduled_message_then_not_again(serve_http):
    api = serve_http().api()
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    status, body, _ = api.post("/v1/messages", SEND | {"schedule_at": later})
    message_id = body["messages"][0]["id"]
    status, cancelled, _ = api.request("DELETE", f"/v1/messages/{message_id}")
    assert status == 200 and cancelled["state"] == "deleted"
    status, error, _ = api.request("DELETE", f"/v1/messages/{message_id}")
    assert status == 409 and error["error"]["code"] == "not_cancellable"
    status, error, _ = api.request("DELETE", "/v1/messages/00000000000000aa")
    assert status == 404 and error["error"]["code"] == "message_not_found"


def test_preview_names_the_characters_that_forced_ucs2(serve_http):
    api = serve_http().api()
    status, body, _ = api.post("/v1/preview", {"text": "Total: 5€, merci 😀"})
    assert status == 200
    assert body["encoding"] == "ucs2" and body["ucs2_forced_by"] == ["😀"]
    assert body["units_left"] == body["units_per_part"] - body["units"]
    status, body, _ = api.post("/v1/preview", {"text": "x" * 161})
    assert (body["encoding"], body["parts"], body["units_per_part"], body["units_left"]) == ("gsm7", 2, 153, 145)


def test_an_idempotent_retry_sends_once_and_a_changed_body_is_refused(serve_http):
    server = serve_http()
    api = server.api()
    key = {"Idempotency-Key": "order-42-sms"}
    first = api.post("/v1/messages", SEND, headers=key)
    again = api.post("/v1/messages", SEND, headers=key)
    assert first[0] == again[0] == 201
    assert first[1] == again[1] and again[2].get("Idempotent-Replayed") == "true"
    status, page, _ = api.get(f"/v1/messages?since={time.time() - 60}")
    assert len(page["messages"]) == 1
    status, error, _ = api.post("/v1/messages", SEND | {"text": "another text"}, headers=key)
    assert status == 422 and error["error"]["code"] == "idempotency_key_reused"
    assert error["error"]["field"] == "Idempotency-Key"


@pytest.mark.parametrize("raw, status, code, field", [
    (b"{not json", 400, "invalid_json", None),
    (json.dumps(SEND | {"colour": "red"}).encode(), 422, "invalid_field", "colour"),
    (json.dumps(SEND | {"to": "12"}).encode(), 422, "invalid_field", "to"),
    (json.dumps(SEND | {"to": ["447700900001", "+0"]}).encode(), 422, "invalid_field", "to[1]"),
    (json.dumps({"to": "447700900001", "text": "x"}).encode(), 422, "invalid_field", "from"),
    (json.dumps(SEND | {"validity": -5}).encode(), 422, "invalid_field", "validity"),
    (json.dumps(SEND | {"binary": "AA=="}).encode(), 422, "invalid_content", "text"),
    (json.dumps(SEND | {"text": None, "binary": "***"}).encode(), 422, "invalid_binary", "binary"),
    (json.dumps(SEND | {"from": "AVeryLongSenderName"}).encode(), 422, "invalid_field", "from"),
    (json.dumps(SEND | {"schedule_at": "2030-01-01T00:00:00"}).encode(), 422, "invalid_schedule", "schedule_at"),
    (json.dumps(SEND | {"text": "x" * 300_000}).encode(), 413, "body_too_large", None),
])
def test_bad_requests_are_4xx_naming_the_field(serve_http, raw, status, code, field):
    api = serve_http().api()
    got, body, _ = api.post("/v1/messages", raw=raw)
    assert (got, body["error"]["code"], body["error"].get("field")) == (status, code, field)


def test_unknown_paths_and_methods_are_json_errors_and_v1_asks_for_a_key_first(serve_http):
    server = serve_http()
    anonymous, api = Api(server.http_port, None), server.api()
    assert anonymous.get("/nowhere")[:2] == (404, {"error": {"code": "not_found", "message": "Not Found"}})
    assert anonymous.get("/v1/nowhere")[1]["error"]["code"] == "unauthorized"
    assert api.get("/v1/nowhere")[1]["error"]["code"] == "not_found"
    status, body, headers = api.request("PUT", "/v1/messages", SEND)
    assert (status, body["error"]["code"], headers["Allow"]) == (405, "method_not_allowed", "GET,HEAD,POST")
    assert anonymous.request("HEAD", "/healthz")[0] == 200
    assert anonymous.request("PATCH", "/healthz")[2]["Allow"] == "GET,HEAD"


def test_keys_senders_networks_and_rate_are_per_account(serve_http, tmp_path):
    config = http_config(tmp_path, account("shop", allowed_sources=("Shop",), rate=2.0),
                         account("far", allowed_networks=("10.0.0.0/8",)))
    server = serve_http(config)
    status, body, headers = Api(server.http_port, None).post("/v1/messages", SEND)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert Api(server.http_port, "sk_wrong").post("/v1/messages", SEND)[0] == 401
    assert server.api("far").post("/v1/messages", SEND)[1]["error"]["code"] == "address_not_allowed"
    api = server.api("shop")
    status, body, _ = api.post("/v1/messages", SEND | {"from": "Other"})
    assert status == 403 and body["error"] == {"code": "sender_not_allowed", "field": "from",
                                               "message": "sender 'Other' is not allowed for this account"}
    statuses = [api.post("/v1/messages", SEND)[0] for _ in range(4)]
    assert statuses[:2] == [201, 201] and 429 in statuses[2:]


def test_health_ready_metrics_and_the_openapi_document(serve_http):
    server = serve_http()
    api = server.api()
    api.post("/v1/messages", SEND)
    anonymous = Api(server.http_port, None)
    assert anonymous.get("/healthz")[:2] == (200, {"status": "ok"})
    assert anonymous.get("/readyz")[1]["status"] == "ready"
    status, text, _ = anonymous.get("/metrics")
    assert 'smsc_messages_live{account="shop",state="enroute",upstream=""} 1.0' in text
    assert 'smsc_messages_accepted_total{account="shop",channel="http"} 1.0' in text
    assert "smsc_submit_response_seconds_bucket" in text
    client = server.client()
    client.bind_transmitter(system_id="shop", password=PASSWORD)
    assert 'smsc_binds_up{kind="account",name="shop"} 1.0' in anonymous.get("/metrics")[1]
    client.unbind()
    client.disconnect()
    status, document, _ = anonymous.get("/openapi.json")
    assert status == 200 and document == json.loads(OPENAPI.read_text())


def test_the_openapi_file_in_the_repository_is_the_generated_one():
    assert OPENAPI.read_text() == openapi.render(), "run: python -m smsc.http.openapi > smsc/http/openapi.json"


def test_api_key_create_prints_a_key_that_works(serve_http, tmp_path, capsys):
    from smsc.cli import main

    server = serve_http()
    config_file = tmp_path / "smsc.toml"
    config_file.write_text(f'[store]\npath = "{server.runtime.config.store.path}"\n'
                           f'[[accounts]]\nsystem_id = "shop"\npassword_hash = "{server.runtime.config.accounts[0].password_hash}"\n')
    assert main(["api-key", "create", "shop", "-c", str(config_file)]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("sk_") and key not in (tmp_path / "api-keys.jsonl").read_text()
    assert Api(server.http_port, key).post("/v1/messages", SEND)[0] == 201
    assert main(["api-key", "create", "nobody", "-c", str(config_file)]) == 1


def test_the_api_over_tls(serve_http, tmp_path):
    import http.client
    import ssl

    from tests.integration.test_listeners import self_signed

    cert, key = self_signed(tmp_path)
    server = serve_http(http_config(tmp_path, tls_cert=cert, tls_key=key))
    assert server.runtime.http.addresses[0][2] is True
    api = server.api()
    context = ssl.create_default_context(cafile=cert)
    api.conn = http.client.HTTPSConnection("127.0.0.1", server.http_port, context=context, timeout=10)
    status, body, _ = api.post("/v1/messages", SEND)
    assert status == 201 and body["messages"][0]["to"] == "447700900001"


def test_no_201_without_a_commit_and_readyz_says_why(serve_http):
    server = serve_http()
    api = server.api()
    server.call(server.store.close())  # the disk went away: nothing can be committed
    status, body, _ = api.post("/v1/messages", SEND)
    assert status == 503 and body["error"]["code"] == "store_unavailable"
    status, body, _ = Api(server.http_port, None).get("/readyz")
    assert status == 503 and body["status"] == "not_ready" and "store not writable" in body["problems"][0]


def test_validity_follows_the_smpp_settings_default_and_cap(serve_http, tmp_path):
    config = http_config(tmp_path)
    config = msgspec.structs.replace(config, smpp=msgspec.structs.replace(
        config.smpp, default_validity=3600.0, max_validity=7200.0))
    api = serve_http(config).api()
    expiries = []
    for extra in ({}, {"validity": 600}, {"validity": 86400}):
        status, body, _ = api.post("/v1/messages", SEND | extra)
        assert status == 201
        message = api.get(f"/v1/messages/{body['messages'][0]['id']}")[1]
        lived = datetime.fromisoformat(message["expires"]) - datetime.fromisoformat(message["submitted"])
        expiries.append(round(lived.total_seconds()))
    assert expiries == [3600, 600, 7200]
