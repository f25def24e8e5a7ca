"""kill -9 while forwarding: every acknowledged message still reaches its final state once.

A `smsc serve` subprocess forwards to a carrier simulator subprocess (receipts after
0-0.6 s) while a raw-socket client submits, each asking for a receipt. It is killed with
SIGKILL once hundreds are acknowledged, with messages at every stage: waiting, sent and
unanswered, sent and awaiting the receipt, receipted. A new gateway on the same store
binds again; the carrier delivers again what it never had answered (as carriers do).
Every acknowledged message must end DELIVERED, each with exactly one client receipt
queued, whatever the carrier saw twice.
"""
from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from smsc.smpp.constants import MessageState

from .test_crash import Gateway, Submitter, kill_under_load

ROUTING = """
[[upstreams]]
name = "carrier"
port = {port}
system_id = "smsc"
window = 50
throughput = 100000.0
reconnect = {{ initial = 0.1, max = 0.5 }}
[[routes]]
name = "all"
upstream = "carrier"
"""


def carrier(tmp: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-m", "smsc", "carrier-sim", "--port", "0", "--receipts",
                                "--receipt-delay", "0.3", "--receipt-distribution", "uniform"],
                               stdout=subprocess.PIPE, stderr=open(tmp / "carrier.log", "w"), text=True)
    match = re.search(r"listening on [\d.]+:(\d+)", process.stdout.readline())  # type: ignore[union-attr]
    assert match, f"the carrier simulator did not start, see {tmp / 'carrier.log'}"
    threading.Thread(target=process.stdout.read, daemon=True).start()  # type: ignore[union-attr]
    return process, int(match.group(1))


def receipted(path: Path) -> bool:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT 1 FROM messages WHERE final IS NOT NULL LIMIT 1").fetchone() is not None


def final_states(path: Path, ids: list[str]) -> dict[str, int | None]:
    with sqlite3.connect(path) as db:
        return {message_id: db.execute("SELECT CASE WHEN final IS NOT NULL THEN state END FROM messages WHERE id = ?",
                                       (int(message_id, 16),)).fetchone()[0] for message_id in ids}


@pytest.mark.timeout(120)
def test_acknowledged_messages_reach_one_final_state_across_kill_9(tmp_path):
    sim, port = carrier(tmp_path)
    try:
        gateway = Gateway(tmp_path, ROUTING.format(port=port))
        submitter = Submitter(gateway.connect(), registered_delivery=1)
        # SIGKILL with submits, forwards and receipts in flight, once one is receipted.
        acked = list(kill_under_load(gateway, submitter, lambda: receipted(tmp_path / "smsc.db")))
        assert submitter.refused == 0
        before = final_states(tmp_path / "smsc.db", acked)
        assert 0 < sum(1 for state in before.values() if state) < len(acked)  # killed mid-way

        restarted = Gateway(tmp_path, ROUTING.format(port=port))
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = final_states(tmp_path / "smsc.db", acked)
                if all(states.values()):
                    break
                time.sleep(0.2)
        finally:
            restarted.stop()
    finally:
        sim.terminate()
        sim.wait(10)
    assert set(states.values()) == {MessageState.DELIVERED}
    with sqlite3.connect(tmp_path / "smsc.db") as db:
        receipts = dict(db.execute("SELECT message_id, COUNT(*) FROM outbound WHERE kind = 'receipt'"
                                   " GROUP BY message_id").fetchall())
    assert {receipts.get(int(message_id, 16)) for message_id in acked} == {1}
