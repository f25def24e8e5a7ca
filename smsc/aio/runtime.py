"""Running the gateway: the event loop, the store, the server, the periodic expiry, the
signals and the graceful stop.

    Runtime(config).run_forever()       # what `smsc serve` does; returns on SIGTERM/SIGINT

Beside the ESME server it runs the forwarder (smsc.aio.forwarder: the upstream binds and
their queues), the inbound side (smsc.aio.inbound: receipts and MO from carriers) and,
for upstreams configured as `simulated`, a carrier simulator in-process
(smsc.bench.carrier_sim) that those binds connect to: the embedded default shows
submit -> receipt with no carrier at all.

On SIGTERM (or SIGINT) the runtime stops accepting connections, unbinds every session,
lets requests in flight finish their commits and answers, unbinds from the carriers,
closes the store (committing what is queued) and returns 0.

On SIGHUP (`smsc reload`) it reads the config again with `loader`: a config that does
not load or validate is refused and logged, the running one stays; a good one is applied
at once: sessions whose account is unchanged stay bound (others are unbound), upstreams
whose settings are unchanged keep their binds, routes are swapped whole.

Tests drive the pieces themselves: `await runtime.start()`, `runtime.addresses`,
`await runtime.stop()`.
"""
from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any, Awaitable, Callable, Iterator, TextIO

from smsc.aio.forwarder import Forwarder
from smsc.aio.inbound import Inbound
from smsc.aio.loop import new_event_loop
from smsc.aio.server import SmppServer
from smsc.collector import settle_gc
from smsc.config import Config, ConfigError, diff
from smsc.gateway import Gateway
from smsc.http.service import HttpService
from smsc.log import get_logger
from smsc.store import Store, StoreError

# How often messages past their validity are expired (with their receipts) and queued
# deliver_sm past theirs dropped. Not in the config yet.
EXPIRE_INTERVAL = 5.0  # also how often finished messages past retention are purged
PURGE_BATCH, PURGE_ROUNDS = 1000, 50  # up to 50,000 messages a round, 1,000 a transaction
HOUSEKEEPING_INTERVAL = 1.0  # unmatched receipts matched again, MO parts timed out


class Runtime:
    def __init__(self, config: Config, *, expire_interval: float = EXPIRE_INTERVAL,
                 clock: Callable[[], float] = time.time, loader: Callable[[], Config] | None = None) -> None:
        self.config = config
        self.loader = loader
        self.forwarder: Forwarder | None = None
        self.inbound: Inbound | None = None
        self.simulators: dict[str, Any] = {}  # upstream name -> CarrierSim
        self._housekeeping: asyncio.Task[None] | None = None
        self.expire_interval = expire_interval
        self.clock = clock
        self.log = get_logger("smsc.runtime")
        self.store: Store | None = None
        self.gateway: Gateway | None = None
        self.server: SmppServer | None = None
        self._expiry: asyncio.Task[None] | None = None
        self.http: HttpService | None = None
        self.serving = False  # started by `serve`

    @property
    def addresses(self) -> list[tuple[str, int, bool]]:
        """(host, port, tls) of each listening socket."""
        return [] if self.server is None else self.server.addresses

    async def start(self) -> None:
        self.store = await Store.from_config(self.config, clock=self.clock)
        try:
            self.gateway = Gateway(self.config, self.store, clock=self.clock)
            self.server = SmppServer(self.config, self.gateway)
            await self.server.start()
            self._expiry = asyncio.get_running_loop().create_task(self._expire_loop(), name="smsc-expiry")
            self.http = HttpService(self)  # compliance, webhooks, metrics, the HTTP API listener
            await self.http.start()
            await self._start_forwarding()
        except BaseException:
            await self.stop()  # what started is stopped again (a port taken...), the store closed
            raise

    async def _start_forwarding(self) -> None:
        assert self.store is not None
        self.inbound = Inbound(self.config, self.store, clock=self.clock)
        self.forwarder = Forwarder(self.config, self.store, self.inbound, clock=self.clock)
        await self.inbound.resume()
        await self._start_simulators(self.config)
        await self.forwarder.start()
        self._hand_accepts_over()
        self._housekeeping = asyncio.get_running_loop().create_task(self._housekeeping_loop(), name="smsc-inbound")

    def _hand_accepts_over(self) -> None:
        """With routes to forward by, committed messages go to the forwarder as they are
        committed, not read back by its scan; without, accepts are spared the hand-over."""
        assert self.store is not None and self.forwarder is not None
        self.store.accepted_hook = self.forwarder.accepted if self.config.routes else None

    async def _start_simulators(self, config: Config) -> None:
        """An in-process carrier for each `simulated` upstream that has none yet."""
        from smsc.bench.carrier_sim import CarrierSim

        assert self.forwarder is not None
        for upstream in config.upstreams:
            if upstream.simulated is not None and upstream.name not in self.simulators:
                sim = await CarrierSim(upstream.simulated.behaviour()).start()
                self.simulators[upstream.name] = sim
                self.forwarder.addresses[upstream.name] = ("127.0.0.1", sim.port)
                self.log.info("simulated_carrier", upstream=upstream.name, port=sim.port)

    async def _housekeeping_loop(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            try:
                assert self.inbound is not None
                await self.inbound.housekeeping()
            except Exception as exc:
                self.log.error("housekeeping_failed", error=repr(exc))

    async def stop(self) -> None:
        """Stop accepting, unbind everyone, finish what is in flight, close the store. A
        part that fails to stop is logged and the others still stop; the store is closed
        whatever happens (its threads would otherwise keep the process from exiting)."""
        try:
            for part, stopping in self._stopping():
                try:
                    await stopping
                except Exception as exc:
                    self.log.error("stop_failed", part=part, error=repr(exc))
        finally:
            if self.store is not None:
                await self.store.close()
        self.log.info("stopped")

    def _stopping(self) -> Iterator[tuple[str, Awaitable[Any]]]:
        """The parts to stop, in order, each as (name, what to await); only those started."""
        if self.server is not None:
            yield "smpp", self.server.stop()
        for task in (self._expiry, self._housekeeping):
            if task is not None:
                task.cancel()
                yield task.get_name(), asyncio.gather(task, return_exceptions=True)
        if self.http is not None:
            yield "http", self.http.stop()
        if self.forwarder is not None:
            assert self.store is not None
            self.store.accepted_hook = None
            yield "forwarding", self.forwarder.stop()
        for name, sim in self.simulators.items():
            yield f"simulator {name}", sim.stop()

    async def expire_once(self) -> int:
        """Expire what is due now: messages past validity, then stale queued deliver_sm."""
        assert self.store is not None
        expired = 0
        while batch := await self.store.expire_due():
            expired += len(batch)
        await self.store.expire_outbound()
        return expired

    async def purge_once(self) -> int:
        """Delete finished messages accepted more than [store] retention ago, in small
        transactions (each a short pause of the writer), at most PURGE_ROUNDS of them."""
        assert self.store is not None
        before, purged = self.clock() - self.config.store.retention, 0
        for _ in range(PURGE_ROUNDS):
            count = await self.store.purge(before, PURGE_BATCH)
            purged += count
            if count < PURGE_BATCH:
                break
        return purged

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self.expire_interval)
            try:
                if expired := await self.expire_once():
                    self.log.info("expired", messages=expired)
                if purged := await self.purge_once():
                    self.log.info("purged", messages=purged)
            except Exception as exc:  # a busy or failing disk: try again next round
                self.log.error("expiry_failed", error=repr(exc))

    async def serve(self, announce: TextIO | None = None) -> None:
        """Start, say where we listen, run until SIGTERM or SIGINT, stop."""
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))
        await self.start()
        self.serving = True
        lost = getattr(self.store, "lost", None)  # a writer process that died (smsc.store.process)
        if lost is not None:
            lost.add_done_callback(lambda _: stopping.set())
        settle_gc()
        if announce is not None:
            for host, port, tls in self.addresses:
                print(f"smsc: listening on {host}:{port}{' (TLS)' if tls else ''}", file=announce, flush=True)
            for host, port, tls in self.http.addresses if self.http is not None else ():
                print(f"smsc: HTTP API on http{'s' if tls else ''}://{host}:{port}", file=announce, flush=True)
        await stopping.wait()
        if lost is not None and lost.done():
            self.log.critical("stopping", reason="the store's writer process exited")
            await self.stop()
            raise StoreError("the store's writer process exited: nothing more can be committed")
        self.log.info("stopping", reason="signal")
        await self.stop()

    async def reload(self) -> bool:
        """Read the config again and apply it; False (and the running config kept) when it
        cannot be read or validated, or nothing reloads it."""
        if self.loader is None:
            self.log.warning("reload_refused", reason="no config file to read again")
            return False
        try:
            new = self.loader()
        except ConfigError as exc:
            self.log.error("reload_refused", reason=str(exc))
            return False
        await self.apply(new)
        return True

    async def apply(self, new: Config) -> None:
        """Swap in a validated config (see the module docstring)."""
        changes = diff(self.config, new)
        self.config = new
        if self.gateway is not None:
            self.gateway.config = new
        if self.server is not None:
            self.server.config = new
            for conn in self.server.connections:
                if conn.account is not None and new.account(conn.account.system_id) != conn.account:
                    asyncio.get_running_loop().create_task(conn.shutdown())
        if self.inbound is not None:
            self.inbound.apply(new)
        if self.http is not None:
            self.http.apply(new)
        if self.forwarder is not None:
            await self._start_simulators(new)
            await self.forwarder.apply(new)
            self._hand_accepts_over()
        self.log.info("reloaded", accounts=list(changes.accounts.changed + changes.accounts.added),
                      upstreams=list(changes.upstreams.changed + changes.upstreams.added),
                      routes_changed=changes.routes_changed, sections=list(changes.sections))

    def run_forever(self, announce: TextIO | None = sys.stdout) -> int:
        """Serve until a signal: 0 after a clean stop, 1 when it could not start (the
        store in use by another process, the port taken...) or its store's writer died."""
        loop = new_event_loop()
        try:
            loop.run_until_complete(self.serve(announce))
        except (StoreError, OSError) as exc:
            started = self.serving  # then it failed while serving (the store's writer died)
            self.log.error("failed" if started else "start_failed", error=str(exc))
            print(f"smsc serve: {'' if started else 'cannot start: '}{exc}", file=sys.stderr)
            return 1
        finally:
            loop.close()
        return 0

