"""kill -9 in the middle of accepting: every id a caller got back is in the file, intact."""
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from smsc.store import Store

WRITER = Path(__file__).with_name("crash_writer.py")
ROOT = Path(__file__).resolve().parents[2]


def test_every_acknowledged_accept_survives_kill_9(db_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen([sys.executable, str(WRITER), db_path, "20"], stdout=subprocess.PIPE,
                               text=True, env=env)
    acknowledged = []
    deadline = time.monotonic() + 30
    try:
        while len(acknowledged) < 3000 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            acknowledged.append(line.split())
        os.kill(process.pid, signal.SIGKILL)  # mid-run: accepts are still in flight
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    # Lines already written before the kill were acknowledged too.
    acknowledged += [line.split() for line in process.stdout.read().splitlines() if len(line.split()) == 2]
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 3000

    async def reopen():
        store = await Store.open(db_path)
        try:
            return [await store.get(message_id) for message_id, _ in acknowledged]
        finally:
            await store.close()

    for (message_id, n), stored in zip(acknowledged, asyncio.run(reopen())):
        n = int(n)
        assert stored.id == message_id and stored.destination == f"4477{n:08d}"
        assert stored.body == {"n": n, "short_message": f"message {n}".encode(), "tlvs": [[0x020C, n % 65536]]}
