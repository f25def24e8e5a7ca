"""PDUs written and read by hand with struct, for what smpplib cannot send (cancel_sm,
replace_sm, submit_multi, broken PDUs) and for clients that misbehave on purpose.
Deliberately independent of smsc.codec: a second reading of the specification."""
from __future__ import annotations

import socket
import struct
from typing import NamedTuple

HEADER = struct.Struct(">IIII")

SUBMIT_SM = 0x00000004
QUERY_SM = 0x00000003
REPLACE_SM = 0x00000007
CANCEL_SM = 0x00000008
SUBMIT_MULTI = 0x00000021
BIND_TRANSMITTER = 0x00000002
BIND_RECEIVER = 0x00000001
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
UNBIND = 0x00000006
DELIVER_SM = 0x00000005
GENERIC_NACK = 0x80000000
RESP = 0x80000000


class Raw(NamedTuple):
    command_id: int
    status: int
    sequence: int
    body: bytes


def cstr(text: str) -> bytes:
    return text.encode("latin-1") + b"\0"


def pdu(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, sequence) + body


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} octets")
        data += chunk
    return data


def read(sock: socket.socket) -> Raw:
    length, command_id, status, sequence = HEADER.unpack(recv_exact(sock, 16))
    return Raw(command_id, status, sequence, recv_exact(sock, length - 16))


def read_response(sock: socket.socket, sequence: int) -> Raw:
    """The response to `sequence`, answering the server's enquire_links on the way."""
    while True:
        got = read(sock)
        if got.command_id == ENQUIRE_LINK:
            sock.sendall(pdu(ENQUIRE_LINK | RESP, got.sequence))
            continue
        if got.sequence == sequence and got.command_id & RESP:
            return got


def request(sock: socket.socket, command_id: int, sequence: int, body: bytes = b"") -> Raw:
    sock.sendall(pdu(command_id, sequence, body))
    return read_response(sock, sequence)


def bind_body(system_id: str, password: str) -> bytes:
    return cstr(system_id) + cstr(password) + cstr("") + bytes((0x34, 0, 0)) + cstr("")


def submit_body(source: str = "Shop", destination: str = "447700900001", text: bytes = b"hello",
                registered_delivery: int = 0, validity: str = "") -> bytes:
    return (cstr("") + bytes((5, 0)) + cstr(source) + bytes((1, 1)) + cstr(destination)
            + bytes((0, 0, 0)) + cstr("") + cstr(validity) + bytes((registered_delivery, 0, 0, 0, len(text))) + text)


def submit_multi_body(destinations: list[str], dl_names: list[str] = (), text: bytes = b"hello all",
                      source: str = "Shop") -> bytes:
    dests = b"".join(bytes((1, 1, 1)) + cstr(d) for d in destinations)
    dests += b"".join(bytes((2,)) + cstr(name) for name in dl_names)
    return (cstr("") + bytes((5, 0)) + cstr(source) + bytes((len(destinations) + len(dl_names),)) + dests
            + bytes((0, 0, 0)) + cstr("") + cstr("") + bytes((1, 0, 0, 0, len(text))) + text)


def cancel_body(message_id: str = "", source: str = "Shop", destination: str = "") -> bytes:
    return cstr("") + cstr(message_id) + bytes((5, 0)) + cstr(source) + bytes((1, 1)) + cstr(destination)


def replace_body(message_id: str, text: bytes, source: str = "Shop") -> bytes:
    return cstr(message_id) + bytes((5, 0)) + cstr(source) + cstr("") + cstr("") + bytes((0, 0, len(text))) + text


def cstrings(body: bytes, count: int) -> tuple[list[str], bytes]:
    """The first `count` C-octet strings of `body`, and what follows them."""
    found = []
    for _ in range(count):
        end = body.index(b"\0")
        found.append(body[:end].decode("latin-1"))
        body = body[end + 1:]
    return found, body


def unsuccess_smes(body: bytes) -> tuple[str, list[tuple[str, int]]]:
    """message_id and (destination_addr, error_status_code) of a submit_multi_resp body."""
    (message_id,), rest = cstrings(body, 1)
    count, rest = rest[0], rest[1:]
    refused = []
    for _ in range(count):
        (address,), rest = cstrings(rest[2:], 1)  # after dest_addr_ton, dest_addr_npi
        refused.append((address, struct.unpack(">I", rest[:4])[0]))
        rest = rest[4:]
    return message_id, refused
