"""The writer's kept rows (smsc.store.live): what it keeps, and that a store keeping them
answers every request exactly as one reading every row from the table."""
import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.smpp.constants import MessageState
from smsc.store import Store
from smsc.store.columns import CARRIER_ID, FINAL, ID, UPSTREAM
from smsc.store.live import LiveRows

from .conftest import NOW, message

S = MessageState


def row(number, upstream=None, carrier_id=None, final=None):
    values = [None] * 17
    values[ID], values[UPSTREAM], values[CARRIER_ID], values[FINAL] = number, upstream, carrier_id, final
    return tuple(values)


def test_rows_are_kept_newest_last_until_final_or_the_oldest_past_the_limit():
    live = LiveRows(limit=2)
    live.put([row(1), row(2, "sim", "c2")])
    live.put([row(1, "sim", "c1")])  # put again: now the newest
    live.put([row(3)])
    assert (live.get(2), live.find("sim", "c2")) == (None, None)  # the oldest went, its carrier id too
    assert live.get(1)[CARRIER_ID] == "c1" and live.find("sim", "c1") == 1
    live.put([row(1, "sim", "c1", final=NOW)])
    assert (len(live), live.get(1), live.find("sim", "c1")) == (1, None, None)


def test_a_carrier_id_names_the_newest_kept_message_and_a_changed_one_is_forgotten():
    live = LiveRows(limit=10)
    live.put([row(7, "sim", "c1"), row(5, "sim", "c1")])
    assert live.find("sim", "c1") == 7
    live.put([row(7)])  # rerouted: its carrier id cleared
    assert live.find("sim", "c1") is None  # the table answers from here (message 5)
    live.put([row(5, "sim", "c1")])
    assert live.find("sim", "c1") == 5


def test_a_batch_that_rolls_back_leaves_nothing_kept(in_store):
    class Boom(Exception):
        pass

    async def fail(store, _):
        raise Boom

    async def scenario(store):
        [message_id] = await store.accept_many([message(registered_delivery=1)], now=NOW)
        sent = store.update_many([(message_id, "sim", "c1")], now=NOW + 1)
        failed = store._request("call", (fail, None))  # what transact requests, in the same batch
        outcomes = await asyncio.gather(sent, failed, return_exceptions=True)
        receipt = await store.apply_receipt("sim", ["c1"], S.DELIVERED, None, now=NOW + 2)
        return outcomes, receipt, await store.get(message_id), store.live.find("sim", "c1")

    outcomes, receipt, stored, kept = in_store(scenario)
    assert all(isinstance(outcome, Boom) for outcome in outcomes)
    assert receipt[0].name == "UNKNOWN" and kept is None
    assert (stored.state, stored.carrier_id) == (S.ENROUTE, None)


carriers = st.sampled_from(["c1", "c2", "c3"])
steps = st.lists(st.lists(st.one_of(
    st.tuples(st.just("sent"), st.integers(0, 3), carriers),
    st.tuples(st.just("receipt"), carriers, st.sampled_from([S.DELIVERED, S.UNDELIVERABLE])),
    st.tuples(st.just("update"), st.integers(0, 3), st.sampled_from([S.ACCEPTED, S.EXPIRED])),
    st.tuples(st.just("cancel"), st.integers(0, 3), st.none()),
), min_size=1, max_size=4), max_size=6)


@settings(max_examples=40, deadline=None)
@given(batches=steps)
def test_a_store_keeping_rows_answers_as_one_reading_the_table(batches):
    async def run(path, limit):
        store = await Store.open(path, clock=lambda: NOW)
        store.live.limit = limit
        store.accepted_hook = lambda messages: None  # as with a forwarder: accepted rows are kept too
        answers = []
        try:
            ids = await store.accept_many([message(registered_delivery=1) for _ in range(4)], now=NOW)
            for step, batch in enumerate(batches, start=1):
                requests = []  # made without awaiting between them: one writer batch
                for kind, a, b in batch:
                    if kind == "sent":
                        requests.append(store.update_many([(ids[a], "sim", b)], now=NOW + step))
                    elif kind == "receipt":
                        requests.append(store.apply_receipt("sim", [a], b, None, now=NOW + step))
                    elif kind == "update":
                        requests.append(store.update(ids[a], b, now=NOW + step))
                    else:
                        requests.append(asyncio.ensure_future(store.cancel("acme", ids[a], now=NOW + step)))
                answers.append([repr(answer) for answer in await asyncio.gather(*requests, return_exceptions=True)])
            messages = [await store.get(message_id) for message_id in ids]
            answers.append([(m.state, m.final, m.upstream, m.carrier_id, m.error) for m in messages])
            answers.append([await store.history(message_id) for message_id in ids])
            answers.append(await store.outbound("acme"))
        finally:
            await store.close()
        return answers

    with tempfile.TemporaryDirectory() as tmp:
        kept = asyncio.run(run(str(Path(tmp) / "kept.db"), 10_000))
        read = asyncio.run(run(str(Path(tmp) / "read.db"), 0))
    assert kept == read
