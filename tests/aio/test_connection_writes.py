"""When a connection writes its answers to submits: as soon as their commit is done, once
per commit, whatever the reads they came in. A real server, gateway and store; the
transport is the one thing replaced, by one that keeps what is written (no socket: the
in-process benchmark's)."""
from __future__ import annotations

import asyncio
import struct
from typing import Any

from smsc.aio.server import SmppServer
from smsc.bench.accept_bench import KeepingTransport
from smsc.codec import pdu as pdu_codec
from smsc.config import Account, Config, Listener, Smpp, Store as StoreConfig
from smsc.gateway import Gateway
from smsc.passwords import hash_password
from smsc.smpp.constants import CommandId
from smsc.smpp.pdus import BindTransceiver, SubmitSm
from smsc.store import Store

HEADER = struct.Struct(">IIII")


def answered(data: bytes) -> list[int]:
    """Sequence numbers of the submit_sm_resp (status 0) in `data`."""
    sequences, pos = [], 0
    while pos < len(data):
        length, command, status, sequence = HEADER.unpack_from(data, pos)
        assert (command, status) == (CommandId.SUBMIT_SM_RESP, 0)
        sequences.append(sequence)
        pos += length
    return sequences


def submits(first: int, count: int) -> bytes:
    return b"".join(pdu_codec.encode(SubmitSm(sequence_number=n, source_addr="Shop", destination_addr="447700900001",
                                              short_message=b"hello")) for n in range(first, first + count))


def run_connection(tmp_path, scenario) -> Any:
    async def main() -> Any:
        password = "pw"
        config = Config(smpp=Smpp(listeners=(Listener(host="127.0.0.1", port=0),)),
                        store=StoreConfig(path=str(tmp_path / "smsc.db")),
                        accounts=(Account(system_id="shop", password_hash=hash_password(password), window=1000),))
        store = await Store.from_config(config)
        server = SmppServer(config, Gateway(config, store))
        await server.start()
        transport = KeepingTransport()
        conn = server._connection(0)  # as the listener makes it
        conn.connection_made(transport)  # type: ignore[arg-type]
        conn.data_received(pdu_codec.encode(BindTransceiver(sequence_number=1, system_id="shop", password=password)))
        for _ in range(500):
            if conn.account is not None and transport.writes:
                break
            await asyncio.sleep(0.01)
        transport.writes.clear()  # the bind's answer
        try:
            return await scenario(conn, transport)
        finally:
            conn.close()
            conn.connection_lost(None)
            await server.stop()
            await store.close()

    return asyncio.run(main())


async def until_answered(conn: Any, transport: KeepingTransport, count: int) -> None:
    for _ in range(500):
        if sum(len(answered(w)) for w in transport.writes) >= count and not conn._commits:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the submits were not all answered")


def test_a_reads_answers_leave_in_one_write_as_soon_as_committed(tmp_path):
    async def scenario(conn, transport):
        conn.data_received(submits(2, 50))
        assert not transport.writes  # nothing before the commit
        # A callback added after the connection's runs right after it, in the same turn:
        # the answers are written by then, not at the end of the turn.
        written_by_then: list[int] = []
        conn._commits[-1].add_done_callback(lambda _: written_by_then.append(len(transport.writes)))
        await until_answered(conn, transport, 50)
        return transport.writes, written_by_then

    writes, written_by_then = run_connection(tmp_path, scenario)
    assert len(writes) == 1 and answered(writes[0]) == list(range(2, 52))
    assert written_by_then == [1]


def test_reads_committed_together_are_answered_in_one_write(tmp_path):
    async def scenario(conn, transport):
        # Three reads before the store's writer runs: one commit, so one write for all.
        for first in (2, 22, 42):
            conn.data_received(submits(first, 20))
        await until_answered(conn, transport, 60)
        return transport.writes

    writes = run_connection(tmp_path, scenario)
    assert len(writes) == 1 and answered(writes[0]) == list(range(2, 62))
