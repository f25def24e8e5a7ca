"""The forwarding hot path's shortcuts: accepted messages handed to the forwarder without
the scan reading them back (Forwarder.accepted), and the sent records of one read of
submit_sm_resp in one store request (Forwarder.flush_sent), requested before a receipt
that may name one of them."""
from __future__ import annotations

import asyncio
import time

import pytest
import smpplib.smpp

from smsc.codec import pdu as pdu_codec
from smsc.smpp.constants import MessageState, Tag
from smsc.smpp.pdus import (
    BindTransceiver, BindTransceiverResp, DeliverSm, EnquireLink, EnquireLinkResp, SubmitSm, SubmitSmResp,
)
from smsc.config import Route
from smsc.store import NewMessage, OutboundState
from tests.forwarding.conftest import LoopThread, bound, forwarding_config, upstream, wait_for
from tests.forwarding.test_receipts import submit


def test_an_accepted_message_reaches_the_carrier_without_the_scan(serve, tmp_path, sim_of):
    server = serve(forwarding_config(tmp_path))
    forwarder, store, sim = server.runtime.forwarder, server.store, sim_of(server)
    wait_for(lambda: sim.counters["binds"] >= 1 and forwarder._caught_up)

    async def accept_and_hand_over() -> tuple[str, str]:
        forwarder._scanner.cancel()  # from here on only the hand-over can take a message
        store.accepted_hook = None  # and only the one this test makes
        now = time.time()
        due = await store.accept(NewMessage("shop", "Shop", "447700900001", body={"short_message": b"now"}))
        later = await store.accept(NewMessage("shop", "Shop", "447700900002", body={"short_message": b"later"},
                                              scheduled=now + 3600))
        messages = [await store.get(due), await store.get(later)]
        forwarder.accepted(messages)
        forwarder.accepted(messages[:1])  # again at once: held already, not taken twice
        return due, later

    due, later = server.call(accept_and_hand_over())
    wait_for(lambda: server.call(store.get(due)).state == MessageState.DELIVERED)
    assert sim.counters["submit_sm"] == 1  # the scheduled one waits for the scan
    assert server.call(store.get(later)).upstream is None


class ReceiptInTheSameWrite:
    """A carrier that writes each submit_sm_resp and its DELIVRD receipt in one write: the
    receipt reaches smsc in the read that brings the carrier id it names. While `gate` is
    clear it answers nothing (and reads nothing more); `sent`: (destination, text) in order.
    With `together` > 1 it holds the answers until it has that many, then writes them all."""

    def __init__(self, together: int = 1) -> None:
        self.receipts_answered: list[int] = []
        self.sent: list[tuple[str, bytes]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.together = together

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        carrier_ids = iter(range(0x1000, 0x10000))
        answers = b""
        while True:
            try:
                header = await reader.readexactly(4)
                pdu = pdu_codec.decode(header + await reader.readexactly(int.from_bytes(header, "big") - 4))
            except asyncio.IncompleteReadError:
                break
            if type(pdu) is BindTransceiver:
                writer.write(pdu_codec.encode(BindTransceiverResp(sequence_number=pdu.sequence_number, system_id="c")))
            elif type(pdu) is EnquireLink:
                writer.write(pdu_codec.encode(EnquireLinkResp(sequence_number=pdu.sequence_number)))
            elif type(pdu) is SubmitSm:
                self.sent.append((pdu.destination_addr, pdu.short_message))
                await self.gate.wait()
                carrier_id = f"{next(carrier_ids):x}"
                receipt = DeliverSm(sequence_number=pdu.sequence_number, esm_class=0x04,
                                    tlvs=((Tag.RECEIPTED_MESSAGE_ID, carrier_id), (Tag.MESSAGE_STATE, 2)))
                answers += (pdu_codec.encode(SubmitSmResp(sequence_number=pdu.sequence_number, message_id=carrier_id))
                            + pdu_codec.encode(receipt))
                if len(self.sent) % self.together == 0:
                    writer.write(answers)
                    answers = b""
            elif pdu.command_id == DeliverSm.command_id | 0x80000000:
                self.receipts_answered.append(pdu.command_status)
        writer.close()


@pytest.fixture
def same_write_carrier(request):
    """A ReceiptInTheSameWrite on 127.0.0.1 in a loop of its own: (carrier, port). Asked
    for before `serve`, so it outlives the gateway that binds to it. Parametrised
    indirectly, the parameter is its `together`."""
    carrier, thread = ReceiptInTheSameWrite(getattr(request, "param", 1)), LoopThread()
    listener = thread.call(asyncio.start_server(carrier.serve, "127.0.0.1", 0))
    carrier.thread = thread  # type: ignore[attr-defined]
    yield carrier, listener.sockets[0].getsockname()[1]
    thread.run(listener.close)
    thread.close()


def test_a_receipt_read_with_its_submit_sm_resp_finds_the_carrier_id(same_write_carrier, serve, tmp_path):
    carrier, port = same_write_carrier
    server = serve(forwarding_config(tmp_path, upstreams=(upstream("carrier", port=port),)))

    async def accept(n: int) -> str:
        return await server.store.accept(NewMessage("shop", "Shop", f"4477009000{n:02}", registered_delivery=1,
                                                    body={"short_message": b"hi"}))

    ids = [server.call(accept(n)) for n in range(20)]
    wait_for(lambda: len(carrier.receipts_answered) == 20)
    assert carrier.receipts_answered == [0] * 20
    assert all(server.call(server.store.get(message_id)).state == MessageState.DELIVERED for message_id in ids)
    counters = server.runtime.inbound.counters
    # Each found its message by the id its submit_sm_resp had just given: none went the
    # way of a receipt for an id not known yet.
    assert counters["receipts_applied"] == 20 and counters["receipts_unknown"] == 0


@pytest.mark.parametrize("same_write_carrier", [10], indirect=True)
def test_the_sent_records_of_a_read_are_one_request_though_each_receipt_follows_its_answer(
        same_write_carrier, serve, tmp_path):
    carrier, port = same_write_carrier  # ten answers, each followed by its receipt, in one write
    server = serve(forwarding_config(tmp_path, upstreams=(upstream("carrier", port=port),)))
    store, requests = server.store, []
    update_many = store.update_many
    store.update_many = lambda changes, **options: requests.append(len(changes)) or update_many(changes, **options)

    async def accept(n: int) -> str:
        return await store.accept(NewMessage("shop", "Shop", f"4477009000{n:02}", registered_delivery=1,
                                             body={"short_message": b"hi"}))

    ids = [server.call(accept(n)) for n in range(10)]
    wait_for(lambda: len(carrier.receipts_answered) == 10)
    assert requests == [10]  # not one a receipt
    assert all(server.call(store.get(message_id)).state == MessageState.DELIVERED for message_id in ids)
    assert server.runtime.inbound.counters["receipts_applied"] == 10


def test_receipts_answered_together_are_acked_together_before_the_unbind(serve, tmp_path):
    server = serve(forwarding_config(tmp_path))
    client = bound(server)
    ids = [submit(client, short_message=b"hi") for _ in range(10)]
    receipts = []
    while len(receipts) < 10:
        pdu = client.read_pdu()
        if pdu.command == "deliver_sm":
            receipts.append(pdu)
    answers = [smpplib.smpp.make_pdu("deliver_sm_resp", client=client) for _ in receipts]
    for answer, pdu in zip(answers, receipts):
        answer.sequence = pdu.sequence  # (make_pdu would number it anew)
    client._socket.sendall(b"".join(answer.generate() for answer in answers))  # one read for smsc
    client.unbind()  # the claim is released only after their acks are committed
    client.disconnect()
    assert sorted(pdu.receipted_message_id.decode() for pdu in receipts) == sorted(ids)

    def outbound() -> list | None:
        found = server.call(server.store.outbound("shop"))
        return found if [state for _, state, _ in found] == [OutboundState.DELIVERED] * 10 else None

    assert [attempts for _, _, attempts in wait_for(outbound)] == [1] * 10


def full_and_spare(same_write_carrier, serve, tmp_path, spare_window: int | None = None):
    """A gateway with two upstreams on the gated carrier (closed: nothing answered):
    "full" (window 1, so 64 held at most) for destinations 44..., "spare" for the rest."""
    carrier, port = same_write_carrier
    carrier.thread.run(carrier.gate.clear)
    spare = upstream("spare", port=port) if spare_window is None else upstream("spare", port=port, window=spare_window)
    config = forwarding_config(tmp_path, upstreams=(upstream("full", port=port, window=1), spare), routes=(
        Route(name="to-full", destinations=("44",), upstream="full"), Route(name="rest", upstream="spare")))
    server = serve(config)
    forwarder = server.runtime.forwarder
    wait_for(lambda: forwarder._caught_up and forwarder.queues["full"].is_up and forwarder.queues["spare"].is_up)
    return server


def test_after_a_pass_over_nothing_is_taken_as_committed_before_the_walk_from_the_start(
        same_write_carrier, serve, tmp_path):
    """A message passed over (its queue full) waits behind the walk's cursor: a newer one to
    the same destination, handed over once the queue has room, must not leave before it."""
    carrier, _ = same_write_carrier
    server = full_and_spare(same_write_carrier, serve, tmp_path)  # spare: room, the walk runs and reads the page
    forwarder, store, queue = server.runtime.forwarder, server.store, server.runtime.forwarder.queues["full"]

    async def accept(destinations: list[str], text: bytes = b"x") -> list:
        ids = await store.accept_many([NewMessage("shop", "Shop", d, body={"short_message": text})
                                       for d in destinations])
        return [await store.get(message_id) for message_id in ids]

    async def fill_and_pass_over() -> str:
        forwarder._scanner.cancel()  # the walks are this test's own from here
        store.accepted_hook = None
        forwarder.accepted(await accept(["447000000001"] * queue.capacity))  # the queue is full
        (passed_over,) = await accept(["447111111111"], b"first")
        await forwarder.scan_once()  # reads it, no room for it: passed over
        return passed_over.id

    first = server.call(fill_and_pass_over())
    assert queue.room <= 0 and int(first, 16) not in forwarder.held
    carrier.thread.run(carrier.gate.set)
    wait_for(lambda: queue.room > 0)

    async def hand_over_a_newer_one() -> str:
        (newer,) = await accept(["447111111111"], b"second")
        forwarder.accepted([newer])
        return newer.id

    second = server.call(hand_over_a_newer_one())
    assert int(second, 16) not in forwarder.held  # it waits for the walk from the start
    for _ in range(5):
        server.call(forwarder.scan_once())
    wait_for(lambda: [text for destination, text in carrier.sent if destination == "447111111111"]
             == [b"first", b"second"])
    assert all(server.call(store.get(message_id)).carrier_id for message_id in (first, second))


def test_a_walk_reads_no_more_rows_than_the_queues_have_room_for(same_write_carrier, serve, tmp_path):
    carrier, port = same_write_carrier
    carrier.thread.run(carrier.gate.clear)  # nothing answered: what is taken stays held
    server = serve(forwarding_config(tmp_path, upstreams=(upstream(port=port, window=1),)))  # 64 held at most
    forwarder, store = server.runtime.forwarder, server.store
    wait_for(lambda: forwarder._caught_up and forwarder.queues["carrier"].is_up)
    queue = forwarder.queues["carrier"]

    async def leave_room_for_four() -> int:
        forwarder._scanner.cancel()  # the walks are this test's own from here
        store.accepted_hook = None
        ids = await store.accept_many([NewMessage("shop", "Shop", f"4470000{n:05d}", body={"short_message": b"x"})
                                       for n in range(queue.capacity - 4 + 30)])
        forwarder.accepted([await store.get(message_id) for message_id in ids[:queue.capacity - 4]])
        return await forwarder.scan_once()

    assert server.call(leave_room_for_four()) == 4
    assert queue.room == 0 and forwarder.counters["scanned"] == 4  # not the 30 due
    carrier.thread.run(carrier.gate.set)


def test_a_walk_that_passed_a_message_over_starts_again_from_the_start_at_once(
        same_write_carrier, serve, tmp_path):
    """A message passed over (its queue full, others with room) is behind the walk's
    cursor: the walk's next page must not take a newer one to the same destination once
    the queue has room, but start again from the start."""
    carrier, _ = same_write_carrier
    server = full_and_spare(same_write_carrier, serve, tmp_path, spare_window=200)  # 800: room for a whole page
    forwarder, store, queue = server.runtime.forwarder, server.store, server.runtime.forwarder.queues["full"]

    async def accept(destinations: list[str], text: bytes = b"x") -> list[str]:
        return await store.accept_many([NewMessage("shop", "Shop", d, body={"short_message": text})
                                        for d in destinations])

    async def pass_one_over_in_a_full_page() -> tuple[str, str]:
        forwarder._scanner.cancel()
        store.accepted_hook = None
        forwarder.accepted([await store.get(message_id) for message_id in await accept(["447000000001"] * 64)])
        (first,) = await accept(["447111111111"], b"first")
        await accept([f"3361{n:07d}" for n in range(520)])  # the page's other 499, and more
        (second,) = await accept(["447111111111"], b"second")  # on the walk's next page
        await forwarder.scan_once()  # a whole page: "first" passed over, the others taken
        return first, second

    first, second = server.call(pass_one_over_in_a_full_page())
    assert queue.room <= 0 and int(first, 16) not in forwarder.held
    carrier.thread.run(carrier.gate.set)
    wait_for(lambda: queue.room > 0)
    for _ in range(5):
        server.call(forwarder.scan_once())
    wait_for(lambda: [text for destination, text in carrier.sent if destination == "447111111111"]
             == [b"first", b"second"])
    assert all(server.call(store.get(message_id)).carrier_id for message_id in (first, second))


def test_a_message_committed_during_the_walk_that_catches_up_is_taken_when_it_ends(serve, tmp_path):
    """Accepted after the walk read its clock, committed before its page: not on the page
    (scheduled after the walk's `now`) but handed over meanwhile, so taken as the walk
    ends. Left to the next walk, newer messages to its destination, taken as committed
    in between, would go first (seen with the store's writer in a process of its own)."""
    server = serve(forwarding_config(tmp_path))
    forwarder, store = server.runtime.forwarder, server.store
    wait_for(lambda: forwarder._caught_up and forwarder.queues["carrier"].is_up)

    async def accept_during_the_last_walk() -> str:
        forwarder._scanner.cancel()  # the walks are this test's own from here
        forwarder._start_over()
        await forwarder.scan_once()  # from the start: not caught up yet
        walk = asyncio.get_running_loop().create_task(forwarder.scan_once())
        await asyncio.sleep(0)  # the walk has read its clock and asked for its page
        message_id = await store.accept(NewMessage("shop", "Shop", "447700900001", body={"short_message": b"x"}))
        await walk
        # Looked at before the carrier could answer it (its sent record releases it).
        return forwarder._caught_up, int(message_id, 16) in forwarder.held

    assert server.call(accept_during_the_last_walk()) == (True, True)
