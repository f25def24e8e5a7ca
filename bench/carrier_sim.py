"""A carrier simulator: an SMPP 3.4 server that behaves as told (asyncio + uvloop).

    async with CarrierSim(Behaviour(receipts=True, receipt_delay=0.2)) as sim:
        ...  connect to 127.0.0.1:sim.port ...
    sim.counters       # what it saw and did

Behaviours, all off by default (the default is the accept-all echo: binds answered, every
submit_sm answered at once with a fresh id, nothing stored):
- receipts: a deliver_sm receipt (text of appendix B and the receipt TLVs) when the
  submit's registered_delivery asks for one in the state drawn, after `receipt_delay`
  seconds (fixed, or drawn uniform or exponential with that mean), with `undeliv_share`
  / `expired_share` of UNDELIV / EXPIRED; `receipt_first` sends it before the
  submit_sm_resp. It goes back on the submitting bind when that one can receive, else to
  a receiver bind of the same system_id (kept, up to WAITING_RECEIPTS, until one binds).
  As carriers do, a deliver_sm (receipt or MO) is delivered at least once: one left
  unanswered when its connection goes is delivered again on the next bind, one answered
  with a "not now" status (RETRIED_STATUSES) again after REDELIVER_AFTER seconds.
- error_shares: {command_status: share} of submits answered with that error.
- throttle_rate: submits per second over which the answer is ESME_RTHROTTLED.
- no_response_share: submits never answered.
- disconnect_share: chance per submit that the connection is dropped right after it.
- mo_rate: mobile-originated deliver_sm a second, spread over the receiver binds.

It runs in any asyncio loop (the gateway embeds one as its default upstream); `main`
runs it as `smsc carrier-sim` on uvloop until Ctrl-C or --duration, then prints the
counters. The accept-all path reads headers off the received bytes and writes one block
of answers per read: it is the echo server the other benchmarks compare against. A
behaviour that accepts every submit and keeps the connection (receipts, MO) answers
submits in the same loop (`plain`), with receipts encoded from their parts
(`ReceiptEncoder`); the others go through `_request` and `_submit`.
"""
from __future__ import annotations

import asyncio
import functools
import heapq
import random
import signal
import ssl as ssl_module
import time
import tomllib
from collections import Counter, deque
from dataclasses import dataclass, field, fields
from struct import Struct
from typing import Any

from smsc.codec import pdu as pdu_codec
from smsc.dlr import TEXT_CHARS, build_text, network_error_code, wants_receipt
from smsc.smpp import status as st
from smsc.smpp.constants import CommandId as C
from smsc.smpp.constants import MessageState, Tag
from smsc.smpp.errors import SmppError
from smsc.smpp.pdus import RESPONSE_CLASS, DeliverSm, Pdu

HEADER = Struct(">IIII")
SEQUENCE = Struct(">I")
MAX_SEQUENCE = 0x7FFFFFFF
_BINDS = {C.BIND_TRANSMITTER: False, C.BIND_RECEIVER: True, C.BIND_TRANSCEIVER: True}  # -> receives
# Plain ints for the accept-all loop: an IntEnum member lookup costs ~0.3 us, per PDU.
SUBMIT_SM, SUBMIT_SM_RESP, DELIVER_SM_RESP = int(C.SUBMIT_SM), int(C.SUBMIT_SM_RESP), int(C.DELIVER_SM_RESP)
DELIVER_SM, ENQUIRE_LINK, UNBIND = int(C.DELIVER_SM), int(C.ENQUIRE_LINK), int(C.UNBIND)
ID_DIGITS = 16  # message ids: a counter in 16 hex digits, so every answer has one length
_ID = b"%%0%dx" % ID_DIGITS  # % the counter
_ID_ANSWER = _ID + b"\0"  # the id as a submit_sm_resp body
_ANSWER_LENGTH = 16 + ID_DIGITS + 1
_DRAIN_EVERY = 0.001  # receipts due are sent in batches this far apart
WAITING_RECEIPTS = 100_000  # per system_id with no receiver bound; the oldest go first
_DISTRIBUTIONS = ("fixed", "uniform", "exponential")


@dataclass(frozen=True)
class Behaviour:
    system_id: str = "carrier"  # answered in bind_*_resp
    credentials: dict[str, str] | None = None  # system_id -> password; None accepts any
    receipts: bool = False
    receipt_delay: float = 0.0  # seconds (the mean, for random distributions)
    receipt_distribution: str = "fixed"  # fixed | uniform (0..2x mean) | exponential
    undeliv_share: float = 0.0
    expired_share: float = 0.0
    receipt_first: bool = False  # the receipt goes out before the submit_sm_resp
    error_shares: dict[int, float] = field(default_factory=dict)  # command_status -> share
    throttle_rate: float | None = None  # submits/s (all binds) before ESME_RTHROTTLED
    no_response_share: float = 0.0
    disconnect_share: float = 0.0
    mo_rate: float = 0.0  # MO deliver_sm per second
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.receipt_distribution not in _DISTRIBUTIONS:
            raise ValueError(f"receipt_distribution must be one of {_DISTRIBUTIONS}")
        shares = [self.undeliv_share, self.expired_share, self.no_response_share, self.disconnect_share,
                  *self.error_shares.values()]
        if any(not 0 <= s <= 1 for s in shares) or self.undeliv_share + self.expired_share > 1:
            raise ValueError("shares are fractions between 0 and 1")
        if self.throttle_rate is not None and self.throttle_rate <= 0:
            raise ValueError("throttle_rate must be positive")

    @property
    def accept_all(self) -> bool:
        return self == Behaviour(system_id=self.system_id, credentials=self.credentials, seed=self.seed)

    @classmethod
    def from_mapping(cls, table: dict[str, Any]) -> "Behaviour":
        """From a scenario's [carrier] table; error_shares keys are status names or numbers."""
        known = {f.name for f in fields(cls)}
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"unknown carrier keys: {', '.join(sorted(unknown))}")
        values = dict(table)
        if "error_shares" in values:
            values["error_shares"] = {st.parse_status(k): float(v) for k, v in values["error_shares"].items()}
        return cls(**values)


class _Counters(Counter):
    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.items()))


class CarrierSim:
    """The server. `start`/`stop`, or `async with`; `port` once started."""

    def __init__(self, behaviour: Behaviour = Behaviour(), host: str = "127.0.0.1", port: int = 0,
                 ssl: ssl_module.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.host, self._port, self._ssl = host, port, ssl
        self.counters = _Counters()
        self.errors_sent: Counter[int] = Counter()
        self.receipt_states: Counter[str] = Counter()
        self._random = random.Random(behaviour.seed)
        self._receipts = ReceiptEncoder()
        # whether a submit's answer is drawn at all (not always ESME_ROK)
        self.judges = bool(behaviour.throttle_rate is not None or behaviour.error_shares
                           or behaviour.no_response_share)
        # every submit accepted and the connection kept: read off the received bytes
        self.plain = not self.judges and not behaviour.disconnect_share
        self._next_id = self._random.randrange(1 << 32) << 24 if behaviour.seed is None else 1
        self._receivers: dict[str, list[_CarrierProtocol]] = {}
        self._connections: set[_CarrierProtocol] = set()
        # deliver_sm are held encoded (sequence_number 0: each sending writes its own)
        self._due: list[tuple[float, int, str, _CarrierProtocol | None, bytes]] = []
        self._due_order = 0
        self._waiting_receivers: dict[str, deque[bytes]] = {}  # no receiver bound yet
        self._server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._throttle_window = (0.0, 0)  # (second started, submits in it)
        self._loop: asyncio.AbstractEventLoop | None = None  # while started
        self._drain: asyncio.Handle | None = None  # the next pass over the deliver_sm due

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> "CarrierSim":
        loop = self._loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _CarrierProtocol(self), self.host, self._port,
                                                ssl=self._ssl, backlog=1024)
        if self.behaviour.mo_rate > 0:
            self._tasks.append(loop.create_task(self._generate_mo()))
        return self

    async def stop(self) -> None:
        self._loop = None
        if self._drain is not None:
            self._drain.cancel()
            self._drain = None
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            self._server.close()
            for connection in list(self._connections):
                connection.transport.abort()
            await self._server.wait_closed()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()

    async def __aenter__(self) -> "CarrierSim":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- per connection -------------------------------------------------------------

    def new_message_id(self) -> bytes:
        self._next_id += 1
        return _ID % self._next_id

    def bound(self, connection: "_CarrierProtocol") -> None:
        if connection.receives:
            self._receivers.setdefault(connection.system_id, []).append(connection)
            for pdu in self._waiting_receivers.pop(connection.system_id, []):
                connection.deliver(pdu)

    def gone(self, connection: "_CarrierProtocol") -> None:
        self._connections.discard(connection)
        receivers = self._receivers.get(connection.system_id)
        if receivers and connection in receivers:
            receivers.remove(connection)

    def throttled(self, now: float) -> bool:
        rate = self.behaviour.throttle_rate
        if rate is None:
            return False
        started, count = self._throttle_window
        if now - started >= 1.0:  # a fixed one-second window: what most carriers count
            started, count = now, 0
        self._throttle_window = (started, count + 1)
        return count + 1 > rate

    def verdict(self) -> int | None:
        """The status for the next submit (0 accepts), None for no answer at all."""
        b, r = self.behaviour, self._random.random
        if b.no_response_share and r() < b.no_response_share:
            return None
        for status, share in b.error_shares.items():
            if r() < share:
                return status
        return 0

    def receipt(self, submit: Any, message_id: bytes) -> tuple[bytes, float] | None:
        """The receipt `submit` asked for (encoded) and its delay; None when receipts are
        off or it asked for none in the state drawn (registered_delivery 2: failures only)."""
        b = self.behaviour
        if not b.receipts:
            return None
        draw = self._random.random()
        if draw < b.undeliv_share:
            state, error = _UNDELIVERABLE, 1
        elif draw < b.undeliv_share + b.expired_share:
            state, error = _EXPIRED, 0
        else:
            state, error = _DELIVERED, 0
        if not _wants_receipt(submit.registered_delivery, state):
            return None
        self.receipt_states[_STATE_NAMES[state]] += 1
        delay = 0.0 if b.receipt_first else self.receipt_delay()
        submitted = time.time()  # receipt dates are wall-clock
        return self._receipts.encode(submit, message_id, state, error, submitted, submitted + delay), delay

    def receipt_delay(self) -> float:
        b = self.behaviour
        if b.receipt_distribution == "uniform":
            return self._random.uniform(0, 2 * b.receipt_delay)
        if b.receipt_distribution == "exponential" and b.receipt_delay > 0:
            return self._random.expovariate(1 / b.receipt_delay)
        return b.receipt_delay

    def schedule_receipt(self, due: float, origin: "_CarrierProtocol", pdu: bytes) -> None:
        self._due_order += 1
        heapq.heappush(self._due, (due, self._due_order, origin.system_id, origin, pdu))
        self._wake()

    def redeliver(self, system_id: str, pdu: bytes, delay: float) -> None:
        """Offer a deliver_sm the ESME refused for now again after `delay` seconds."""
        self._due_order += 1
        heapq.heappush(self._due, (time.monotonic() + delay, self._due_order, system_id, None, pdu))
        self._wake()

    def deliver(self, system_id: str, origin: "_CarrierProtocol | None", pdu: DeliverSm | bytes) -> None:
        """Send a deliver_sm to the origin if it can take it, else to a receiver bind of
        the same system_id; keep it until one binds when there is none. Given as a PDU
        or already encoded (its sequence_number is set as it goes)."""
        if not isinstance(pdu, bytes):
            pdu = pdu_codec.encode(pdu)
        if origin is not None and origin.receives and not origin.closed:
            origin.deliver(pdu)
            return
        receivers = self._receivers.get(system_id)
        if receivers:
            receivers.append(receivers.pop(0))  # round robin
            receivers[-1].deliver(pdu)
            receivers[-1].flush()
        else:
            waiting = self._waiting_receivers.setdefault(system_id, deque(maxlen=WAITING_RECEIPTS))
            if len(waiting) == WAITING_RECEIPTS:
                self.counters["receipts_dropped"] += 1
            waiting.append(pdu)

    # The deliver_sm due go out in passes _DRAIN_EVERY apart while some wait, the first at
    # once: loop callbacks, not a task sleeping (a task's wake-up costs twice a timer's,
    # and there is one a millisecond while receipts flow).

    def _wake(self) -> None:
        if self._drain is None and self._loop is not None:
            self._drain = self._loop.call_soon(self._send_due)

    def _send_due(self) -> None:
        due = self._due
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, system_id, origin, pdu = heapq.heappop(due)
            self.deliver(system_id, origin, pdu)
        for connection in list(self._connections):
            connection.flush()
        self._drain = None if self._loop is None else self._loop.call_later(_DRAIN_EVERY, self._pause_over)

    def _pause_over(self) -> None:
        if self._due:
            self._send_due()
        else:
            self._drain = None

    async def _generate_mo(self) -> None:
        owed, tick, count = 0.0, 0.01, 0
        while True:
            await asyncio.sleep(tick)
            owed += self.behaviour.mo_rate * tick
            targets = [c for receivers in self._receivers.values() for c in receivers]
            while owed >= 1 and targets:
                owed -= 1
                count += 1
                target = targets[count % len(targets)]
                target.deliver(pdu_codec.encode(DeliverSm(source_addr_ton=1, source_addr_npi=1,
                                                          source_addr=f"4477009{count % 100000:05d}",
                                                          destination_addr="SMSC", short_message=b"MO %d" % count)))
                self.counters["mo_sent"] += 1
                target.flush()
            owed = min(owed, self.behaviour.mo_rate)  # no burst after a time with no receiver


_UNDELIVERABLE, _EXPIRED, _DELIVERED = (int(s) for s in (MessageState.UNDELIVERABLE, MessageState.EXPIRED,
                                                         MessageState.DELIVERED))
_STATE_NAMES = {int(state): state.name for state in MessageState}
_wants_receipt = functools.lru_cache(maxsize=1024)(wants_receipt)  # a few (registered_delivery, state) pairs


class ReceiptEncoder:
    """Receipt deliver_sm (sequence_number 0) encoded from their parts: the bytes of
    `pdu_codec.encode(DeliverSm(**dlr.receipt_deliver_sm(...)))` (the tests compare the two
    over random receipts) without building and encoding a PDU per receipt, a third of the
    simulator's CPU when it did. The text around the id and the echoed text is dlr's
    (`build_text`), made once per state, error and pair of minutes (its dates' precision)."""

    def __init__(self) -> None:
        self._texts: dict[tuple[int, int, float, float], tuple[bytes, bytes, bytes]] = {}

    def encode(self, submit: Any, message_id: bytes, state: int, error: int, submitted: float, done: float) -> bytes:
        """The receipt of `submit` (a decoded submit_sm), carrier message id `message_id`."""
        key = (state, error, submitted // 60, done // 60)
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= 1024:  # old minutes
                self._texts.clear()
            text = self._texts[key] = _text_around(state, error, submitted, done)
        before_id, before_echo, after_echo = text
        body = b"%s%s%s%s%s" % (before_id, message_id, before_echo,
                                submit.short_message[:TEXT_CHARS].translate(_ASCII), after_echo)
        # SMPP 3.4 section 4.6.1, from the message's destination back to its source, then
        # the receipt TLVs as dlr.receipt_tlvs gives them (section 5.3.2.12, .35, .31)
        rest = b"\0%c%c%s\0%c%c%s\0%s%c%s%s%s%s%s" % (
            submit.dest_addr_ton, submit.dest_addr_npi, submit.destination_addr.encode("latin-1"),
            submit.source_addr_ton, submit.source_addr_npi, submit.source_addr.encode("latin-1"),
            _RECEIPT_FLAGS, len(body), body,
            _TLV_HEADER.pack(_RECEIPTED_MESSAGE_ID, len(message_id) + 1), message_id, b"\0%s" % _STATE_TLVS[state],
            _ERROR_TLV_HEADER + network_error_code(error) if error else b"")
        return HEADER.pack(16 + len(rest), DELIVER_SM, 0, 0) + rest


def _text_around(state: int, error: int, submitted: float, done: float) -> tuple[bytes, bytes, bytes]:
    """dlr's receipt text in ASCII, cut where the message id and the echoed text go."""
    text = build_text("\0", state, submitted, done, err=error, text="\1").encode("ascii", "replace")
    before_id, _, rest = text.partition(b"\0")
    before_echo, _, after_echo = rest.partition(b"\1")
    return before_id, before_echo, after_echo


_ASCII = bytes(range(128)) + b"?" * 128  # dlr's text is ASCII: what is not reads "?"
_RECEIPT_FLAGS = b"\x04" + bytes(8)  # esm_class: a receipt; protocol_id .. sm_default_msg_id unset
_TLV_HEADER = Struct(">HH")
_RECEIPTED_MESSAGE_ID = int(Tag.RECEIPTED_MESSAGE_ID)
_STATE_TLVS = {int(state): _TLV_HEADER.pack(Tag.MESSAGE_STATE, 1) + bytes((state,)) for state in MessageState}
_ERROR_TLV_HEADER = _TLV_HEADER.pack(Tag.NETWORK_ERROR_CODE, 3)


class _CarrierProtocol(asyncio.Protocol):
    def __init__(self, sim: CarrierSim) -> None:
        self.sim = sim
        self.counters = sim.counters
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.system_id = ""
        self.receives = False
        self.transmits = False  # bound as transmitter or transceiver
        self.bound = False
        self.closed = False
        self._rest = b""
        self._out = bytearray()
        self._sequence = 0
        self._fast = sim.behaviour.accept_all
        self._plain = sim.plain
        self._unanswered: dict[int, bytes] = {}  # deliver_sm sent, by sequence number

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=1 << 20)
        self.sim._connections.add(self)
        self.counters["connections"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.sim.gone(self)
        # As carriers do: a deliver_sm never answered goes again, on another bind of the
        # same system_id or the next one to bind.
        unanswered, self._unanswered = self._unanswered, {}
        for pdu in unanswered.values():
            self.counters["deliver_sm_redelivered"] += 1
            self.sim.deliver(self.system_id, None, pdu)

    # A client that does not read its answers stops being read: back-pressure, not memory.
    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._rest:
            data = self._rest + data
        size, pos = len(data), 0
        unpack, pack, out = HEADER.unpack_from, HEADER.pack, self._out
        fast = self._fast and self.transmits
        plain = self._plain and self.transmits
        sim = self.sim
        now = time.monotonic()
        next_id = sim._next_id
        answered = 0
        while size - pos >= 16:
            length, command, status, sequence = unpack(data, pos)
            if length < 16 or length > 65536:
                self.counters["framing_errors"] += 1
                self.transport.abort()
                return
            end = pos + length
            if end > size:
                break
            if command == SUBMIT_SM and fast:
                next_id += 1
                answered += 1
                out += pack(_ANSWER_LENGTH, SUBMIT_SM_RESP, 0, sequence)
                out += _ID_ANSWER % next_id
            elif command == DELIVER_SM_RESP:  # its body says nothing: read by header
                self._answered(sequence, status)
            elif command == SUBMIT_SM and plain and (submit := _decoded(data[pos:end])) is not None:
                next_id += 1
                answered += 1
                self._accept(submit, _ID % next_id, now)
            else:
                sim._next_id = next_id
                handled = self._request(data[pos:end], command, sequence)
                next_id = sim._next_id
                fast = self._fast and self.transmits
                plain = self._plain and self.transmits
                if not handled:
                    self._rest = b""
                    return
            pos = end
        self._rest = data[pos:]
        sim._next_id = next_id
        if answered:
            self.counters["submit_sm"] += answered
            self.counters["submit_sm_resp_ok"] += answered
        self.flush()

    def flush(self) -> None:
        if self._out and not self.closed:
            self.transport.write(bytes(self._out))
            self._out.clear()

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % MAX_SEQUENCE + 1
        return self._sequence

    def deliver(self, pdu: bytes) -> None:
        """Queue an encoded deliver_sm, under this connection's next sequence number."""
        sequence = self._next_sequence()
        self._unanswered[sequence] = pdu
        out = self._out
        out += pdu
        SEQUENCE.pack_into(out, len(out) - len(pdu) + 12, sequence)
        self.counters["deliver_sm"] += 1

    def _answered(self, sequence: int, status: int) -> None:
        pdu = self._unanswered.pop(sequence, None)
        self.counters["deliver_sm_resp"] += 1
        if pdu is not None and status in RETRIED_STATUSES:
            self.counters["deliver_sm_retried"] += 1
            self.sim.redeliver(self.system_id, pdu, REDELIVER_AFTER)

    def _request(self, frame: bytes, command: int, sequence: int) -> bool:
        """One PDU off the slow path; False when the connection is being closed."""
        try:
            pdu = pdu_codec.decode(frame)
        except SmppError as error:
            self.counters["decode_errors"] += 1
            self._out += HEADER.pack(16, C.GENERIC_NACK, error.command_status, sequence)
            return True
        if command in _BINDS:
            self._bind(pdu, _BINDS[command])
        elif (not self.bound and not command & 0x80000000 and command != ENQUIRE_LINK
              or command == SUBMIT_SM and not self.transmits):  # receivers may not submit
            self._out += pdu_codec.encode(_response(pdu, st.ESME_RINVBNDSTS))
        elif command == SUBMIT_SM:
            return self._submit(pdu)
        elif command == UNBIND:
            self.sim.gone(self)  # no new deliver_sm after an unbind
            self._out += HEADER.pack(16, C.UNBIND_RESP, 0, sequence)
            self.counters["unbinds"] += 1
            self.flush()
            self.transport.close()
            return False
        elif command in ANSWERED_REQUESTS:
            self._out += pdu_codec.encode(_response(pdu, 0 if command == ENQUIRE_LINK else st.ESME_RINVCMDID))
        else:
            self.counters["other_pdus"] += 1
        return True

    def _accept(self, submit: Any, message_id: bytes, now: float) -> None:
        """Answer `submit` ESME_ROK with `message_id`, and the receipt it asks for."""
        sim = self.sim
        receipt, delay = sim.receipt(submit, message_id) or (None, 0.0)
        if receipt is not None and sim.behaviour.receipt_first:
            sim.deliver(self.system_id, self, receipt)
            receipt = None
        self._out += HEADER.pack(_ANSWER_LENGTH, SUBMIT_SM_RESP, 0, submit.sequence_number)
        self._out += message_id + b"\0"
        if receipt is not None:
            sim.schedule_receipt(now + delay, self, receipt)

    def _bind(self, pdu: Any, receives: bool) -> None:
        credentials = self.sim.behaviour.credentials
        if self.bound:
            status = st.ESME_RALYBND
        elif credentials is not None and credentials.get(pdu.system_id) != pdu.password:
            status = st.ESME_RINVPASWD
        else:
            status = 0
        if status:
            self.counters["binds_refused"] += 1
            self._out += pdu_codec.encode(_response(pdu, status))
            return
        self.counters["binds"] += 1
        self._out += pdu_codec.encode(_response(pdu, 0, system_id=self.sim.behaviour.system_id))
        self.bound, self.receives, self.system_id = True, receives, pdu.system_id
        self.transmits = pdu.command_id != C.BIND_RECEIVER
        self.sim.bound(self)

    def _submit(self, pdu: Any) -> bool:
        sim, counters = self.sim, self.counters
        counters["submit_sm"] += 1
        now = time.monotonic()
        status = (st.ESME_RTHROTTLED if sim.throttled(now) else sim.verdict()) if sim.judges else 0
        if status is None:
            counters["no_response"] += 1
            return True
        if status:
            sim.errors_sent[status] += 1
            counters["submit_sm_resp_error"] += 1
            self._out += pdu_codec.encode(_response(pdu, status))
        else:
            counters["submit_sm_resp_ok"] += 1
            self._accept(pdu, sim.new_message_id(), now)
        b = sim.behaviour
        if b.disconnect_share and sim._random.random() < b.disconnect_share:
            counters["disconnects"] += 1
            self.flush()
            self.transport.abort()
            return False
        return True


# deliver_sm_resp statuses that say "not now": the deliver_sm goes again after a pause.
RETRIED_STATUSES = frozenset({st.ESME_RX_T_APPN, st.ESME_RTHROTTLED, st.ESME_RMSGQFUL, st.ESME_RSYSERR})
REDELIVER_AFTER = 1.0  # seconds

ANSWERED_REQUESTS = frozenset(cls.command_id for cls in RESPONSE_CLASS)  # requests with a *_resp


def _decoded(frame: bytes) -> Any:
    """The PDU, or None when it does not decode (the slow path answers the error)."""
    try:
        return pdu_codec.decode(frame)
    except SmppError:
        return None


def _response(request: Pdu, status: int, **body: Any) -> Pdu:
    return request.response(status, **body) if status == 0 else RESPONSE_CLASS[type(request)](
        sequence_number=request.sequence_number, command_status=status)


# --- the command ----------------------------------------------------------------------


def load_behaviour(path: str | None, overrides: dict[str, Any]) -> Behaviour:
    """A scenario file's [carrier] table (or nothing), then the command-line options."""
    table: dict[str, Any] = {}
    if path:
        with open(path, "rb") as f:
            table = dict(tomllib.load(f).get("carrier", {}))
    table.update({k: v for k, v in overrides.items() if v is not None})
    return Behaviour.from_mapping(table)


def format_counters(sim: CarrierSim) -> str:
    lines = [f"{name:>22}  {value}" for name, value in sim.counters.as_dict().items()]
    lines += [f"{st.status_name(code):>22}  {n}" for code, n in sorted(sim.errors_sent.items())]
    lines += [f"{'receipts ' + state:>22}  {n}" for state, n in sorted(sim.receipt_states.items())]
    return "\n".join(lines)


async def serve(behaviour: Behaviour, host: str, port: int, duration: float | None,
                ssl: ssl_module.SSLContext | None = None, announce: bool = True) -> CarrierSim:
    """Run until SIGINT/SIGTERM or `duration` seconds; return the stopped simulator."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with CarrierSim(behaviour, host, port, ssl) as sim:
        if announce:
            print(f"carrier-sim listening on {host}:{sim.port}", flush=True)
        try:
            await asyncio.wait_for(stop.wait(), duration)
        except asyncio.TimeoutError:
            pass
    return sim


def main(args: Any) -> int:
    """`smsc carrier-sim`: the options of cli.py's carrier-sim subcommand."""
    import uvloop

    overrides = {
        "receipts": True if args.receipts else None,
        "receipt_delay": args.receipt_delay,
        "receipt_distribution": args.receipt_distribution,
        "undeliv_share": args.undeliv_share,
        "expired_share": args.expired_share,
        "receipt_first": True if args.receipt_first else None,
        "error_shares": dict(_share(s) for s in args.error) if args.error else None,
        "throttle_rate": args.throttle_rate,
        "no_response_share": args.no_response_share,
        "disconnect_share": args.disconnect_share,
        "mo_rate": args.mo_rate,
        "seed": args.seed,
    }
    behaviour = load_behaviour(args.scenario, overrides)
    context = None
    if args.tls_cert:
        context = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    sim = uvloop.run(serve(behaviour, args.host, args.port, args.duration, context))
    print(format_counters(sim), flush=True)
    return 0


def _share(text: str) -> tuple[str, float]:
    status, _, share = text.partition("=")
    if not share:
        raise SystemExit(f"--error takes STATUS=SHARE (e.g. ESME_RSYSERR=0.01), not {text!r}")
    return status, float(share)
