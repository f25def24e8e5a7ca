"""bench/store_bench.py --cycle runs the store's share of full cycles and counts them."""
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "store_bench.py"


def test_the_cycle_counts_every_message_whose_receipt_was_applied(tmp_path):
    output = subprocess.run([sys.executable, str(BENCH), "--cycle", "--json-line", "--per-batch", "20",
                             "--messages", "200", "--sql", "--dir", str(tmp_path)],
                            capture_output=True, text=True, check=True, timeout=120).stdout
    figures = json.loads(output.splitlines()[-1])
    assert figures["messages"] == 200  # 12 batches of 20: the last two batches' receipts are not counted
    assert figures["per_commit"] > 1  # the requests of a batch share one transaction
    assert {"INSERT INTO messages", "UPDATE messages SET", "INSERT INTO outbound", "UPDATE outbound SET",
            "COMMIT"} <= figures["sql_us_per_message"].keys()
