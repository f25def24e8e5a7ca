"""Store.accept_many: the submits of one read in one request (the SMPP hot path)."""
from __future__ import annotations

import asyncio

import pytest

from smsc.smpp.constants import MessageState
from smsc.store import parse_id

from .conftest import NOW, message

BOTH_WRITERS = True  # each scenario also runs with the writer in its own process


def test_ids_come_in_order_and_every_message_is_committed(in_store):
    async def scenario(store):
        alone = store.accept(message(body={"n": -1}), now=NOW)
        together = store.accept_many([message(body={"n": n}) for n in range(5)], now=NOW)
        ids = await together
        return await alone, ids, [(await store.get(i)).body["n"] for i in ids]

    alone, ids, bodies = in_store(scenario)
    assert bodies == list(range(5))
    assert ids == sorted(ids) and len(set(ids) | {alone}) == 6
    assert all(parse_id(i) for i in ids)


def test_nothing_to_accept_is_done_at_once(in_store):
    async def scenario(store):
        before = store.transactions
        ids = await store.accept_many([], now=NOW)
        return ids, store.transactions - before

    assert in_store(scenario) == ([], 0)


def test_a_body_msgpack_cannot_carry_fails_that_request_only(in_store):
    async def scenario(store):
        return await asyncio.gather(store.accept_many([message(), message(body={"x": object()})], now=NOW),
                                    store.accept_many([message()], now=NOW), return_exceptions=True)

    failed, ok = in_store(scenario)
    assert isinstance(failed, TypeError)
    assert len(ok) == 1


@pytest.mark.loop_writer
def test_a_failed_batch_fails_every_message_in_it(in_store, monkeypatch):
    async def scenario(store):
        def broken(payloads):
            raise RuntimeError("disk gone")

        monkeypatch.setattr(store, "_insert_accepts", broken)
        with pytest.raises(RuntimeError):
            await store.accept_many([message(), message()], now=NOW)
        monkeypatch.undo()
        return await store.accept_many([message()], now=NOW)

    assert len(in_store(scenario)) == 1


def test_full_sync_commits_on_a_thread_and_answers_after_it(in_store, db_path):
    import sqlite3

    async def scenario(store):
        ids = await asyncio.gather(*(store.accept_many([message(body={"n": n})], now=NOW) for n in range(50)))
        with sqlite3.connect(db_path) as db:  # another connection sees every answered row
            (count,) = db.execute("SELECT COUNT(*) FROM messages").fetchone()
        return store.synchronous, [i for batch in ids for i in batch], count

    synchronous, ids, count = in_store(scenario, synchronous="FULL")
    assert synchronous == "FULL" and len(set(ids)) == count == 50


@pytest.mark.loop_writer
def test_with_accepts_first_a_batch_answers_its_accepts_before_writing_the_rest_and_the_rest_goes_next(in_store):
    # As in a writer process (smsc.store.process): a submit_sm_resp does not wait for the
    # receipts and sent records of its batch; those are the next commit, whole, even if
    # more accepts came meanwhile (they join it).
    async def scenario(store):
        store.accepts_first = True
        earlier = await store.accept(message(), now=NOW)
        done: list[tuple[str, int]] = []

        def heard(what):
            return lambda _: done.append((what, store.transactions))

        def accepted(_):
            heard("accept")(_)
            store.accept(message(), now=NOW).add_done_callback(heard("later accept"))

        store.update(earlier, MessageState.DELIVERED, now=NOW).add_done_callback(heard("change"))
        store.accept(message(), now=NOW).add_done_callback(accepted)
        before = store.transactions
        while len(done) < 3:
            await asyncio.sleep(0.01)
        return sorted(done, key=lambda entry: entry[1]), before

    done, before = in_store(scenario)
    assert done[0] == ("accept", before + 1)
    assert sorted(done[1:]) == [("change", before + 2), ("later accept", before + 2)]
