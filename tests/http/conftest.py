"""A real gateway with its HTTP API on 127.0.0.1 (port 0), a blocking JSON client, and a
webhook receiver that checks every signature.

The receiver is a stdlib HTTP server in its own thread, so it outlives a restart of the
gateway; `failing` makes it answer 500 (a receiver that is down).
"""
from __future__ import annotations

import http.client
import http.server
import json
import os
import threading
import time
from typing import Any, Callable, Iterator

import msgspec
import pytest

from smsc.config import Compliance, Config, Http
from smsc.http import keys, webhooks
from tests.integration.conftest import ServerThread, account, make_config, quiet_logs, wait_for  # noqa: F401

SECRET = "whsec-test-secret"


# SMSC_HTTP_WORKERS=2 runs every API test through worker processes ([http] workers).
WORKERS = int(os.environ.get("SMSC_HTTP_WORKERS", "0"))


def http_config(tmp_path, *accounts: Any, compliance: Compliance | None = None, **http: Any) -> Config:
    config = make_config(tmp_path, accounts=accounts or (account("shop"),))
    settings = dict(enabled=True, port=0, webhook_retry_initial=0.05, webhook_retry_max=0.2, workers=WORKERS) | http
    return msgspec.structs.replace(config, http=Http(**settings), compliance=compliance or Compliance())


class Api:
    """JSON over one keep-alive connection to the API."""

    def __init__(self, port: int, key: str | None) -> None:
        self.port = port
        self.key = key
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        sent = {"Content-Type": "application/json"} | (headers or {})
        if self.key is not None:
            sent["Authorization"] = f"Bearer {self.key}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        self.conn.request(method, path, body=data, headers=sent)
        response = self.conn.getresponse()
        text = response.read()
        kind = response.getheader("Content-Type", "")
        parsed = json.loads(text) if text and kind.startswith("application/json") else text.decode()
        return response.status, parsed, dict(response.getheaders())

    def post(self, path: str, body: Any = None, **options: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("POST", path, body, **options)

    def get(self, path: str, **options: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("GET", path, **options)


class HttpServer(ServerThread):
    def api(self, account_name: str = "shop") -> Api:
        path = keys.keys_path(self.runtime.config.store.path, self.runtime.config.http.api_keys)
        _, key = keys.create(path, account_name)
        return Api(self.http_port, key)

    @property
    def http_port(self) -> int:
        return self.runtime.http.addresses[0][1]


@pytest.fixture
def serve_http(tmp_path) -> Iterator[Callable[..., HttpServer]]:
    started: list[HttpServer] = []

    def start(config: Config | None = None) -> HttpServer:
        # Worker processes inherit the environment, where pytest names the running test:
        # a test with a 100 kB parameter is over the kernel's limit for one variable.
        os.environ.pop("PYTEST_CURRENT_TEST", None)
        server = HttpServer(config or http_config(tmp_path))
        server.__enter__()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        if server.thread.is_alive():
            server.__exit__(None, None, None)


class Receiver:
    """Records signed webhook events; refuses (401) a bad signature, 500 while failing."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.failing = False
        self.attempts = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                signature = self.headers.get(webhooks.SIGNATURE_HEADER, "")
                if not webhooks.verify(receiver.secret, signature, body, time.time()):
                    receiver.bad_signatures += 1
                    code = 401
                elif receiver.failing:
                    code = 500
                else:
                    event = json.loads(body)
                    assert event["id"] == self.headers[webhooks.EVENT_HEADER]
                    receiver.events.append(event)
                    code = 204
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()
