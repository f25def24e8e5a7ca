"""query_sm, cancel_sm and replace_sm as the store answers them for an account."""
import pytest

from smsc.smpp import status
from smsc.smpp.constants import MessageState
from smsc.store import MessageFinal, UnknownMessage

from .conftest import NOW, message

BOTH_WRITERS = True  # each scenario also runs with the writer in its own process

S = MessageState


def test_query_answers_only_the_owning_account(in_store):
    async def scenario(store):
        message_id = await store.accept(message(), now=NOW)
        mine = await store.query("acme", message_id)
        outcomes = []
        for account, asked in (("other", message_id), ("acme", "00000000000000ff"), ("acme", "garbage!")):
            with pytest.raises(UnknownMessage) as caught:
                await store.query(account, asked)
            outcomes.append(caught.value.command_status)
        return mine, outcomes

    mine, outcomes = in_store(scenario)
    assert mine.state is S.ENROUTE
    assert outcomes == [status.ESME_RINVMSGID] * 3


def test_cancel_by_id_checks_account_and_source(in_store):
    async def scenario(store):
        message_id = await store.accept(message(), now=NOW)
        for account, source in (("other", ""), ("acme", "NotShop")):
            with pytest.raises(UnknownMessage):
                await store.cancel(account, message_id, source=source, now=NOW + 1)
        cancelled = await store.cancel("acme", message_id, source="Shop", now=NOW + 2)
        with pytest.raises(MessageFinal):
            await store.cancel("acme", message_id, now=NOW + 3)
        return message_id, cancelled, await store.get(message_id)

    message_id, cancelled, stored = in_store(scenario)
    assert cancelled == [message_id]
    assert stored.state is S.DELETED and stored.final == NOW + 2


def test_cancel_by_address_takes_every_live_match_of_the_account(in_store):
    async def scenario(store):
        a1 = await store.accept(message(service_type="A"), now=NOW)
        a2 = await store.accept(message(service_type="B"), now=NOW)
        done = await store.accept(message(), now=NOW)
        await store.update(done, MessageState.DELIVERED, now=NOW)
        other_dest = await store.accept(message(destination="447700900002"), now=NOW)
        other_source = await store.accept(message(source="Bank"), now=NOW)
        other_account = await store.accept(message(account="globex"), now=NOW)
        only_b = await store.cancel("acme", source="Shop", destination="447700900001", service_type="B", now=NOW + 1)
        rest = await store.cancel("acme", source="Shop", destination="447700900001", now=NOW + 1)
        with pytest.raises(UnknownMessage):
            await store.cancel("acme", source="Shop", destination="447700900001", now=NOW + 2)
        with pytest.raises(UnknownMessage):
            await store.cancel("acme", source="Shop", now=NOW + 2)  # neither id nor full address
        live = [(await store.get(i)).state for i in (other_dest, other_source, other_account)]
        return (a1, a2), only_b, rest, live

    (a1, a2), only_b, rest, live = in_store(scenario)
    assert only_b == [a2] and rest == [a1]
    assert live == [S.ENROUTE] * 3


def test_live_matching_lists_live_messages_of_one_address_oldest_first(in_store):
    async def scenario(store):
        first = await store.accept(message(service_type="A"), now=NOW)
        second = await store.accept(message(service_type="B"), now=NOW + 1)
        done = await store.accept(message(), now=NOW + 2)
        await store.update(done, MessageState.DELIVERED, now=NOW + 2)
        await store.accept(message(account="globex"), now=NOW + 3)
        plain = await store.accept(message(), now=NOW + 4)
        return ((first, second, plain), await store.live_matching("acme", "Shop", "447700900001"),
                await store.live_matching("acme", "Shop", "447700900001", "B"),
                await store.live_matching("acme", "Bank", "447700900001"))

    # An empty service_type matches only messages without one (not "any", as for cancel_sm).
    (first, second, plain), without, only_b, none = in_store(scenario)
    assert without == [plain] and only_b == [second] and none == []


def test_replace_changes_what_is_given_and_keeps_the_rest(in_store):
    async def scenario(store):
        message_id = await store.accept(message(expires=NOW + 100, registered_delivery=1), now=NOW)
        await store.replace("acme", message_id, source="Shop", body={"short_message": b"New text"},
                            scheduled=NOW + 30, now=NOW + 1)
        return await store.get(message_id), await store.history(message_id)

    stored, history = in_store(scenario)
    assert stored.body["short_message"] == b"New text" and stored.body["source_addr_ton"] == 5
    assert (stored.scheduled, stored.expires, stored.registered_delivery) == (NOW + 30, NOW + 100, 1)
    assert stored.updated == NOW + 1 and stored.state is S.ENROUTE
    assert history == [(S.ENROUTE, NOW)]


def test_replace_refuses_unknown_foreign_mismatched_and_final(in_store):
    async def scenario(store):
        message_id = await store.accept(message(), now=NOW)
        outcomes = []
        for account, source in (("other", ""), ("acme", "Bank")):
            with pytest.raises(UnknownMessage):
                await store.replace(account, message_id, source=source, body={"short_message": b"x"}, now=NOW)
        await store.update(message_id, S.EXPIRED, now=NOW + 1)
        with pytest.raises(MessageFinal) as caught:
            await store.replace("acme", message_id, body={"short_message": b"x"}, now=NOW + 2)
        outcomes.append(caught.value.state)
        return outcomes, await store.get(message_id)

    outcomes, stored = in_store(scenario)
    assert outcomes == [S.EXPIRED]
    assert stored.body["short_message"] == b"Your code is 1234"
