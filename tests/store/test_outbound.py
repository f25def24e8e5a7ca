"""The outbound queue: deliver_sm (receipts, MO) waiting for an account's receivers."""
import asyncio

import pytest

from smsc.smpp.constants import MessageState
from smsc.store import ClaimBusy, OutboundState, StoreError

from .conftest import NOW, message

BOTH_WRITERS = True  # each scenario also runs with the writer in its own process

OPTIONS = dict(retry_initial=10.0, retry_factor=2.0, retry_max=25.0, lease=60.0, receipt_expiry=1000.0)
PENDING, DELIVERED, EXPIRED = OutboundState.PENDING, OutboundState.DELIVERED, OutboundState.EXPIRED


async def receipts(store, count):
    """Accept `count` messages asking for receipts and deliver them: `count` receipts."""
    ids = [await store.accept(message(registered_delivery=1), now=NOW) for _ in range(count)]
    for message_id in ids:
        await store.update(message_id, MessageState.DELIVERED, now=NOW)
    return ids


def test_items_are_held_until_claimed_then_delivered_once(in_store):
    async def scenario(store):
        ids = await receipts(store, 3)
        held = await store.outbound("acme")
        claim = store.claim_outbound("acme")
        taken = await claim.take(2, now=NOW + 1)
        rest = await claim.take(10, now=NOW + 1)  # in flight items are not offered twice
        for item in taken + rest:
            await claim.ack(item.id, now=NOW + 2)
        again = await claim.take(10, now=NOW + 10_000)
        return ids, held, taken, rest, again, await store.outbound("acme")

    ids, held, taken, rest, again, final = in_store(scenario, **OPTIONS)
    assert [state for _, state, _ in held] == [PENDING] * 3
    assert [item.message_id for item in taken + rest] == ids
    assert again == []
    assert final == [(item_id, DELIVERED, 1) for item_id, _, _ in held]


def test_one_claimer_per_account(in_store):
    async def scenario(store):
        claim = store.claim_outbound("acme")
        with pytest.raises(ClaimBusy):
            store.claim_outbound("acme")
        other = store.claim_outbound("globex")  # other accounts are independent
        await claim.release(now=NOW)
        with pytest.raises(StoreError):
            await claim.take(1, now=NOW)
        return store.claim_outbound("acme"), other

    assert all(in_store(scenario))


def test_errors_back_off_exponentially_up_to_the_cap(in_store):
    async def scenario(store):
        await receipts(store, 1)
        claim = store.claim_outbound("acme")
        now, retries, offered = NOW, [], []
        for _ in range(4):
            [item] = await claim.take(1, now=now)
            offered.append(item.attempts)
            when = await claim.retry(item.id, now=now, error=0x58)
            retries.append(when - now)
            assert await claim.take(1, now=when - 0.001) == []
            assert await claim.next_due() == when
            now = when
        return retries, offered

    retries, offered = in_store(scenario, **OPTIONS)
    assert retries == [10.0, 20.0, 25.0, 25.0]
    assert offered == [1, 2, 3, 4]


def test_unanswered_items_come_back_after_the_lease_or_at_release(in_store):
    async def scenario(store):
        await receipts(store, 2)
        claim = store.claim_outbound("acme")
        first = await claim.take(1, now=NOW)
        during = await claim.take(1, now=NOW)  # the other item
        silent = await claim.take(5, now=NOW + 59)
        after_lease = await claim.take(5, now=NOW + 60)  # both leases ended
        await claim.release(now=NOW + 61)
        successor = store.claim_outbound("acme")
        at_once = await successor.take(5, now=NOW + 61)
        return first, during, silent, after_lease, at_once

    first, during, silent, after_lease, at_once = in_store(scenario, **OPTIONS)
    assert silent == []
    assert {i.id for i in after_lease} == {first[0].id, during[0].id}
    assert sorted(i.attempts for i in at_once) == [3, 3]


def test_items_expire_after_the_configured_time(in_store):
    async def scenario(store):
        await receipts(store, 2)
        claim = store.claim_outbound("acme")
        late = await claim.take(5, now=NOW + 1000)  # expiry is NOW + 1000: too late
        expired = await store.expire_outbound(now=NOW + 1000)
        return late, expired, await store.outbound("acme")

    late, expired, states = in_store(scenario, **OPTIONS)
    assert late == [] and expired == 2
    assert [state for _, state, _ in states] == [EXPIRED, EXPIRED]


def test_enqueued_mo_wakes_the_waiting_claimer(in_store):
    async def scenario(store):
        claim = store.claim_outbound("acme")
        assert await claim.next_due() is None
        idle = await claim.wait(0.01)
        waiter = asyncio.ensure_future(claim.wait(5))
        item_id = await store.enqueue("acme", {"short_message": b"STOP", "source_addr": "447700900001"}, now=NOW)
        woken = await waiter
        [item] = await claim.take(5, now=NOW)
        return idle, woken, item_id, item

    idle, woken, item_id, item = in_store(scenario, **OPTIONS)
    assert not idle and woken
    assert (item.id, item.kind, item.message_id, item.body["short_message"]) == (item_id, "mo", None, b"STOP")
    assert item.expires == NOW + 1000


def test_a_caught_up_claim_is_handed_new_items_taken_as_they_are_stored(in_store):
    async def scenario(store):
        claim = store.claim_outbound("acme")
        assert await claim.take(10, now=NOW) == []  # everything due taken: caught up
        takes = store.transactions
        ids = await receipts(store, 2)  # two receipts, each committed in its own batch
        handed = await claim.take(10, now=NOW)
        committed = store.transactions - takes  # no transaction to take them
        rows = await store.outbound("acme")
        released_before_ack = rows[1][0]
        await claim.ack(handed[0].id, now=NOW + 1)
        await claim.release(now=NOW + 1)  # the unanswered one is due again at once
        again = await store.claim_outbound("acme").take(10, now=NOW + 1)
        return ids, handed, committed, rows, released_before_ack, again

    ids, handed, committed, rows, second, again = in_store(scenario, **OPTIONS)
    assert [item.message_id for item in handed] == ids and [item.attempts for item in handed] == [1, 1]
    assert committed == 4  # 2 accepts + 2 updates: none for the takes
    assert [(state, attempts) for _, state, attempts in rows] == [(PENDING, 1), (PENDING, 1)]  # leased
    assert [item.id for item in again] == [second] and again[0].attempts == 2


def test_a_claim_whose_items_pile_up_goes_back_to_the_table(in_store, monkeypatch):
    from smsc.store import outbound

    monkeypatch.setattr(outbound, "FRESH_MAX", 2)

    async def scenario(store):
        claim = store.claim_outbound("acme")
        await claim.take(10, now=NOW)
        await receipts(store, 4)  # two handed over, then the claim falls behind
        assert len(claim._fresh) == 2  # the other two wait in the table
        first = await claim.take(10, now=NOW)
        rest = await claim.take(10, now=NOW)
        return first, rest

    first, rest = in_store(scenario, **OPTIONS)
    # Two handed over, two taken from the table in the same take: each once, none twice.
    assert len({item.id for item in first}) == 4 and rest == []


def test_several_items_changed_in_one_request_are_all_recorded(in_store):
    # What a claim sends for a read's worth of deliver_sm_resp (OutboundClaim.ack_many).
    async def scenario(store):
        await receipts(store, 3)
        claim = store.claim_outbound("acme")
        items = await claim.take(10, now=NOW + 1)
        before = store.transactions
        done = await store._request("outbound_set", [(DELIVERED, NOW + 2, None, None, item.id) for item in items[:2]])
        return done, store.transactions - before, [state for _, state, _ in await store.outbound("acme")]

    done, transactions, states = in_store(scenario, **OPTIONS)
    assert done is None and transactions == 1
    assert states == [DELIVERED, DELIVERED, PENDING]
