"""Per-listener limits (smsc.aio.server): each listener counts its own connections
against its own max_connections and gives its connections its own max_pdu_size."""
from __future__ import annotations

import socket

import pytest

from smsc.config import Listener
from smsc.smpp import status
from tests.integration import raw
from tests.integration.conftest import PASSWORD, ServerThread, make_config, quiet_logs, wait_for  # noqa: F401

SMALL, ROOMY = Listener(port=0, max_connections=1, max_pdu_size=256), Listener(port=0)


@pytest.fixture
def server(tmp_path):
    # The [smpp] values are what a listener without its own limits gets.
    with ServerThread(make_config(tmp_path, listeners=(SMALL, ROOMY), max_connections=2)) as running:
        yield running


def ports(server: ServerThread) -> tuple[int, int]:
    (_, small, _), (_, roomy, _) = server.runtime.addresses
    return small, roomy


def closed_at_once(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        return sock.recv(1) == b""


def bound(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert raw.request(sock, raw.BIND_TRANSMITTER, 1, raw.bind_body("shop", PASSWORD)).status == status.ESME_ROK
    return sock


def submit_of(octets: int) -> bytes:
    """A valid submit_sm of exactly this command_length."""
    return raw.submit_body(text=b"x" * (octets - raw.HEADER.size - len(raw.submit_body(text=b""))))


def test_each_listener_counts_its_own_connections(server):
    small, roomy = ports(server)
    with bound(small):
        assert closed_at_once(small)  # its own limit: 1
        with bound(roomy), bound(roomy):  # the [smpp] limit, 2, not taken by the other listener
            assert closed_at_once(roomy)
    # Closed connections are counted out again.
    wait_for(lambda: not server.runtime.server.connections)
    with bound(small):
        pass


def test_each_connection_knows_its_listener_pdu_size(server):
    small, roomy = ports(server)
    with bound(small), bound(roomy):
        smpp_server = server.runtime.server
        sizes = sorted(smpp_server.max_pdu_size(conn) for conn in wait_for(lambda: len(smpp_server.connections) == 2
                                                                            and smpp_server.connections))
        assert sizes == [256, 65536]


def test_a_pdu_over_the_listener_limit_is_refused(server):
    small, roomy = ports(server)
    with bound(roomy) as sock:
        answer = raw.request(sock, raw.SUBMIT_SM, 2, submit_of(257))
        assert (answer.command_id, answer.status) == (raw.SUBMIT_SM | raw.RESP, status.ESME_ROK)
    with bound(small) as sock:
        # The header alone: the server answers and closes on reading it, and octets it
        # never read would make that close a reset, losing the answer.
        sock.sendall(raw.HEADER.pack(257, raw.SUBMIT_SM, 0, 2))
        answer = raw.read(sock)
        assert (answer.command_id, answer.status) == (raw.GENERIC_NACK, status.ESME_RINVCMDLEN)
