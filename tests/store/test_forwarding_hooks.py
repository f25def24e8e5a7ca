"""What the store offers the forwarder's hot path: `update_many` (where a read's worth of
messages went, in one request) and `accepted_hook` (committed messages handed over
without being read back)."""
import asyncio

import pytest

from smsc.smpp.constants import MessageState
from smsc.store import MessageFinal, ReceiptOutcome, UnknownMessage

from .conftest import NOW, message

BOTH_WRITERS = True  # each scenario also runs with the writer in its own process

S = MessageState


def test_update_many_records_each_carrier_id_and_keeps_the_state(in_store):
    async def scenario(store):
        ids = await store.accept_many([message(), message(destination="447700900002")], now=NOW)
        outcomes = await store.update_many([(ids[0], "sim", "c1"), (ids[1], "sim", "c2")], now=NOW + 1)
        return outcomes, [await store.get(i) for i in ids], [await store.history(i) for i in ids]

    outcomes, stored, histories = in_store(scenario)
    assert outcomes == [None, None]
    assert [(m.upstream, m.carrier_id, m.state, m.updated) for m in stored] == [
        ("sim", "c1", S.ENROUTE, NOW + 1), ("sim", "c2", S.ENROUTE, NOW + 1)]
    assert all(len(history) == 1 for history in histories)  # no state move, no history row


def test_update_many_reports_each_change_that_failed_and_records_the_others(in_store):
    async def scenario(store):
        live, cancelled = await store.accept_many([message(), message(destination="447700900002")], now=NOW)
        await store.cancel("acme", cancelled, now=NOW)
        unknown = "0" * 15 + "1"
        outcomes = await store.update_many([(cancelled, "sim", "c1"), (live, "sim", "c2"), (unknown, "sim", "c3")],
                                           now=NOW + 1)
        return outcomes, await store.get(live), await store.get(cancelled)

    (final, ok, unknown), live, cancelled = in_store(scenario)
    assert isinstance(final, MessageFinal) and isinstance(unknown, UnknownMessage) and ok is None
    assert live.carrier_id == "c2"
    assert cancelled.carrier_id is None and cancelled.state is S.DELETED


def test_a_malformed_id_fails_the_whole_update_many_request(in_store):
    async def scenario(store):
        return await asyncio.gather(store.update_many([("not an id", "sim", "c1")]), return_exceptions=True)

    (error,) = in_store(scenario)
    assert isinstance(error, UnknownMessage)


def test_a_receipt_requested_after_update_many_finds_its_carrier_id_in_the_same_batch(in_store):
    async def scenario(store):
        message_id = await store.accept(message(registered_delivery=1), now=NOW)
        before = store.transactions
        sent = store.update_many([(message_id, "sim", "ab12")], now=NOW + 1)
        receipt = store.apply_receipt("sim", ["ab12"], S.DELIVERED, None, now=NOW + 2)
        results = await asyncio.gather(sent, receipt)
        return message_id, results, store.transactions - before, await store.get(message_id)

    message_id, (recorded, outcome), transactions, stored = in_store(scenario)
    assert transactions == 1 and recorded == [None]
    assert outcome == (ReceiptOutcome.APPLIED, message_id)
    assert stored.state is S.DELIVERED and stored.carrier_id == "ab12"


def test_the_accepted_hook_sees_each_commit_s_messages_as_reading_them_back_gives(in_store):
    async def scenario(store):
        handed = []
        store.accepted_hook = handed.append
        first = store.accept_many([message(body={"n": 0}), message(body={"n": 1}, scheduled=NOW + 60)], now=NOW)
        second = store.accept(message(body={"n": 2}, expires=NOW + 600), now=NOW + 1)
        ids = await first + [await second]
        store.accepted_hook = None
        await store.accept(message(), now=NOW + 2)
        return handed, ids, [await store.get(i) for i in ids]

    handed, ids, stored = in_store(scenario)
    assert len(handed) == 1  # one call per commit: both requests were in one batch
    assert [m.id for m in handed[0]] == sorted(ids)  # in id order
    assert handed[0] == sorted(stored, key=lambda m: m.id)  # every field as committed, the body included


@pytest.mark.loop_writer
def test_the_accepted_hook_is_not_called_for_a_batch_that_rolled_back(in_store):
    async def scenario(store):
        handed = []
        store.accepted_hook = handed.append

        async def broken(store, arg):
            raise RuntimeError("a bug in work sharing the transaction")

        async def accept():  # a task like transact's, so both requests join one batch
            return await store.accept(message(), now=NOW)

        failed = await asyncio.gather(accept(), store.transact(broken), return_exceptions=True)
        ok = await store.accept(message(), now=NOW)
        return handed, failed, ok

    handed, failed, ok = in_store(scenario)
    assert all(isinstance(error, RuntimeError) for error in failed)  # the accept went with the batch
    assert [[m.id for m in messages] for messages in handed] == [[ok]]
