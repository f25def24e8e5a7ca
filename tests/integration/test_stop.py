"""Stopping the runtime: every part stops even when one fails to, and the store is closed
whatever happens (its threads would otherwise keep `smsc serve` from exiting)."""
from __future__ import annotations

import os
import socket

from structlog.testing import capture_logs

from smsc.store.store import _lock
from tests.integration.conftest import ServerThread, make_config


def test_a_part_that_fails_to_stop_costs_neither_the_others_nor_the_store(tmp_path, monkeypatch):
    server = ServerThread(make_config(tmp_path))
    server.__enter__()
    try:
        port = server.port()

        async def broken() -> None:
            raise RuntimeError("a bug in stopping")

        stop_http = server.runtime.http.stop
        monkeypatch.setattr(server.runtime.http, "stop", broken)
        with capture_logs() as logs:
            server.call(server.runtime.stop())
        assert [(e["part"], e["error"]) for e in logs if e["event"] == "stop_failed"] == [
            ("http", "RuntimeError('a bug in stopping')")]
        assert server.runtime.forwarder._stopping  # the parts after it stopped too
        with socket.socket() as probe:  # and those before: the SMPP listener is closed
            assert probe.connect_ex(("127.0.0.1", port)) != 0
        os.close(_lock(str(tmp_path / "smsc.db")))  # the store closed: its lock is free again
        server.call(stop_http())  # what the failure left running, for a clean end
    finally:
        server.loop.call_soon_threadsafe(server.loop.stop)
        server.thread.join(10)
        server.loop.close()
