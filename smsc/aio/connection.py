"""One ESME connection: an asyncio.Protocol driving a sans-I/O Session.

Bytes go into the Session as they arrive; its events are handled at once when they need
no waiting (enquire_link, protocol errors, responses to our requests) and in a task of
the connection's own TaskGroup when they do (a bind's password check, query_sm...), so
nothing a connection started outlives it. submit_sm and data_sm, the bulk of the
traffic, take no task: the submits of one read go to the gateway together and a callback
on their commit answers them (`_in_flight` waits for those too); a submit_sm that replaces
a message (replace_if_present_flag) takes a task like query_sm. Responses may leave in
any order, as SMPP allows.

Back-pressure: reading pauses while the client has as many requests unanswered as its
window, and resumes as answers go out; a request beyond the window that was already read
is answered ESME_RTHROTTLED by the Session. Writing: what is sent during one turn of the
event loop leaves in one transport.write at its end, except the answers to submits, which
leave as soon as their commit is done (one write per commit); while the transport's buffer is over
its high-water mark (a client not reading), `writable` is clear and the delivery loop
sends it nothing more.
"""
from __future__ import annotations

import asyncio
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any

from smsc.aio.timer import DeadlineTimer
from smsc.config import Account
from smsc.gateway import replaces
from smsc.log import get_logger
from smsc.passwords import verify_password
from smsc.smpp import status
from smsc.smpp.errors import SmppError
from smsc.smpp.events import (
    NEED_DATA, BindTimeout, EnquireLinkDue, InactivityTimeout, PeerClosed, ProtocolError, RequestReceived,
    ResponseTimeout, UnmatchedResponse,
)
from smsc.smpp.pdus import BIND_CLASSES, BindReceiver, BindTransceiver, DataSm, EnquireLink, Pdu, SubmitSm, Unbind
from smsc.smpp.session import Session, as_event
from smsc.smpp.state import BOUND, RECEIVING, Role, State

if TYPE_CHECKING:
    from smsc.aio.server import SmppServer

BIND_TYPES = {BindReceiver: "receiver", BindTransceiver: "transceiver"}  # else transmitter
UNBIND_WAIT = 2.0  # seconds to wait for unbind_resp when we unbind the client
SERVER_SYSTEM_ID = "smsc"
_SUBMITS = (SubmitSm, DataSm)


class Connection(asyncio.Protocol):
    def __init__(self, server: "SmppServer", tls: bool) -> None:
        self.server = server
        self.tls = tls
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.account: Account | None = None
        self.bind_type: str | None = None
        self.peer = ""
        self.log = get_logger("smsc.server")
        self.writable = asyncio.Event()
        self.writable.set()
        self.closed = self.loop.create_future()
        self.task: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._early: list[Any] = []
        self._binding = False
        self._reading_paused = False
        self._timer = DeadlineTimer(self.loop, self._on_timer)
        self._out: list[bytes] = []  # PDUs sent this loop turn, written together by _flush
        self._flush_due = False  # a _flush is scheduled
        # The store's futures of the submits waiting for their commit (they have no task),
        # in the order the store commits them.
        self._commits: deque[asyncio.Future[Any]] = deque()
        self._submits_done: asyncio.Future[None] | None = None

    # --- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peername = transport.get_extra_info("peername")
        self.peer = peername[0] if peername else ""
        self.log = self.log.bind(peer=f"{self.peer}:{peername[1]}" if peername else "", tls=self.tls)
        smpp = self.server.config.smpp
        self.session = Session(
            Role.SMSC, max_pdu_size=self.server.max_pdu_size(self), window=self.server.default_window,
            bind_timeout=smpp.bind_timeout, enquire_link_interval=smpp.enquire_link_interval,
            response_timeout=smpp.response_timeout, inactivity_timeout=smpp.inactivity_timeout,
            now=self.loop.time())
        if not self.server.admit(self):
            self.log.warning("connection_refused", reason="max_connections")
            transport.close()
            return
        self.log.info("connected")
        # The server holds the task (the loop only keeps a weak reference) until it ends.
        self.task = self.loop.create_task(self._lifetime())
        self.task.add_done_callback(self._ended)
        self._rearm()

    def data_received(self, data: bytes) -> None:
        session = self.session
        assert session is not None
        session.receive_data(data, now=self.loop.time())
        self._drain()

    def eof_received(self) -> bool:
        if self.session is not None:
            self.session.receive_data(b"", now=self.loop.time())
            self._drain()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.cancel()
        if self.session is not None:
            for lost in self.session.close():
                _fail(lost.context, ConnectionError("connection lost"))
        if self.account is not None:
            self.server.unregister(self)
        if not self.closed.done():
            self.closed.set_result(None)
        self.writable.set()  # wake a sender so it sees the connection is gone
        self.log.info("disconnected", error=None if exc is None else str(exc))

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    # --- the connection's task group --------------------------------------------------

    async def _lifetime(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            for coroutine in self._early:  # requests read before this task first ran
                self._spawn(coroutine)
            self._early.clear()
            await self.closed
        self._group = None

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.server.forget(self)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("connection_task_failed", error=repr(task.exception()))

    def _spawn(self, coroutine: Any) -> None:
        if self._group is None:
            if self.task is not None and not self.task.done() and not self.closed.done():
                self._early.append(coroutine)
            else:
                coroutine.close()  # the connection is over: nobody to answer
            return
        task = self._group.create_task(self._guarded(coroutine))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _guarded(self, coroutine: Any) -> None:
        # One failing handler must not end the group, and with it the session.
        try:
            await coroutine
        except Exception as exc:
            self.log.exception("handler_failed", error=repr(exc))

    # --- events ---------------------------------------------------------------------------

    def _drain(self) -> None:
        session = self.session
        assert session is not None
        # The submits of one read go to the gateway together; responses to our requests
        # (a receiver's deliver_sm_resp) between them do not split them.
        submits: list[SubmitSm | DataSm] = []
        while (item := session.next_hot()) is not NEED_DATA:  # a request comes as its Pdu
            kind = type(item)
            if kind is tuple:  # (response, Outstanding): the context is settled like a future
                context = item[1].context  # type: ignore[index]
                if context is not None and not context.done():
                    context.set_result(item[0])  # type: ignore[index]
                continue
            if kind in _SUBMITS and self.account is not None and not replaces(item):  # type: ignore[arg-type]
                submits.append(item)  # type: ignore[arg-type]
                continue
            if submits:
                self._submit(submits)
                submits = []
            self._on_event(as_event(item))
        if submits:
            self._submit(submits)
        if session.inbound_window_full and not self._reading_paused and self.is_open:
            self._reading_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]
        if not self._timer.armed:  # what is received only moves deadlines later
            self._rearm()

    def _on_event(self, event: Any) -> None:
        match event:
            case RequestReceived(pdu=EnquireLink() as pdu):
                self.send(pdu.response())
            case RequestReceived(pdu=Unbind() as pdu):
                self.send(pdu.response())
                self.log.info("unbound", by="client")
                self._spawn(self._close_after_handlers())
            case RequestReceived(pdu=pdu) if type(pdu) in BIND_CLASSES:
                if self._binding:
                    self.send(pdu.response(status.ESME_RALYBND))
                else:
                    self._binding = True
                    self._spawn(self._bind(pdu))
            case RequestReceived(pdu=pdu) if self.account is not None and self.server.gateway.handles(pdu):
                self._spawn(self._request(pdu))
            case RequestReceived(pdu=pdu):  # allowed by the state table, not served here
                self.send(pdu.response(status.ESME_RINVCMDID))
            case UnmatchedResponse(pdu=pdu):
                self.log.debug("unmatched_response", command=pdu.name, sequence_number=pdu.sequence_number)
            case ProtocolError(error=error, answer=answer, close=close):
                self.log.warning("protocol_error", status=error.status_name, error=str(error.args[0]),
                                 command_id=error.command_id, sequence_number=error.sequence_number, close=close)
                if answer is not None:
                    if answer.command_status == status.ESME_RTHROTTLED:
                        self._count_throttled()  # beyond the window
                    self.send(answer)
                if close:
                    self.close()
            case PeerClosed(unparsed=unparsed):
                if unparsed:
                    self.log.info("peer_closed_mid_pdu", unparsed=unparsed)

    # --- binds and requests -----------------------------------------------------------

    async def _bind(self, pdu: Pdu) -> None:
        bind_type = BIND_TYPES.get(type(pdu), "transmitter")
        log = self.log.bind(system_id=pdu.system_id, bind_type=bind_type)
        refusal, account = self.server.gateway.check_bind(pdu.system_id, self.peer, bind_type)
        if not refusal and account is not None:
            # scrypt on purpose costs tens of milliseconds: off the event loop.
            ok = await self.loop.run_in_executor(None, verify_password, pdu.password, account.password_hash)
            if not ok:
                refusal = status.ESME_RINVPASWD
            elif not self.server.can_bind(account):
                refusal = status.ESME_RBINDFAIL
        self._binding = False
        if refusal or account is None:
            log.warning("bind_refused", status=status.status_name(refusal))
            self.send(pdu.response(refusal, system_id=SERVER_SYSTEM_ID))
            return
        if not self.send(pdu.response(system_id=SERVER_SYSTEM_ID)):
            return  # gone while its password was checked
        self.account, self.bind_type, self.log = account, bind_type, log
        self.session.window = account.window  # type: ignore[union-attr]
        self.server.register(self)
        log.info("bound")

    async def _request(self, pdu: Pdu) -> None:
        assert self.account is not None
        try:
            response = await self.server.gateway.handle(self.account, pdu)
        except Exception as exc:  # a bug must cost this request, not the session
            response = self._failed(pdu, exc)
        self._reply([response])

    def _submit(self, pdus: list[SubmitSm | DataSm]) -> None:
        """The hot path: the submits of one read go to the gateway together, no task each;
        a callback on their commit answers them."""
        assert self.account is not None
        try:
            refusals, accepted, committed = self.server.gateway.submit_many(self.account, pdus)
        except Exception as exc:  # a bug must cost these requests, not the session
            refusals, accepted, committed = [self._failed(pdu, exc) for pdu in pdus], [], None
        if refusals:
            self._reply(refusals)
        if committed is not None:
            self._commits.append(committed)
            committed.add_done_callback(partial(self._submitted, accepted))

    def _submitted(self, pdus: list[SubmitSm | DataSm], committed: Any) -> None:
        self._commits.remove(committed)  # the oldest, but for a store that failed out of order
        try:
            responses = self.server.gateway.submitted_many(self.account, pdus, committed)  # type: ignore[arg-type]
        except Exception as exc:
            responses = [self._failed(pdu, exc) for pdu in pdus]
        self._reply(responses)
        # Written now, not at the end of the loop turn: by then the loop may have read and
        # handled more submits, or run the store's next commit, all before this answer
        # left. Only the last of several batches done by one commit writes (their
        # callbacks follow one another): still one write per commit.
        if not (self._commits and self._commits[0].done()):
            self._flush()
        if not self._commits and self._submits_done is not None:
            self._submits_done.set_result(None)
            self._submits_done = None

    async def _in_flight(self, current: asyncio.Task[Any] | None = None) -> None:
        """Until every request read so far is answered (or failed)."""
        await asyncio.gather(*(t for t in self._handlers if t is not current), return_exceptions=True)
        if self._commits:
            if self._submits_done is None:
                self._submits_done = self.loop.create_future()
            await self._submits_done

    def _count_throttled(self) -> None:
        if self.account is not None:
            self.server.gateway.throttled[self.account.system_id] += 1

    def _failed(self, pdu: Pdu, exc: Exception) -> Pdu:
        self.log.exception("request_failed", command=pdu.name, error=repr(exc))
        return pdu.response(status.ESME_RSYSERR)

    def _reply(self, responses: list[Pdu]) -> None:
        """Send answers (refusals logged)."""
        for response in responses:
            if response.command_status:
                # Throttling answers come by the thousand exactly when the server is busiest:
                # not one log line each at info.
                throttled = response.command_status == status.ESME_RTHROTTLED
                if throttled:
                    self._count_throttled()
                log = self.log.debug if throttled else self.log.info
                log("request_refused", command=response.name.removesuffix("_resp"),
                    status=status.status_name(response.command_status))
        self.send_all([(response, None) for response in responses])

    async def _close_after_handlers(self) -> None:
        """Unbound by the client: answer what is in flight, then close."""
        await self._in_flight(asyncio.current_task())
        self.close()

    # --- sending ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return (self.transport is not None and not self.transport.is_closing()
                and self.session is not None and self.session.state is not State.CLOSED)

    @property
    def receiving(self) -> bool:
        return self.is_open and self.session.state in RECEIVING  # type: ignore[union-attr]

    @property
    def free_window(self) -> int:
        session = self.session
        return 0 if session is None else max(0, session.window - session.outstanding)

    def send(self, pdu: Pdu, context: Any = None) -> bool:
        """Write `pdu` now; False when the connection is gone or the state refuses it. A
        request's `context` is settled like a future (anything with `done()`,
        `set_result(response)` and `set_exception(error)`): with the response as it is read,
        TimeoutError when none came in time, ConnectionError when the connection goes."""
        return not self.send_all([(pdu, context)])

    def send_all(self, pdus: list[tuple[Pdu, Any]]) -> list[Any]:
        """`send` for several (pdu, context) pairs, with one state check and clock read for
        them all: the contexts of those not sent (all when the connection is gone; one the
        state or the encoder refuses), in order."""
        if not self.is_open:
            return [context for _, context in pdus]
        session = self.session
        assert session is not None
        out, now, unsent = self._out, self.loop.time(), []
        for pdu, context in pdus:
            try:
                out.append(session.send(pdu, context=context, now=now))
            except SmppError as exc:
                self.log.debug("send_refused", command=pdu.name, error=str(exc))
                unsent.append(context)
        self._sent()
        return unsent

    def _sent(self) -> None:
        """After PDUs joined `_out`: a write at the end of the loop turn; reading again once
        the answers open the window."""
        if self._out and not self._flush_due:
            self._flush_due = True
            self.loop.call_soon(self._flush)
        if self._reading_paused and not self.session.inbound_window_full:  # type: ignore[union-attr]
            self._reading_paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]

    def _flush(self) -> None:
        # One write per loop turn, not one per PDU: the answers to a whole batch of
        # commits leave in one send() (a system call, and a wake-up of the reader).
        self._flush_due = False
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
            self._rearm()  # what was sent may bring a deadline nearer (a request's answer due)
        self._out.clear()

    async def request(self, pdu: Pdu) -> Pdu:
        """Send a request and wait for its response (TimeoutError after the session's
        response timeout, ConnectionError when the connection goes)."""
        future: asyncio.Future[Pdu] = self.loop.create_future()
        if not self.send(pdu, context=future):
            raise ConnectionError("cannot send on this connection now")
        return await future

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._flush()  # what was sent goes before the close
            self.transport.close()

    async def shutdown(self) -> None:
        """Server stopping: unbind a bound client (waiting a moment for its answer), let
        the requests in flight finish their commits and answers, then close."""
        session = self.session
        if session is not None and session.state in BOUND:
            try:
                await asyncio.wait_for(self.request(Unbind()), UNBIND_WAIT)
            except (TimeoutError, ConnectionError):
                pass
            self.log.info("unbound", by="server")
        await self._in_flight()
        self.close()
        if self.task is not None:
            await self.task

    # --- timers -----------------------------------------------------------------------------

    def _rearm(self) -> None:
        if self.session is not None:
            self._timer.rearm(self.session.next_deadline())

    def _on_timer(self) -> None:
        session = self.session
        if session is None or not self.is_open:
            return
        for event in session.tick(self.loop.time()):
            match event:
                case EnquireLinkDue():
                    self.send(EnquireLink(), context=_LINK_CHECK)
                case ResponseTimeout(request=request, context=context):
                    if context is _LINK_CHECK:
                        self.log.warning("link_dead", reason="enquire_link unanswered")
                        self.close()
                    else:
                        _fail(context, TimeoutError(f"no answer to {request.name}"))
                case BindTimeout():
                    self.log.warning("bind_timeout")
                    self.close()
                case InactivityTimeout():
                    self.log.warning("inactivity_timeout")
                    self.close()
        self._rearm()


class _LinkCheck:
    """The context of our enquire_links: their responses need no one to wake."""

    def done(self) -> bool:
        return True


_LINK_CHECK = _LinkCheck()


def _fail(context: Any, error: Exception) -> None:
    if context is not None and not context.done():
        context.set_exception(error)
