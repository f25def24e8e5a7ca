"""An upstream's throughput holds at carrier-grade rates: a backlog waiting for a carrier
that comes up leaves at the configured pace, not as fast as the windows allow."""
import socket

from smsc.bench.carrier_sim import Behaviour, CarrierSim
from tests.forwarding.conftest import LoopThread, bound, forwarding_config, upstream, wait_for

THROUGHPUT = 1000.0
MESSAGES = 1500


def test_a_backlog_leaves_at_the_upstreams_throughput(serve, tmp_path, submit_times):
    written = submit_times
    with socket.socket() as probe:  # the carrier's port, nothing listening there yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = forwarding_config(tmp_path, upstreams=(upstream(port=port, throughput=THROUGHPUT, binds=2,
                                                             window=200),))
    client = bound(serve(config), "transmitter")
    for n in range(MESSAGES):
        client.send_message(source_addr="Shop", destination_addr=f"4477009{n:05d}", short_message=b"queued")
        client.read_pdu()
    carrier = LoopThread()
    sim = carrier.call(CarrierSim(Behaviour(), port=port).start())
    try:
        wait_for(lambda: len(written) >= MESSAGES, timeout=20, interval=0.1)
    finally:
        carrier.call(sim.stop())
        carrier.close()
    burst = THROUGHPUT / 10  # AdaptiveRate's bucket
    assert written[-1] - written[0] >= (MESSAGES - burst) / THROUGHPUT * 0.95
    client.disconnect()
