"""Retention: the running gateway deletes finished messages older than [store] retention,
with their history, and leaves live ones, however old."""
from __future__ import annotations

import msgspec

from smsc.smpp.constants import MessageState
from smsc.store import NewMessage, UnknownMessage

from .conftest import make_config

DAY = 86400.0


def test_the_runtime_purges_finished_messages_past_retention(serve, tmp_path):
    now = [1_800_000_000.0]
    config = make_config(tmp_path)
    config = msgspec.structs.replace(config, store=msgspec.structs.replace(config.store, retention=7 * DAY))
    server = serve(config, clock=lambda: now[0])
    store = server.store

    async def scenario():
        old_done, old_live = (await store.accept_many([NewMessage("shop", "Shop", "447700900001", {}),
                                                       NewMessage("shop", "Shop", "447700900002", {})],
                                                      now=now[0]))
        await store.update(old_done, MessageState.DELIVERED, now=now[0])
        now[0] += 8 * DAY
        recent = await store.accept(NewMessage("shop", "Shop", "447700900003", {}), now=now[0])
        await store.update(recent, MessageState.DELIVERED, now=now[0])
        purged = await server.runtime.purge_once()
        try:
            await store.get(old_done)
            gone = False
        except UnknownMessage:
            gone = True
        return purged, gone, (await store.get(old_live)).state, (await store.get(recent)).state

    purged, gone, live_state, recent_state = server.call(scenario())
    assert purged == 1 and gone
    assert live_state is MessageState.ENROUTE and recent_state is MessageState.DELIVERED
