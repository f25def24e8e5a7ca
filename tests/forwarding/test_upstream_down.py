"""A carrier that is down while messages wait for it: the gateway's event loop stays idle
between reconnect attempts (no walk of the due messages spinning on a queue with no room)
and keeps answering its clients, also after a restart finds them due in the store."""
import socket
import time

from tests.integration.conftest import ServerThread

from .conftest import bound, forwarding_config, upstream

MESSAGES = 700  # more than a walk reads at once (forwarder.SCAN_PAGE): a whole page, then a full queue


def closed_port() -> int:
    with socket.socket() as probe:  # bound then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def loop_cpu_seconds(server) -> float:
    with open(f"/proc/self/task/{server.thread.native_id}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


def submit(client, destination: str) -> float:
    """Seconds to the submit_sm_resp."""
    asked = time.monotonic()
    client.send_message(source_addr="Shop", destination_addr=destination, short_message=b"waiting")
    client.read_pdu()
    return time.monotonic() - asked


def test_messages_waiting_for_a_down_carrier_leave_the_loop_idle_and_answering(serve, tmp_path):
    config = forwarding_config(tmp_path, upstreams=(upstream(port=closed_port()),))
    with ServerThread(config) as first:
        client = bound(first)
        for n in range(MESSAGES):
            submit(client, f"4477009{n:05d}")
        client.disconnect()
    server = serve(config)  # the same store: its walk finds every message due at once
    client = bound(server)
    time.sleep(0.5)
    cpu, start = loop_cpu_seconds(server), time.monotonic()
    time.sleep(2.0)
    busy = (loop_cpu_seconds(server) - cpu) / (time.monotonic() - start)
    assert submit(client, "447700900999") < 1.0
    assert busy < 0.25, f"the gateway's loop was busy {busy:.0%} of the time with its carrier down"
    client.disconnect()
