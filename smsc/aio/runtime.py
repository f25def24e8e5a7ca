"""Running the gateway: the event loop, the store, the server, the periodic expiry, the
signals and the graceful stop.

    Runtime(config).run_forever()       # what `smsc serve` does; returns on SIGTERM/SIGINT

On SIGTERM (or SIGINT) the runtime stops accepting connections, unbinds every session,
lets requests in flight finish their commits and answers, closes the store (committing
what is queued) and returns 0.

Tests drive the pieces themselves: `await runtime.start()`, `runtime.addresses`,
`await runtime.stop()`.
"""
from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Callable, TextIO

from smsc.aio.server import SmppServer
from smsc.config import Config
from smsc.gateway import Gateway
from smsc.log import get_logger
from smsc.store import Store, StoreError

# How often messages past their validity are expired (with their receipts) and queued
# deliver_sm past theirs dropped. Not in the config yet.
EXPIRE_INTERVAL = 5.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it can be imported, else the standard one (and it is said)."""
    try:
        import uvloop
    except ImportError as exc:
        get_logger("smsc.runtime").warning("event_loop", implementation="asyncio",
                                           reason=f"uvloop unavailable: {exc}")
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class Runtime:
    def __init__(self, config: Config, *, expire_interval: float = EXPIRE_INTERVAL,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.expire_interval = expire_interval
        self.clock = clock
        self.log = get_logger("smsc.runtime")
        self.store: Store | None = None
        self.gateway: Gateway | None = None
        self.server: SmppServer | None = None
        self._expiry: asyncio.Task[None] | None = None

    @property
    def addresses(self) -> list[tuple[str, int, bool]]:
        """(host, port, tls) of each listening socket."""
        return [] if self.server is None else self.server.addresses

    async def start(self) -> None:
        self.store = await Store.from_config(self.config, clock=self.clock)
        self.gateway = Gateway(self.config, self.store, clock=self.clock)
        self.server = SmppServer(self.config, self.gateway)
        try:
            await self.server.start()
        except BaseException:
            await self.store.close()
            raise
        self._expiry = asyncio.get_running_loop().create_task(self._expire_loop(), name="smsc-expiry")

    async def stop(self) -> None:
        """Stop accepting, unbind everyone, finish what is in flight, close the store."""
        if self.server is not None:
            await self.server.stop()
        if self._expiry is not None:
            self._expiry.cancel()
            await asyncio.gather(self._expiry, return_exceptions=True)
        if self.store is not None:
            await self.store.close()
        self.log.info("stopped")

    async def expire_once(self) -> int:
        """Expire what is due now: messages past validity, then stale queued deliver_sm."""
        assert self.store is not None
        expired = 0
        while batch := await self.store.expire_due():
            expired += len(batch)
        await self.store.expire_outbound()
        return expired

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self.expire_interval)
            try:
                if expired := await self.expire_once():
                    self.log.info("expired", messages=expired)
            except Exception as exc:  # a busy or failing disk: try again next round
                self.log.error("expiry_failed", error=repr(exc))

    async def serve(self, announce: TextIO | None = None) -> None:
        """Start, say where we listen, run until SIGTERM or SIGINT, stop."""
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await self.start()
        if announce is not None:
            for host, port, tls in self.addresses:
                print(f"smsc: listening on {host}:{port}{' (TLS)' if tls else ''}", file=announce, flush=True)
        await stopping.wait()
        self.log.info("stopping", reason="signal")
        await self.stop()

    def run_forever(self, announce: TextIO | None = sys.stdout) -> int:
        """Serve until a signal: 0 after a clean stop, 1 when it could not start (the
        store in use by another process, the port taken...)."""
        loop = new_event_loop()
        try:
            loop.run_until_complete(self.serve(announce))
        except (StoreError, OSError) as exc:
            self.log.error("start_failed", error=str(exc))
            print(f"smsc serve: cannot start: {exc}", file=sys.stderr)
            return 1
        finally:
            loop.close()
        return 0
