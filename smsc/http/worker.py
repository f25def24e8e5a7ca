"""An HTTP API worker process: with [http] workers = N, `smsc serve` starts N of these
(smsc.http.pool) on the listening sockets it made, so the API's CPU (HTTP, the key
check, decoding, the text core, the JSON answer) is spread over the cores.

A plain send (POST /v1/messages without Idempotency-Key or client_ref) is read by the
fast path (smsc.http.fastpath; aiohttp takes over connections that send anything else),
built and checked here, and goes to the gateway's process as one Submit frame
(smsc.http.rpc), which screens, rates and commits it there; the 201 comes back after the
commit. Every other request is passed on whole, with the client's address, to the
gateway's own API on an internal unix socket: one implementation of those paths.

    python -m smsc.http.worker --listen-fd N --channel-fd M --internal PATH

SIGTERM: stop accepting, finish the requests in flight, send the last counts, exit.
SIGINT and SIGHUP are the gateway's (the config comes over the channel). When the
channel closes (the gateway is gone) the worker stops the same way.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import time
from typing import Any, Mapping

import aiohttp
import msgspec
from aiohttp import web
from prometheus_client import CollectorRegistry

from smsc.aio.loop import new_event_loop
from smsc.collector import settle_gc
from smsc.config import Config
from smsc.http import keys
from smsc.http.api import PEER_HEADER, Authenticator, check_send, decode, error_response, sent, tls_context, whole_body
from smsc.http.fastpath import Answer, FastPath, Request
from smsc.http.messages import SendRequest, new_messages
from smsc.http.metrics import _LATENCY, Tally, Timings
from smsc.http.rpc import Counts, Ready, WorkerChannel, gateway_gone
from smsc.log import get_logger

COUNTS_INTERVAL = 1.0
STOP_TIMEOUT = 10.0  # for the requests in flight at a stop
SEND_ROUTE = "/v1/messages"
_JSON = [("Content-Type", "application/json")]
# Not passed on either way: they describe one connection, or are recomputed.
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-authorization",
                  "proxy-connection", "content-length", "host", "expect", PEER_HEADER.lower()})
_HOP_BACK = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"})
_STATUS = {status: str(status) for status in (201, 400, 401, 403, 413, 422, 429, 503)}


def answer_of(response: web.Response) -> Answer:
    return Answer(response.status, [(name, value) for name, value in response.headers.items()
                                    if name.lower() not in _HOP_BACK], response.body)  # type: ignore[arg-type]


class Worker:
    def __init__(self, config: Config, channel: WorkerChannel, internal: str) -> None:
        self.config = config
        self.channel = channel
        self.auth = Authenticator(keys.KeyRing(keys.keys_path(config.store.path, config.http.api_keys)))
        registry = CollectorRegistry()  # the gateway's /metrics shows these (Counts frames)
        self.requests = Tally("smsc_http_requests", "", ("route", "status"), registry)
        self.timings = Timings("smsc_submit_response_seconds", "", ("channel",), _LATENCY, registry)
        self.log = get_logger("smsc.http.worker")
        self.session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(internal), auto_decompress=False,
                                             timeout=aiohttp.ClientTimeout(total=120))
        self.loop = asyncio.get_running_loop()
        # Connections the fast path (smsc.http.fastpath) hands over go to aiohttp's
        # low-level server: two routes need no Application, router or match info.
        self.aiohttp = web.Server(self.handle, request_factory=self._request, access_log=None)
        self.connections: set[FastPath] = set()
        self.listener: asyncio.AbstractServer | None = None

    async def start(self, listener: socket.socket) -> None:
        self.listener = await self.loop.create_server(
            lambda: FastPath(self.send, self.aiohttp, lambda: self.config.http.max_body, self.connections),
            sock=listener, ssl=tls_context(self.config.http), backlog=1024)

    async def stop(self) -> None:
        """Stop accepting, let the requests in flight finish (STOP_TIMEOUT at most)."""
        if self.listener is not None:
            self.listener.close()
        answering = [conn.answering for conn in self.connections if conn.answering is not None]
        for conn in list(self.connections):
            conn.close()
        self.aiohttp.pre_shutdown()
        if answering:
            await asyncio.wait(answering, timeout=STOP_TIMEOUT)
        await self.aiohttp.shutdown(STOP_TIMEOUT)
        await self.session.close()

    def send_counts(self, flushed: bool = False) -> None:
        """What was counted since the last time, to the gateway's metrics."""
        if self.requests.counts or self.timings.series or flushed:
            self.channel.send(Counts(self.requests.take(), self.timings.take(), flushed))

    async def send(self, request: Request) -> Answer:
        """A send off the fast path."""
        return await self.submit(request.headers, request.body, request.peer, SEND_ROUTE)

    async def submit(self, headers: Mapping[str, str], raw: bytes, peer: str, target: str) -> Answer:
        """POST /v1/messages: a plain send through the gateway's process (rpc.Submit); an
        idempotent one or one with a client_ref passed on whole (the gateway's store
        remembers those)."""
        started = time.perf_counter()
        config = self.config
        try:
            account = self.auth.account(headers.get("authorization", ""), peer, config)
            if "idempotency-key" in headers:
                return await self.pass_on("POST", target, headers, raw, peer)
            send = decode(raw, SendRequest)
            if send.client_ref is not None:
                return await self.pass_on("POST", target, headers, raw, peer)
            check_send(account, send, config)
            now = time.time()
            messages, encoding, parts = new_messages(send, account.system_id, now, config.smpp)
            accepted = await self.channel.submit(send.category, parts, now, messages)
            answer = Answer(201, _JSON, msgspec.json.encode(sent(accepted.messages, encoding, parts,
                                                                 accepted.rejected)))
            self.timings.observe(time.perf_counter() - started, "http")
        except Exception as exc:
            answer = answer_of(error_response(exc, config.http.max_body, self.log, SEND_ROUTE))
        self.requests.inc(SEND_ROUTE, _STATUS.get(answer.status) or str(answer.status))
        return answer

    async def pass_on(self, method: str, target: str, headers: Mapping[str, str], raw: bytes,
                      peer: str) -> Answer:
        """The gateway's own API answers (and counts) it."""
        sent_headers = [(name, value) for name, value in headers.items() if name.lower() not in _HOP]
        sent_headers.append((PEER_HEADER, peer))
        try:
            async with self.session.request(method, "http://smsc" + target, headers=sent_headers,
                                            data=raw or None, allow_redirects=False) as answer:
                return Answer(answer.status, [(name, value) for name, value in answer.headers.items()
                                              if name.lower() not in _HOP_BACK], await answer.read())
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.log.warning("http_pass_on_failed", path=target, error=repr(exc))
            self.requests.inc("other", "503")
            return Answer(503, _JSON, msgspec.json.encode(gateway_gone().body()))

    # --- connections aiohttp took over ----------------------------------------------------

    def _request(self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task, self.loop,
                               client_max_size=self.config.http.max_body)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        sending = request.path == SEND_ROUTE and request.method == "POST"
        try:
            raw = whole_body(request, self.config.http.max_body) if sending else None
            if raw is None:
                raw = await request.read()
        except Exception as exc:  # over max_body
            response = error_response(exc, self.config.http.max_body, self.log, request.path)
            self.requests.inc(SEND_ROUTE if sending else "other", str(response.status))
            return response
        peer = request.remote or ""
        if sending:
            answer = await self.submit(request.headers, raw, peer, request.raw_path)
        else:
            answer = await self.pass_on(request.method, request.raw_path, request.headers, raw, peer)
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)


async def serve(listen_fd: int, channel_fd: int, internal: str) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    for signum in (signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, lambda: None)
    settings: asyncio.Future[Config] = loop.create_future()
    worker: Worker | None = None

    def on_flush() -> None:
        if worker is not None:
            worker.send_counts(flushed=True)

    def on_settings(config: Config) -> None:
        if worker is not None:
            worker.config = config
        elif not settings.done():
            settings.set_result(config)

    _, channel = await loop.create_unix_connection(lambda: WorkerChannel(on_settings, on_flush),
                                                   sock=socket.socket(fileno=channel_fd))
    await asyncio.wait([settings, channel.closed], return_when=asyncio.FIRST_COMPLETED)
    if not settings.done():
        return
    worker = Worker(settings.result(), channel, internal)
    await worker.start(socket.socket(fileno=listen_fd))
    settle_gc()
    channel.send(Ready(os.getpid()))
    ending = loop.create_task(stopping.wait())
    while not ending.done() and not channel.closed.done():
        await asyncio.wait([ending, channel.closed], timeout=COUNTS_INTERVAL, return_when=asyncio.FIRST_COMPLETED)
        worker.send_counts()
    ending.cancel()
    await worker.stop()
    worker.send_counts()
    channel.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smsc.http.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen-fd", type=int, required=True, help="the public listening socket")
    parser.add_argument("--channel-fd", type=int, required=True, help="this worker's end of the socket pair")
    parser.add_argument("--internal", required=True, help="the gateway's internal unix socket")
    args = parser.parse_args(argv)
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(args.listen_fd, args.channel_fd, args.internal))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
