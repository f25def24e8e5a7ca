"""kill -9 under load: every submit the gateway acknowledged survives the crash.

A `smsc serve` subprocess takes pipelined submits from a raw-socket client that records
every submit_sm_resp; once some hundreds are acknowledged it is killed with SIGKILL in
the middle of the stream. A new gateway on the same store must know every acknowledged
id (query_sm: ENROUTE), the store must hold each one's text as sent, and at least as
many messages as were acknowledged (submits in flight may be stored unanswered).
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from smsc.smpp.constants import MessageState
from smsc.store import Store

from . import raw
from .conftest import PASSWORD, password_hash

ACKED_BEFORE_KILL = 600
WINDOW = 50
QUERY_SM_RESP = raw.QUERY_SM | raw.RESP

CONFIG = """\
[[smpp.listeners]]
host = "127.0.0.1"
port = 0
[store]
path = "{store}"
writer = "{writer}"
[log]
level = "warning"
[[accounts]]
system_id = "crash"
password_hash = "{password_hash}"
window = {window}
rate = 1000000.0
"""


def text(sequence: int) -> bytes:
    return b"crash test message %d" % sequence


class Gateway:
    """`smsc serve` in a subprocess on the store in `tmp`."""

    def __init__(self, tmp: Path, more_config: str = "", writer: str = "loop") -> None:
        config = tmp / "smsc.toml"
        config.write_text(CONFIG.format(store=tmp / "smsc.db", password_hash=password_hash(PASSWORD), window=WINDOW,
                                        writer=writer) + more_config)
        self.log = open(tmp / "serve.log", "a")
        self.process = subprocess.Popen([sys.executable, "-m", "smsc", "serve", "-c", str(config)],
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        match = re.search(r"listening on [\d.]+:(\d+)", line)
        assert match, f"serve did not start: {line!r}, see {tmp / 'serve.log'}"
        self.port = int(match.group(1))

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        bound = raw.request(sock, raw.BIND_TRANSCEIVER, 1, raw.bind_body("crash", PASSWORD))
        assert bound.status == 0
        return sock

    def stop(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)
        self.process.wait(20)
        self.log.close()


class Submitter:
    """Pipelined submits (at most WINDOW unanswered), every answer recorded."""

    def __init__(self, sock: socket.socket, registered_delivery: int = 0) -> None:
        self.sock = sock
        self.registered_delivery = registered_delivery
        self.acked: dict[str, int] = {}  # message id -> sequence of its submit
        self.refused = 0
        self.room = threading.Semaphore(WINDOW)
        self.done = threading.Event()

    def send(self) -> None:
        sequence = 2
        try:
            while not self.done.is_set() and sequence < 1_000_000:
                if not self.room.acquire(timeout=0.2):
                    continue
                body = raw.submit_body(text=text(sequence), registered_delivery=self.registered_delivery)
                self.sock.sendall(raw.pdu(raw.SUBMIT_SM, sequence, body))
                sequence += 1
        except OSError:
            pass  # the gateway is gone

    def read(self) -> None:
        try:
            while True:
                got = raw.read(self.sock)
                if got.command_id == raw.SUBMIT_SM | raw.RESP:
                    if got.status == 0:
                        self.acked[got.body.rstrip(b"\0").decode()] = got.sequence
                    else:
                        self.refused += 1
                    self.room.release()
        except (OSError, ConnectionError):
            pass
        finally:
            self.done.set()


def kill_under_load(gateway: Gateway, submitter: Submitter, ready: Callable[[], bool] = lambda: True,
                    kill: Callable[[], None] | None = None) -> dict[str, int]:
    """Submit until ACKED_BEFORE_KILL are acknowledged and `ready()`, then SIGKILL the
    gateway (or `kill()`) with submits in flight and wait for the gateway to end; the
    acknowledged ids (with their submit's sequence)."""
    threads = [threading.Thread(target=submitter.send), threading.Thread(target=submitter.read)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while ((len(submitter.acked) < ACKED_BEFORE_KILL or not ready())
           and time.monotonic() < deadline and not submitter.done.is_set()):
        time.sleep(0.005)
    (kill or gateway.process.kill)()
    gateway.process.wait(20)
    submitter.done.wait(10)
    submitter.done.set()
    for thread in threads:
        thread.join(10)
    submitter.sock.close()
    acked = dict(submitter.acked)
    assert len(acked) >= ACKED_BEFORE_KILL
    return acked


def query_all(sock: socket.socket, ids: list[str]) -> dict[str, tuple[int, int | None]]:
    """(command_status, message_state) of query_sm for each id, pipelined."""
    answers: dict[str, tuple[int, int | None]] = {}
    for start in range(0, len(ids), WINDOW):
        chunk = dict(enumerate(ids[start:start + WINDOW], start + 1))  # sequence -> id
        sock.sendall(b"".join(raw.pdu(raw.QUERY_SM, sequence, raw.cstr(message_id) + bytes((5, 0)) + raw.cstr("Shop"))
                              for sequence, message_id in chunk.items()))
        for _ in chunk:
            got = raw.read(sock)
            assert got.command_id == QUERY_SM_RESP
            state = raw.cstrings(got.body, 2)[1][0] if got.status == 0 else None  # after message_id, final_date
            answers[chunk[got.sequence]] = (got.status, state)
    return answers


async def stored(tmp_path: Path, acked: dict[str, int]) -> tuple[dict[str, bytes], int]:
    """The text stored for each acknowledged id, and how many messages the store holds."""
    store = await Store.open(str(tmp_path / "smsc.db"))
    try:
        texts = {message_id: (await store.get(message_id)).body["short_message"] for message_id in acked}
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "smsc.db") as db:
        (count,) = db.execute("SELECT COUNT(*) FROM messages").fetchone()
    return texts, count


@pytest.mark.timeout(90)
@pytest.mark.parametrize("writer", ["loop", "process"])
def test_acknowledged_submits_survive_kill_9(tmp_path, writer):
    # With the writer in its own process, that process finishes what was queued and
    # exits by itself, and the gateway restarted at once waits for it.
    gateway = Gateway(tmp_path, writer=writer)
    submitter = Submitter(gateway.connect())
    acked = kill_under_load(gateway, submitter)
    assert submitter.refused == 0

    restarted = Gateway(tmp_path, writer=writer)
    try:
        sock = restarted.connect()
        answers = query_all(sock, list(acked))
        sock.close()
    finally:
        restarted.stop()
    assert {answers[message_id] for message_id in acked} == {(0, MessageState.ENROUTE)}

    texts, count = asyncio.run(stored(tmp_path, acked))
    assert all(texts[message_id] == text(sequence) for message_id, sequence in acked.items())
    assert count >= len(acked)


@pytest.mark.timeout(90)
def test_a_gateway_whose_writer_process_dies_stops_with_an_error_and_keeps_what_it_acknowledged(tmp_path):
    gateway = Gateway(tmp_path, writer="process")
    writer = int(Path(f"/proc/{gateway.process.pid}/task/{gateway.process.pid}/children").read_text().split()[0])
    acked = kill_under_load(gateway, Submitter(gateway.connect()), kill=lambda: os.kill(writer, signal.SIGKILL))
    # It stopped rather than take what it cannot store; submits meanwhile were refused.
    assert gateway.process.returncode == 1
    gateway.log.close()
    assert "writer process exited" in (tmp_path / "serve.log").read_text()
    texts, _ = asyncio.run(stored(tmp_path, acked))
    assert all(texts[message_id] == text(sequence) for message_id, sequence in acked.items())
