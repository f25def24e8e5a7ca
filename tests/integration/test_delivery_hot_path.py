"""Client receipts and MO on their hot path, over real sockets into a real SQLite file:
bodies decoded straight into deliver_sm, each deliver_sm's answer settling its item as
its connection reads it, and a client's read of submits and deliver_sm_resp together."""
from __future__ import annotations

import time

from smsc.config import Receipts
from smsc.smpp import status
from tests.integration import raw
from tests.integration.conftest import PASSWORD, make_config, replace, wait_for

PENDING, DELIVERED, EXPIRED = 0, 1, 2  # outbound item states
MO = {"source_addr": "447700900001", "source_addr_ton": 1, "destination_addr": "Shop", "short_message": b"STOP"}


def bind(server, command_id: int = raw.BIND_TRANSCEIVER):
    sock = server.client()._socket
    assert raw.request(sock, command_id, 1, raw.bind_body("shop", PASSWORD)).status == 0
    return sock


def states(server) -> list[tuple[int, int]]:
    return [(state, attempts) for _, state, attempts in server.call(server.store.outbound("shop"))]


def test_a_deliver_sm_unanswered_when_the_last_receiver_drops_is_due_again_at_once(serve, tmp_path):
    # A retry would wait 30 s: the item must come back by the claim's release instead.
    server = serve(replace(make_config(tmp_path), receipts=Receipts(retry_initial=30.0, retry_max=30.0)))
    first = bind(server, raw.BIND_RECEIVER)
    server.call(server.store.enqueue("shop", MO))
    unanswered = raw.read(first)
    assert unanswered.command_id == raw.DELIVER_SM
    first.close()
    wait_for(lambda: not server.runtime.server.binds("shop"))
    second = bind(server, raw.BIND_RECEIVER)
    started = time.monotonic()
    again = raw.read(second)
    assert again.command_id == raw.DELIVER_SM and again.body == unanswered.body
    assert time.monotonic() - started < 5
    second.sendall(raw.pdu(raw.DELIVER_SM | raw.RESP, again.sequence, b"\0"))
    wait_for(lambda: states(server) == [(DELIVERED, 2)])
    raw.request(second, raw.UNBIND, 2)


def test_a_body_that_is_no_deliver_sm_is_given_up_and_the_next_one_delivered(server):
    sock = bind(server)
    server.call(server.store.enqueue("shop", {**MO, "short_message": "text, not octets"}, kind="receipt"))
    server.call(server.store.enqueue("shop", MO))
    pdu = raw.read(sock)
    assert pdu.command_id == raw.DELIVER_SM and pdu.body.endswith(b"STOP")
    sock.sendall(raw.pdu(raw.DELIVER_SM | raw.RESP, pdu.sequence, b"\0"))
    wait_for(lambda: states(server) == [(EXPIRED, 1), (DELIVERED, 1)])
    raw.request(sock, raw.UNBIND, 2)


def test_submits_and_deliver_sm_resp_in_one_read_are_all_served(server):
    sock = bind(server)
    for _ in range(2):
        server.call(server.store.enqueue("shop", MO))
    delivered = [raw.read(sock), raw.read(sock)]
    assert [pdu.command_id for pdu in delivered] == [raw.DELIVER_SM] * 2
    # One write: submit, the first answer, submit, the second answer (a refusal), submit.
    sock.sendall(b"".join([
        raw.pdu(raw.SUBMIT_SM, 10, raw.submit_body()),
        raw.pdu(raw.DELIVER_SM | raw.RESP, delivered[0].sequence, b"\0"),
        raw.pdu(raw.SUBMIT_SM, 11, raw.submit_body()),
        raw.pdu(raw.DELIVER_SM | raw.RESP, delivered[1].sequence, b"\0", status=status.ESME_RMSGQFUL),
        raw.pdu(raw.SUBMIT_SM, 12, raw.submit_body()),
    ]))
    answers, again = {}, None
    while len(answers) < 3 or again is None:
        pdu = raw.read(sock)
        if pdu.command_id == raw.SUBMIT_SM | raw.RESP:
            answers[pdu.sequence] = (pdu.status, raw.cstrings(pdu.body, 1)[0][0])
        else:  # the refused one, again after the test config's 0.2 s backoff
            assert pdu.command_id == raw.DELIVER_SM and again is None
            again = pdu
            sock.sendall(raw.pdu(raw.DELIVER_SM | raw.RESP, pdu.sequence, b"\0"))
    assert again.body == delivered[1].body
    assert sorted(answers) == [10, 11, 12]
    assert all(code == 0 and message_id for code, message_id in answers.values())
    assert len({message_id for _, message_id in answers.values()}) == 3
    wait_for(lambda: sorted(state for state, _ in states(server)) == [DELIVERED, DELIVERED])
    raw.request(sock, raw.UNBIND, 2)


def test_an_idle_receiver_gets_what_is_enqueued_without_waiting_for_the_poll(serve, tmp_path):
    server = serve(make_config(tmp_path, delivery_poll=30.0))
    sock = bind(server, raw.BIND_RECEIVER)
    time.sleep(0.2)  # the delivery loop found nothing and waits
    for _ in range(2):  # the second after the first was answered: the loop idled in between
        started = time.monotonic()
        server.call(server.store.enqueue("shop", MO))
        pdu = raw.read(sock)
        assert pdu.command_id == raw.DELIVER_SM and time.monotonic() - started < 5
        sock.sendall(raw.pdu(raw.DELIVER_SM | raw.RESP, pdu.sequence, b"\0"))
        wait_for(lambda: all(state == DELIVERED for state, _ in states(server)))
    raw.request(sock, raw.UNBIND, 2)

