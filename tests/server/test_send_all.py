"""Connection.send_all: several PDUs with one state check, each refused one reported by its
context while the others still go (a real server, store and Session; the transport only
keeps what is written)."""
from __future__ import annotations

import asyncio

from smsc.aio.server import SmppServer
from smsc.bench.accept_bench import KeepingTransport
from smsc.codec import pdu as pdu_codec
from smsc.config import Account, Config, Listener, Smpp, Store as StoreConfig
from smsc.gateway import Gateway
from smsc.passwords import hash_password
from smsc.smpp.pdus import BindTransceiver, DeliverSm
from smsc.store import Store


def test_a_refused_pdu_is_reported_and_the_others_are_written(tmp_path):
    async def scenario():
        config = Config(smpp=Smpp(listeners=(Listener(host="127.0.0.1", port=0),)),
                        store=StoreConfig(path=str(tmp_path / "smsc.db")),
                        accounts=(Account(system_id="shop", password_hash=hash_password("pw")),))
        store = await Store.from_config(config)
        server = SmppServer(config, Gateway(config, store))
        await server.start()
        try:
            conn = server._connection(0)
            transport = KeepingTransport()
            conn.connection_made(transport)  # type: ignore[arg-type]
            conn.data_received(pdu_codec.encode(BindTransceiver(sequence_number=1, system_id="shop", password="pw")))
            for _ in range(500):
                if conn.account is not None:
                    break
                await asyncio.sleep(0.01)
            conn._flush()
            transport.writes.clear()
            good, bad = DeliverSm(short_message=b"one"), DeliverSm(esm_class=300)  # 300: no octet
            a, b, c, d = (asyncio.get_running_loop().create_future() for _ in range(4))
            unsent = conn.send_all([(good, a), (bad, b), (good, c)])
            outstanding = conn.session.outstanding
            conn._flush()
            data = b"".join(transport.writes)
            conn.close()
            conn.connection_lost(None)
            closed = conn.send_all([(good, d)])
            lost = [type(future.exception()) for future in (a, c)]  # settled as the connection went
            return unsent == [b], outstanding, data, closed == [d], lost
        finally:
            await server.stop()
            await store.close()

    only_bad, outstanding, data, only_last, lost = asyncio.run(scenario())
    assert only_bad and outstanding == 2
    first = pdu_codec.decode(data[:int.from_bytes(data[:4], "big")])
    second = pdu_codec.decode(data[len(data) // 2:])
    assert (first.short_message, second.short_message) == (b"one", b"one")
    assert second.sequence_number == first.sequence_number + 1
    assert only_last  # the connection gone: nothing sent
    assert lost == [ConnectionError, ConnectionError]
