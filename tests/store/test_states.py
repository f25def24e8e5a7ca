import asyncio
import sqlite3

import msgpack
import pytest

from smsc import dlr
from smsc.smpp.constants import MessageState, RegisteredDelivery, Tag
from smsc.store import MessageFinal, UnknownMessage

from .conftest import NOW, message

BOTH_WRITERS = True  # each scenario also runs with the writer in its own process

S = MessageState


def test_delivery_is_final_with_history_and_the_receipt_asked_for(in_store):
    async def scenario(store):
        message_id = await store.accept(message(registered_delivery=RegisteredDelivery.RECEIPT_ON_FINAL), now=NOW)
        await store.update(message_id, upstream="carrier-a", carrier_id="c-77", now=NOW + 1)
        await store.update(message_id, S.DELIVERED, now=NOW + 5)
        claim = store.claim_outbound("acme")
        return (message_id, await store.get(message_id), await store.history(message_id),
                await claim.take(10, now=NOW + 5))

    message_id, stored, history, items = in_store(scenario)
    assert stored.state is S.DELIVERED and stored.final == NOW + 5
    assert (stored.upstream, stored.carrier_id) == ("carrier-a", "c-77")
    assert history == [(S.ENROUTE, NOW), (S.DELIVERED, NOW + 5)]
    [item] = items
    assert (item.kind, item.message_id, item.attempts) == ("receipt", message_id, 1)
    assert item.body["destination_addr"] == "Shop" and item.body["source_addr"] == "447700900001"
    receipt = dlr.parse_text(item.body["short_message"])
    assert (receipt.id, receipt.state, receipt.text) == (message_id, S.DELIVERED, "Your code is 1234")
    assert [Tag.MESSAGE_STATE, S.DELIVERED] in item.body["tlvs"]


def test_a_final_state_is_the_rows_own_and_a_stores_older_final_history_row_is_not_repeated(in_store, db_path):
    async def scenario(store):
        ids = [await store.accept(message(), now=NOW) for _ in range(2)]
        for message_id in ids:
            await store.update(message_id, S.ACCEPTED, now=NOW + 1)
            await store.update(message_id, S.UNDELIVERABLE, error=11, now=NOW + 2)
        return ids

    ids = in_store(scenario)
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT state FROM history ORDER BY rowid").fetchall() == [(S.ACCEPTED,)] * 2
        # As a store before the change wrote it: the final state as a history row too.
        db.execute("INSERT INTO history (message_id, state, time, error) VALUES (?, ?, ?, ?)",
                   (int(ids[1], 16), S.UNDELIVERABLE, NOW + 2, 11))

    async def histories(store):
        return [await store.history(message_id) for message_id in ids]

    expected = [(S.ENROUTE, NOW), (S.ACCEPTED, NOW + 1), (S.UNDELIVERABLE, NOW + 2)]
    assert in_store(histories) == [expected, expected]


@pytest.mark.parametrize("registered,state,receipts", [
    (RegisteredDelivery.NO_RECEIPT, S.DELIVERED, 0),
    (RegisteredDelivery.NO_RECEIPT, S.UNDELIVERABLE, 0),
    (RegisteredDelivery.RECEIPT_ON_FAILURE, S.DELIVERED, 0),
    (RegisteredDelivery.RECEIPT_ON_FAILURE, S.UNDELIVERABLE, 1),
    (RegisteredDelivery.RECEIPT_ON_FINAL, S.REJECTED, 1),
    (RegisteredDelivery.RECEIPT_ON_FINAL, S.ACCEPTED, 0),  # not final: no receipt yet
])
def test_receipts_follow_registered_delivery(in_store, registered, state, receipts):
    async def scenario(store):
        message_id = await store.accept(message(registered_delivery=registered), now=NOW)
        await store.update(message_id, state, now=NOW + 1, error=0x22 if state != S.DELIVERED else None)
        return await store.outbound("acme")

    assert len(in_store(scenario)) == receipts


@pytest.mark.parametrize("final", sorted(S.__members__[n] for n in
                                         ("DELIVERED", "EXPIRED", "DELETED", "UNDELIVERABLE", "REJECTED")))
def test_a_final_state_is_never_left(in_store, final):
    async def scenario(store):
        message_id = await store.accept(message(registered_delivery=1), now=NOW)
        await store.update(message_id, final, now=NOW + 1)
        outcomes = []
        for attempt in (store.update(message_id, S.ENROUTE, now=NOW + 2),
                        store.update(message_id, final, now=NOW + 2),
                        store.update(message_id, carrier_id="late", now=NOW + 2),
                        store.cancel("acme", message_id, now=NOW + 2),
                        store.replace("acme", message_id, body={"short_message": b"x"}, now=NOW + 2)):
            with pytest.raises(MessageFinal) as caught:
                await attempt
            outcomes.append(caught.value.state)
        return outcomes, await store.get(message_id), await store.history(message_id), await store.outbound("acme")

    outcomes, stored, history, outbound = in_store(scenario)
    assert outcomes == [final] * 5
    assert stored.state is final and stored.final == NOW + 1 and stored.carrier_id is None
    assert history == [(S.ENROUTE, NOW), (final, NOW + 1)]
    assert len(outbound) == 1  # one receipt, however often it was tried again


def test_intermediate_states_are_recorded_without_finishing(in_store):
    async def scenario(store):
        message_id = await store.accept(message(), now=NOW)
        await store.update(message_id, S.ACCEPTED, now=NOW + 1)
        await store.update(message_id, S.ACCEPTED, now=NOW + 2, error=5)  # same state: no new history
        await store.update(message_id, S.UNDELIVERABLE, now=NOW + 3)
        return await store.get(message_id), await store.history(message_id)

    stored, history = in_store(scenario)
    assert history == [(S.ENROUTE, NOW), (S.ACCEPTED, NOW + 1), (S.UNDELIVERABLE, NOW + 3)]
    assert stored.error == 5 and stored.final == NOW + 3


def test_two_changes_to_one_message_in_one_batch_see_each_other(in_store):
    async def scenario(store):
        message_id = await store.accept(message(), now=NOW)
        before = store.transactions
        # Both requested in one loop turn (update is a plain function): one batch.
        results = await asyncio.gather(store.update(message_id, S.DELIVERED, now=NOW + 1),
                                       store.update(message_id, S.EXPIRED, now=NOW + 1), return_exceptions=True)
        return results, store.transactions - before, await store.history(message_id)

    results, transactions, history = in_store(scenario)
    assert transactions == 1
    assert results[0] is None and isinstance(results[1], MessageFinal)
    assert history[1:] == [(S.DELIVERED, NOW + 1)]


def test_expire_due_moves_only_live_messages_past_validity(in_store):
    async def scenario(store):
        soon = await store.accept(message(expires=NOW + 10, registered_delivery=1), now=NOW)
        later = await store.accept(message(expires=NOW + 100), now=NOW)
        never = await store.accept(message(), now=NOW)
        done = await store.accept(message(expires=NOW + 5), now=NOW)
        await store.update(done, S.DELIVERED, now=NOW + 1)
        first = await store.expire_due(now=NOW + 10)
        again = await store.expire_due(now=NOW + 10)
        states = [(await store.get(i)).state for i in (soon, later, never, done)]
        return soon, first, again, states, await store.outbound("acme")

    soon, first, again, states, outbound = in_store(scenario)
    assert first == [soon] and again == []
    assert states == [S.EXPIRED, S.ENROUTE, S.ENROUTE, S.DELIVERED]
    assert len(outbound) == 1  # the expired message asked for a receipt


def test_expire_due_works_in_bounded_steps(in_store):
    async def scenario(store):
        await asyncio.gather(*(store.accept(message(expires=NOW + 1), now=NOW) for _ in range(25)))
        return [len(await store.expire_due(now=NOW + 2, limit=10)) for _ in range(4)]

    assert in_store(scenario) == [10, 10, 5, 0]


def test_due_lists_unrouted_live_messages_whose_schedule_came(in_store):
    async def scenario(store):
        now_ = await store.accept(message(), now=NOW)
        scheduled = await store.accept(message(scheduled=NOW + 60), now=NOW)
        routed = await store.accept(message(), now=NOW)
        finished = await store.accept(message(), now=NOW)
        await store.update(routed, upstream="carrier-a", carrier_id="1", now=NOW)
        await store.update(finished, S.REJECTED, now=NOW)
        early = [m.id for m in await store.due(now=NOW + 1)]
        late = [m.id for m in await store.due(now=NOW + 60)]
        return (now_, scheduled, routed), early, late, await store.find_by_carrier("carrier-a", "1")

    (now_, scheduled, routed), early, late, by_carrier = in_store(scenario)
    assert early == [now_] and late == [now_, scheduled]
    assert by_carrier.id == routed


def test_update_of_unknown_message(in_store):
    async def scenario(store):
        for bad in ("0000000000000001", "not-an-id"):
            with pytest.raises(UnknownMessage):
                await store.update(bad, S.DELIVERED, now=NOW)

    in_store(scenario)


@pytest.mark.loop_writer
def test_a_receipt_is_committed_with_the_state_change_or_not_at_all(in_store, db_path):
    def broken_builder(message, now):
        raise RuntimeError("builder failed")

    async def scenario(store):
        message_id = await store.accept(message(registered_delivery=1), now=NOW)
        with pytest.raises(RuntimeError):
            await store.update(message_id, S.DELIVERED, now=NOW + 1)
        # The failed batch was rolled back as a whole and the writer carries on.
        await store.update(message_id, S.ENROUTE, carrier_id="c-1", now=NOW + 2)
        return await store.get(message_id), await store.outbound("acme")

    stored, outbound = in_store(scenario, receipt_builder=broken_builder)
    assert stored.state is S.ENROUTE and stored.final is None and outbound == []
    assert stored.carrier_id == "c-1"


def test_receipt_body_is_msgpack_of_deliver_sm_fields(in_store, db_path):
    async def scenario(store):
        message_id = await store.accept(message(registered_delivery=1, segments=3), now=NOW)
        await store.update(message_id, S.UNDELIVERABLE, error=0x0105, now=NOW + 1)

    in_store(scenario)
    with sqlite3.connect(db_path) as db:
        (body,) = db.execute("SELECT body FROM outbound").fetchone()
    fields = msgpack.unpackb(body)
    assert [Tag.NETWORK_ERROR_CODE, b"\x08\x01\x05"] in fields["tlvs"]
    assert b"sub:003 dlvrd:000" in fields["short_message"] and b"err:261" in fields["short_message"]


@pytest.mark.parametrize("body,text", [
    ({"short_message": b"Hello @ home, this is more than twenty", "data_coding": 0}, "Hello ? home, this i"),
    ({"short_message": "Привет".encode("utf-16-be"), "data_coding": 8}, "??????"),
    ({"short_message": b"\x05\x00\x03\x01\x02\x01Part one", "data_coding": 0, "esm_class": 0x40}, "Part one"),
    ({"short_message": b"", "tlvs": [[0x0424, b"From payload"]], "data_coding": 3}, "From payload"),
    ({"short_message": b"\x00\xff\x10", "data_coding": 4}, ""),
    ({"short_message": b"\x05\x00\x03", "data_coding": 0, "esm_class": 0x40}, ""),  # broken UDH
])
def test_receipt_echoes_the_start_of_the_text(in_store, body, text):
    async def scenario(store):
        message_id = await store.accept(message(body=body, registered_delivery=1), now=NOW)
        await store.update(message_id, S.DELIVERED, now=NOW + 1)
        [item] = await store.claim_outbound("acme").take(1, now=NOW + 1)
        return dlr.parse_text(item.body["short_message"]).text

    assert in_store(scenario) == text
