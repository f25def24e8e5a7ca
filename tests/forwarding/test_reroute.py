"""Re-routing after the carrier took a message: an UNDELIV receipt whose err: code the
route lists sends the message (same id, no receipt for the failed try) to the next
upstream of its failover chain, within the budget; a submit_sm left unanswered does the
same when the route re-routes on timeouts. Two or three simulated carriers on 127.0.0.1."""
from __future__ import annotations

import time

from smsc.config import Reroute, Route, Simulated
from smsc.smpp.constants import MessageState
from tests.forwarding.conftest import bound, forwarding_config, simulated, upstream, wait_for
from tests.forwarding.test_receipts import receipts_for, submit

UNDELIV = {"undeliv_share": 1.0}  # the simulator's UNDELIV receipts carry err:001


def gateway(serve, tmp_path, carriers, reroute: Reroute):
    route = Route(name="chain", failover=tuple(carrier.name for carrier in carriers), reroute=reroute)
    server = serve(forwarding_config(tmp_path, upstreams=tuple(carriers), routes=(route,)))
    return server, bound(server)


def submits(server, name: str) -> int:
    return server.runtime.simulators[name].counters["submit_sm"]


def only_receipt(client, message_id: str, quiet: float = 0.5) -> bytes:
    """The text of the one receipt the client gets for the message (it must be one)."""
    receipts = receipts_for(client, message_id, quiet)
    assert len(receipts) == 1
    return receipts[0].short_message


def done(client) -> None:
    client.unbind()
    client.disconnect()


def stored(server, message_id: str):
    return server.call(server.store.get(message_id))


def test_an_undeliv_with_a_listed_error_goes_to_the_next_upstream_and_the_client_hears_only_the_end(serve, tmp_path):
    server, client = gateway(serve, tmp_path, [simulated("first", **UNDELIV), simulated("second")],
                             Reroute(undeliv_errors=("001",)))
    message_id = submit(client, short_message=b"hello")
    assert b"stat:DELIVRD" in only_receipt(client, message_id)
    message = stored(server, message_id)
    assert message.state == MessageState.DELIVERED and message.upstream == "second"
    assert submits(server, "first") == 1 and submits(server, "second") == 1
    assert server.runtime.inbound.counters["receipts_rerouted"] == 1
    done(client)


def test_an_undeliv_with_an_unlisted_error_ends_the_message_there(serve, tmp_path):
    server, client = gateway(serve, tmp_path, [simulated("first", **UNDELIV), simulated("second")],
                             Reroute(undeliv_errors=("34",)))
    message_id = submit(client, short_message=b"hello")
    assert b"stat:UNDELIV" in only_receipt(client, message_id)
    assert stored(server, message_id).state == MessageState.UNDELIVERABLE
    assert submits(server, "first") == 1 and submits(server, "second") == 0
    done(client)


def test_the_budget_bounds_the_moves_and_the_last_undeliv_is_the_clients_receipt(serve, tmp_path):
    carriers = [simulated(name, **UNDELIV) for name in ("first", "second", "third")]
    server, client = gateway(serve, tmp_path, carriers, Reroute(undeliv_errors=("1",), budget=1))
    message_id = submit(client, short_message=b"hello")
    assert b"stat:UNDELIV" in only_receipt(client, message_id)
    message = stored(server, message_id)
    assert message.state == MessageState.UNDELIVERABLE and message.upstream == "second"
    assert [submits(server, name) for name in ("first", "second", "third")] == [1, 1, 0]
    done(client)


def silent(name: str):
    """A carrier that takes submits and never answers them, quick to time out."""
    return upstream(name, simulated=Simulated(no_response_share=1.0, receipt_delay=0.05), response_timeout=0.3)


def test_an_unanswered_submit_goes_to_the_next_upstream_when_the_route_says_timeout(serve, tmp_path):
    server, client = gateway(serve, tmp_path, [silent("first"), simulated("second")], Reroute(timeout=0.3))
    message_id = submit(client, short_message=b"hello")
    assert b"stat:DELIVRD" in only_receipt(client, message_id, quiet=1.0)
    assert stored(server, message_id).upstream == "second"
    assert submits(server, "first") == 1 and submits(server, "second") == 1
    assert server.runtime.forwarder.counters["rerouted"] == 1
    done(client)


def test_the_routes_own_shorter_wait_moves_the_message_before_the_carriers_timeout(serve, tmp_path):
    slow = upstream("first", simulated=Simulated(no_response_share=1.0, receipt_delay=0.05), response_timeout=30.0)
    server, client = gateway(serve, tmp_path, [slow, simulated("second")], Reroute(timeout=0.3))
    began = time.monotonic()
    message_id = submit(client, short_message=b"hello")
    assert b"stat:DELIVRD" in only_receipt(client, message_id, quiet=1.0)
    assert time.monotonic() - began < 10  # not the first carrier's 30 s response_timeout
    assert stored(server, message_id).upstream == "second"
    assert submits(server, "first") == 1 and submits(server, "second") == 1
    assert server.runtime.forwarder.counters["rerouted"] == 1
    done(client)


def test_without_a_timeout_rule_an_unanswered_submit_is_retried_where_it_is(serve, tmp_path):
    server, client = gateway(serve, tmp_path, [silent("first"), simulated("second")], Reroute())
    message_id = submit(client, short_message=b"hello")
    # The first retry comes 1 s ([forwarding] retry_initial) after the 0.3 s timeout.
    wait_for(lambda: submits(server, "first") >= 2, timeout=5, interval=0.05)
    assert submits(server, "second") == 0
    message = stored(server, message_id)
    assert message.final is None and message.upstream is None
    done(client)
