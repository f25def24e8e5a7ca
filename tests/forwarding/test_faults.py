"""Carrier trouble: a fault proxy between smsc and the simulator cuts and stalls the
binds mid-load. Every message still reaches exactly one final state, none is lost, and
what reached the carrier twice is counted and bounded by the windows in flight."""
from __future__ import annotations

import threading

from smsc.bench.carrier_sim import Behaviour
from smsc.smpp.constants import MessageState
from tests.forwarding.conftest import bound, forwarding_config, upstream, wait_for

MESSAGES = 300
WINDOW, BINDS = 10, 2


def live(server) -> int:
    async def query():
        async with server.store.reader.execute("SELECT COUNT(*) FROM messages WHERE final IS NULL") as cursor:
            return (await cursor.fetchone())[0]
    return server.call(query())


def test_cuts_and_stalls_lose_nothing_and_duplicates_stay_within_the_windows(serve, tmp_path, carrier_side):
    sim, proxy = carrier_side(Behaviour(receipts=True, receipt_delay=0.05, seed=7), proxied=True)
    carrier = upstream(port=proxy.port, window=WINDOW, binds=BINDS, response_timeout=2.0, enquire_link_interval=1.0)
    server = serve(forwarding_config(tmp_path, upstreams=(carrier,)), expire_interval=0.5)
    client = bound(server, "transmitter")
    thread = carrier_side.thread
    stop = threading.Event()

    def trouble():
        for round_ in range(6):
            if stop.wait(0.15):
                return
            if round_ % 2:
                thread.run(proxy.stall, 0.3)
            else:
                thread.run(proxy.cut)

    troublemaker = threading.Thread(target=trouble)
    troublemaker.start()
    ids = []
    try:
        for i in range(MESSAGES):
            # A validity short enough that a receipt lost with a cut connection ends EXPIRED
            client.send_message(source_addr="Shop", destination_addr=f"4477009{i:05d}", short_message=b"m%d" % i,
                                registered_delivery=1, validity_period="000000000008000R")
            resp = client.read_pdu()
            assert resp.status == 0
            ids.append(resp.message_id.decode())
    finally:
        stop.set()
        troublemaker.join()
    wait_for(lambda: live(server) == 0, timeout=30, interval=0.1)
    states = [server.call(server.store.get(message_id)).state for message_id in ids]
    assert len(set(ids)) == MESSAGES
    assert all(state in (MessageState.DELIVERED, MessageState.EXPIRED) for state in states)
    assert states.count(MessageState.DELIVERED) >= MESSAGES * 0.9
    forwarder = server.runtime.forwarder
    duplicates = sim.counters["submit_sm"] - MESSAGES
    assert proxy.cuts >= 1
    assert 0 <= duplicates <= forwarder.counters["resent_after_loss"] + forwarder.counters["timeouts"]
    assert forwarder.counters["resent_after_loss"] <= (proxy.cuts + 3) * WINDOW * BINDS
    client.unbind()
    client.disconnect()
