"""MO routes whose target is a webhook: the carrier's MO is committed to the route's
webhook queue, answered ESME_ROK, and POSTed signed with the route's webhook_secret; its dead
letters are listed to whoever holds that secret."""
from __future__ import annotations

import msgspec

from smsc.config import MoRoute, Route
from smsc.http import webhooks
from smsc.smpp.pdus import DeliverSm
from smsc.store import OutboundState
from smsc.store import http_tables
from tests.config_helpers import error
from tests.forwarding.conftest import on_loop, simulated
from tests.http.conftest import SECRET, Api, Receiver, http_config, wait_for
from tests.test_config_routing import BASE

HANDSET = "447700900777"


def mo(destination: str, text: bytes) -> DeliverSm:
    return DeliverSm(source_addr_ton=1, source_addr_npi=1, source_addr=HANDSET, destination_addr=destination,
                     short_message=text)


def webhook_config(tmp_path, url: str, secret: str = SECRET):
    """The account "shop", a simulated carrier, and MO to 4470... routed to `url`."""
    config = http_config(tmp_path)
    hooks = MoRoute(name="hooks", destinations=("4470",), webhook=url, webhook_secret=secret)
    return msgspec.structs.replace(config, upstreams=(simulated(),), routes=(Route(name="all", upstream="carrier"),),
                                   mo_routes=(hooks, MoRoute(name="rest", account="shop")))


def test_a_carrier_mo_reaches_the_route_webhook_signed_and_no_account_keyword_applies(serve_http, tmp_path,
                                                                                      receiver):
    server = serve_http(webhook_config(tmp_path, receiver.url))
    sim = server.runtime.simulators["carrier"]
    wait_for(lambda: sim.counters["binds"] >= 1)
    on_loop(server, sim.deliver, "smsc", None, mo("447000111", b"STOP"))
    (event,) = wait_for(lambda: receiver.of_type("message.inbound"), timeout=10)
    assert event["data"] == {"from": HANDSET, "to": "447000111", "text": "STOP", "data_coding": 0}
    assert receiver.bad_signatures == 0  # the receiver checked the route's secret
    wait_for(lambda: sim.counters["deliver_sm_resp"] == 1)
    inbound = server.runtime.inbound.counters
    assert inbound["mo_queued"] == 1 and inbound["mo_unrouted"] == 0
    # No account owns this MO: its STOP opts nobody out and sends no confirmation.
    assert server.call(http_tables.optouts(server.store, "shop")) == []
    assert sim.counters["submit_sm"] == 0


def test_the_mo_is_committed_before_the_answer_and_posted_once_the_receiver_is_back(serve_http, tmp_path,
                                                                                    receiver):
    receiver.failing = True
    server = serve_http(webhook_config(tmp_path, receiver.url))
    upstream = server.runtime.config.upstream("carrier")
    status = server.call(server.runtime.inbound.handle(upstream, mo("447000222", b"Hello hook")))
    assert status == 0
    # Answered only once stored: the item is in the route's queue at that moment.
    (item,) = server.call(server.store.outbound(webhooks.route_queue("hooks")))
    wait_for(lambda: receiver.attempts >= 2, timeout=10)  # refused, retried
    assert receiver.events == []
    receiver.failing = False
    (event,) = wait_for(lambda: receiver.of_type("message.inbound"), timeout=10)
    assert event["id"] == webhooks.event_id(item[0]) and event["data"]["text"] == "Hello hook"
    wait_for(lambda: server.call(server.store.outbound(webhooks.route_queue("hooks")))[0][1]
             == OutboundState.DELIVERED)


def test_a_receiver_with_another_secret_refuses_every_post(serve_http, tmp_path):
    receiver = Receiver(secret="not-the-route-secret")
    try:
        server = serve_http(webhook_config(tmp_path, receiver.url))
        upstream = server.runtime.config.upstream("carrier")
        assert server.call(server.runtime.inbound.handle(upstream, mo("447000333", b"Hi"))) == 0
        wait_for(lambda: receiver.bad_signatures >= 1, timeout=10)
        assert receiver.events == []
    finally:
        receiver.close()


def test_config_errors_name_the_webhook_secret_key(tmp_path):
    route = '[[mo_routes]]\nname = "m"\n'
    assert error(BASE + route + 'webhook = "https://x/mo"\n', tmp_path).startswith(
        "conf/x.toml: mo_routes[0].webhook_secret: required with webhook (webhooks are signed)")
    assert error(BASE + route + 'account = "acme"\nwebhook_secret = "s"\n', tmp_path).startswith(
        "conf/x.toml: mo_routes[0].webhook_secret: only with webhook")


def test_the_route_webhook_dead_letters_are_listed_to_the_holder_of_its_secret(serve_http, tmp_path, receiver):
    receiver.failing = True
    config = webhook_config(tmp_path, receiver.url)
    server = serve_http(msgspec.structs.replace(config, http=msgspec.structs.replace(config.http,
                                                                                   webhook_retry_for=0.3)))
    upstream = server.runtime.config.upstream("carrier")
    assert server.call(server.runtime.inbound.handle(upstream, mo("447000444", b"Too late"))) == 0
    route = Api(server.http_port, SECRET)
    dead = wait_for(lambda: route.get("/v1/mo-routes/hooks/dead-letters")[1]["dead_letters"], timeout=10)
    assert dead[0]["kind"] == "mo" and dead[0]["last_error"] == 500 and dead[0]["attempts"] >= 2
    # Not the account's: its own list stays empty; a wrong secret or route name is one 401.
    assert server.api().get("/v1/webhooks/dead-letters")[1] == {"dead_letters": []}
    for path, key in (("hooks", "wrong"), ("rest", SECRET), ("nope", SECRET)):
        status, body, _ = Api(server.http_port, key).get(f"/v1/mo-routes/{path}/dead-letters")
        assert status == 401 and body["error"]["code"] == "unauthorized"
