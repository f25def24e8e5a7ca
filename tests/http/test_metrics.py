"""The counters and histograms kept in plain dicts (Tally, Timings) come out of a scrape
as Prometheus would read them: counters with _total, cumulative buckets whose `le`
includes a value on the bound, and their sum and count."""
from __future__ import annotations

import msgspec
import smpplib.consts
from prometheus_client.parser import text_string_to_metric_families

from smsc.config import Http
from smsc.http.metrics import Metrics
from tests.forwarding.conftest import account, forwarding_config
from tests.integration.conftest import PASSWORD, wait_for

from .conftest import Api


def scraped(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(metrics.render().decode())
            for sample in family.samples}


def test_tallies_and_timings_read_back_from_the_exposition_text():
    metrics = Metrics()
    metrics.accepted.inc("shop", "http", amount=3)
    metrics.accepted.inc("shop", "http")
    metrics.throttled.inc("smpp", "bank")
    for seconds in (0.0025, 0.003, 0.2, 99.0):  # on a bound, between, the last, beyond every bound
        metrics.submit_response.observe(seconds, "http")
    samples = scraped(metrics)
    assert samples[("smsc_messages_accepted_total", (("account", "shop"), ("channel", "http")))] == 4
    assert samples[("smsc_throttled_total", (("channel", "smpp"), ("name", "bank")))] == 1
    bucket = lambda le: samples[("smsc_submit_response_seconds_bucket", (("channel", "http"), ("le", le)))]  # noqa: E731
    assert (bucket("0.001"), bucket("0.0025"), bucket("0.005"), bucket("0.25"), bucket("10.0"), bucket("+Inf")) == (
        0, 1, 2, 3, 3, 4)
    assert samples[("smsc_submit_response_seconds_count", (("channel", "http"),))] == 4
    assert abs(samples[("smsc_submit_response_seconds_sum", (("channel", "http"),))] - 99.2055) < 1e-9


def test_receipt_latency_is_never_negative():
    metrics = Metrics()
    metrics.receipt_latency("shop", -5.0)  # a receipt stamped before its accept (clock skew)
    samples = scraped(metrics)
    assert samples[("smsc_submit_receipt_seconds_bucket", (("account", "shop"), ("le", "0.1")))] == 1
    assert samples[("smsc_submit_receipt_seconds_sum", (("account", "shop"),))] == 0


def test_smpp_throttling_and_the_forwarding_events_are_scraped(serve_http, tmp_path):
    config = msgspec.structs.replace(forwarding_config(tmp_path), http=Http(enabled=True, port=0),
                                     accounts=(account(rate=1.0),))
    server = serve_http(config)
    client = server.client()
    client.bind_transceiver(system_id="shop", password=PASSWORD)
    statuses = []
    for _ in range(4):  # one segment a second: the second and later are refused
        client.send_message(source_addr="Shop", destination_addr="447700900001", short_message=b"hi",
                            registered_delivery=1)
        statuses.append(client.read_pdu().status)
    assert statuses[0] == 0 and smpplib.consts.SMPP_ESME_RTHROTTLED in statuses[1:]
    refused = statuses.count(smpplib.consts.SMPP_ESME_RTHROTTLED)
    anonymous = Api(server.http_port, None)
    text = wait_for(lambda: (lambda t: 'event="receipts_applied"' in t and t)(anonymous.get("/metrics")[1]))
    assert f'smsc_throttled_total{{channel="smpp",name="shop"}} {float(refused)}' in text
    assert 'smsc_forwarding_events_total{event="submitted",side="forwarder"} 1.0' in text
    assert 'smsc_forwarding_events_total{event="receipts_applied",side="inbound"} 1.0' in text
    client.unbind()
    client.disconnect()
