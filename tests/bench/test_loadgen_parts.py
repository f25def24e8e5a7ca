"""The load generator's pure parts: histogram, rate schedule, pacing, prepared submits,
receipt book, scenario files."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as s
from msgspec.structs import replace

from smsc.bench.loadgen_config import LoadConfig, Pacer, Schedule, load_config
from smsc.bench.loadgen_core import HEADER, Link, ReceiptBook
from smsc.bench.loadgen_messages import Destinations, MessageSource, MessageSpec, prepare
from smsc.bench.loadgen_stats import Histogram, Stats
from smsc.codec import pdu as pdu_codec
from smsc.codec.udh import parse_udh
from smsc.smpp.constants import CommandId
from smsc.smpp.pdus import DeliverSm, SubmitSmResp
from smsc.dlr import receipt_tlvs


@settings(max_examples=50, deadline=None)
@given(s.lists(s.floats(min_value=0, max_value=100), min_size=1, max_size=300),
       s.sampled_from([50, 90, 99, 99.9]))
def test_histogram_percentiles_within_bucket_precision(samples, p):
    histogram = Histogram()
    for sample in samples:
        histogram.record(sample)
    ordered = sorted(samples)
    exact = ordered[max(1, round(len(samples) * p / 100)) - 1]
    assert histogram.percentile(p) == pytest.approx(exact, rel=1 / 32, abs=2e-6)
    assert histogram.total == len(samples) and histogram.maximum == max(samples)


def test_histogram_merge_and_millions_cost_a_fixed_list():
    a, b = Histogram(), Histogram()
    rng = random.Random(1)
    for _ in range(20_000):
        a.record(rng.expovariate(1000))
    b.record(5.0)
    a.merge(b)
    assert a.total == 20_001 and a.maximum == 5.0
    assert a.percentile(50) == pytest.approx(0.000693, rel=0.06)  # ln 2 / 1000
    assert len(a.counts) == len(Histogram().counts) < 1300
    assert Histogram().percentile(50) is None


def test_schedules_integrate_their_rate():
    assert Schedule(100, 10).due(2.5) == 250
    linear = Schedule(100, 10, rate_to=300)
    assert linear.due(10) == pytest.approx(2000) and linear.due(12) == pytest.approx(2600)
    assert linear.rate_at(5) == 200
    steps = Schedule(100, 10, steps=((2, 1000), (4, 10)))
    assert steps.due(1) == 100 and steps.due(3) == 1200 and steps.due(5) == 2210
    assert steps.rate_at(3.9) == 1000


def test_pacer_spreads_intended_times_evenly_across_ticks():
    pacer = Pacer(Schedule(1000, 10), share=0.5)  # 500/s for this bind
    times = []
    t = 0.0
    while t < 1.0:
        t = round(t + random.Random(int(t * 1e6)).uniform(0.0005, 0.003), 6)
        count, first, step = pacer.advance(t)
        times += [first + k * step for k in range(count)]
    assert len(times) == int(Schedule(1000, 10).due(t) * 0.5)
    assert times == pytest.approx([(k + 1) / 500 for k in range(len(times))], abs=1e-9)


def test_pacer_stops_at_its_share_of_count():
    pacer = Pacer(Schedule(1000, 10), share=0.5, limit=30)
    assert sum(pacer.advance(t / 10)[0] for t in range(1, 20)) == 30


@pytest.mark.parametrize("spec", [MessageSpec("short"), MessageSpec("ucs2", registered_delivery=0),
                                  MessageSpec("long", concatenation="sar", source_addr="447700900999")])
def test_prepared_part_is_the_codecs_encoding(spec):
    for part in spec.parts():
        before, after, length, receipt = prepare(part)
        destination = b"4477009000123\0"
        wire = HEADER.pack(length + len(destination), CommandId.SUBMIT_SM, 0, 77) + before + destination + after
        assert wire == pdu_codec.encode(replace(part, sequence_number=77, destination_addr="4477009000123"))
        assert receipt == bool(spec.registered_delivery)


def test_mix_follows_weights_and_each_long_message_gets_its_own_reference():
    source = MessageSource([MessageSpec("short", weight=2), MessageSpec("long")], Destinations("100-199"))
    link = Link(source, ReceiptBook(Stats()), Stats(), window=1000)
    link.sending = True
    decoded = [pdu_codec.decode(frame) for frame in _frames(link.output(0.0))]
    assert len(decoded) == 1000
    parts = len(MessageSpec("long").parts())
    longs = [p for p in decoded if p.esm_class & 0x40]
    assert len(longs) == pytest.approx(1000 * parts / (parts + 2), abs=parts)
    references = {}
    for pdu in longs:
        udh, _ = parse_udh(pdu.short_message)
        references.setdefault(udh.concat.reference, set()).add(pdu.destination_addr)
    assert all(len(destinations) == 1 for destinations in references.values())  # one message each
    assert [p.sequence_number for p in decoded] == list(range(1, 1001))


def _frames(data: bytes) -> list[bytes]:
    frames, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        frames.append(data[pos:pos + length])
        pos += length
    return frames


def test_destinations_from_a_file_and_a_range(tmp_path):
    listed = tmp_path / "numbers.txt"
    listed.write_text("447700900001\n\n447700900002\n")
    it = iter(Destinations(str(listed)))
    assert [next(it) for _ in range(3)] == [b"447700900001\0", b"447700900002\0", b"447700900001\0"]
    it = iter(Destinations("0098-0100"))
    assert [next(it) for _ in range(4)] == [b"0098\0", b"0099\0", b"0100\0", b"0098\0"]
    with pytest.raises(ValueError, match="longer"):
        Destinations("1-" + "9" * 21)


def test_link_counts_answers_errors_and_receipts_before_their_response():
    stats = Stats()
    book = ReceiptBook(stats)
    link = Link(MessageSource([MessageSpec()], Destinations("1-9")), book, stats, window=3)
    assert pdu_codec.decode(link.bind_request()).sequence_number == 1
    link.receive(pdu_codec.encode(SubmitSmResp(sequence_number=1)).replace(b"\x80\x00\x00\x04", b"\x80\x00\x00\x09"), 0.0)
    assert link.bound and link.sending  # bind_transceiver_resp (the header patched from a submit_sm_resp)
    assert len(_frames(link.output(1.0))) == 3 and link.output(1.0) == b""  # the window is full
    receipt = DeliverSm(sequence_number=9, esm_class=4, short_message=b"id:abc stat:DELIVRD",
                        tlvs=tuple((int(t), v) for t, v in receipt_tlvs("abc", 2)))
    stream = (pdu_codec.encode(receipt)
              + pdu_codec.encode(SubmitSmResp(sequence_number=2, message_id="abc"))
              + pdu_codec.encode(SubmitSmResp(sequence_number=3, command_status=0x58))
              + pdu_codec.encode(SubmitSmResp(sequence_number=99, message_id="late")))
    for cut in (5, 40, len(stream)):  # fed in pieces, as TCP may deliver it
        link.receive(stream[:cut], 1.25)
        stream = stream[cut:]
    link.receive(pdu_codec.encode(SubmitSmResp(sequence_number=4, message_id="x")), 1.5)
    stats.roll(1.0, len(link.outstanding))
    assert stats.answered == 2 and stats.errors == {0x58: 1} and len(link.outstanding) == 0
    assert stats.receipts == 1 and book.by_stat == {"DELIVRD": 1} and book.pending == 1  # "x" waits
    assert stats.latency.percentile(50) == pytest.approx(0.25, rel=0.03)
    first, *submits = [pdu_codec.decode(f) for f in _frames(link.output(2.0))]
    assert first.command_id == CommandId.DELIVER_SM_RESP and first.sequence_number == 9
    assert len(submits) == 3  # the window opened again
    link.expire(11.9, 10.0)
    assert stats.timeouts == 0
    link.expire(12.0, 10.0)
    assert stats.timeouts == 3 and not link.outstanding


def test_open_loop_latency_counts_from_when_the_generator_got_to_a_submit():
    stats = Stats()
    link = Link(MessageSource([MessageSpec(registered_delivery=0)], Destinations("1-9")), ReceiptBook(stats),
                stats, window=2, closed_loop=False)
    link.bound = link.sending = True
    link.schedule(3, 1.000, 0.001, 1.005)  # intended at 1.000, 1.001, 1.002; the pump woke at 1.005
    assert stats.lag_total == pytest.approx(3 * 0.004) and stats.lag_max == pytest.approx(0.005)
    first = [pdu_codec.decode(f).sequence_number for f in _frames(link.output(1.005))]
    assert len(first) == 2 and link.backlog == 1  # the window holds the third back
    link.receive(pdu_codec.encode(SubmitSmResp(sequence_number=first[0], message_id="a")), 1.007)
    (third,) = [pdu_codec.decode(f).sequence_number for f in _frames(link.output(1.007))]
    link.receive(pdu_codec.encode(SubmitSmResp(sequence_number=first[1], message_id="b"))
                 + pdu_codec.encode(SubmitSmResp(sequence_number=third, message_id="c")), 1.010)
    stats.roll(1.0, 0)
    # 2 and 5 ms from 1.005: not from the intended times (7-10 ms), and the third's wait
    # for room in the window counts (not 3 ms from its own send at 1.007).
    assert stats.latency.percentile(1) == pytest.approx(0.002, rel=0.03)
    assert stats.latency.percentile(100) == pytest.approx(0.005, rel=0.03) and stats.latency.total == 3
    assert stats.lags.percentile(50) == pytest.approx(0.004, rel=0.03)


def test_receipt_book_settles_other_spellings_of_an_id():
    stats = Stats()
    book = ReceiptBook(stats)
    book.submitted("1A2B", 0.0)
    book.receipt("6699", "DELIVRD", 1.0)  # the same number in decimal
    book.receipt("6699", "DELIVRD", 1.1)
    book.receipt("zzz", "DELIVRD", 1.2)
    assert stats.duplicate_receipts == 1 and book.pending == 1
    book.settle()
    assert book.pending == 0 and stats.now.receipts == 1 and stats.unmatched_receipts == 1


def test_scenario_file_then_options(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text("""
[target]
port = 2776
binds = 3
[load]
mode = "open"
rate = 500
ramp = "step"
steps = [[0, 500], [5, 1000]]
[[message]]
kind = "long"
concatenation = "payload"
weight = 2
[[message]]
kind = "ucs2"
""")
    config = load_config(str(scenario), binds=4, host=None)
    assert (config.port, config.binds, config.host, config.mode) == (2776, 4, "127.0.0.1", "open")
    assert config.steps == ((0.0, 500.0), (5.0, 1000.0))
    assert config.messages == (MessageSpec("long", concatenation="payload", weight=2), MessageSpec("ucs2"))
    assert config.schedule().due(6) == 3500
    scenario.write_text("[load]\nrat = 5\n")
    with pytest.raises(ValueError, match="rat"):
        load_config(str(scenario))
    with pytest.raises(ValueError):
        LoadConfig(mode="open", ramp="linear")


def test_example_scenarios_load():
    from pathlib import Path

    from smsc.bench.carrier_sim import load_behaviour

    scenarios = sorted((Path(__file__).parents[2] / "bench" / "scenarios").glob("*.toml"))
    assert len(scenarios) >= 4
    for path in scenarios:
        config = load_config(str(path))
        behaviour = load_behaviour(str(path), {})
        assert config.messages and (behaviour.receipts or not path.name.startswith("carrier"))


def test_receipt_id_from_the_tlv_else_from_the_text():
    from smsc.bench.loadgen_core import receipt_of

    text_only = DeliverSm(esm_class=4, short_message=b"id:6699 sub:001 dlvrd:000 submit date:2611231200 "
                                                     b"done date:2611231201 stat:UNDELIV err:001 text:hi")
    assert receipt_of(text_only) == ("6699", "UNDELIV")
    both = DeliverSm(esm_class=4, short_message=b"id:1 stat:delivrd",
                     tlvs=tuple((int(t), v) for t, v in receipt_tlvs("abc", 2)))
    assert receipt_of(both) == ("abc", "DELIVRD")
    assert receipt_of(DeliverSm(esm_class=4, short_message=b"hello")) is None
    # the TLV with a text the quick stat reader does not take: the tolerant parser decides
    odd = DeliverSm(esm_class=4, short_message=b"id:1 Stat: Undeliv err:001",
                    tlvs=tuple((int(t), v) for t, v in receipt_tlvs("abc", 5)))
    assert receipt_of(odd) == ("abc", "UNDELIV")


def test_stat_word_reads_the_common_spelling_and_leaves_the_rest():
    from smsc.bench.loadgen_core import stat_word
    from smsc.dlr import build_text

    assert stat_word(build_text("a1", 2, 0.0, 60.0).encode()) == "DELIVRD"
    assert stat_word(b"stat:expired") == "EXPIRED"
    assert stat_word(b"id:1 substat:X") is None
    assert stat_word(b"id:1 Stat:DELIVRD") is None
    assert stat_word(b"id:1 stat: DELIVRD") is None


def test_command_line_options_over_the_scenario(tmp_path):
    from smsc.bench.loadgen import config_from_args
    from smsc.cli import build_parser

    scenario = tmp_path / "s.toml"
    scenario.write_text('[load]\nrate = 100\n[[message]]\nkind = "ucs2"\n[[message]]\nkind = "short"\n')
    args = build_parser().parse_args(["load", "--scenario", str(scenario), "--registered-delivery", "0",
                                      "--steps", "0:100,5:300", "--tls-insecure", "--port", "2776"])
    config = config_from_args(args)
    assert [m.kind for m in config.messages] == ["ucs2", "short"]
    assert all(m.registered_delivery == 0 for m in config.messages)
    assert (config.ramp, config.steps, config.tls, config.tls_verify, config.port) == (
        "step", ((0.0, 100.0), (5.0, 300.0)), True, False, 2776)
    args = build_parser().parse_args(["load", "--message", "long", "--concatenation", "sar", "--rate-to", "9"])
    config = config_from_args(args)
    assert config.messages == (MessageSpec("long", concatenation="sar"),) and config.ramp == "linear"
