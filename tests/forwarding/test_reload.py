"""Reload under traffic: routing changes, no bind is dropped; a broken config is refused
and the running one stays."""
from __future__ import annotations

import msgspec

from smsc.config import ConfigError, Route
from tests.forwarding.conftest import bound, forwarding_config, simulated, wait_for


def send(client, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        client.send_message(source_addr="Shop", destination_addr=f"4477009{i:05d}", short_message=b"m%d" % i)
        assert client.read_pdu().status == 0


def test_reload_moves_traffic_to_the_new_route_and_keeps_binds(serve, tmp_path, sim_of):
    config = forwarding_config(tmp_path, upstreams=(simulated("a"), simulated("b")),
                               routes=(Route(name="main", upstream="a"),))
    server = serve(config)
    client = bound(server, "transmitter")
    a, b = sim_of(server, "a"), sim_of(server, "b")
    send(client, 50)
    wait_for(lambda: a.counters["submit_sm"] == 50)
    binds_before = (a.counters["binds"], b.counters["binds"])
    server.runtime.loader = lambda: msgspec.structs.replace(config, routes=(Route(name="main", upstream="b"),))
    assert server.call(server.runtime.reload())
    send(client, 50, start=50)  # the same session: still bound after the reload
    wait_for(lambda: b.counters["submit_sm"] == 50)
    assert a.counters["submit_sm"] == 50
    assert (a.counters["binds"], b.counters["binds"]) == binds_before  # no upstream bind was redone
    client.unbind()
    client.disconnect()


def test_a_broken_config_is_refused_and_the_old_one_keeps_running(serve, tmp_path, sim_of):
    config = forwarding_config(tmp_path)
    server = serve(config)
    client = bound(server, "transmitter")

    def broken():
        raise ConfigError("smsc.toml", "routes[0].upstream", "no upstream named 'nowhere'")

    server.runtime.loader = broken
    assert not server.call(server.runtime.reload())
    assert server.runtime.config is config
    send(client, 10)
    wait_for(lambda: sim_of(server).counters["submit_sm"] == 10)
    client.unbind()
    client.disconnect()


def test_accepts_are_handed_to_the_forwarder_only_while_there_are_routes(serve, tmp_path, sim_of):
    config = forwarding_config(tmp_path)
    server = serve(config)
    runtime = server.runtime
    assert runtime.store.accepted_hook == runtime.forwarder.accepted
    runtime.loader = lambda: msgspec.structs.replace(config, routes=())
    assert server.call(runtime.reload())
    assert runtime.store.accepted_hook is None  # nothing to route: accepts spared the hand-over
    runtime.loader = lambda: config
    assert server.call(runtime.reload())
    assert runtime.store.accepted_hook == runtime.forwarder.accepted
    client = bound(server, "transmitter")
    send(client, 10)
    wait_for(lambda: sim_of(server).counters["submit_sm"] == 10)
    client.unbind()
    client.disconnect()
