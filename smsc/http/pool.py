"""The HTTP worker processes of the gateway's process ([http] workers = N >= 1).

The gateway's process makes the public listening sockets ([http] host:port, one a worker,
SO_REUSEPORT: the kernel spreads new connections over them) and starts N
`python -m smsc.http.worker` processes, each inheriting its socket, each with a socket
pair to this process (smsc.http.rpc). The gateway's own API (HttpApi) then listens only
on a unix socket in a private directory, for what the workers pass on. A worker that dies is started again (and it is logged);
a worker whose gateway died stops by itself (its channel closes).

    pool = WorkerPool(api, count)
    await pool.start()      # when it returns, every worker is serving
    pool.addresses          # [(host, port, tls)]
    pool.apply(config)      # a reload: the workers get the new config
    await pool.stop()       # SIGTERM each: they finish what is in flight and exit
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

from smsc.config import Config
from smsc.http.rpc import GatewayChannel, Settings
from smsc.log import get_logger

START_TIMEOUT = 60.0  # a worker imports smsc and aiohttp: ~1 s, more on a loaded machine
STOP_TIMEOUT = 20.0  # to finish what is in flight (the worker gives requests 10 s), then it is killed
RESTART_DELAY = 1.0  # a worker that dies sooner than this after its start waits this long


class WorkerProcess:
    """One worker: its process and its channel."""

    def __init__(self, process: subprocess.Popen[bytes], channel: GatewayChannel) -> None:
        self.process, self.channel = process, channel
        self.started = time.monotonic()

    async def exited(self, timeout: float | None = None) -> int:
        """Its exit status once it ended (its channel closes first); killed when it has
        not ended within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        try:
            # shielded: a watcher cancelled must not cancel the channel's own future
            await asyncio.wait_for(asyncio.shield(self.channel.closed), timeout)
            return await asyncio.wait_for(loop.run_in_executor(None, self.process.wait), STOP_TIMEOUT)
        except asyncio.TimeoutError:
            self.process.kill()
            return await loop.run_in_executor(None, self.process.wait)


class WorkerPool:
    def __init__(self, api: Any, count: int) -> None:  # an HttpApi
        self.api = api
        self.count = count
        self.workers: list[WorkerProcess] = []
        self.addresses: list[tuple[str, int, bool]] = []
        self.restarts = 0
        self.log = get_logger("smsc.http.pool")
        self._listeners: list[socket.socket] = []  # one a worker, all on one port (SO_REUSEPORT)
        self._directory: str | None = None
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def internal(self) -> str:
        assert self._directory is not None
        return os.path.join(self._directory, "api.sock")

    async def start(self) -> None:
        settings = self.api.config.http
        self._directory = tempfile.mkdtemp(prefix="smsc-http-")  # mode 0700: only this user reaches the API there
        self.api.before_scrape.append(self.collect)
        await self.api.start(public=False, internal=self.internal)
        first = _listen(settings.host, settings.port)
        host, port = first.getsockname()[:2]
        self._listeners = [first] + [_listen(host, port) for _ in range(self.count - 1)]
        self.addresses = [(host, port, settings.tls_cert is not None)]
        try:
            self.workers = list(await asyncio.gather(*(self._spawn(slot) for slot in range(self.count))))
        except BaseException:
            await self.stop()
            raise
        self._watchers = [asyncio.get_running_loop().create_task(self._watch(slot), name=f"smsc-http-worker-{slot}")
                          for slot in range(self.count)]

    async def _spawn(self, slot: int) -> WorkerProcess:
        loop = asyncio.get_running_loop()
        listener = self._listeners[slot].fileno()
        mine, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "smsc.http.worker", "--listen-fd", str(listener),
                 "--channel-fd", str(theirs.fileno()), "--internal", self.internal],
                pass_fds=(listener, theirs.fileno()))
        finally:
            theirs.close()
        try:
            _, channel = await loop.create_unix_connection(lambda: GatewayChannel(self.api), sock=mine)
            channel.send(Settings(self.api.config))
            done, _ = await asyncio.wait([channel.ready, channel.closed], timeout=START_TIMEOUT,
                                         return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # stopped while it started
            mine.close()
            process.kill()
            loop.run_in_executor(None, process.wait)
            raise
        worker = WorkerProcess(process, channel)
        if channel.ready not in done:
            process.kill()
            status = await worker.exited()
            raise OSError(f"the HTTP worker process did not start (exit status {status})")
        self.log.info("http_worker_started", pid=process.pid)
        return worker

    async def _watch(self, slot: int) -> None:
        """Start the worker in `slot` again whenever it dies, until the pool stops."""
        while True:
            worker = self.workers[slot]
            status = await worker.exited()
            if self._stopping:
                return
            self.restarts += 1
            self.log.error("http_worker_died", pid=worker.process.pid, status=status)
            if time.monotonic() - worker.started < RESTART_DELAY:
                await asyncio.sleep(RESTART_DELAY)  # not in a tight loop when it cannot start
            while not self._stopping:
                try:
                    self.workers[slot] = await self._spawn(slot)
                    break
                except OSError as exc:
                    self.log.error("http_worker_start_failed", error=str(exc))
                    await asyncio.sleep(RESTART_DELAY)

    async def collect(self) -> None:
        """The workers' counts into the gateway's metrics (before a scrape); a worker that
        does not answer within a second is not waited for."""
        flushes = [worker.channel.flush() for worker in self.workers]
        if flushes:
            await asyncio.wait(flushes, timeout=1.0)

    def apply(self, config: Config) -> None:
        for worker in self.workers:
            worker.channel.send(Settings(config))

    async def stop(self) -> None:
        self._stopping = True
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(worker.exited(STOP_TIMEOUT) for worker in self.workers))
        for worker in self.workers:
            worker.channel.close()
        for listener in self._listeners:
            listener.close()
        await self.api.stop()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket for one worker, inheritable. Each worker has its own on the one
    port (SO_REUSEPORT): the kernel then spreads connections evenly over them, where
    workers sharing one socket let whichever woke first take a whole burst of them. This
    process keeps them open, so a worker's connections wait in its backlog while it is
    started again."""
    family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(address)
        listener.listen(1024)
        listener.set_inheritable(True)
        listener.setblocking(False)
    except BaseException:
        listener.close()
        raise
    return listener
