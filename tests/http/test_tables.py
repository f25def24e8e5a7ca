"""The HTTP tables on a real store: an Idempotency-Key commits with its messages, is
forgotten after its time; client references go with their purged messages; consent rows
change opt-outs and only append to the audit."""
from __future__ import annotations

import asyncio

import pytest

from smsc.smpp.constants import MessageState
from smsc.store import NewMessage, Store
from smsc.store import http_tables

NOW = 1_795_000_000.0


def run(tmp_path, scenario):
    async def main():
        store = await Store.open(str(tmp_path / "smsc.db"), clock=lambda: NOW)
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(main())


def message(ref: str | None = None) -> NewMessage:
    body = {"short_message": b"hi"} | ({"client_ref": ref} if ref else {})
    return NewMessage(account="shop", source="Shop", destination="447700900001", body=body)


def test_a_key_replays_its_answer_until_forgotten(tmp_path):
    async def scenario(store):
        key = ("shop", "k1", b"fingerprint")
        answer = lambda ids: {"ids": ids}  # noqa: E731
        first, replayed = await http_tables.accept_messages(store, [message("r")], NOW, answer=answer, idempotency=key)
        again = await http_tables.accept_messages(store, [message("r")], NOW, answer=answer, idempotency=key)
        with pytest.raises(http_tables.IdempotencyConflict):
            await http_tables.accept_messages(store, [message()], NOW, answer=answer,
                                              idempotency=("shop", "k1", b"other"))
        assert await http_tables.forget_idempotency(store, NOW - 1) == 0
        assert await http_tables.forget_idempotency(store, NOW + 1) == 1
        later, replayed_later = await http_tables.accept_messages(store, [message()], NOW, answer=answer,
                                                                  idempotency=key)
        refs = [message.id for message in await http_tables.by_client_ref(store, "shop", "r")]
        return first, replayed, again, later, replayed_later, refs

    first, replayed, again, later, replayed_later, refs = run(tmp_path, scenario)
    assert not replayed and again == (first, True)
    assert not replayed_later and later != first
    assert refs == first["ids"]


def test_consent_rows_change_optouts_and_append_to_the_audit(tmp_path):
    async def scenario(store):
        rows = [("shop", "", "447700900001", "opt-out", "sms", "STOP", NOW),
                ("shop", "", "447700900002", "opt-out", "import", "", NOW),
                ("shop", "", "447700900001", "opt-in", "sms", "START", NOW + 1)]
        await http_tables.record_consent(store, rows)
        with pytest.raises(ValueError):
            await http_tables.record_consent(store, [("shop", "", "1", "maybe", "sms", "", NOW)])
        return await http_tables.optouts(store, "shop"), await http_tables.consent_audit(store, "shop")

    optouts, audit = run(tmp_path, scenario)
    assert [handset for _, _, handset, _ in optouts] == ["447700900002"]
    assert [(handset, event) for _, handset, event, *_ in audit] == [
        ("447700900001", "opt-out"), ("447700900002", "opt-out"), ("447700900001", "opt-in")]


def test_client_refs_go_with_their_purged_messages_and_live_ones_stay(tmp_path):
    week = 7 * 86400.0
    old = NOW - 2 * week

    async def scenario(store):
        answer = lambda ids: {"ids": ids}  # noqa: E731
        done_id, live_id, new_id = [(await http_tables.accept_messages(store, [message("a")], when, answer=answer))[0]
                                    ["ids"][0] for when in (old, old, NOW)]
        for message_id in (done_id, new_id):
            await store.update(message_id, MessageState.DELIVERED, now=NOW)
        # Before the store purges anything, every reference has its message.
        assert await http_tables.forget_client_refs(store, NOW - week) == 0
        assert await store.purge(NOW - week) == 1  # the old final one only
        forgotten = await http_tables.forget_client_refs(store, NOW - week)
        refs = [message.id for message in await http_tables.by_client_ref(store, "shop", "a")]
        return forgotten, refs, live_id, new_id

    forgotten, refs, live_id, new_id = run(tmp_path, scenario)
    assert forgotten == 1 and refs == [live_id, new_id]
