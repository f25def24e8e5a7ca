"""Binds, session errors and timers over real sockets, with smpplib as the client."""
from __future__ import annotations

import socket
import time

import pytest
import smpplib.exceptions
from smpplib import smpp

from smsc.smpp import status
from tests.integration import raw
from tests.integration.conftest import PASSWORD, account, make_config, replace, wait_for


def bind_status(client, kind: str = "transmitter", **fields) -> int:
    fields.setdefault("system_id", "shop")
    fields.setdefault("password", PASSWORD)
    try:
        resp = getattr(client, f"bind_{kind}")(**fields)
    except smpplib.exceptions.PDUError as exc:
        return exc.args[1]
    return resp.status


def send_raw(client, command: str, **fields):
    """Send a PDU smpplib would refuse to send in its current state, and read the answer."""
    p = smpp.make_pdu(command, client=client, **fields)
    client._socket.sendall(p.generate())
    return client.read_pdu()


@pytest.mark.parametrize("kind", ["transmitter", "receiver", "transceiver"])
def test_each_bind_type_binds_and_unbinds_cleanly(server, kind):
    client = server.client()
    resp = getattr(client, f"bind_{kind}")(system_id="shop", password=PASSWORD)
    assert (resp.command, resp.status, resp.system_id) == (f"bind_{kind}_resp", 0, b"smsc")
    assert wait_for(lambda: server.runtime.server.binds("shop") == 1)
    assert client.unbind().command == "unbind_resp"
    # The server closes its side after the unbind_resp: the next read sees the end.
    with pytest.raises(smpplib.exceptions.ConnectionError):
        client.read_pdu()
    client.disconnect()
    assert wait_for(lambda: server.runtime.server.binds("shop") == 0)


def test_bind_errors_each_get_their_status(serve, tmp_path):
    config = make_config(tmp_path, accounts=(
        account("shop", max_binds=1),
        account("office", allowed_networks=("10.0.0.0/8",)),
        account("sender", bind_types=("transmitter",)),
    ))
    server = serve(config)
    first = server.client()
    assert bind_status(first) == 0
    cases = [
        ({"password": "wrong"}, "transmitter", status.ESME_RINVPASWD),
        ({"system_id": "nobody"}, "transmitter", status.ESME_RINVSYSID),
        ({"system_id": "office"}, "transmitter", status.ESME_RBINDFAIL),  # IP not allowed
        ({}, "transmitter", status.ESME_RBINDFAIL),  # max_binds reached
        ({"system_id": "sender"}, "receiver", status.ESME_RBINDFAIL),  # bind type not allowed
    ]
    for fields, kind, expected in cases:
        client = server.client()
        assert bind_status(client, kind, **fields) == expected, fields
        client.disconnect()
    # A refused bind leaves the connection open and unbound: it may try again.
    client = server.client()
    assert bind_status(client, password="wrong") == status.ESME_RINVPASWD
    assert bind_status(client, system_id="sender") == 0
    client.unbind()
    client.disconnect()
    first.unbind()
    first.disconnect()


def test_request_before_bind_second_bind_and_submit_on_receiver(server):
    client = server.client()
    resp = send_raw(client, "submit_sm", source_addr="Shop", destination_addr="447700900001", short_message=b"x")
    assert (resp.command, resp.status) == ("submit_sm_resp", status.ESME_RINVBNDSTS)
    assert bind_status(client, "receiver") == 0
    resp = send_raw(client, "bind_transmitter", system_id="shop", password=PASSWORD)
    assert (resp.command, resp.status) == ("bind_transmitter_resp", status.ESME_RALYBND)
    resp = send_raw(client, "submit_sm", source_addr="Shop", destination_addr="447700900001", short_message=b"x")
    assert (resp.command, resp.status) == ("submit_sm_resp", status.ESME_RINVBNDSTS)
    client.unbind()
    client.disconnect()


def test_unknown_command_gets_generic_nack_and_the_session_lives_on(server):
    client = server.client()
    assert bind_status(client) == 0
    sock = client._socket
    sock.sendall(raw.pdu(0x00000777, 4242))
    nack = raw.read(sock)
    assert (nack.command_id, nack.status, nack.sequence) == (raw.GENERIC_NACK, status.ESME_RINVCMDID, 4242)
    client.send_message(source_addr="Shop", destination_addr="447700900001", short_message=b"still here")
    resp = client.read_pdu()
    assert (resp.command, resp.status) == ("submit_sm_resp", 0) and resp.message_id
    client.unbind()
    client.disconnect()


def test_impossible_length_closes_only_that_connection(server):
    bystander = server.client()
    assert bind_status(bystander) == 0
    culprit = server.client()
    assert bind_status(culprit) == 0
    culprit._socket.sendall(raw.HEADER.pack(3, raw.SUBMIT_SM, 0, 7))  # shorter than a header
    nack = raw.read(culprit._socket)
    assert (nack.command_id, nack.status) == (raw.GENERIC_NACK, status.ESME_RINVCMDLEN)
    assert culprit._socket.recv(1) == b""  # closed by the server
    culprit.disconnect()
    bystander.send_message(source_addr="Shop", destination_addr="447700900001", short_message=b"fine")
    resp = bystander.read_pdu()
    assert (resp.command, resp.status) == ("submit_sm_resp", 0)
    bystander.unbind()
    bystander.disconnect()


def test_over_size_pdu_closes_the_connection(serve, tmp_path):
    server = serve(make_config(tmp_path, max_pdu_size=256))
    client = server.client()
    assert bind_status(client) == 0
    client._socket.sendall(raw.HEADER.pack(257, raw.SUBMIT_SM, 0, 8))
    nack = raw.read(client._socket)
    assert (nack.command_id, nack.status) == (raw.GENERIC_NACK, status.ESME_RINVCMDLEN)
    assert client._socket.recv(1) == b""
    client.disconnect()


def test_invalid_fields_get_the_matching_status(server):
    client = server.client()
    assert bind_status(client) == 0
    sock = client._socket
    cases = [
        (raw.submit_body(validity="991301000000000+"), status.ESME_RINVEXPIRY),  # month 13
        (raw.submit_body(validity="000101000000000+"), status.ESME_RINVEXPIRY),  # in the past
        (raw.submit_body(destination=""), status.ESME_RINVDSTADR),
        (raw.submit_body()[:-3], status.ESME_RINVMSGLEN),  # body cut short
    ]
    for sequence, (body, expected) in enumerate(cases, start=10):
        resp = raw.request(sock, raw.SUBMIT_SM, sequence, body)
        assert (resp.command_id, resp.status) == (raw.SUBMIT_SM | raw.RESP, expected), body
    client.unbind()
    client.disconnect()


def test_source_not_allowed_and_rate_limit(serve, tmp_path):
    server = serve(make_config(tmp_path, accounts=(account(allowed_sources=("Shop",), rate=2.0),)))
    client = server.client()
    assert bind_status(client) == 0
    sock = client._socket
    assert raw.request(sock, raw.SUBMIT_SM, 1, raw.submit_body(source="Bank")).status == status.ESME_RINVSRCADR
    statuses = [raw.request(sock, raw.SUBMIT_SM, n, raw.submit_body()).status for n in range(2, 6)]
    # A burst of 2 segments a second: the first two pass, the rest are throttled.
    assert statuses[:2] == [0, 0] and status.ESME_RTHROTTLED in statuses[2:]
    client.unbind()
    client.disconnect()


def test_requests_beyond_the_window_are_throttled(serve, tmp_path):
    server = serve(make_config(tmp_path, accounts=(account(window=2),)))
    client = server.client()
    assert bind_status(client) == 0
    sock = client._socket
    sock.sendall(b"".join(raw.pdu(raw.SUBMIT_SM, n, raw.submit_body()) for n in range(1, 7)))
    answers = {resp.sequence: resp.status for resp in (raw.read(sock) for _ in range(6))}
    assert sorted(answers) == [1, 2, 3, 4, 5, 6]
    assert answers[1] == answers[2] == 0
    assert list(answers.values()).count(status.ESME_RTHROTTLED) >= 1
    client.unbind()
    client.disconnect()


def test_a_full_window_pauses_reading_instead_of_refusing(serve, tmp_path):
    config = make_config(tmp_path, accounts=(account(window=2),))
    slow = replace(config, store=replace(config.store, batch_delay=0.3))  # commits take a while
    server = serve(slow)
    client = server.client()
    assert bind_status(client) == 0
    sock = client._socket
    sock.sendall(raw.pdu(raw.SUBMIT_SM, 1, raw.submit_body()) + raw.pdu(raw.SUBMIT_SM, 2, raw.submit_body()))
    time.sleep(0.1)  # the window is full now and both are still committing
    sock.sendall(raw.pdu(raw.SUBMIT_SM, 3, raw.submit_body()))
    # Read only once the first two were answered, the third is accepted, not throttled.
    answers = [raw.read(sock) for _ in range(3)]
    assert [(a.sequence, a.status) for a in answers] == [(1, 0), (2, 0), (3, 0)]
    client.unbind()
    client.disconnect()


def test_unbind_answers_requests_in_flight_before_closing(serve, tmp_path):
    config = make_config(tmp_path)
    server = serve(replace(config, store=replace(config.store, batch_delay=0.3)))
    sock = server.client()._socket
    assert raw.request(sock, raw.BIND_TRANSMITTER, 1, raw.bind_body("shop", PASSWORD)).status == 0
    sock.sendall(raw.pdu(raw.SUBMIT_SM, 2, raw.submit_body()) + raw.pdu(raw.UNBIND, 3))
    first, second = raw.read(sock), raw.read(sock)
    assert (first.command_id, first.sequence) == (raw.UNBIND | raw.RESP, 3)
    assert (second.command_id, second.sequence, second.status) == (raw.SUBMIT_SM | raw.RESP, 2, 0)
    assert sock.recv(1) == b""


def test_inactivity_timeout_closes_a_silent_session(serve, tmp_path):
    server = serve(make_config(tmp_path, enquire_link_interval=30.0, inactivity_timeout=0.3))
    sock = server.client()._socket
    started = time.monotonic()  # silence counts from the bind request, the last thing received
    assert raw.request(sock, raw.BIND_TRANSMITTER, 1, raw.bind_body("shop", PASSWORD)).status == 0
    assert sock.recv(1) == b""
    # libuv keeps time in whole milliseconds: its timer may fire up to a millisecond before
    # a precise clock says 0.3 s (seen once: 0.2999996 s).
    assert 0.29 <= time.monotonic() - started < 3


def test_bind_timeout_closes_the_connection(serve, tmp_path):
    server = serve(make_config(tmp_path, bind_timeout=0.2))
    sock = socket.create_connection(("127.0.0.1", server.port()), timeout=5)
    started = time.monotonic()
    assert sock.recv(1) == b""
    assert time.monotonic() - started < 3
    sock.close()


def test_idle_session_gets_enquire_link_and_is_closed_when_it_stops_answering(serve, tmp_path):
    server = serve(make_config(tmp_path, enquire_link_interval=0.2, response_timeout=0.3))
    sock = socket.create_connection(("127.0.0.1", server.port()), timeout=5)
    assert raw.request(sock, raw.BIND_TRANSCEIVER, 1, raw.bind_body("shop", PASSWORD)).status == 0
    link = raw.read(sock)
    assert link.command_id == raw.ENQUIRE_LINK
    sock.sendall(raw.pdu(raw.ENQUIRE_LINK | raw.RESP, link.sequence))  # answered once...
    assert raw.read(sock).command_id == raw.ENQUIRE_LINK  # ...asked again when idle again
    started = time.monotonic()  # ...and not answered this time
    with pytest.raises(ConnectionError):
        while True:
            raw.read(sock)
    assert time.monotonic() - started < 3
    sock.close()
