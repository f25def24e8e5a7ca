"""Pace: a route's rate is never exceeded (every segment counted), and a carrier that
throttles slows its upstream down without losing or reordering messages."""
from __future__ import annotations

from collections import defaultdict

from smsc.bench.carrier_sim import Behaviour
from smsc.config import Route
from smsc.smpp import status
from smsc.smpp.pdus import SubmitSm, SubmitSmResp
from tests.forwarding.conftest import Wire, bound, forwarding_config, upstream, wait_for

ROUTE_RATE = 50.0


def submit_all(client, messages) -> None:
    for fields in messages:
        client.send_message(source_addr="Shop", **fields)
        assert client.read_pdu().status == 0


def test_a_route_at_50_per_second_never_exceeds_it_over_10_seconds(serve, tmp_path, carrier_side, submit_times):
    written = submit_times
    sim, proxy = carrier_side(Behaviour(), proxied=True)
    wire = Wire()
    proxy.taps.append(wire)
    config = forwarding_config(tmp_path, upstreams=(upstream(port=proxy.port, throughput=5000.0),),
                               routes=(Route(name="slow", upstream="carrier", rate=ROUTE_RATE),))
    server = serve(config)
    client = bound(server, "transmitter")
    long_text = ("a long message that needs three parts " * 10).encode()  # 380 GSM-7 characters
    messages = [dict(destination_addr=f"44770090{i:04d}", short_message=b"short %d" % i) for i in range(470)]
    messages += [dict(destination_addr=f"44770091{i:04d}", short_message=b"", message_payload=long_text)
                 for i in range(20)]
    submit_all(client, messages)
    expected = 470 + 20 * 3
    wait_for(lambda: len(wire.sent(SubmitSm)) >= expected, timeout=20, interval=0.1)
    times = list(written)
    assert len(times) == expected == len(wire.sent(SubmitSm))  # and each reached the carrier
    assert times[-1] - times[0] >= 10.0  # 530 segments at 50/s: over ten seconds
    burst = ROUTE_RATE / 10
    end = 0
    for start, first in enumerate(times):  # every one-second window
        while end < len(times) and times[end] < first + 1.0:
            end += 1
        assert end - start <= ROUTE_RATE + burst
    assert sum(1 for t in times if t < times[0] + 10.0) <= 10 * ROUTE_RATE + burst
    client.unbind()
    client.disconnect()


def test_a_throttling_carrier_slows_the_upstream_and_order_per_destination_holds(serve, tmp_path, carrier_side):
    limit = 100
    sim, proxy = carrier_side(Behaviour(throttle_rate=limit), proxied=True)
    wire = Wire()
    proxy.taps.append(wire)
    carrier = upstream(port=proxy.port, throughput=400.0, throughput_floor=10.0, window=10)
    server = serve(forwarding_config(tmp_path, upstreams=(carrier,)))
    client = bound(server, "transmitter")
    count, destinations = 500, 10
    submit_all(client, [dict(destination_addr=f"4477009000{i % destinations}", short_message=b"%05d" % i)
                        for i in range(count)])
    wait_for(lambda: server.runtime.forwarder.counters["sent"] == count, timeout=30, interval=0.1)
    answers = wire.answers(SubmitSmResp)
    accepted = [(at, pdu) for at, pdu in wire.sent(SubmitSm)
                if answers.get(pdu.sequence_number) is not None and answers[pdu.sequence_number].command_status == 0]
    assert sorted(int(pdu.short_message) for _, pdu in accepted) == list(range(count))  # each once
    per_destination = defaultdict(list)
    for _, pdu in accepted:
        per_destination[pdu.destination_addr].append(int(pdu.short_message))
    assert all(numbers == sorted(numbers) for numbers in per_destination.values())
    throttled = sum(1 for pdu in answers.values() if pdu.command_status == status.ESME_RTHROTTLED)
    assert 0 < throttled < count * 0.35  # without slowing down, 3 in 4 would be refused
    per_second = defaultdict(int)
    for at, _ in accepted:
        per_second[int(at - accepted[0][0])] += 1
    assert max(per_second.values()) <= limit + limit  # a carrier second straddles two of ours
    client.unbind()
    client.disconnect()
