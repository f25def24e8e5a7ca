"""bench/e2e_bench.py end to end for a second: the three processes as the benchmark runs
them (this one generating, `smsc serve`, `smsc carrier-sim --receipts`), and every
figure it reports agreeing with the others."""
from __future__ import annotations

import json

from smsc.bench import e2e_bench


def test_a_short_run_receipts_every_message_once_and_reports_each_process(tmp_path):
    # The gateway's store writer in its own process: its CPU is counted with the gateway's.
    out = tmp_path / "e2e.json"
    assert e2e_bench.main(["--duration", "1", "--rate", "200", "--writer", "process", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    generated, store = result["generator"], result["store"]
    assert generated["sent"] == generated["answered"] >= 150 and not generated["errors"]
    receipts = generated["receipts"]
    assert receipts["matched"] == receipts["expected"] == generated["answered"]
    assert receipts["duplicates"] == receipts["unmatched"] == receipts["never_receipted"] == 0
    assert receipts["by_stat"] == {"DELIVRD": generated["answered"]}
    # what the generator heard is what the store holds: forwarded, final, nothing more
    assert store["messages"] == store["forwarded"] == store["final"] == generated["answered"]
    cpu = result["cpu_us_per_message"]
    assert set(cpu) == {"smsc", "smsc_loop", "generator", "carrier_sim"}
    assert all(value > 0 for value in cpu.values())
    assert cpu["smsc"] > cpu["smsc_loop"]  # the gateway's process and its writer's
    assert result["rss_peak_mb"] > 10


def test_py_spy_samples_are_summed_by_the_file_of_their_innermost_frame(tmp_path):
    raw = tmp_path / "smsc.txt"
    raw.write_text("main (smsc/cli.py:3);_commit (smsc/store/store.py:551) 6\n"
                   "main (smsc/cli.py:3);_drain (smsc/aio/upstream.py:191);next_event (smsc/smpp/session.py:164) 3\n"
                   "main (smsc/cli.py:3) 1\n")
    assert e2e_bench.samples_by_file(raw) == {"smsc/store/store.py": 60.0, "smsc/smpp/session.py": 30.0,
                                              "smsc/cli.py": 10.0}
    assert list(e2e_bench.samples_by_file(raw, top=1)) == ["smsc/store/store.py"]


def test_alternating_runs_pass_on_every_option_but_their_own_and_the_json_path():
    argv = ["--duration", "15", "--against", "../before", "--rounds=4", "--rate", "2500", "--json", "out.json",
            "--py-spy=spy"]
    assert e2e_bench.passed_on(argv) == ["--duration", "15", "--rate", "2500", "--py-spy=spy"]
