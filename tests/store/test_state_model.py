"""Random sequences of state changes against a model: a final state is never left, the
history is exactly the changes made, and a receipt is queued once if it was asked for."""
import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smsc import dlr
from smsc.smpp.constants import FINAL_STATES, MessageState
from smsc.store import MessageFinal, Store

from .conftest import NOW, message

operations = st.lists(
    st.one_of(
        st.tuples(st.just("update"), st.sampled_from(list(MessageState))),
        st.tuples(st.just("cancel"), st.none()),
        st.tuples(st.just("expire"), st.none()),
        st.tuples(st.just("replace"), st.none()),
    ),
    max_size=8,
)


@settings(max_examples=25, deadline=None)
@given(operations=operations, registered=st.sampled_from([0, 1, 2]), validity=st.integers(1, 10))
def test_store_follows_the_model(operations, registered, validity):
    async def run(path):
        store = await Store.open(path, clock=lambda: NOW)
        try:
            message_id = await store.accept(message(registered_delivery=registered, expires=NOW + validity), now=NOW)
            state, history, refused = MessageState.ENROUTE, [(MessageState.ENROUTE, NOW)], []
            for step, (kind, target) in enumerate(operations, start=1):
                now = NOW + step
                final = state in FINAL_STATES
                try:
                    if kind == "update":
                        await store.update(message_id, target, now=now)
                    elif kind == "cancel":
                        await store.cancel("acme", message_id, now=now)
                        target = MessageState.DELETED
                    elif kind == "replace":
                        await store.replace("acme", message_id, body={"short_message": b"new"}, now=now)
                        target = state
                    else:
                        expired = await store.expire_due(now=now)
                        target = MessageState.EXPIRED if (not final and now >= NOW + validity) else state
                        assert expired == ([message_id] if target != state else [])
                except MessageFinal:
                    refused.append(step)
                    assert final
                    continue
                assert not final or kind == "expire"
                if target != state:
                    state = target
                    history.append((state, now))
            stored = await store.get(message_id)
            assert stored.state is state and (stored.final is not None) == (state in FINAL_STATES)
            assert await store.history(message_id) == history
            receipts = len(await store.outbound("acme"))
            assert receipts == int(state in FINAL_STATES and dlr.wants_receipt(registered, state))
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(str(Path(tmp) / "smsc.db")))
