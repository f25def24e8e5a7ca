"""Listeners: TLS with a certificate made at test time, the connection limit, and
`smsc serve` as a subprocess stopped by SIGTERM."""
from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smsc.config import Listener
from smsc.smpp import status
from tests.integration import raw
from tests.integration.conftest import PASSWORD, make_config, password_hash


def self_signed(directory) -> tuple[str, str]:
    """(cert.pem, key.pem) for 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smsc test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls_listener_serves_smpp_beside_a_plain_one(serve, tmp_path):
    cert, key = self_signed(tmp_path)
    server = serve(make_config(tmp_path, listeners=(Listener(port=0), Listener(port=0, tls_cert=cert, tls_key=key))))
    trusting = ssl.create_default_context(cafile=cert)
    trusting.check_hostname = False  # smpplib wraps the socket without a server name
    client = server.client(tls=True, ssl_context=trusting)
    assert client.bind_transmitter(system_id="shop", password=PASSWORD).status == 0
    client.send_message(source_addr="Shop", destination_addr="447700900001", short_message=b"over TLS")
    resp = client.read_pdu()
    assert (resp.command, resp.status) == ("submit_sm_resp", 0)
    client.unbind()
    client.disconnect()
    # A client that does not trust the certificate never gets a session.
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", server.port(tls=True)), timeout=5) as sock:
            ssl.create_default_context().wrap_socket(sock, server_hostname="127.0.0.1")


def test_connections_over_the_limit_are_closed_at_once(serve, tmp_path):
    server = serve(make_config(tmp_path, max_connections=1))
    first = server.client()
    assert first.bind_transmitter(system_id="shop", password=PASSWORD).status == 0
    with socket.create_connection(("127.0.0.1", server.port()), timeout=5) as second:
        assert second.recv(1) == b""
    first.send_message(source_addr="Shop", destination_addr="447700900001", short_message=b"still fine")
    assert first.read_pdu().status == 0
    first.unbind()
    first.disconnect()


def write_config(tmp_path, port: int = 0) -> str:
    path = tmp_path / "smsc.toml"
    path.write_text(f"""
[smpp]
[[smpp.listeners]]
host = "127.0.0.1"
port = {port}

[store]
path = "{tmp_path / 'smsc.db'}"

[[accounts]]
system_id = "shop"
password_hash = "{password_hash(PASSWORD)}"
window = 100
""")
    return str(path)


def smsc_serve(tmp_path, config: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "smsc", "serve", "-c", config],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SMSC_STATE_DIR": str(tmp_path)})


def test_serve_refuses_to_start_on_a_store_in_use(serve, tmp_path):
    serve()  # holds tmp_path/smsc.db
    process = smsc_serve(tmp_path, write_config(tmp_path))
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 1 and "in use by another smsc process" in stderr


def test_serve_whose_http_port_is_taken_says_so_and_exits_1(tmp_path):
    # What started before the failing listener (the store with its threads, the SMPP
    # listener) is stopped again: the process exits instead of hanging on them.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_config(tmp_path)
        with open(config, "a") as f:
            f.write(f"\n[http]\nenabled = true\nhost = \"127.0.0.1\"\nport = {taken.getsockname()[1]}\n")
        process = smsc_serve(tmp_path, config)
        try:
            _, stderr = process.communicate(timeout=20)
        finally:
            process.kill()  # a hung one: the test fails, the process does not stay behind
            process.wait()
    assert process.returncode == 1 and "cannot start" in stderr


def test_sigterm_unbinds_clients_finishes_and_exits_0(tmp_path):
    process = smsc_serve(tmp_path, write_config(tmp_path))
    try:
        line = process.stdout.readline()
        assert "listening on 127.0.0.1:" in line, line + process.stderr.read()
        port = int(line.rsplit(":", 1)[1].split()[0])
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert raw.request(sock, raw.BIND_TRANSCEIVER, 1, raw.bind_body("shop", PASSWORD)).status == 0
        # Submits in flight when the signal comes: each is answered, with an id only
        # once committed, or refused because the session is unbinding.
        sequences = range(2, 42)
        sock.sendall(b"".join(raw.pdu(raw.SUBMIT_SM, n, raw.submit_body()) for n in sequences))
        process.send_signal(signal.SIGTERM)
        answers, unbinds = {}, 0
        while True:
            try:
                got = raw.read(sock)
            except ConnectionError:
                break  # the server closed the connection after the unbind
            if got.command_id == raw.UNBIND:
                unbinds += 1
                sock.sendall(raw.pdu(raw.UNBIND | raw.RESP, got.sequence))
            else:
                assert got.command_id == raw.SUBMIT_SM | raw.RESP
                answers[got.sequence] = (got.status, raw.cstrings(got.body, 1)[0][0] if got.body else "")
        sock.close()
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert unbinds == 1 and sorted(answers) == list(sequences)
    assert {code for code, _ in answers.values()} <= {0, status.ESME_RINVBNDSTS}
    stderr = process.stderr.read()
    assert '"event": "stopped"' in stderr
    accepted = [int(message_id, 16) for code, message_id in answers.values() if code == 0]
    with sqlite3.connect(tmp_path / "smsc.db") as db:
        stored = {number for (number,) in db.execute("SELECT id FROM messages")}
    assert set(accepted) <= stored
