"""The HTTP worker's fast path (smsc.http.fastpath): what it takes itself, what it hands
to aiohttp, over real sockets to a gateway with [http] workers = 2."""
from __future__ import annotations

import json
import socket

import pytest

from smsc.http import keys
from smsc.http.fastpath import Answer, parse_head, serialize
from tests.http.conftest import http_config

SEND = json.dumps({"to": "+447700900001", "from": "Shop", "text": "Your code is 1234"}).encode()
HEAD = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nContent-Length: 12"


def test_the_usual_send_is_taken_with_its_headers_and_length():
    assert parse_head(HEAD) == ({"host": "x", "authorization": "Bearer k", "content-length": "12"}, 12)
    assert parse_head(HEAD + b"\r\nConnection: close")[0]["connection"] == "close"


@pytest.mark.parametrize("head", [
    HEAD.replace(b"POST", b"GET"),
    HEAD.replace(b"HTTP/1.1", b"HTTP/1.0"),
    HEAD.replace(b"/v1/messages", b"/v1/messages?x=1"),
    HEAD + b"\r\nTransfer-Encoding: chunked",
    HEAD + b"\r\nExpect: 100-continue",
    HEAD + b"\r\ncontent-length: 12",  # twice
    HEAD + b"\r\n folded",
    HEAD + b"\r\nX-A: a\nX-B: b",  # a bare LF
    HEAD + b"\r\nX-A: a\x00",
    HEAD + b"\r\nBad Name: a",
    HEAD.replace(b"12", b"+12"),
    HEAD.replace(b"Content-Length: 12", b"X: y"),  # no length
    HEAD + b"\r\nConnection: upgrade",
    HEAD + b"\r\nContent-Encoding: gzip",
])
def test_anything_else_goes_to_aiohttp(head):
    assert parse_head(head) is None


def test_an_answer_is_written_with_its_length_date_and_headers():
    data = serialize(Answer(201, [("Content-Type", "application/json")], b"{}"), close=True)
    head, body = data.split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 201 Created" and body == b"{}"
    assert {"Content-Length: 2", "Content-Type: application/json", "Connection: close"} <= set(lines)
    assert any(line.startswith("Date: ") and line.endswith(" GMT") for line in lines)


class Raw:
    """A raw keep-alive connection: bytes out, answers read by Content-Length."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._read()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split()[1]), headers, body

    def closed(self) -> bool:
        return self.sock.recv(1) == b""

    def _read(self) -> None:
        data = self.sock.recv(65536)
        assert data, "closed by the server"
        self.buffer += data


@pytest.fixture
def gateway(serve_http, tmp_path):
    server = serve_http(http_config(tmp_path, workers=2, max_body=4096))
    _, key = keys.create(keys.keys_path(server.runtime.config.store.path, "api-keys.jsonl"), "shop")
    return server, key


def post(key: str, body: bytes = SEND, extra: bytes = b"") -> bytes:
    return (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode()
            + b"\r\nContent-Length: " + str(len(body)).encode() + extra + b"\r\n\r\n" + body)


def test_pipelined_and_trickled_sends_are_answered_in_order(gateway):
    server, key = gateway
    conn = Raw(server.http_port)
    conn.send(post(key) * 3)
    answers = [conn.answer() for _ in range(3)]
    assert [status for status, _, _ in answers] == [201, 201, 201]
    ids = [json.loads(body)["messages"][0]["id"] for _, _, body in answers]
    assert ids == sorted(ids) and len(set(ids)) == 3  # in the order sent
    for byte in post(key):  # one octet at a time
        conn.send(bytes([byte]))
    status, headers, body = conn.answer()
    assert status == 201 and headers["content-type"] == "application/json" and "date" in headers
    assert json.loads(body)["parts"] == 1


def test_connection_close_is_honoured(gateway):
    server, key = gateway
    conn = Raw(server.http_port)
    conn.send(post(key, extra=b"\r\nConnection: close"))
    status, headers, _ = conn.answer()
    assert status == 201 and headers["connection"].lower() == "close" and conn.closed()


def test_refusals_on_the_fast_path_are_json_with_their_headers(gateway):
    server, key = gateway
    conn = Raw(server.http_port)
    conn.send(post("sk_wrong"))
    status, headers, body = conn.answer()
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert json.loads(body)["error"]["code"] == "unauthorized"
    conn.send(post(key, b"{"))
    status, _, body = conn.answer()
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_json"
    conn.send(post(key, b"x" * 5000))  # over max_body: aiohttp's from here
    status, _, body = conn.answer()
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"


def test_a_connection_handed_to_aiohttp_keeps_working(gateway):
    server, key = gateway
    conn = Raw(server.http_port)
    conn.send(post(key))
    message_id = json.loads(conn.answer()[2])["messages"][0]["id"]
    # Expect: 100-continue is aiohttp's to answer; the send still goes through.
    conn.send(post(key, extra=b"\r\nExpect: 100-continue"))
    status, _, _ = conn.answer()
    if status == 100:
        status, _, _ = conn.answer()
    assert status == 201
    chunked = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode()
               + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + f"{len(SEND):x}".encode() + b"\r\n" + SEND
               + b"\r\n0\r\n\r\n")
    conn.send(chunked)
    assert conn.answer()[0] == 201
    conn.send(b"GET /v1/messages/" + message_id.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + key.encode() + b"\r\n\r\n")
    status, _, body = conn.answer()
    assert status == 200 and json.loads(body)["id"] == message_id
    conn.send(post(key))
    assert conn.answer()[0] == 201


def test_a_malformed_request_is_refused_by_aiohttp(gateway):
    server, key = gateway
    conn = Raw(server.http_port)
    conn.send(post(key, extra=b"\r\nContent-Length: 3"))  # two lengths: a smuggling attempt
    assert conn.answer()[0] == 400


def test_many_pipelined_sends_unread_until_all_are_sent_are_all_answered_in_order(gateway):
    server, key = gateway
    conn = Raw(server.http_port)
    count = 400  # ~60 kB of requests: more than the fast path reads ahead, so it pauses reading
    conn.send(post(key) * count)
    statuses = [conn.answer()[0] for _ in range(count)]
    assert set(statuses) <= {201, 429} and statuses[0] == 201
    conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert conn.answer()[0] == 200


def test_over_tls_a_connection_is_handed_to_aiohttp_too(serve_http, tmp_path):
    import http.client
    import ssl

    from tests.integration.test_listeners import self_signed

    cert, tls_key = self_signed(tmp_path)
    server = serve_http(http_config(tmp_path, workers=2, tls_cert=cert, tls_key=tls_key))
    api = server.api()
    api.conn = http.client.HTTPSConnection("127.0.0.1", server.http_port, timeout=10,
                                           context=ssl.create_default_context(cafile=cert))
    status, body, _ = api.post("/v1/messages", json.loads(SEND))  # the fast path, over TLS
    assert status == 201
    status, view, _ = api.get(f"/v1/messages/{body['messages'][0]['id']}")  # aiohttp's from here
    assert status == 200 and view["state"] == "enroute"
    assert api.post("/v1/messages", json.loads(SEND))[0] == 201
