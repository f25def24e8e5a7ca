"""One ESME bind of the load generator as a sans-I/O object, and the receipt book the
binds share. Bytes in, bytes out; the drivers (asyncio+uvloop in loadgen_asyncio.py,
trio in loadgen_trio.py) own the sockets and the clock and pass `now` in.

The hot path does not go through smsc.smpp.session: a Session builds an event object and
checks the state table per PDU, and ran at 68,000 submit/response pairs a second, under
half the generator's target. Here each submit_sm is a header and three prepared byte
strings (loadgen_messages.prepare), many per write, and responses are read straight off
the received bytes by header (submit_sm_resp and enquire_link carry nothing else worth
a decode); only deliver_sm (receipts and MO) and the bind answers are decoded in full.
"""
from __future__ import annotations

from collections import deque
from itertools import islice
from struct import Struct
from typing import Any

from msgspec.structs import replace

from smsc.codec import pdu as pdu_codec
from smsc.dlr import parse_text, same_message_id
from smsc.smpp.constants import CommandId as C
from smsc.smpp.constants import EsmClass, Tag
from smsc.smpp.pdus import BindReceiver, BindTransceiver, BindTransmitter, Unbind

from smsc.bench.loadgen_messages import MessageSource
from smsc.bench.loadgen_stats import Stats, bucket

HEADER = Struct(">IIII")
MAX_SEQUENCE = 0x7FFFFFFF
MAX_PDU = 64 * 1024  # a longer command_length means the stream has lost its framing
BIND_CLASSES = {"transmitter": BindTransmitter, "receiver": BindReceiver, "transceiver": BindTransceiver}
# Plain ints for the hot loops: an IntEnum member lookup costs ~0.3 us, per PDU.
SUBMIT_SM, SUBMIT_SM_RESP, GENERIC_NACK = int(C.SUBMIT_SM), int(C.SUBMIT_SM_RESP), int(C.GENERIC_NACK)
DELIVER_SM, DELIVER_SM_RESP = int(C.DELIVER_SM), int(C.DELIVER_SM_RESP)
_BIND_RESPONSES = frozenset({C.BIND_TRANSMITTER_RESP, C.BIND_RECEIVER_RESP, C.BIND_TRANSCEIVER_RESP})
RECEIPTED_MESSAGE_ID = int(Tag.RECEIPTED_MESSAGE_ID)
_RECEIPT_TYPES = EsmClass.TYPE_DELIVERY_RECEIPT | EsmClass.TYPE_DELIVERY_ACK | EsmClass.TYPE_USER_ACK


class ReceiptBook:
    """Message ids waiting for their receipt, and receipts waiting for their id (a
    carrier may send the receipt before the submit_sm_resp). Shared by all binds, since
    a receipt may come back on any receiver bind."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.waiting: dict[str, float] = {}  # message id -> submit time
        self.early: dict[str, tuple[float, str]] = {}  # message id -> (receipt time, stat)
        self.by_stat: dict[str, int] = {}
        self.expected = 0

    def submitted(self, message_id: str, sent_at: float) -> None:
        self.expected += 1
        early = self.early.pop(message_id, None)
        if early is None:
            self.waiting[message_id] = sent_at
        else:
            self._matched(early[1], early[0] - sent_at)

    def receipt(self, message_id: str, stat: str, now: float) -> None:
        sent_at = self.waiting.pop(message_id, None)
        if sent_at is not None:
            self._matched(stat, now - sent_at)
        elif message_id in self.early:
            self.stats.duplicate_receipts += 1
        else:
            self.early[message_id] = (now, stat)

    def _matched(self, stat: str, latency: float) -> None:
        second = self.stats.now
        second.receipts += 1
        second.receipt_latency.record(latency)
        by_stat = self.by_stat
        by_stat[stat] = by_stat.get(stat, 0) + 1

    def settle(self) -> None:
        """At the end: pair what is left by another spelling of the id (case, leading
        zeros, decimal in one place and hex in the other: dlr.same_message_id), then
        count receipts no submit explains. Ids are matched exactly while running."""
        if self.early and self.waiting and len(self.early) * len(self.waiting) <= 10**7:
            for key, (at, stat) in list(self.early.items()):
                match = next((w for w in self.waiting if same_message_id(w, key)), None)
                if match is not None:
                    self._matched(stat, at - self.waiting.pop(match))
                    del self.early[key]
        self.stats.unmatched_receipts = len(self.early)

    @property
    def pending(self) -> int:
        return len(self.waiting)


def receipt_of(pdu: Any) -> tuple[str, str] | None:
    """(message id, stat word) of a deliver_sm receipt, from its TLVs or its text."""
    message_id = None
    for tag, value in pdu.tlvs:
        if tag == RECEIPTED_MESSAGE_ID:
            message_id = value
            break
    if message_id is not None:
        stat = stat_word(pdu.short_message)
        if stat:
            return message_id, stat
    parsed = parse_text(pdu.short_message)
    stat = (parsed.stat if parsed and parsed.stat else None) or "UNKNOWN"
    if message_id is None and parsed is not None:
        message_id = parsed.id
    return None if message_id is None else (message_id, stat.upper())


def stat_word(text: bytes) -> str | None:
    """The word after `stat:` in a receipt text written as smsc and most carriers write
    it (lower-case key after a space, or first); None for anything else, which the
    tolerant parse_text then reads. parse_text costs ~60 us (a regex per field and
    strptime per date), most of the generator's CPU per message when only this is used."""
    at = text.find(b"stat:")
    if at < 0 or (at and text[at - 1] != 32):
        return None
    end = text.find(b" ", at + 5)
    word = text[at + 5:end if end >= 0 else len(text)]
    known = _STAT_WORDS.get(word)
    if known is None and word:
        known = word.decode("latin-1").upper()
        if len(_STAT_WORDS) < 64:  # the few a server uses, not whatever one sends
            _STAT_WORDS[word] = known
    return known


_STAT_WORDS: dict[bytes, str] = {}


class Quota:
    """How many submits the binds may still send between them (`count`)."""

    def __init__(self, total: float = float("inf")) -> None:
        self.left = total

    def take(self, wanted: int) -> int:
        granted = int(min(wanted, self.left))
        self.left -= granted
        return granted


class Link:
    """One bind: its window, its sequence numbers, what it owes the peer.

    Closed loop: `output(now)` fills the window with submits sent at `now`. Open loop:
    `schedule(count, first, step, ready)` queues submits intended for first, first+step,
    ... that the generator got to at `ready` (its pump's wake-up), and `output` sends as
    many as the window allows. Each is measured from `ready`: the generator's own lateness
    (ready less the intended time: its timer tick and wake-up lag, a stall of its own
    process) is left out and reported apart as the send lag, while a wait for room in a
    full window counts (a server that stalls shows as latency, not as fewer samples: no
    coordinated omission).
    """

    def __init__(self, source: MessageSource, book: ReceiptBook, stats: Stats, *, window: int,
                 bind_type: str = "transceiver", system_id: str = "", password: str = "",
                 system_type: str = "", closed_loop: bool = True, quota: Quota | None = None) -> None:
        self.source = source
        self.book = book
        self.stats = stats
        self.window = window
        self.closed_loop = closed_loop
        self.quota = quota or Quota()
        self.sending = False  # set once bound; cleared to stop new submits
        self.want_unbind = False  # the next output ends with an unbind
        self.bound = False
        self.closed = False
        self.bind_error: int | None = None
        self.outstanding: dict[int, float] = {}  # sequence -> intended send time
        self._tracked: set[int] = set()  # sequences of submits asking for a receipt
        self._backlog: deque[list[Any]] = deque()  # open loop: [ready, count] runs
        self.backlog = 0
        self._replies = bytearray()
        self._rest = b""
        self._sequence = 1
        self._bind = BIND_CLASSES[bind_type](system_id=system_id, password=password,
                                             system_type=system_type)
        self.can_submit = bind_type != "receiver"

    # --- requests -------------------------------------------------------------------

    def _next_sequence(self) -> int:
        sequence = self._sequence
        self._sequence = sequence % MAX_SEQUENCE + 1
        return sequence

    def bind_request(self) -> bytes:
        return pdu_codec.encode(replace(self._bind, sequence_number=self._next_sequence()))

    def unbind_request(self) -> bytes:
        self.sending = False
        return pdu_codec.encode(Unbind(sequence_number=self._next_sequence()))

    def schedule(self, count: int, first: float, step: float, ready: float) -> None:
        if count > 0:
            self._backlog.append([ready, count])
            self.backlog += count
            # how late the generator got to them: ready less the mean of their intended times
            self.stats.lag(ready - first - step * (count - 1) / 2, count, ready - first)

    def output(self, now: float) -> bytes:
        """Everything to write now: answers owed to the peer, then new submits."""
        out = self._replies
        room = self.window - len(self.outstanding) if self.sending else 0
        if room > 0:
            if self.closed_loop:
                room = self.quota.take(room)
                if room:
                    self._submit(out, room, now)
            else:
                backlog = self._backlog
                while room > 0 and backlog:
                    run = backlog[0]
                    n = min(room, run[1])
                    self._submit(out, n, run[0])
                    room -= n
                    self.backlog -= n
                    if n == run[1]:
                        backlog.popleft()
                    else:
                        run[1] -= n
        if self.want_unbind and self.bound and not self.closed:
            out += self.unbind_request()
            self.want_unbind = False
        if not out:
            return b""
        self._replies = bytearray()
        return bytes(out)

    def _submit(self, out: bytearray, count: int, ready: float) -> None:
        pack = HEADER.pack
        outstanding, tracked = self.outstanding, self._tracked
        sequence = self._sequence
        for (before, after, length, receipt), destination in islice(self.source.parts, count):
            out += pack(length + len(destination), SUBMIT_SM, 0, sequence)
            out += before
            out += destination
            out += after
            outstanding[sequence] = ready
            if receipt:
                tracked.add(sequence)
            sequence = sequence % MAX_SEQUENCE + 1
        self._sequence = sequence
        self.stats.now.sent += count
        self.stats.writes += 1

    def expire(self, now: float, timeout: float) -> None:
        """Give up on submits unanswered `timeout` seconds after they were ready (counted
        as timeouts): from the time latency counts from, so in open loop a submit that
        waited in the backlog for a full window counts that wait too."""
        outstanding = self.outstanding
        limit = now - timeout
        while outstanding:
            sequence = next(iter(outstanding))
            if outstanding[sequence] > limit:
                break
            del outstanding[sequence]
            self._tracked.discard(sequence)
            self.stats.timeouts += 1

    def lost(self) -> None:
        """The connection is gone: what was outstanding will never be answered."""
        self.stats.disconnects += not self.closed
        self.stats.timeouts += len(self.outstanding)
        self.outstanding.clear()
        self._tracked.clear()
        self.sending = False
        self.closed = True

    # --- what the peer sent ---------------------------------------------------------

    def receive(self, data: bytes, now: float) -> None:
        """Bytes from the server. Answers it is owed wait in the next `output`."""
        if self._rest:
            data = self._rest + data
        size, pos = len(data), 0
        unpack = HEADER.unpack_from
        outstanding, tracked = self.outstanding, self._tracked
        submitted = self.book.submitted
        second = self.stats.now
        counts = second.latency.counts
        # Submits sent in one write share their send time (closed loop): their latency
        # is one bucket, computed once.
        answered, last_sent, index, oldest = 0, -1.0, 0, now
        while size - pos >= 16:
            length, command, status, sequence = unpack(data, pos)
            if not 16 <= length <= MAX_PDU:
                raise ConnectionError(f"command_length {length} from the server")
            end = pos + length
            if end > size:
                break
            if command == SUBMIT_SM_RESP or command == GENERIC_NACK:
                sent = outstanding.pop(sequence, None)
                if sent is None:
                    pass  # late (after its timeout) or bogus
                elif status:
                    second.errors[status] += 1
                    tracked.discard(sequence)
                else:
                    answered += 1
                    if sent != last_sent:
                        last_sent, index = sent, bucket(now - sent)
                        if sent < oldest:
                            oldest = sent
                    counts[index] += 1
                    if tracked and sequence in tracked:
                        tracked.remove(sequence)
                        submitted(data[pos + 16:end - 1].decode("latin-1"), sent)
            elif command == DELIVER_SM:
                self._deliver_sm(data[pos:end], sequence, now)
            else:
                self._other(command, status, sequence)
            pos = end
        self._rest = data[pos:]
        if answered:
            second.answered += answered
            second.latency.counted(answered, now - oldest)

    def _deliver_sm(self, frame: bytes, sequence: int, now: float) -> None:
        pdu = pdu_codec.decode(frame)
        receipt = receipt_of(pdu) if pdu.esm_class & _RECEIPT_TYPES else None
        if receipt is None:
            self.stats.now.mo += 1
        else:
            self.book.receipt(receipt[0], receipt[1], now)
        self._replies += HEADER.pack(17, DELIVER_SM_RESP, 0, sequence) + b"\0"

    def _other(self, command: int, status: int, sequence: int) -> None:
        if command == C.ENQUIRE_LINK:
            self._replies += HEADER.pack(16, C.ENQUIRE_LINK_RESP, 0, sequence)
        elif command in _BIND_RESPONSES:
            if status:
                self.bind_error = status
                self.closed = True
            else:
                self.bound = True
                self.sending = self.can_submit
        elif command == C.UNBIND:
            self._replies += HEADER.pack(16, C.UNBIND_RESP, 0, sequence)
            self.sending = False
            self.closed = True
        elif command == C.UNBIND_RESP:
            self.closed = True
        elif not command & 0x80000000:  # a request we do not serve
            self._replies += HEADER.pack(16, C.GENERIC_NACK, 0x03, sequence)  # ESME_RINVCMDID

    @property
    def idle(self) -> bool:
        """Nothing outstanding and nothing queued: safe to unbind."""
        return not self.outstanding and not self.backlog
