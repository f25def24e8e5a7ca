"""Message flows over real sockets into a real SQLite file: submit, data_sm, submit_multi,
query, cancel, replace, and the receipts they lead to."""
from __future__ import annotations

import pytest

from smsc.smpp import status
from smsc.smpp.constants import MessageState
from tests.integration import raw
from tests.integration.conftest import PASSWORD, make_config, wait_for, with_writer


def bound(server, kind: str = "transmitter"):
    client = server.client()
    getattr(client, f"bind_{kind}")(system_id="shop", password=PASSWORD)
    return client


def submit(client, **fields) -> str:
    fields.setdefault("source_addr_ton", 5)
    fields.setdefault("source_addr", "Shop")
    fields.setdefault("dest_addr_ton", 1)
    fields.setdefault("destination_addr", "447700900001")
    fields.setdefault("short_message", b"Your code is 1234")
    client.send_message(**fields)
    resp = client.read_pdu()
    assert (resp.command, resp.status) == ("submit_sm_resp", 0)
    return resp.message_id.decode()


def stored(server, message_id: str):
    return server.call(server.store.get(message_id))


PENDING, DELIVERED = 0, 1  # outbound item states


def outbound(server, account: str = "shop") -> list[tuple[int, int]]:
    """(state, attempts) of the account's queued deliver_sm, oldest first."""
    return [(state, attempts) for _, state, attempts in server.call(server.store.outbound(account))]


def close(client) -> None:
    client.unbind()
    client.disconnect()


def test_submit_answers_with_the_id_of_a_committed_message(server):
    client = bound(server)
    message_id = submit(client, registered_delivery=1)
    # The answer came after the commit: a fresh reader connection sees the row.
    message = stored(server, message_id)
    assert (message.account, message.source, message.destination) == ("shop", "Shop", "447700900001")
    assert message.state == MessageState.ENROUTE and message.registered_delivery == 1
    assert message.body["short_message"] == b"Your code is 1234" and message.segments == 1
    assert message.expires is not None and message.expires > message.submitted
    close(client)


def test_validity_and_schedule_are_stored_in_epoch_seconds(server):
    client = bound(server)
    message_id = submit(client, schedule_delivery_time="000000000100000R", validity_period="000001000000000R")
    message = stored(server, message_id)
    assert abs((message.scheduled - message.submitted) - 60) < 2
    assert abs((message.expires - message.submitted) - 86400) < 2
    close(client)


def test_data_sm_with_a_long_payload_counts_its_segments(server):
    client = bound(server)
    client.send_pdu(_data_sm(client, b"x" * 200))
    resp = client.read_pdu()
    assert (resp.command, resp.status) == ("data_sm_resp", 0)
    message = stored(server, resp.message_id.decode())
    assert message.segments == 2  # 200 GSM-7 characters: 153 + 47
    assert dict((tag, value) for tag, value in message.body["tlvs"])[0x0424] == b"x" * 200
    close(client)


def _data_sm(client, payload: bytes):
    from smpplib import smpp

    return smpp.make_pdu("data_sm", client=client, source_addr="Shop", destination_addr="447700900001",
                         message_payload=payload)


def test_submit_multi_stores_one_message_per_destination(server):
    client = bound(server)
    body = raw.submit_multi_body(["447700900001", "447700900002", ""], dl_names=["friends"])
    resp = raw.request(client._socket, raw.SUBMIT_MULTI, 50, body)
    assert (resp.command_id, resp.status) == (raw.SUBMIT_MULTI | raw.RESP, 0)
    message_id, refused = raw.unsuccess_smes(resp.body)
    assert sorted(refused) == [("", status.ESME_RINVDSTADR), ("friends", status.ESME_RINVDLNAME)]
    first = stored(server, message_id)
    assert first.destination == "447700900001" and first.registered_delivery == 1
    count = server.call(_count(server.store))
    assert count == 2
    close(client)


async def _count(store) -> int:
    async with store._reader.execute("SELECT COUNT(*) FROM messages") as cursor:
        return (await cursor.fetchone())[0]


def test_query_cancel_replace_with_their_errors(server):
    client = bound(server, "transceiver")  # smpplib sends query_sm only from RX/TRX binds
    sock = client._socket
    message_id = submit(client)
    client.query_message(message_id=message_id, source_addr_ton=5, source_addr_npi=0, source_addr="Shop")
    resp = client.read_pdu()
    assert (resp.command, resp.status, resp.message_state) == ("query_sm_resp", 0, MessageState.ENROUTE)
    assert resp.final_date in (None, b"")

    assert raw.request(sock, raw.REPLACE_SM, 60, raw.replace_body(message_id, b"new text")).status == 0
    assert stored(server, message_id).body["short_message"] == b"new text"

    assert raw.request(sock, raw.CANCEL_SM, 61, raw.cancel_body(message_id)).status == 0
    assert raw.request(sock, raw.CANCEL_SM, 62, raw.cancel_body(message_id)).status == status.ESME_RCANCELFAIL
    assert raw.request(sock, raw.REPLACE_SM, 63, raw.replace_body(message_id, b"late")).status == status.ESME_RREPLACEFAIL
    client.query_message(message_id=message_id, source_addr_ton=5, source_addr_npi=0, source_addr="Shop")
    resp = client.read_pdu()
    assert (resp.status, resp.message_state) == (0, MessageState.DELETED)
    assert len(resp.final_date) == 16  # an absolute SMPP time

    unknown = "00000000000000ff"
    assert raw.request(sock, raw.CANCEL_SM, 64, raw.cancel_body(unknown)).status == status.ESME_RINVMSGID
    assert raw.request(sock, raw.REPLACE_SM, 65, raw.replace_body(unknown, b"x")).status == status.ESME_RINVMSGID
    client.query_message(message_id=unknown, source_addr_ton=5, source_addr_npi=0, source_addr="Shop")
    assert client.read_pdu().status == status.ESME_RINVMSGID
    close(client)


def test_submit_with_replace_if_present_takes_the_place_of_the_live_message(server):
    client = bound(server, "transceiver")
    first = submit(client, short_message=b"Your code is 1111", destination_addr="447700900005")
    other = submit(client, short_message=b"elsewhere", destination_addr="447700900006")
    second = submit(client, short_message=b"Your code is 2222", destination_addr="447700900005",
                    replace_if_present_flag=1, validity_period="000000010000000R")
    assert second == first  # the answer carries the replaced message's id
    message = stored(server, first)
    assert message.body["short_message"] == b"Your code is 2222" and message.state == MessageState.ENROUTE
    assert abs((message.expires - message.updated) - 3600) < 2  # its validity too
    assert stored(server, other).body["short_message"] == b"elsewhere"
    assert server.call(_count(server.store)) == 2
    client.query_message(message_id=first, source_addr_ton=5, source_addr_npi=0, source_addr="Shop")
    assert (client.read_pdu().message_state) == MessageState.ENROUTE

    # A final message is not replaced: the flag stores a new one.
    assert raw.request(client._socket, raw.CANCEL_SM, 80, raw.cancel_body(first)).status == 0
    third = submit(client, short_message=b"Your code is 3333", destination_addr="447700900005",
                   replace_if_present_flag=1)
    assert third != first and stored(server, third).body["short_message"] == b"Your code is 3333"
    assert stored(server, first).body["short_message"] == b"Your code is 2222"
    assert server.call(_count(server.store)) == 3
    close(client)


def test_cancel_by_source_and_destination(server):
    client = bound(server)
    ids = [submit(client, destination_addr="447700900009") for _ in range(2)]
    other = submit(client, destination_addr="447700900008")
    resp = raw.request(client._socket, raw.CANCEL_SM, 70, raw.cancel_body("", "Shop", "447700900009"))
    assert resp.status == 0
    assert [stored(server, i).state for i in ids] == [MessageState.DELETED] * 2
    assert stored(server, other).state == MessageState.ENROUTE
    close(client)


def test_another_accounts_message_is_unknown(serve, tmp_path):
    from tests.integration.conftest import account

    server = serve(make_config(tmp_path, accounts=(account("shop"), account("bank"))))
    shop = bound(server)
    message_id = submit(shop)
    bank = server.client()
    bank.bind_transmitter(system_id="bank", password=PASSWORD)
    assert raw.request(bank._socket, raw.CANCEL_SM, 5, raw.cancel_body(message_id)).status == status.ESME_RINVMSGID
    assert stored(server, message_id).state == MessageState.ENROUTE
    close(bank)
    close(shop)


def receive_deliver_sm(client, answer: int = 0):
    """Read until a deliver_sm arrives; answer it with `answer`."""
    got = []

    def handler(pdu):
        got.append(pdu)
        return answer

    client.set_message_received_handler(handler)
    wait_for(lambda: client.read_once() or got, timeout=8)
    return got[0]


def receipt_of(pdu) -> tuple[str, int]:
    return pdu.receipted_message_id.decode(), pdu.message_state


@pytest.mark.parametrize("writer", ["loop", "process"])
def test_cancelled_message_sends_its_receipt_to_a_transceiver(serve, tmp_path, writer):
    # With the writer in a process too, cancel_sm_resp comes first, then the receipt its
    # commit queued (the order of one process).
    server = serve(with_writer(make_config(tmp_path), writer))
    client = bound(server, "transceiver")
    message_id = submit(client, registered_delivery=1)
    assert raw.request(client._socket, raw.CANCEL_SM, 80, raw.cancel_body(message_id)).status == 0
    pdu = receive_deliver_sm(client)
    assert pdu.esm_class == 0x04 and receipt_of(pdu) == (message_id, MessageState.DELETED)
    assert b"stat:DELETED" in pdu.short_message and pdu.destination_addr == b"Shop"
    wait_for(lambda: outbound(server) == [(DELIVERED, 1)])  # acked
    close(client)


def test_receipt_waits_for_a_receiver_that_binds_later(server):
    sender = bound(server, "transmitter")
    message_id = submit(sender, registered_delivery=1)
    assert raw.request(sender._socket, raw.CANCEL_SM, 81, raw.cancel_body(message_id)).status == 0
    close(sender)
    assert outbound(server) == [(PENDING, 0)]  # held, not attempted
    receiver = bound(server, "receiver")
    pdu = receive_deliver_sm(receiver)
    assert receipt_of(pdu) == (message_id, MessageState.DELETED)
    close(receiver)


def test_expired_message_sends_an_expired_receipt(serve, tmp_path):
    server = serve(expire_interval=0.1)
    client = bound(server, "transceiver")
    message_id = submit(client, registered_delivery=1, validity_period="000000000001000R")  # 1 second
    pdu = receive_deliver_sm(client)
    assert receipt_of(pdu) == (message_id, MessageState.EXPIRED)
    assert b"stat:EXPIRED" in pdu.short_message
    close(client)


def test_refused_deliver_sm_is_retried(server):
    client = bound(server, "transceiver")
    message_id = submit(client, registered_delivery=1)
    assert raw.request(client._socket, raw.CANCEL_SM, 82, raw.cancel_body(message_id)).status == 0
    first = receive_deliver_sm(client, answer=status.ESME_RMSGQFUL)
    again = receive_deliver_sm(client)  # retry_initial is 0.2 s in the test config
    assert receipt_of(first) == receipt_of(again) == (message_id, MessageState.DELETED)
    wait_for(lambda: outbound(server) == [(DELIVERED, 2)])
    close(client)


def test_unanswered_deliver_sm_times_out_and_comes_again(serve, tmp_path):
    server = serve(make_config(tmp_path, response_timeout=0.3))
    sock = server.client()._socket
    assert raw.request(sock, raw.BIND_TRANSCEIVER, 1, raw.bind_body("shop", PASSWORD)).status == 0
    resp = raw.request(sock, raw.SUBMIT_SM, 2, raw.submit_body(registered_delivery=1))
    message_id = raw.cstrings(resp.body, 1)[0][0]
    assert raw.request(sock, raw.CANCEL_SM, 3, raw.cancel_body(message_id)).status == 0
    first = raw.read(sock)  # left unanswered
    again = raw.read(sock)
    assert first.command_id == again.command_id == raw.DELIVER_SM
    assert again.sequence != first.sequence and again.body == first.body
    sock.sendall(raw.pdu(raw.DELIVER_SM | raw.RESP, again.sequence, b"\0"))
    wait_for(lambda: outbound(server) == [(DELIVERED, 2)])
    raw.request(sock, raw.UNBIND, 4)


def test_mo_is_spread_over_the_accounts_receivers(server):
    receivers = [bound(server, "receiver") for _ in range(2)]
    mo = {"source_addr": "447700900001", "source_addr_ton": 1, "destination_addr": "Shop",
          "short_message": b"STOP", "data_coding": 0}
    for _ in range(4):
        server.call(server.store.enqueue("shop", mo))
    got = [receive_deliver_sm(receivers[0]), receive_deliver_sm(receivers[1])]
    for pdu in got:
        assert (pdu.esm_class, pdu.source_addr, pdu.destination_addr, pdu.short_message) == (
            0, b"447700900001", b"Shop", b"STOP")
    # Both binds take a share; all four end up delivered, whichever bind got them.
    for client in receivers:
        client.set_message_received_handler(lambda pdu: 0)
    wait_for(lambda: [client.poll() for client in receivers] and outbound(server) == [(DELIVERED, 1)] * 4)
    for client in receivers:
        close(client)
