"""One SMPP connection as a sans-I/O object: bytes in, events out, PDUs in, bytes out.

A Session reads no socket, no clock and logs nothing. The caller feeds it what arrived
and the time, and asks what happened; it hands it PDUs to send and writes the bytes it
gets back. The same object serves the ESME side (our upstream binds to a carrier) and the
SMSC side (clients binding to us): `role` says which, and the state table (state.py)
says what each side may send in each bind state.

An asyncio adapter drives it like this (errors and back-pressure trimmed)::

    session = Session(Role.SMSC, window=50, now=loop.time())

    async def reader():                      # one task per connection
        while True:
            data = await stream.read(65536)  # b"" when the peer closed
            session.receive_data(data, now=loop.time())
            while (event := session.next_event()) is not NEED_DATA:
                await handle(event)
            if not data:
                return

    async def handle(event):
        match event:
            case RequestReceived(pdu=EnquireLink() as pdu):
                write(session.send(pdu.response()))
            case RequestReceived(pdu=pdu):        # bind, submit_sm, unbind, ...
                ...                               # decide, then:
                write(session.send(pdu.response(status, message_id=...)))
            case ResponseReceived(pdu=resp, context=future):
                future.set_result(resp)           # `context` is what send() was given
            case UnmatchedResponse():
                pass                              # late or bogus: count it, drop it
            case ProtocolError(answer=answer, close=close):
                if answer is not None:
                    write(session.send(answer))
                if close:
                    transport.close()
            case PeerClosed():
                for lost in session.close():      # requests that will never be answered
                    lost.context.set_exception(ConnectionError())

    timer = None
    def rearm():                             # after every receive, send and tick
        nonlocal timer
        if timer is not None:
            timer.cancel()
        deadline = session.next_deadline()
        timer = None if deadline is None else loop.call_at(deadline, on_timer)

    def on_timer():
        for event in session.tick(loop.time()):
            match event:
                case EnquireLinkDue():
                    write(session.send(EnquireLink(), now=loop.time()))
                case ResponseTimeout(context=future):
                    future.set_exception(TimeoutError())
                case BindTimeout() | InactivityTimeout():
                    transport.close()
        rearm()

    # sending a request: sequence_number 0 means "assign the next one"
    future = loop.create_future()
    write(session.send(SubmitSm(...), context=future, now=loop.time()))

`send` raises StateError for a PDU the state table refuses (the session is unchanged and
nothing goes on the wire) and WindowFullError when `window` requests are already
unanswered; the adapter waits for a response and tries again. `next_deadline()` may
change after each send, receive and tick, hence `rearm()` after each.

The inbound window: requests received and not yet answered. A request over the window
comes out as a ProtocolError whose answer is the *_resp with ESME_RTHROTTLED; the adapter
may also stop reading while `inbound_window_full` is true. enquire_link, unbind and their
answers bypass both windows: a full window must not stop a link check or a goodbye.

The hot path: `next_hot()` is `next_event()` without the event records for the two things
a busy link reads all day. A response matching a request of ours comes out as the tuple
(response, Outstanding) and a request accepted by the window and the state table as the
bare Pdu; everything else (errors, unmatched responses, the close) as the Event
`next_event` gives. The session moves exactly as with `next_event`, so an adapter may mix
the two::

    while (item := session.next_hot()) is not NEED_DATA:
        if type(item) is tuple:                  # (response, Outstanding)
            pdu, sent = item
            sent.context.set_result(pdu)
        elif isinstance(item, Pdu):              # a request to answer
            write(session.send(item.response()))
        else:
            await handle(item)                   # an Event, as above
"""
from __future__ import annotations

from functools import cache, partial
from typing import Any, NamedTuple

from msgspec.structs import replace

from smsc.codec import pdu as pdu_codec
from smsc.smpp.constants import RESPONSE_BIT, CommandId
from smsc.smpp.errors import Answer, FramingError, SmppError, WindowFullError
from smsc.smpp.events import (
    NEED_DATA, BindTimeout, EnquireLinkDue, Event, InactivityTimeout, PeerClosed,
    ProtocolError, RequestReceived, ResponseReceived, ResponseTimeout, UnmatchedResponse,
    NeedData,
)
from smsc.smpp.framing import DEFAULT_MAX_PDU_SIZE, Framer
from smsc.smpp.pdus import PDU_CLASSES, RESPONSE_CLASS, GenericNack, Pdu
from smsc.smpp.state import BOUND, TRANSITIONS, Role, State, transition

MAX_SEQUENCE = 0x7FFFFFFF  # section 3.2: sequence numbers run 0x00000001..0x7FFFFFFF
OUTSIDE_WINDOW = frozenset({CommandId.ENQUIRE_LINK, CommandId.UNBIND})
# Read on every PDU: an enum member as a plain global (State.CLOSED is a slower lookup).
_CLOSED, _OPEN = State.CLOSED, State.OPEN
_GENERIC_NACK = int(CommandId.GENERIC_NACK)


class Outstanding(NamedTuple):
    """A request sent and not answered yet."""

    request: Pdu
    sent_at: float
    context: Any


# Outstanding((request, sent_at, context)) without NamedTuple's Python-level __new__.
_outstanding = partial(tuple.__new__, Outstanding)


class Session:
    """The protocol state of one SMPP connection. Times are plain numbers (seconds) on
    any clock the caller likes, as long as it is monotonic; a timer set to None is off."""

    def __init__(
        self,
        role: Role,
        *,
        max_pdu_size: int = DEFAULT_MAX_PDU_SIZE,
        window: int = 10,
        bind_timeout: float | None = 30.0,
        enquire_link_interval: float | None = 30.0,
        response_timeout: float | None = 30.0,
        inactivity_timeout: float | None = 120.0,
        now: float,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.role = role
        self._peer = role.peer
        self.state = State.OPEN
        self.window = window
        self.bind_timeout = bind_timeout
        self.enquire_link_interval = enquire_link_interval
        self.response_timeout = response_timeout
        self.inactivity_timeout = inactivity_timeout
        self._framer = Framer(max_pdu_size)
        self._frames: list[bytes] = []  # whole PDUs cut from what came, not handled yet: last first
        self._outstanding: dict[int, Outstanding] = {}  # by sequence number, oldest first
        self._unanswered: set[int] = set()  # sequence numbers of requests received
        self._next_sequence = 1
        self._now = now
        self._opened_at = now
        self._last_received = now
        self._last_activity = now  # last send or receive, or the last EnquireLinkDue
        self._bind_timer_fired = False
        self._eof = False
        self._broken = False  # a fatal protocol error was reported: nothing more to read
        # What each side may send in the current state (_moves_from), kept by _enter.
        self._theirs, self._ours = _moves_from(_OPEN, self._peer), _moves_from(_OPEN, role)

    # --- receiving ------------------------------------------------------------------

    def receive_data(self, data: bytes, *, now: float | None = None) -> None:
        """Bytes from the peer; b"" means the peer closed the connection."""
        if now is not None:
            self._now = now
        if not data:
            self._eof = True
            return
        self._framer.feed(data)
        self._last_received = self._last_activity = self._now

    def next_event(self) -> Event | NeedData:
        """The next thing that happened on the wire, or NEED_DATA."""
        return as_event(self.next_hot())

    def next_hot(self) -> "tuple[Pdu, Outstanding] | Pdu | Event | NeedData":
        """`next_event` without the records for the common two (see the module's docs): a
        matched response as (response, Outstanding), a request as the Pdu itself
        (`as_event` makes the record of either, for the uncommon ones)."""
        frames = self._frames
        if not frames:
            # Every whole PDU of what came at once: one call to the Framer a read, not one a
            # PDU. close() and a fatal error drop what is left of them.
            if self.state is _CLOSED or self._broken:
                return NEED_DATA
            try:
                frames += self._framer.frames()
            except FramingError as error:
                return self._protocol_error(error)
            if not frames:
                if self._eof:
                    self._enter(_CLOSED)
                    return PeerClosed(self._framer.buffered)
                return NEED_DATA
            frames.reverse()
        try:
            pdu = pdu_codec.decode(frames.pop())
        except SmppError as error:
            return self._protocol_error(error)
        command_id = pdu.command_id
        # The state after it, from the current state's table (a refusal, and an answer with
        # a non-zero status, go through `transition`).
        after = None if pdu.command_status else self._theirs.get(command_id)
        if after is None:
            try:
                after = transition(self.state, pdu, self._peer)
            except SmppError as error:
                return self._protocol_error(error)
        if command_id & RESPONSE_BIT:
            sent = self._outstanding.get(pdu.sequence_number)
            # It answers the request of its sequence number: that request's *_resp, or a generic_nack.
            if sent is None or (command_id != sent[0].command_id | RESPONSE_BIT and command_id != _GENERIC_NACK):
                return UnmatchedResponse(pdu)
            del self._outstanding[pdu.sequence_number]
            if after is not self.state:
                self._enter(after)
            return pdu, sent
        if len(self._unanswered) >= self.window and command_id not in OUTSIDE_WINDOW:
            return self._protocol_error(WindowFullError(
                f"over the window of {self.window} unanswered requests",
                sequence_number=pdu.sequence_number, command_id=command_id))
        if after is not self.state:
            self._enter(after)
        if type(pdu) in RESPONSE_CLASS:  # outbind and alert_notification get no answer
            self._unanswered.add(pdu.sequence_number)
        return pdu

    def _enter(self, state: State) -> None:
        self.state = state
        self._theirs, self._ours = _moves_from(state, self._peer), _moves_from(state, self.role)

    def _protocol_error(self, error: SmppError) -> ProtocolError:
        if error.fatal:
            self._broken = True
            self._frames.clear()  # nothing after it can be trusted
        return ProtocolError(error, _answer_to(error), error.fatal)

    @property
    def inbound_window_full(self) -> bool:
        """As many requests received and unanswered as the window allows."""
        return len(self._unanswered) >= self.window

    # --- sending --------------------------------------------------------------------

    def send(self, pdu: Pdu, *, context: Any = None, now: float | None = None) -> bytes:
        """The bytes to write for `pdu`, after checking it against the state table and
        the window. A request with sequence_number 0 gets the next sequence number; its
        response or timeout event carries the request as sent and `context`."""
        if now is not None:
            self._now = now
        command_id = pdu.command_id
        if not command_id & RESPONSE_BIT:
            return self._send_request(pdu, context)
        after = None if pdu.command_status else self._ours.get(command_id)
        if after is None:
            after = transition(self.state, pdu, self.role)
        data = pdu_codec.encode(pdu)
        # Nothing changes before this point: a refused or unencodable PDU leaves no trace.
        if after is not self.state:
            self._enter(after)
        self._last_activity = self._now
        self._unanswered.discard(pdu.sequence_number)
        return data

    def _send_request(self, pdu: Pdu, context: Any) -> bytes:
        outstanding = self._outstanding
        sequence = self._next_sequence
        if pdu.sequence_number or sequence in outstanding:
            pdu = self._numbered(pdu)
        else:
            pdu = replace(pdu, sequence_number=sequence)
        command_id = pdu.command_id
        after = None if pdu.command_status else self._ours.get(command_id)
        if after is None:
            after = transition(self.state, pdu, self.role)
        if len(outstanding) >= self.window and command_id not in OUTSIDE_WINDOW:
            raise WindowFullError(f"{self.window} requests already unanswered",
                                  sequence_number=pdu.sequence_number, command_id=command_id)
        data = pdu_codec.encode(pdu)
        # As for a response: no trace before this point.
        if after is not self.state:
            self._enter(after)
        now = self._last_activity = self._now
        if type(pdu) in RESPONSE_CLASS:  # outbind and alert_notification get no answer
            outstanding[pdu.sequence_number] = _outstanding((pdu, now, context))
            self._next_sequence = pdu.sequence_number % MAX_SEQUENCE + 1
        return data

    def _numbered(self, request: Pdu) -> Pdu:
        if request.sequence_number:
            if request.sequence_number in self._outstanding:
                raise ValueError(f"sequence_number {request.sequence_number} is already in use")
            return request
        sequence = self._next_sequence
        while sequence in self._outstanding:  # only after wrapping round 2**31 requests
            sequence = sequence % MAX_SEQUENCE + 1
        return replace(request, sequence_number=sequence)

    @property
    def outstanding(self) -> int:
        """Requests sent and not answered yet."""
        return len(self._outstanding)

    def close(self) -> list[Outstanding]:
        """The connection is gone (or being dropped): the session goes CLOSED and returns
        the requests that will never be answered now, oldest first."""
        self._enter(_CLOSED)
        self._frames.clear()
        lost = list(self._outstanding.values())
        self._outstanding.clear()
        return lost

    # --- time -----------------------------------------------------------------------

    def tick(self, now: float) -> list[Event]:
        """The timer events due at `now`, each reported once."""
        self._now = now
        if self.state is _CLOSED:
            return []
        events: list[Event] = []
        if self.response_timeout is not None:
            oldest_allowed = now - self.response_timeout
            while self._outstanding:
                sequence, sent = next(iter(self._outstanding.items()))
                if sent.sent_at > oldest_allowed:
                    break
                del self._outstanding[sequence]
                events.append(ResponseTimeout(sent.request, sent.sent_at, sent.context))
        if self._bind_deadline() is not None and now >= self._bind_deadline():
            self._bind_timer_fired = True
            events.append(BindTimeout())
        if self.inactivity_timeout is not None and now >= self._last_received + self.inactivity_timeout:
            self._last_received = now  # report again only after another silent period
            events.append(InactivityTimeout())
        if self._enquire_link_deadline() is not None and now >= self._enquire_link_deadline():
            self._last_activity = now
            events.append(EnquireLinkDue())
        return events

    def next_deadline(self) -> float | None:
        """When `tick` will next have something to report (None: never, as things are)."""
        if self.state is _CLOSED:
            return None
        deadlines = [self._bind_deadline(), self._enquire_link_deadline()]
        if self.response_timeout is not None and self._outstanding:
            deadlines.append(next(iter(self._outstanding.values())).sent_at + self.response_timeout)
        if self.inactivity_timeout is not None:
            deadlines.append(self._last_received + self.inactivity_timeout)
        return min((d for d in deadlines if d is not None), default=None)

    def _bind_deadline(self) -> float | None:
        if self.bind_timeout is None or self._bind_timer_fired or self.state is not _OPEN:
            return None
        return self._opened_at + self.bind_timeout

    def _enquire_link_deadline(self) -> float | None:
        if self.enquire_link_interval is None or self.state not in BOUND:
            return None
        return self._last_activity + self.enquire_link_interval


@cache
def _moves_from(state: State, sender: Role) -> dict[int, State]:
    """What `sender` may send in `state`: command_id -> the state after (status 0)."""
    return {command_id: after for (before, command_id, by), after in TRANSITIONS.items()
            if before is state and by is sender}


def _answer_to(error: SmppError) -> Pdu | None:
    """The PDU that tells the peer about `error`: its *_resp when the operation has one,
    else a generic_nack; nothing for an error in a response."""
    if error.answer is Answer.NONE:
        return None
    sequence = error.sequence_number or 0
    if error.answer is Answer.RESPONSE:
        response_class = RESPONSE_CLASS.get(PDU_CLASSES.get(error.command_id))  # type: ignore[arg-type]
        if response_class is not None:
            return response_class(sequence_number=sequence, command_status=error.command_status)
    return GenericNack(sequence_number=sequence, command_status=error.command_status)


def as_event(item: "tuple[Pdu, Outstanding] | Pdu | Event | NeedData") -> Event | NeedData:
    """What `next_hot` returned, as `next_event` would have returned it."""
    if type(item) is tuple:
        pdu, sent = item
        return ResponseReceived(pdu, sent.request, sent.sent_at, sent.context)
    if isinstance(item, Pdu):
        return RequestReceived(item)
    return item  # type: ignore[return-value]
