import asyncio
import sqlite3

import msgpack
import pytest

from smsc.smpp.constants import MessageState
from smsc.store import NewMessage, Store, StoreError, parse_id
from smsc.store.ids import IdGenerator, format_id

from .conftest import NOW, message

BOTH_WRITERS = True  # each scenario also runs with the writer in its own process


def test_accepted_message_reads_back_intact(in_store):
    body = {"short_message": b"\x00\xffbinary", "data_coding": 4, "esm_class": 0x40,
            "tlvs": [[0x020A, 2948], [0x1401, b"\x01\x02"]], "parts": [b"a", b"b"], "options": {"route": "x"}}

    async def scenario(store):
        message_id = await store.accept(message(body=body, service_type="CMT", registered_delivery=1, segments=2,
                                                scheduled=NOW + 60, expires=NOW + 3600), now=NOW)
        return await store.query("acme", message_id)

    stored = in_store(scenario)
    assert stored.body == body
    assert (stored.account, stored.source, stored.destination, stored.service_type) == (
        "acme", "Shop", "447700900001", "CMT")
    assert stored.state is MessageState.ENROUTE and not stored.is_final
    assert (stored.submitted, stored.scheduled, stored.expires, stored.updated) == (NOW, NOW + 60, NOW + 3600, NOW)
    assert (stored.registered_delivery, stored.segments) == (1, 2)


def test_ids_are_unique_fixed_width_hex_and_time_ordered(in_store):
    async def scenario(store):
        first = [await store.accept(message(), now=NOW) for _ in range(3)]
        later = await store.accept(message(), now=NOW + 1)
        return first, later

    first, later = in_store(scenario)
    assert len(set(first)) == 3
    for message_id in first + [later]:
        assert len(message_id) == 16 and int(message_id, 16) == parse_id(message_id)
    assert first == sorted(first) and later > first[-1]
    assert (int(later, 16) >> 20) - (int(first[0], 16) >> 20) == 1000  # milliseconds apart


def test_id_generator_never_repeats_when_the_clock_steps_back():
    ids = IdGenerator()
    a = ids.next(NOW)
    b = ids.next(NOW - 5)
    assert b == a + 1 and format_id(b) > format_id(a)


@pytest.mark.parametrize("text", ["", "xyz", "0x1f", "1_0", "1" * 17, "-1", "0"])
def test_ids_we_could_not_have_issued_do_not_parse(text):
    assert parse_id(text) is None


def test_concurrent_accepts_share_few_transactions_and_all_are_committed(in_store, db_path):
    async def scenario(store):
        before = store.transactions
        ids = await asyncio.gather(*(store.accept(message(body={"n": n}), now=NOW) for n in range(500)))
        return ids, store.transactions - before

    ids, transactions = in_store(scenario, max_batch=200)
    assert len(set(ids)) == 500
    assert 3 <= transactions <= 5  # 500 requests queued at once, at most 200 per transaction
    with sqlite3.connect(db_path) as db:
        bodies = dict(db.execute("SELECT id, body FROM messages"))
    assert [msgpack.unpackb(bodies[int(i, 16)])["n"] for i in ids] == list(range(500))


def test_accept_returns_only_once_another_connection_can_read_the_row(in_store, db_path):
    async def scenario(store):
        seen = []
        for _ in range(20):
            message_id = await store.accept(message(), now=NOW)
            with sqlite3.connect(db_path) as db:  # a fresh reader: sees committed data only
                seen.append(db.execute("SELECT COUNT(*) FROM messages WHERE id = ?", (int(message_id, 16),)).fetchone()[0])
        return seen

    assert in_store(scenario) == [1] * 20


def test_a_body_msgpack_cannot_carry_fails_only_its_caller(in_store):
    async def scenario(store):
        results = await asyncio.gather(store.accept(message(), now=NOW),
                                       store.accept(message(body={"x": object()}), now=NOW),
                                       store.accept(message(), now=NOW), return_exceptions=True)
        return results, [await store.query("acme", r) for r in results if isinstance(r, str)]

    results, stored = in_store(scenario)
    assert isinstance(results[1], TypeError)
    assert len(stored) == 2


def test_close_commits_what_is_queued_and_refuses_later_requests(db_path):
    async def main():
        store = await Store.open(db_path)
        pending = [asyncio.ensure_future(store.accept(message(), now=NOW)) for _ in range(50)]
        await asyncio.sleep(0)
        await store.close()
        ids = [await p for p in pending]
        with pytest.raises(StoreError):
            await store.accept(message(), now=NOW)
        store = await Store.open(db_path)
        found = [await store.get(i) for i in ids]
        later = await store.accept(message(), now=NOW - 100)  # the clock went back meanwhile
        await store.close()
        return ids, found, later

    ids, found, later = asyncio.run(main())
    assert len(found) == 50 and later > max(ids)


def test_synchronous_is_validated(db_path):
    with pytest.raises(ValueError):
        asyncio.run(Store.open(db_path, synchronous="OFF"))


def test_new_message_defaults():
    m = NewMessage("a", "s", "d")
    assert (m.body, m.registered_delivery, m.segments, m.scheduled, m.expires) == ({}, 0, 1, None, None)


def test_store_opens_from_config_in_a_new_state_dir(tmp_path):
    from smsc import config

    conf = config.parse("[store]\nsynchronous = 'FULL'\n[receipts]\nexpiry = 60.0\n", state_dir=tmp_path / "new" / "state")

    async def main():
        store = await Store.from_config(conf, clock=lambda: NOW)
        try:
            message_id = await store.accept(message())
            return store.synchronous, store.receipt_expiry, (await store.get(message_id)).submitted
        finally:
            await store.close()

    assert asyncio.run(main()) == ("FULL", 60.0, NOW)
    assert (tmp_path / "new" / "state" / "smsc.db").is_file()


def test_a_second_store_on_the_same_file_is_refused_until_the_first_closes(db_path):
    async def main():
        first = await Store.open(db_path)
        with pytest.raises(StoreError, match="in use"):
            await Store.open(db_path)
        await first.close()
        second = await Store.open(db_path)
        await second.close()

    asyncio.run(main())


def test_purge_deletes_old_finished_messages_only(in_store, db_path):
    from smsc.smpp.constants import MessageState

    day = 86400.0

    async def scenario(store):
        old_done = await store.accept(message(registered_delivery=1), now=NOW - 10 * day)
        old_live = await store.accept(message(), now=NOW - 10 * day)
        new_done = await store.accept(message(registered_delivery=1), now=NOW)
        for message_id, then in ((old_done, NOW - 9 * day), (new_done, NOW)):
            await store.update(message_id, MessageState.ACCEPTED, now=then)  # a history row each
            await store.update(message_id, MessageState.DELIVERED, now=then)
        claim = store.claim_outbound("acme")
        [old_receipt] = await claim.take(1, now=NOW - 9 * day)
        await claim.ack(old_receipt.id, now=NOW - 9 * day)
        purged = [await store.purge(before=NOW - 7 * day, limit=10) for _ in range(2)]
        remaining = []
        for message_id in (old_done, old_live, new_done):
            try:
                remaining.append((await store.get(message_id)).state)
            except Exception as exc:
                remaining.append(type(exc).__name__)
        return purged, remaining, await store.outbound("acme")

    purged, remaining, outbound = in_store(scenario)
    assert purged == [1, 0]
    assert remaining == ["UnknownMessage", MessageState.ENROUTE, MessageState.DELIVERED]
    assert [state for _, state, _ in outbound] == [0]  # the new, undelivered receipt
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM history").fetchone() == (1,)
