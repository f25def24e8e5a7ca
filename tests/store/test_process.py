"""ProcessStore (smsc.store.process): the store's writer in a child process. What crosses
the link, what comes back, and what happens when either side dies."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from smsc.smpp.constants import MessageState
from smsc.store import NewMessage, Store, StoreError
from smsc.store import http_tables
from smsc.store.process import ProcessStore

from .conftest import NOW, message


def run(coroutine):
    return asyncio.run(coroutine)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not reaped yet) counts as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_the_accepted_hook_hears_accepts_of_requests_and_of_transact_work_with_their_bodies(db_path):
    async def main():
        store = await ProcessStore.open(db_path, clock=lambda: NOW)
        heard = []
        store.accepted_hook = heard.extend
        try:
            one = await store.accept(message(destination="1"), now=NOW)
            many = await store.accept_many([message(destination="2"), message(destination="3")], now=NOW)
            # The HTTP API's accepts with a client_ref are inserted by work run in the
            # writer's transaction (with the ref's row).
            with_ref = message(destination="4", body={"short_message": b"Your code is 1234", "client_ref": "r1"})
            await http_tables.accept_messages(store, [with_ref], NOW, answer=list)
        finally:
            await store.close()
        return heard, [one, *many]

    heard, ids = run(main())
    assert [m.destination for m in heard] == ["1", "2", "3", "4"]
    assert [m.id for m in heard[:3]] == ids
    assert all(m.body["short_message"] == b"Your code is 1234" and m.state == MessageState.ENROUTE for m in heard)


def test_a_request_that_does_not_pickle_fails_alone(db_path):
    async def main():
        store = await ProcessStore.open(db_path, clock=lambda: NOW)
        try:
            async def closure_work(store, arg):  # a local function: pickle cannot name it
                return arg

            refused, accepted = await asyncio.gather(store.transact(closure_work, 1), store.accept(message(), now=NOW),
                                                     return_exceptions=True)
            after = await store.accept(message(), now=NOW)
            return refused, accepted, after, await store.get(accepted)
        finally:
            await store.close()

    refused, accepted, after, stored = run(main())
    assert isinstance(refused, StoreError) and "must pickle" in str(refused)
    assert isinstance(accepted, str) and isinstance(after, str) and stored.id == accepted


def test_an_error_the_writer_answers_crosses_with_its_type(db_path):
    async def main():
        store = await ProcessStore.open(db_path, clock=lambda: NOW)
        try:
            message_id = await store.accept(message(), now=NOW)
            await store.update(message_id, MessageState.DELIVERED, now=NOW)
            with pytest.raises(StoreError) as final:
                await store.update(message_id, MessageState.UNDELIVERABLE, now=NOW)
            return final.value
        finally:
            await store.close()

    error = run(main())
    assert type(error).__name__ == "MessageFinal" and error.state == MessageState.DELIVERED


def test_options_that_do_not_pickle_are_refused_before_a_process_starts(db_path):
    with pytest.raises(StoreError, match="pickle"):
        run(ProcessStore.open(db_path, receipt_builder=lambda message, now: None))


def test_a_second_writer_of_the_same_file_is_refused(db_path):
    async def main():
        first = await ProcessStore.open(db_path)
        try:
            with pytest.raises(StoreError, match="in use"):
                await ProcessStore.open(db_path, open_wait=0.2)
            with pytest.raises(StoreError, match="in use"):
                await Store.open(db_path)
        finally:
            await first.close()

    run(main())


def test_a_writer_that_dies_fails_what_is_in_flight_and_everything_after(db_path):
    async def main():
        store = await ProcessStore.open(db_path, clock=lambda: NOW)
        try:
            await store.accept(message(), now=NOW)
            os.kill(store.pid, signal.SIGKILL)
            await asyncio.wait_for(asyncio.shield(store.lost), 10)
            with pytest.raises(StoreError):
                await store.accept(message(), now=NOW)
        finally:
            await store.close()  # nothing to commit: returns

    run(main())


GATEWAY = textwrap.dedent("""
    import asyncio, sys
    from smsc.store import NewMessage
    from smsc.store.process import ProcessStore

    async def main():
        store = await ProcessStore.open(sys.argv[1])
        print(store.pid, flush=True)
        done = 0
        while True:  # accept in pipelined groups; report each id once committed
            ids = await asyncio.gather(*[store.accept(NewMessage("acme", "Shop", str(n), {"n": n}))
                                         for n in range(done, done + 50)])
            done += 50
            print(" ".join(ids), flush=True)

    asyncio.run(main())
""")


def test_what_was_acknowledged_survives_a_kill_9_of_the_gateway_and_its_writer_then_exits(db_path, tmp_path):
    script = tmp_path / "gateway.py"
    script.write_text(GATEWAY)
    gateway = subprocess.Popen([sys.executable, str(script), db_path], stdout=subprocess.PIPE, text=True)
    try:
        writer = int(gateway.stdout.readline())
        acknowledged: list[str] = []
        while len(acknowledged) < 1000:
            acknowledged += gateway.stdout.readline().split()
    finally:
        gateway.kill()  # SIGKILL, with accepts in flight
        gateway.wait(10)
    deadline = time.monotonic() + 10
    while alive(writer) and time.monotonic() < deadline:  # it sees the end of its socket
        time.sleep(0.02)
    assert not alive(writer)

    async def stored():
        store = await Store.open(db_path)  # the writer is gone: its lock too
        try:
            return [(await store.get(message_id)).body["n"] for message_id in acknowledged]
        finally:
            await store.close()

    assert run(stored()) == list(range(len(acknowledged)))


def test_a_gateway_restarted_at_once_waits_for_the_last_writer_to_finish(db_path):
    async def main():
        first = await ProcessStore.open(db_path)
        ids = await asyncio.gather(*[first.accept(NewMessage("acme", "Shop", str(n))) for n in range(200)])
        closing = asyncio.ensure_future(first.close())
        await asyncio.sleep(0)
        second = await ProcessStore.open(db_path)  # the first writer may still hold the lock
        try:
            await closing
            return [m.destination for m in [await second.get(message_id) for message_id in ids]]
        finally:
            await second.close()

    assert run(main()) == [str(n) for n in range(200)]
