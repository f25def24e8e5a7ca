"""Webhooks out: every receipt and MO reaches a receiver that checks the signature, at
least once, across a restart of smsc while the receiver was failing; what cannot be
delivered in time is dead-lettered and listed by the API. And once a delivered message is
purged, the HTTP housekeeping forgets its client reference (listing by it would fail)."""
from __future__ import annotations

import random
import time

import msgspec

from smsc.http import webhooks
from smsc.smpp.constants import MessageState
from smsc.store import http_tables

from .conftest import SECRET, account, http_config, wait_for

SEND = {"to": "+447700900001", "from": "Shop", "text": "Your parcel is on its way"}
MO = {"source_addr": "447700900001", "destination_addr": "12345", "data_coding": 0, "short_message": b"Hi there",
      "esm_class": 0, "tlvs": []}


def hooked(tmp_path, receiver, **http):
    return http_config(tmp_path, account("shop", webhook_url=receiver.url, webhook_secret=SECRET), **http)


def deliver(server, message_id):
    """What the upstream path does on a carrier's receipt: the final state, committed."""
    async def final() -> None:  # a coroutine, whether update is one or returns a future
        await server.store.update(message_id, MessageState.DELIVERED, upstream="carrier", carrier_id="c-1")

    server.call(final())


def test_receipts_and_mo_reach_the_receiver_signed_across_a_restart(serve_http, tmp_path, receiver):
    config = hooked(tmp_path, receiver)
    receiver.failing = True
    first = serve_http(config)
    api = first.api()
    ids = [api.post("/v1/messages", SEND | {"client_ref": f"r{i}"})[1]["messages"][0]["id"] for i in range(3)]
    for message_id in ids:
        deliver(first, message_id)
    first.call(first.runtime.http.compliance.receive_mo("shop", "447700900001", "12345", "Hi there", MO))
    wait_for(lambda: receiver.attempts >= 8, timeout=10)  # failing, retried
    assert receiver.events == []
    first.__exit__(None, None, None)

    receiver.failing = False
    second = serve_http(config)
    receipts = wait_for(lambda: len({e["data"]["id"] for e in receiver.of_type("message.receipt")}) == 3
                        and receiver.of_type("message.receipt"), timeout=15)
    assert {event["data"]["id"] for event in receipts} == set(ids)
    assert all(event["data"]["state"] == "delivered" for event in receipts)
    assert {event["data"]["client_ref"] for event in receipts} == {"r0", "r1", "r2"}
    (mo,) = wait_for(lambda: receiver.of_type("message.inbound"), timeout=10)[:1]
    assert mo["data"] == {"from": "447700900001", "to": "12345", "text": "Hi there", "data_coding": 0}
    assert receiver.bad_signatures == 0
    assert all(event["id"].startswith("evt_") for event in receiver.events)
    # Each event once its 2xx came: nothing left in the queue, nothing dead.
    api = second.api()
    assert api.get("/v1/webhooks/dead-letters")[1] == {"dead_letters": []}
    status, message, _ = api.get(f"/v1/messages/{ids[0]}")
    assert message["receipts"][0]["state"] == "delivered" and message["receipts"][0]["queue"] == "webhook:shop"


def test_a_message_with_its_own_url_and_an_account_without_webhooks(serve_http, tmp_path, receiver):
    config = http_config(tmp_path, account("shop", webhook_secret=SECRET))
    server = serve_http(config)
    api = server.api()
    own = api.post("/v1/messages", SEND | {"webhook_url": receiver.url})[1]["messages"][0]["id"]
    plain = api.post("/v1/messages", SEND)[1]["messages"][0]["id"]
    deliver(server, own)
    deliver(server, plain)
    (event,) = wait_for(lambda: receiver.of_type("message.receipt"), timeout=10)
    assert event["data"]["id"] == own
    # The other receipt waits for the account's SMPP receivers, as before the HTTP API.
    assert [state for _, state, _ in server.call(server.store.outbound("shop"))] == [0]


def test_a_webhook_url_needs_a_secret_to_sign_with(serve_http):
    status, body, _ = serve_http().api().post("/v1/messages", SEND | {"webhook_url": "http://127.0.0.1:9/x"})
    assert status == 422 and body["error"]["field"] == "webhook_url"


def test_failing_past_the_retry_time_is_dead_lettered_and_listed(serve_http, tmp_path, receiver):
    receiver.failing = True
    server = serve_http(hooked(tmp_path, receiver, webhook_retry_for=0.3))
    api = server.api()
    message_id = api.post("/v1/messages", SEND)[1]["messages"][0]["id"]
    deliver(server, message_id)
    dead = wait_for(lambda: api.get("/v1/webhooks/dead-letters")[1]["dead_letters"], timeout=10)
    assert dead[0]["message_id"] == message_id and dead[0]["last_error"] == 500 and dead[0]["attempts"] >= 2
    attempts = receiver.attempts
    wait_for(lambda: True)
    assert receiver.attempts == attempts  # given up: no more tries


def test_signature_round_trip_and_refusals():
    body = msgspec.json.encode({"id": "evt_1"})
    header = webhooks.sign("s3cret", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert webhooks.verify("s3cret", header, body, 1_700_000_010)
    assert not webhooks.verify("other", header, body, 1_700_000_010)
    assert not webhooks.verify("s3cret", header, body + b" ", 1_700_000_010)
    assert not webhooks.verify("s3cret", header, body, 1_700_000_000 + 3600)  # a replay
    assert not webhooks.verify("s3cret", "garbage", body, 1_700_000_000)


def test_backoff_doubles_with_jitter_up_to_the_maximum():
    rng = random.Random(7)
    waits = [webhooks.backoff(attempt, 1.0, 10.0, rng) for attempt in range(1, 7)]
    for attempt, wait in enumerate(waits, start=1):
        base = min(10.0, 2 ** (attempt - 1))
        assert base * 0.8 <= wait <= base * 1.2
    assert len({round(w, 6) for w in waits[4:]}) == 2  # both capped, yet not in step


def test_a_reload_adds_webhooks_for_a_new_account_and_new_keywords(serve_http, tmp_path, receiver):
    import msgspec as ms

    from smsc.config import Compliance

    server = serve_http(http_config(tmp_path, account("shop")))
    new = ms.structs.replace(server.runtime.config,
                             accounts=(account("shop"), account("bank", webhook_url=receiver.url, webhook_secret=SECRET)),
                             compliance=Compliance(stop_keywords=("HALT",)))
    server.call(server.runtime.apply(new))
    server.call(server.store.enqueue("bank", MO | {"short_message": b"HALT"}, kind="mo"))
    (event,) = wait_for(lambda: receiver.of_type("message.inbound"), timeout=10)
    assert event["data"]["text"] == "HALT"
    assert server.runtime.http.compliance.opted_out("bank", "", "447700900001")


def test_a_reload_that_removes_an_account_stops_its_webhook_queue_and_a_later_one_restarts_it(
        serve_http, tmp_path, receiver):
    server = serve_http(http_config(tmp_path, account("shop"), account("bank")))
    dispatcher, queue = server.runtime.http.dispatcher, webhooks.webhook_queue("bank")
    both = server.runtime.config
    assert queue in dispatcher._tasks
    server.call(server.runtime.apply(msgspec.structs.replace(both, accounts=(account("shop"),))))
    assert queue not in dispatcher._tasks
    wait_for(lambda: queue not in server.store._claims)  # its claim released: events stay queued
    server.call(server.runtime.apply(both))  # back again, claimed by a new task without a clash
    wait_for(lambda: queue in server.store._claims)
    assert not dispatcher._tasks[queue].done()


def test_housekeeping_forgets_the_client_ref_of_a_purged_message(serve_http, tmp_path, receiver):
    config = hooked(tmp_path, receiver)
    server = serve_http(msgspec.structs.replace(config, store=msgspec.structs.replace(config.store, retention=0.2)))
    api = server.api()
    done, live = (api.post("/v1/messages", SEND | {"client_ref": "order-9"})[1]["messages"][0]["id"] for _ in "ab")
    deliver(server, done)
    time.sleep(0.3)  # both past the retention; only the final one may be purged
    assert server.call(server.store.purge(time.time() - 0.2)) == 1
    # Purged, its reference not yet forgotten: listing passes over it.
    assert [m["id"] for m in api.get("/v1/messages?client_ref=order-9")[1]["messages"]] == [live]
    server.call(server.runtime.http.housekeeping())
    status, page, _ = api.get("/v1/messages?client_ref=order-9")
    assert status == 200 and [m["id"] for m in page["messages"]] == [live]
    # The reference itself is gone, not only passed over.
    assert server.call(http_tables.forget_client_refs(server.store, time.time())) == 0
