"""Everything the store's writer is handed survives pickling: each request's payload, its
result or error, the re-route check of an UNDELIV receipt and the outbound_queue hook.
The writer may run in another process (smsc.store.process), so no closure may cross.

`CrossingStore` sends every request, and its answer, through a pickle round trip, as the
process link does; each scenario runs on it and on a plain Store, and must give the same
answers on both."""
from __future__ import annotations

import asyncio
import functools
import pickle
from typing import Any

import pytest

from smsc import router
from smsc.aio.inbound import MtTableOnce, Reroutes
from smsc.compliance import Compliance
from smsc.http.api import sent_to
from smsc.http.webhooks import WebhookQueues, enqueue_route_mo, webhook_queue
from smsc.smpp.constants import MessageState as S
from smsc.store import ReceiptOutcome as R, Store
from smsc.store import forwarding as fw, http_tables
from smsc.store.store import run_one
from tests.config_helpers import HASH, parse
from tests.test_config_routing import BASE
from tests.store.conftest import NOW, message


def crossed(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


class CrossingStore(Store):
    """A Store whose requests and answers are pickled and unpickled on the way."""

    def _request(self, kind: str, payload: Any) -> "asyncio.Future[Any]":
        answer = super()._request(kind, crossed(payload))
        back = self._loop.create_future()
        answer.add_done_callback(functools.partial(_relay, back))
        return back


def _relay(back: "asyncio.Future[Any]", answer: "asyncio.Future[Any]") -> None:
    error = answer.exception()
    if error is not None:
        back.set_exception(crossed(error))
    else:
        back.set_result(crossed(answer.result()))


# Accounts acme (its receivers) and shop (a webhook), upstreams a and b.
CONFIG = BASE + f"""
[[accounts]]
system_id = "shop"
password_hash = "{HASH}"
webhook_url = "https://hooks.example/shop"
webhook_secret = "s3cret"

[compliance]
stop_reply = "You are unsubscribed. Reply START to resubscribe."

[[routes]]
name = "chain"
failover = ["a", "b"]

[routes.reroute]
undeliv_errors = ["34"]
"""


@pytest.fixture
def config(tmp_path):
    return parse(CONFIG, tmp_path)


@pytest.fixture
def on_both(tmp_path):
    """on_both(scenario): (what `await scenario(store)` gives on a plain Store, the same
    on a CrossingStore), each on a file of its own."""

    def run(scenario: Any) -> tuple[Any, Any]:
        async def main(kind: type[Store], path: str) -> Any:
            store = await kind.open(path, clock=lambda: NOW)
            try:
                return await scenario(store)
            finally:
                await store.close()

        return tuple(asyncio.run(main(kind, str(tmp_path / f"{kind.__name__}.db")))
                     for kind in (Store, CrossingStore))

    return run


def test_the_crossing_store_refuses_a_closure(tmp_path):
    async def main():
        store = await CrossingStore.open(str(tmp_path / "smsc.db"), clock=lambda: NOW)
        try:
            async def work(store, arg):
                return arg

            with pytest.raises((pickle.PicklingError, AttributeError)):
                await store.transact(work, 1)
            return await store.transact(run_one, ("DELETE FROM early_receipts", ()))
        finally:
            await store.close()

    assert asyncio.run(main()) == 0


def test_forwarding_writes_and_the_due_walk(on_both):
    async def scenario(store):
        ids = [await store.accept(message(destination=f"4477009000{i:02d}"), now=NOW) for i in range(5)]
        held = {fw.parse_id(ids[1])}
        page = await fw.due_after(store, fw.START, NOW, 10, held.__contains__, rows=2)
        rest = await fw.due_after(store, page[1], NOW, 10)
        await store.update(ids[0], upstream="a", carrier_id="c0", now=NOW)
        await fw.record_parts(store, "a", ids[0], ["p1", "p2"], NOW)
        first = await fw.part_receipt(store, "a", "p1", S.DELIVERED, None, NOW + 1)
        second = await fw.part_receipt(store, "a", "p2", S.UNDELIVERABLE, 34, NOW + 2)
        await fw.keep_early(store, "a", "00ABC", S.DELIVERED, None, NOW)
        await fw.keep_early(store, "b", "def", S.EXPIRED, 7, NOW + 5)
        taken = await fw.take_early(store, "a", fw.id_readings("abc"))
        dropped = await fw.drop_early(store, NOW + 1)
        key = ("a", "447700900001", "12345", 7, 2)
        await fw.keep_mo_part(store, key, 1, b"\x00pdu-one", NOW)
        await fw.keep_mo_part(store, key, 2, b"\x00pdu-two", NOW + 1)
        parts = await fw.mo_parts(store)
        await fw.drop_mo_parts(store, key)
        return (ids, [m.id for m in page[0]], page[1:], [m.id for m in rest[0]], rest[1:], first, second, taken,
                dropped, await fw.early_receipts(store), parts, await fw.mo_parts(store))

    plain, crossing = on_both(scenario)
    assert plain == crossing
    ids, page, (cursor, ended), rest, _, first, second, taken, dropped, early, parts, after = crossing
    assert page == [ids[0], ids[2]] and not ended  # ids[1] held, two rows of room
    assert rest == ids[3:]
    assert first == ([S.DELIVERED, None], 1) and second == ([S.DELIVERED, S.UNDELIVERABLE], 2)
    assert taken == [("abc", S.DELIVERED, None)] and dropped == 0 and [e[1] for e in early] == ["def"]
    assert [seq for _, seq, _, _ in parts] == [1, 2] and after == []


def test_http_tables_writes(on_both):
    async def scenario(store):
        answer = functools.partial(sent_to, [("447700900001", None)], "gsm7", 1, [])
        key = ("shop", "k1", b"fingerprint")
        with_ref = message(body={"short_message": b"hi", "client_ref": "r1"})
        first = await http_tables.accept_messages(store, [with_ref], NOW, answer=answer, idempotency=key)
        again = await http_tables.accept_messages(store, [with_ref], NOW, answer=answer, idempotency=key)
        try:
            await http_tables.accept_messages(store, [message()], NOW, answer=answer, idempotency=("shop", "k1", b"x"))
        except http_tables.IdempotencyConflict as exc:
            conflict = str(exc)
        by_ref = await http_tables.accept_messages(store, [with_ref], NOW, answer=answer)
        plain = await http_tables.accept_messages(store, [message()], NOW, answer=answer)
        rows = [("shop", "", "447700900001", "opt-out", "sms", "STOP", NOW),
                ("shop", "", "447700900002", "opt-out", "import", "", NOW),
                ("shop", "", "447700900001", "opt-in", "sms", "START", NOW + 1)]
        consent = await http_tables.record_consent(store, rows)
        also = await http_tables.record_consent(store, rows[:1], also=(run_one, ("SELECT 1", ())))
        refs = [m.id for m in await http_tables.by_client_ref(store, "acme", "r1")]
        return (first, again, conflict, by_ref, plain, consent, also, refs,
                await http_tables.forget_idempotency(store, NOW + 1),
                await http_tables.forget_client_refs(store, NOW + 1),
                await http_tables.optouts(store), await http_tables.consent_audit(store, "shop"))

    plain, crossing = on_both(scenario)
    assert plain == crossing
    first, again, conflict, by_ref, _, consent, also, refs, forgotten, _, optouts, audit = crossing
    assert first[1] is False and again == (first[0], True) and "k1" in conflict
    assert first[0]["messages"][0]["to"] == "447700900001"
    assert refs == [first[0]["messages"][0]["id"], by_ref[0]["messages"][0]["id"]]
    assert consent is None and also == -1 and forgotten == 1
    assert [handset for _, _, handset, _ in optouts] == ["447700900001", "447700900002"]
    assert len(audit) == 4


def test_a_route_mo_and_an_mo_with_its_stop_reply(on_both, config):
    async def scenario(store):
        store.outbound_queue = crossed(WebhookQueues.of(config))
        compliance = Compliance(config, store)
        await compliance.load()
        route_item = await enqueue_route_mo(store, "keywords", {"short_message": b"JOIN"}, NOW)
        body = {"source_addr": "447700900009", "destination_addr": "12345", "short_message": b"Stop"}
        keyword, item_id = await compliance.receive_mo("shop", "447700900009", "12345", "Stop", body, NOW)
        replies = await store.due(now=NOW + 1)
        return (route_item, keyword, item_id, await store.outbound("webhook-mo:keywords"),
                await store.outbound(webhook_queue("shop")), await http_tables.optouts(store),
                [(m.account, m.source, m.destination, m.body) for m in replies],
                compliance.opted_out("shop", "12345", "447700900009"))

    plain, crossing = on_both(scenario)
    assert plain == crossing
    route_item, keyword, item_id, route_queue, shop_queue, optouts, replies, opted_out = crossing
    assert keyword == "stop" and [item for item, _, _ in shop_queue] == [item_id] and opted_out
    assert [item for item, _, _ in route_queue] == [route_item]
    assert optouts == [("shop", "", "447700900009", NOW)]
    [(account, source, destination, reply)] = replies
    assert (account, source, destination) == ("shop", "12345", "447700900009")
    assert b"unsubscribed" in reply["short_message"]


@pytest.mark.parametrize("error, outcome, state", [(34, R.REROUTED, S.ENROUTE), (35, R.APPLIED, S.UNDELIVERABLE)])
def test_an_undeliv_with_the_reroute_check(on_both, config, error, outcome, state):
    table = MtTableOnce(router.MtTable.of(config))

    async def scenario(store):
        store.outbound_queue = crossed(WebhookQueues.of(config))  # the writer's, for the receipt
        message_id = await store.accept(message(account="shop", registered_delivery=1), now=NOW)
        await store.update(message_id, upstream="a", carrier_id="9", now=NOW)
        applied = await store.apply_receipt("a", ["9"], S.UNDELIVERABLE, error,
                                            reroute=Reroutes(table, "a", error, NOW + 5), now=NOW + 5)
        stored = await store.get(message_id)
        return applied, message_id, stored.state, fw.attempted(stored), len(await store.outbound("webhook:shop"))

    plain, crossing = on_both(scenario)
    assert plain == crossing
    (found, message_id), expected_id, stored_state, attempted, receipts = crossing
    assert (found, message_id, stored_state) == (outcome, expected_id, state)
    assert (attempted, receipts) == ((["a"], 0) if outcome is R.REROUTED else ([], 1))


def test_a_reroute_check_pickles_its_table_once(config):
    table = MtTableOnce(router.MtTable.of(config))
    check = Reroutes(table, "a", 34, NOW)
    one, two = crossed(check), crossed(Reroutes(table, "b", 34, NOW))
    assert one.table is two.table and one.table.table == table.table  # unpickled once
    assert (one.upstream, one.error, one.now, two.upstream) == ("a", 34, NOW, "b")
    assert len(pickle.dumps(check)) < len(table._data) + 300  # the table's bytes, made once


def test_webhook_queues_pickle_with_the_same_answers(config):
    queues = WebhookQueues.of(config)
    again = crossed(queues)
    hooked = message(account="acme", body={"short_message": b"x", "webhook_url": "https://own.example/"})
    asks = [("acme", "receipt", None), ("shop", "receipt", None), ("shop", "mo", None), ("nobody", "mo", None)]
    answers = [queues(*ask) for ask in asks]
    assert answers == [again(*ask) for ask in asks] == ["acme", "webhook:shop", "webhook:shop", "nobody"]
    assert again == queues and again.hooked == frozenset({"shop"})
    assert queues("acme", "receipt", hooked) == again("acme", "receipt", hooked) == "webhook:acme"
