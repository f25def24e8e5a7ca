"""A real gateway on 127.0.0.1 (port 0) over a real SQLite file, for real clients.

`gateway_server` runs the Runtime on its own event loop in a thread, so blocking
third-party clients (smpplib) can talk to it from the test. Accounts share one password
hash per password (scrypt is slow on purpose).
"""
from __future__ import annotations

import asyncio
import functools
import threading
import time
from typing import Any, Callable, Iterator

import msgspec
import pytest
import smpplib.client
from structlog.testing import capture_logs

from smsc.aio.loop import new_event_loop
from smsc.aio.runtime import Runtime
from smsc.config import Account, Config, Listener, Receipts, Smpp, Store
from smsc.passwords import hash_password

PASSWORD = "secret1"


@functools.lru_cache(maxsize=None)
def password_hash(password: str) -> str:
    return hash_password(password)


def account(system_id: str = "shop", password: str = PASSWORD, **fields: Any) -> Account:
    return Account(system_id=system_id, password_hash=password_hash(password), **fields)


def make_config(tmp_path, accounts: tuple[Account, ...] = (), listeners: tuple[Listener, ...] | None = None,
                **smpp: Any) -> Config:
    return Config(
        smpp=Smpp(listeners=listeners or (Listener(port=0),), **smpp),
        store=Store(path=str(tmp_path / "smsc.db")),
        # Quick retries, so a refused deliver_sm comes again within a test.
        receipts=Receipts(retry_initial=0.2, retry_max=1.0),
        accounts=accounts or (account(),),
    )


class ServerThread:
    """The gateway's runtime on its own loop in a daemon thread."""

    def __init__(self, config: Config, **runtime_options: Any) -> None:
        self.runtime = Runtime(config, **runtime_options)
        self.loop = new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        self.call(self.runtime.start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.runtime.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def call(self, coroutine: Any, timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def port(self, tls: bool = False) -> int:
        return next(port for _, port, is_tls in self.runtime.addresses if is_tls == tls)

    @property
    def store(self):
        return self.runtime.store

    def client(self, **options: Any) -> smpplib.client.Client:
        client = smpplib.client.Client("127.0.0.1", self.port(options.pop("tls", False)), timeout=5,
                                       allow_unknown_opt_params=True, **options)
        client.connect()
        return client


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """The server's log entries stay in memory, not on the terminal (a test reading them
    opens its own capture_logs inside this one)."""
    with capture_logs():
        yield


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., ServerThread]]:
    """serve(config=None, **runtime_options): a started ServerThread, stopped afterwards."""
    started: list[ServerThread] = []

    def start(config: Config | None = None, **options: Any) -> ServerThread:
        server = ServerThread(config or make_config(tmp_path), **options)
        server.__enter__()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.__exit__(None, None, None)


@pytest.fixture
def server(serve) -> ServerThread:
    return serve()


def with_writer(config: Config, writer: str) -> Config:
    """The config with its store's writer on the gateway's loop or in a process of its own."""
    return msgspec.structs.replace(config, store=msgspec.structs.replace(config.store, writer=writer))


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll until `predicate()` is truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def replace(config: Config, **fields: Any) -> Config:
    return msgspec.structs.replace(config, **fields)
