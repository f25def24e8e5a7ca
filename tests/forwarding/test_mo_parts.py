"""Parts of a concatenated MO are committed before the carrier hears ESME_ROK: a restart
between two parts loses nothing, and a message left incomplete is still delivered."""
from __future__ import annotations

import asyncio

from smsc.aio.inbound import Inbound
from smsc.config import MoRoute
from smsc.smpp.constants import EsmClass, Tag
from smsc.smpp.pdus import DeliverSm
from smsc.store import Store
from tests.forwarding.conftest import forwarding_config

UCS2 = 0x08


def part(seq: int, text: str, total: int = 2, reference: int = 0x42) -> DeliverSm:
    udh = bytes((5, 0, 3, reference, total, seq))
    return DeliverSm(source_addr="447700900777", destination_addr="12345", esm_class=EsmClass.UDHI,
                     data_coding=UCS2, short_message=udh + text.encode("utf-16-be"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def kept_parts(store: Store) -> int:
    async with store.reader.execute("SELECT COUNT(*) FROM mo_parts") as cursor:
        (count,) = await cursor.fetchone()
    return count


async def queued_mo(store: Store) -> list[dict]:
    claim = store.claim_outbound("shop")
    try:
        return [item.body for item in await claim.take(10)]
    finally:
        await claim.release()


def config_of(tmp_path):
    return forwarding_config(tmp_path, mo_routes=(MoRoute(name="replies", account="shop"),))


def test_a_restart_between_the_parts_of_an_mo_loses_nothing(tmp_path):
    async def scenario():
        config, path = config_of(tmp_path), str(tmp_path / "s.db")
        upstream = config.upstreams[0]
        store = await Store.open(path)
        first = Inbound(config, store)
        assert await first.handle(upstream, part(2, "world")) == 0  # answered once committed
        assert await kept_parts(store) == 1 and await queued_mo(store) == []
        await store.close()  # the process goes; its reassembler with it

        store = await Store.open(path)
        try:
            second = Inbound(config, store)
            await second.resume()
            assert second.counters["mo_parts_resumed"] == 1
            assert await second.handle(upstream, part(1, "Hello ")) == 0
            queued = await queued_mo(store)
            return queued, await kept_parts(store)
        finally:
            await store.close()

    queued, left = asyncio.run(scenario())
    assert len(queued) == 1 and left == 0
    assert dict(map(tuple, queued[0]["tlvs"]))[Tag.MESSAGE_PAYLOAD] == "Hello world".encode("utf-16-be")
    assert "incomplete" not in queued[0]


def test_an_mo_whose_other_parts_never_come_is_delivered_flagged_after_the_timeout_even_across_a_restart(tmp_path):
    async def scenario():
        config, path = config_of(tmp_path), str(tmp_path / "s.db")
        upstream = config.upstreams[0]
        store = await Store.open(path)
        assert await Inbound(config, store).handle(upstream, part(1, "Hello ", total=3)) == 0
        await store.close()

        store = await Store.open(path)
        try:
            monotonic = Clock()
            inbound = Inbound(config, store, monotonic=monotonic)
            await inbound.resume()
            await inbound.housekeeping()
            assert await kept_parts(store) == 1  # still waiting for the rest
            monotonic.now += config.forwarding.mo_reassembly_timeout + 1
            await inbound.housekeeping()
            return await queued_mo(store), await kept_parts(store)
        finally:
            await store.close()

    queued, left = asyncio.run(scenario())
    assert len(queued) == 1 and queued[0]["incomplete"] is True and left == 0
