"""Store.apply_receipt: a carrier's final receipt found and applied on the writer's connection."""
import asyncio

import pytest

from smsc.smpp.constants import MessageState
from smsc.store import ATTEMPTED, ReceiptOutcome

from .conftest import NOW, message

BOTH_WRITERS = True  # each scenario also runs with the writer in its own process

S = MessageState
R = ReceiptOutcome


def test_a_receipt_requested_right_after_the_carrier_id_finds_it_in_the_same_batch(in_store):
    async def scenario(store):
        message_id = await store.accept(message(registered_delivery=1), now=NOW)
        before = store.transactions
        sent = store.update(message_id, upstream="sim", carrier_id="ab12", now=NOW + 1)
        receipt = store.apply_receipt("sim", ["ab12"], S.DELIVERED, None, now=NOW + 2)
        results = await asyncio.gather(sent, receipt)
        return message_id, results, store.transactions - before, await store.get(message_id), \
            await store.outbound("acme")

    message_id, (_, outcome), transactions, stored, queued = in_store(scenario)
    assert transactions == 1
    assert outcome == (R.APPLIED, message_id)
    assert stored.state is S.DELIVERED and stored.final == NOW + 2 and stored.carrier_id == "ab12"
    assert len(queued) == 1  # the client's receipt, in the same commit


def test_a_receipt_finds_a_committed_carrier_id_by_any_of_its_readings(in_store):
    async def scenario(store):
        message_id = await store.accept(message(), now=NOW)
        await store.update(message_id, upstream="sim", carrier_id="255", now=NOW)
        other_upstream = await store.apply_receipt("other", ["ff", "255"], S.DELIVERED, None)
        found = await store.apply_receipt("sim", ["ff", "255"], S.UNDELIVERABLE, 11, now=NOW + 1)
        again = await store.apply_receipt("sim", ["255"], S.DELIVERED, None, now=NOW + 2)
        return message_id, other_upstream, found, again, await store.get(message_id)

    message_id, other_upstream, found, again, stored = in_store(scenario)
    assert other_upstream == (R.UNKNOWN, None)
    assert found == (R.APPLIED, message_id) and again == (R.REPEATED, message_id)
    assert stored.state is S.UNDELIVERABLE and stored.error == 11


def test_a_message_sent_in_parts_is_left_to_its_parts_unless_told_otherwise(in_store):
    async def scenario(store):
        message_id = await store.accept(message(segments=3), now=NOW)
        await store.update(message_id, upstream="sim", carrier_id="7", now=NOW)
        first = await store.apply_receipt("sim", ["7"], S.DELIVERED, None, now=NOW + 1)
        unchanged = (await store.get(message_id)).state
        whole = await store.apply_receipt("sim", ["7"], S.DELIVERED, None, parts_first=False, now=NOW + 1)
        return message_id, first, unchanged, whole

    message_id, first, unchanged, whole = in_store(scenario)
    assert first == (R.PARTS, message_id) and unchanged is S.ENROUTE
    assert whole == (R.APPLIED, message_id)


@pytest.mark.loop_writer
def test_an_undeliv_the_route_reroutes_puts_the_message_back_in_the_queue(in_store):
    asked = []

    def reroute(found):
        asked.append((found.id, found.upstream, found.body.get("short_message")))
        return True

    async def scenario(store):
        message_id = await store.accept(message(registered_delivery=1), now=NOW)
        await store.update(message_id, upstream="sim", carrier_id="9", now=NOW)
        outcome = await store.apply_receipt("sim", ["9"], S.UNDELIVERABLE, 34, reroute=reroute, now=NOW + 5)
        return message_id, outcome, await store.get(message_id), [m.id for m in await store.due(now=NOW + 5)], \
            await store.outbound("acme")

    message_id, outcome, stored, due, queued = in_store(scenario)
    assert outcome == (R.REROUTED, message_id)
    assert asked == [(message_id, "sim", b"Your code is 1234")]
    assert stored.state is S.ENROUTE and stored.final is None and stored.error == 34
    assert stored.upstream is None and stored.carrier_id is None and stored.scheduled == NOW + 5
    assert stored.body[ATTEMPTED] == ["sim"] and stored.body["short_message"] == b"Your code is 1234"
    assert due == [message_id] and queued == []  # the client hears nothing of this attempt


@pytest.mark.loop_writer
def test_a_failing_reroute_check_lets_the_receipt_verdict_stand(in_store):
    def broken(found):
        raise RuntimeError("a bug in the caller")

    async def scenario(store):
        message_id = await store.accept(message(), now=NOW)
        await store.update(message_id, upstream="sim", carrier_id="9", now=NOW)
        return await store.apply_receipt("sim", ["9"], S.UNDELIVERABLE, 34, reroute=broken), \
            (await store.get(message_id)).state

    (outcome, _), state = in_store(scenario)
    assert outcome is R.APPLIED and state is S.UNDELIVERABLE


def test_a_carrier_id_used_twice_names_the_latest_message(in_store):
    # Carriers recycle their ids (a counter that wraps, a restart): the receipt is for the
    # message that went most recently, whichever order the rows come back in.
    async def scenario(store):
        older, newer = await store.accept_many([message(registered_delivery=1), message(registered_delivery=1)],
                                               now=NOW)
        await store.update_many([(newer, "sim", "c1")], now=NOW + 1)
        await store.update_many([(older, "sim", "c1")], now=NOW + 2)  # recorded later, still the older message
        outcome = await store.apply_receipt("sim", ["c1"], S.DELIVERED, None, now=NOW + 3)
        return outcome, newer, (await store.get(older)).state, (await store.get(newer)).state

    outcome, newer, older_state, newer_state = in_store(scenario)
    assert outcome == (R.APPLIED, newer)
    assert (older_state, newer_state) == (S.ENROUTE, S.DELIVERED)


@pytest.mark.loop_writer
@pytest.mark.parametrize("kept", [True, False])
def test_a_carrier_id_used_again_names_the_message_still_waiting_for_its_receipt(in_store, kept):
    # The newer message went first and had its receipt; the older one (rerouted, say) went
    # after it and got the same id: the next receipt is the older one's, kept row or not.
    async def scenario(store):
        store.live.limit = 10_000 if kept else 0
        older, newer = await store.accept_many([message(registered_delivery=1), message(registered_delivery=1)],
                                               now=NOW)
        await store.update_many([(newer, "sim", "c1")], now=NOW + 1)
        assert await store.apply_receipt("sim", ["c1"], S.DELIVERED, None, now=NOW + 2) == (R.APPLIED, newer)
        await store.update_many([(older, "sim", "c1")], now=NOW + 3)
        found = (await store.find_by_carrier("sim", "c1")).id
        return await store.apply_receipt("sim", ["c1"], S.DELIVERED, None, now=NOW + 4), older, found

    outcome, older, found = in_store(scenario)
    assert outcome == (R.APPLIED, older) and found == older


def test_a_read_of_receipts_is_one_request_with_each_receipt_outcome_in_order(in_store):
    # Store.apply_receipts: what each receipt alone would give, in one transaction, the
    # sent record requested just before it found as by apply_receipt.
    async def scenario(store):
        whole, parts, done, fresh = await store.accept_many(
            [message(registered_delivery=1), message(segments=2), message(), message(registered_delivery=1)],
            now=NOW)
        await store.update_many([(whole, "sim", "a1"), (parts, "sim", "b1"), (done, "sim", "c1")], now=NOW)
        await store.apply_receipt("sim", ["c1"], S.DELIVERED, None, now=NOW + 1)
        before = store.transactions
        sent = store.update_many([(fresh, "sim", "d1")], now=NOW + 2)
        outcomes = store.apply_receipts("sim", [(["a1"], S.UNDELIVERABLE, 11, None), (["zz"], S.DELIVERED, None, None),
                                                (["b1"], S.DELIVERED, None, None), (["c1"], S.DELIVERED, None, None),
                                                (["d1"], S.DELIVERED, None, None), (["a1"], S.DELIVERED, None, None)],
                                        now=NOW + 3)
        _, outcomes = await asyncio.gather(sent, outcomes)
        return ((whole, parts, done, fresh), outcomes, store.transactions - before,
                [(await store.get(i)).state for i in (whole, parts, fresh)], await store.outbound("acme"))

    (whole, parts, done, fresh), outcomes, transactions, states, queued = in_store(scenario)
    assert outcomes == [(R.APPLIED, whole), (R.UNKNOWN, None), (R.PARTS, parts), (R.REPEATED, done),
                        (R.APPLIED, fresh), (R.REPEATED, whole)]  # the last sees the first of its read
    assert transactions == 1
    assert states == [S.UNDELIVERABLE, S.ENROUTE, S.DELIVERED]
    assert len(queued) == 2  # the client receipts of whole and fresh, in the same commit
