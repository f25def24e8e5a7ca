"""The carrier side: we bind to an upstream SMSC as an ESME.

    link = await UpstreamLink.open(settings, handler, index)   # connected and bound
    link.submit(submit_sm, context)  # its answer comes to handler.on_response(link, context, pdu)
    bind = UpstreamBind(settings, handler, index); bind.start() ... await bind.stop()

UpstreamLink is one connection: an asyncio.Protocol driving a sans-I/O Session in the
ESME role. It answers enquire_link itself, sends its own when the link is idle (an
unanswered one closes the link), and hands everything else to its handler (the
forwarder): responses to our submits, their timeouts, the requests the carrier sends
(deliver_sm / data_sm: receipts and MO, those of one read together, each answered with
the status the handler gives, so after its commit), and the loss of the link with the
submits that were unanswered.

UpstreamBind is the supervisor of one configured bind: connect, bind, wait until the
link goes, and again, with exponential backoff and jitter between failed attempts and
the longer `rebind_pause` after the carrier refused our credentials.
"""
from __future__ import annotations

import asyncio
import os
import random
import ssl
from typing import Any, Callable, Protocol

from smsc.aio.timer import DeadlineTimer
from smsc.config import Upstream
from smsc.log import get_logger
from smsc.smpp import status
from smsc.smpp.errors import SmppError
from smsc.smpp.events import (
    NEED_DATA, EnquireLinkDue, InactivityTimeout, PeerClosed, ProtocolError, RequestReceived,
    ResponseReceived, ResponseTimeout, UnmatchedResponse,
)
from smsc.smpp.pdus import (
    RESPONSE_CLASS, BindReceiver, BindTransceiver, BindTransmitter, DataSm, DeliverSm, EnquireLink, Pdu, Unbind,
)
from smsc.smpp.session import Session, as_event
from smsc.smpp.state import BOUND, Role, State

BIND_CLASSES = {"transmitter": BindTransmitter, "receiver": BindReceiver, "transceiver": BindTransceiver}
# Refusals that name our credentials or our right to bind: retrying at once only angers
# the carrier (some lock the account), so these wait `rebind_pause`.
CREDENTIAL_REFUSALS = frozenset({status.ESME_RBINDFAIL, status.ESME_RINVPASWD, status.ESME_RINVSYSID})
CONNECT_TIMEOUT = 10.0
INBOUND_WINDOW = 1000  # deliver_sm/data_sm the carrier may have unanswered before ESME_RTHROTTLED
UNBIND_WAIT = 2.0
_CLOSED = State.CLOSED  # read for every PDU sent: a global is quicker than the enum's attribute


class LinkHandler(Protocol):
    """What a link reports to (the forwarder implements it)."""

    def on_ready(self, link: "UpstreamLink") -> None: ...

    def on_response(self, link: "UpstreamLink", context: Any, pdu: Pdu) -> None: ...

    def on_timeout(self, link: "UpstreamLink", context: Any) -> None: ...

    def on_lost(self, link: "UpstreamLink", contexts: list[Any]) -> None: ...

    def on_requests(self, link: "UpstreamLink", pdus: list[Pdu],
                    respond: Callable[[Pdu, int | BaseException], None]) -> None:
        """The deliver_sm / data_sm of one read: call `respond(pdu, status)` for each,
        once what it says is committed (or with the exception that kept it from being).
        Raising answers them all with that exception: only before answering any."""


class BindRefused(Exception):
    def __init__(self, command_status: int) -> None:
        super().__init__(status.status_name(command_status))
        self.command_status = command_status


def password_of(settings: Upstream) -> str:
    """The bind password: from the environment variable the config names, else the config."""
    if settings.password_env:
        return os.environ.get(settings.password_env, "")
    return settings.password


def tls_context(settings: Upstream) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    context = ssl.create_default_context(cafile=settings.tls_ca)
    if not settings.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class UpstreamLink(asyncio.Protocol):
    def __init__(self, settings: Upstream, handler: LinkHandler, index: int = 0) -> None:
        self.settings = settings
        self.handler = handler
        self.name = f"{settings.name}#{index}"
        self.loop = asyncio.get_running_loop()
        self.log = get_logger("smsc.upstream", upstream=settings.name, bind=index)
        # The session's window also bounds what the carrier may send us unanswered: kept
        # wide (carriers burst receipts), our own submits are bounded by free_window.
        self.session = Session(
            Role.ESME, window=max(INBOUND_WINDOW, settings.window), bind_timeout=None,
            enquire_link_interval=settings.enquire_link_interval,
            response_timeout=settings.response_timeout,
            inactivity_timeout=max(3 * settings.enquire_link_interval, settings.response_timeout * 2),
            now=self.loop.time())
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self.writable = True
        self._bound: asyncio.Future[Pdu] = self.loop.create_future()
        self._timer = DeadlineTimer(self.loop, self._on_timer)
        self._out: list[bytes] = []  # PDUs sent this loop turn, written together by _flush

    @classmethod
    async def open(cls, settings: Upstream, handler: LinkHandler, index: int = 0) -> "UpstreamLink":
        """Connect and bind; BindRefused, OSError or TimeoutError when it cannot."""
        loop = asyncio.get_running_loop()
        link = cls(settings, handler, index)
        await asyncio.wait_for(loop.create_connection(lambda: link, settings.host, settings.port,
                                                      ssl=tls_context(settings)), CONNECT_TIMEOUT)
        try:
            await asyncio.wait_for(link._bind(), settings.response_timeout)
        except BaseException:
            link.close()
            raise
        return link

    async def _bind(self) -> None:
        s = self.settings
        bind = BIND_CLASSES[s.bind_type](system_id=s.system_id, password=password_of(s), system_type=s.system_type,
                                         interface_version=0x34)
        self._send(bind, context=self._bound)
        response = await self._bound
        if response.command_status:
            raise BindRefused(response.command_status)
        self.log.info("upstream_bound", carrier=getattr(response, "system_id", ""))
        self.handler.on_ready(self)

    # --- state ----------------------------------------------------------------------------

    @property
    def is_bound(self) -> bool:
        return (self.transport is not None and not self.transport.is_closing()
                and self.session.state in BOUND)

    @property
    def free_window(self) -> int:
        if not self.is_bound or not self.writable:
            return 0
        return max(0, self.settings.window - self.session.outstanding)

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._rearm()

    def data_received(self, data: bytes) -> None:
        self.session.receive_data(data, now=self.loop.time())
        self._drain()

    def eof_received(self) -> bool:
        self.session.receive_data(b"", now=self.loop.time())
        self._drain()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.cancel()
        lost = self.session.close()
        if not self._bound.done():
            self._bound.set_exception(ConnectionError("connection lost before the bind was answered"))
        contexts = [o.context for o in lost
                    if o.context is not None and o.context is not _LINK_CHECK and not isinstance(o.context, asyncio.Future)]
        for o in lost:
            if isinstance(o.context, asyncio.Future) and not o.context.done():
                o.context.set_exception(ConnectionError("connection lost"))
        if self._bound.done() and not self._bound.cancelled() and self._bound.exception() is None:
            self.handler.on_lost(self, contexts)
        if not self.closed.done():
            self.closed.set_result(None)
        self.log.info("upstream_disconnected", error=None if exc is None else str(exc), unanswered=len(contexts))

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        self.handler.on_ready(self)  # room again: let the forwarder send

    # --- events -----------------------------------------------------------------------------

    def _drain(self) -> None:
        next_hot, handler = self.session.next_hot, self.handler
        receipts = []
        while (item := next_hot()) is not NEED_DATA:
            # The two PDUs of every message first, without event records: a response to a
            # submit (its context a plain tuple of the forwarder's) and a deliver_sm.
            kind = type(item)
            if kind is tuple and type(item[1].context) is tuple:
                handler.on_response(self, item[1].context, item[0])
            elif kind is DeliverSm:
                receipts.append(item)
            else:
                self._on_event(as_event(item))
        # A read's deliver_sm after its responses: the sent records those gave are then
        # requested at once, before the first receipt (which may name one of them), not
        # one request per receipt that follows a response (a carrier that writes each
        # receipt with its submit_sm_resp cost smsc ~8 % more that way, session 6).
        if receipts:
            self._answer(receipts)
        self._rearm()

    def _on_event(self, event: Any) -> None:
        match event:
            case ResponseReceived(pdu=pdu, context=context):
                if isinstance(context, asyncio.Future):
                    if not context.done():
                        context.set_result(pdu)
                elif context is not None and context is not _LINK_CHECK:
                    self.handler.on_response(self, context, pdu)
            case RequestReceived(pdu=EnquireLink() as pdu):
                self._send(pdu.response())
            case RequestReceived(pdu=Unbind() as pdu):
                self._send(pdu.response())
                self.log.info("upstream_unbound", by="carrier")
                self.close()
            case RequestReceived(pdu=DeliverSm() | DataSm() as pdu):
                self._answer([pdu])
            case RequestReceived(pdu=pdu):
                self._send(pdu.response(status.ESME_RINVCMDID))
            case UnmatchedResponse(pdu=pdu):
                self.log.debug("unmatched_response", command=pdu.name, sequence_number=pdu.sequence_number)
            case ProtocolError(error=error, answer=answer, close=close):
                self.log.warning("protocol_error", status=error.status_name, error=str(error.args[0]), close=close)
                if answer is not None:
                    self._send(answer)
                if close:
                    self.close()
            case PeerClosed():
                pass

    def _answer(self, pdus: list[Pdu]) -> None:
        """Answer receipts and MO with the statuses the handler gives once committed."""
        try:
            self.handler.on_requests(self, pdus, self._respond)
        except Exception as exc:
            for pdu in pdus:
                self._respond(pdu, exc)

    def _respond(self, pdu: Pdu, outcome: int | BaseException) -> None:
        if isinstance(outcome, BaseException):  # a bug or a failing store: the carrier retries later
            self.log.error("inbound_failed", command=pdu.name, error=repr(outcome), exc_info=outcome)
            outcome = status.ESME_RX_T_APPN
        # Built directly, positionally (sequence_number, command_status): Pdu.response's
        # keywords cost ~0.6 us, and a receipt's answer is hot.
        self._send(RESPONSE_CLASS[type(pdu)](pdu.sequence_number, outcome))

    # --- sending ----------------------------------------------------------------------------

    def _send(self, pdu: Pdu, context: Any = None) -> bool:
        if self.transport is None or self.transport.is_closing() or self.session.state is _CLOSED:
            return False
        try:
            data = self.session.send(pdu, context=context, now=self.loop.time())
        except SmppError as exc:
            self.log.debug("send_refused", command=pdu.name, error=str(exc))
            return False
        if not self._out:
            self.loop.call_soon(self._flush)
        self._out.append(data)
        return True

    def _flush(self) -> None:
        # One write per loop turn, not one per PDU: a window of submits, or the answers
        # to a burst of receipts, leaves in one send() (one system call, one wake-up of
        # the carrier).
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
            self._rearm()  # what was sent may bring a deadline nearer (an answer due)
        self._out.clear()

    def submit(self, pdu: Pdu, context: Any) -> bool:
        """Send a submit_sm; its answer goes to handler.on_response with `context`. The
        caller keeps within `free_window` (the forwarder's pump reads it once a pass and
        counts it down: not read again per part). False (nothing sent) when the link is
        closing or the session refuses the PDU."""
        return self._send(pdu, context)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._flush()  # what was sent goes before the close
            self.transport.close()

    async def unbind(self) -> None:
        """Say goodbye (waiting a moment for the answer) and close."""
        if self.is_bound:
            answer: asyncio.Future[Pdu] = self.loop.create_future()
            if self._send(Unbind(), context=answer):
                try:
                    await asyncio.wait_for(answer, UNBIND_WAIT)
                except (TimeoutError, ConnectionError):
                    pass
        self.close()
        await self.closed

    # --- timers -------------------------------------------------------------------------------

    def _rearm(self) -> None:
        self._timer.rearm(self.session.next_deadline())

    def _on_timer(self) -> None:
        if self.session.state is State.CLOSED:
            return
        for event in self.session.tick(self.loop.time()):
            match event:
                case EnquireLinkDue():
                    self._send(EnquireLink(), context=_LINK_CHECK)
                case ResponseTimeout(context=context):
                    if context is _LINK_CHECK:
                        self.log.warning("link_dead", reason="enquire_link unanswered")
                        self.close()
                    elif isinstance(context, asyncio.Future):
                        if not context.done():
                            context.set_exception(TimeoutError("no answer"))
                    elif context is not None:
                        self.handler.on_timeout(self, context)
                case InactivityTimeout():
                    self.log.warning("link_dead", reason="nothing received")
                    self.close()
        self._rearm()


class _LinkCheck:
    """The context of our enquire_links: nobody waits for their answers."""


_LINK_CHECK = _LinkCheck()


def backoff(attempt: int, settings: Upstream, rng: random.Random = random.Random()) -> float:
    """The wait before reconnect attempt `attempt` (0 first): exponential, capped, jittered."""
    b = settings.reconnect
    wait = min(b.max, b.initial * b.factor ** attempt)
    return max(0.0, wait * (1 + rng.uniform(-b.jitter, b.jitter)))


class UpstreamBind:
    """Keeps one configured bind up until `stop`; `link` is the current one (or None)."""

    def __init__(self, settings: Upstream, handler: LinkHandler, index: int = 0) -> None:
        self.settings = settings
        self.handler = handler
        self.index = index
        self.link: UpstreamLink | None = None
        self.log = get_logger("smsc.upstream", upstream=settings.name, bind=index)
        self.connects = 0  # successful binds, for tests and metrics
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"upstream-{self.settings.name}-{self.index}")

    async def stop(self) -> None:
        self._stopping.set()
        if self.link is not None:
            await self.link.unbind()
        if self._task is not None:
            await self._task

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                link = await UpstreamLink.open(self.settings, self.handler, self.index)
            except BindRefused as refusal:
                pause = (self.settings.rebind_pause if refusal.command_status in CREDENTIAL_REFUSALS
                         else backoff(attempt, self.settings))
                self.log.warning("upstream_bind_refused", status=str(refusal), retry_in=round(pause, 2))
                attempt += 1
                await self._pause(pause)
                continue
            except (OSError, TimeoutError, ConnectionError) as exc:
                pause = backoff(attempt, self.settings)
                self.log.warning("upstream_connect_failed", error=str(exc) or repr(exc), retry_in=round(pause, 2))
                attempt += 1
                await self._pause(pause)
                continue
            attempt = 0
            self.connects += 1
            self.link = link
            if self._stopping.is_set():
                await link.unbind()
            await link.closed
            self.link = None
            if not self._stopping.is_set():
                await self._pause(backoff(0, self.settings))  # a carrier dropping us at once is not hammered
