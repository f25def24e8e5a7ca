"""The load generator against the gateway itself (`smsc serve`'s runtime): every submit
answered, and the account's rate and window seen from outside."""
from __future__ import annotations

import pytest

from smsc.bench import loadgen
from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_messages import MessageSpec

from tests.integration.conftest import PASSWORD, ServerThread, account, make_config

MIX = (MessageSpec("short", weight=2, registered_delivery=0), MessageSpec("long", registered_delivery=0),
       MessageSpec("ucs2", registered_delivery=0))


def test_every_submit_is_committed_and_answered(tmp_path):
    config = make_config(tmp_path, accounts=(account(rate=100_000.0, window=50),))
    with ServerThread(config) as server:
        result = loadgen.run(LoadConfig(port=server.port(), system_id="shop", password=PASSWORD, binds=2,
                                        window=20, count=400, duration=0, receipt_wait=0, messages=MIX),
                             progress=False)
    assert result["sent"] == result["answered"] == 400
    assert result["error_total"] == result["timeouts"] == result["disconnects"] == 0


def test_the_account_rate_answers_throttled_above_it(tmp_path):
    config = make_config(tmp_path, accounts=(account(rate=200.0),))
    with ServerThread(config) as server:
        result = loadgen.run(LoadConfig(port=server.port(), system_id="shop", password=PASSWORD, mode="open",
                                        rate=600, duration=1.5, receipt_wait=0, window=10,
                                        messages=(MessageSpec(registered_delivery=0),)), progress=False)
    assert result["answered"] + result["error_total"] == result["sent"] == pytest.approx(900, rel=0.05)
    assert result["errors"]["ESME_RTHROTTLED"] > 300
    assert result["answered"] == pytest.approx(200 * 1.5 + 200, abs=150)  # rate x time + the burst
