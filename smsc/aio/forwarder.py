"""Forwarding: accepted messages leave for their carrier at the carrier's pace.

    forwarder = Forwarder(config, store, inbound)
    await forwarder.start() ... forwarder.apply(new_config) ... await forwarder.stop()

The durable queue is the store itself: live messages not yet handed to an upstream
(`upstream IS NULL`). One scanner walks them in (scheduled, id) order with a cursor, in
the store writer's sequence (fw.due_after: it sees every earlier commit), routes each
(smsc.router) and puts it into the queue of its upstream, up to that queue's capacity; a
message taken this way is *held* (in memory, by this process only) until its fate is
committed, so one message is with one bind at a time. Once the walk has caught up, new
messages are not read back: the store hands each commit's accepted messages over
(`accepted`, the store's accepted_hook) and they are taken at once. Nothing is marked
sent before the carrier's submit_sm_resp: then the message stays ENROUTE with the
upstream and the carrier's id stored (store.update_many, one request for the answers of a
read, made before any receipt is requested, so a receipt that overtakes that commit still
finds the id: Store.apply_receipt), and leaves the durable queue. A process
that dies loses only its holds: the messages are due again at the next start (the
carrier may see those that were in flight twice, at most a window per bind).

Per upstream (UpstreamQueue): its binds (UpstreamBind keeps each up), the parts to
submit in order (PartQueue: retries first, one message per destination with the
carrier), and an AdaptiveRate (token bucket with AIMD) counting parts. Routes with a
rate have their own bucket; a part leaves only when both have a token. The numbers
(backoff, attempts, queue size) are [forwarding] settings. Answers:
- 0: the part is sent; when all parts are, the message is recorded as sent.
- ESME_RTHROTTLED / ESME_RMSGQFUL: the upstream's rate is halved and the same part goes
  back to the front of the queue, so order per destination holds.
- other temporary errors (and no answer in time): retried after a growing backoff.
- a permanent error: re-routed when the route's reroute rule says so (router.next_upstream),
  else the message ends UNDELIVERABLE with that error (the store queues its receipt).
- no answer within the route's re-route wait (min(reroute.timeout, response_timeout)): a
  message sent whole goes to the next upstream; without `timeout` in the route's reroute
  rules, no answer within the upstream's response_timeout is retried as above.
- an UNDELIV receipt whose err: the route re-routes on (smsc.aio.inbound) puts the message
  back in the store's queue with the upstreams it tried (Store.apply_receipt); taken
  again, it goes to the next one (router.next_upstream, the same retry budget).
- the link lost: its unanswered parts go back to the front of the queue at once.
A message whose validity ended while it waited ends EXPIRED instead of being sent.
"""
from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable

import msgspec

from smsc import router
from smsc.aio.partqueue import PartQueue
from smsc.aio.upstream import UpstreamBind, UpstreamLink
from smsc.codec.decoding import part_text, read_part
from smsc.codec.segmentation import ReferenceAllocator, TextOptions, split, split_binary
from smsc.codec.text_errors import TextError
from smsc.config import Config, Upstream
from smsc.log import get_logger
from smsc.smpp import status
from smsc.smpp.constants import MessageState, Tag
from smsc.smpp.pdus import Pdu, SubmitSm
from smsc.smpp.times import format_absolute
from smsc.store import ATTEMPTED, Message, MessageFinal, Store, StoreError, UnknownMessage
from smsc.store import forwarding as fw
from smsc.throttle import AdaptiveRate, TokenBucket

SLOW_DOWN = frozenset({status.ESME_RTHROTTLED, status.ESME_RMSGQFUL})
# Answers that say "not now" rather than "never": the same message is tried again.
TEMPORARY = frozenset({status.ESME_RSYSERR, status.ESME_RX_T_APPN, status.ESME_RUNKNOWNERR})
SCAN_PAGE = 500
SCAN_IDLE = 0.02  # seconds between looks at the queue when it was empty
# A caught-up walk starts again this far before the newest message it read: for accepts
# stamped by a clock that stepped back. Messages that came back to the queue with an older
# schedule (let go by a reload, passed over by a full queue) make the walk start over.
RESCAN_LAG = 1.0

_log = get_logger("smsc.forwarder")


class Submission:
    """One message on its way to one upstream: its parts and what each got back."""

    __slots__ = ("message", "route", "pdus", "carrier_ids", "pending", "failed", "attempts", "attempted", "deadline")

    def __init__(self, message: Message, route: router.RouteDecision, pdus: list[SubmitSm]) -> None:
        self.message = message
        self.route = route
        self.pdus = pdus
        self.carrier_ids: list[str | None] = [None] * len(pdus)
        self.pending = len(pdus)
        self.failed = 0  # the permanent error of a part, once one came
        self.attempts = 0
        self.attempted: list[str] = []  # upstreams, in the order tried; the last is the current
        self.deadline: asyncio.TimerHandle | None = None  # the route's re-route wait, when shorter

    def answered(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None


class UpstreamQueue:
    """The parts waiting for one upstream, its binds and its pace; the LinkHandler of
    its links (a link of a queue closed by a reload reports to that queue, not to the
    new one of the same name)."""

    def __init__(self, settings: Upstream, forwarder: "Forwarder", now: float) -> None:
        self.settings = settings
        self.name = settings.name
        self.forwarder = forwarder
        self.rate = AdaptiveRate(settings.throughput, min(settings.throughput_floor, settings.throughput), now=now)
        self.parts = PartQueue()
        self.delayed: list[tuple[float, int, Submission, int]] = []  # (due, order, submission, part)
        self.links: list[UpstreamLink] = []
        self.binds: list[UpstreamBind] = []
        self.in_flight = 0
        self.closed = False
        self.held = 0  # submissions queued or in flight
        self.timer: asyncio.TimerHandle | None = None
        self.pump_due = False  # a pump is scheduled for this loop turn (Forwarder._pump_soon)
        self.options = TextOptions(concatenation=settings.concatenation, packed=settings.gsm7 == "packed",
                                   gsm_data_coding=settings.data_coding)
        self.capacity = 0
        self.resize()

    def resize(self) -> None:
        """How many submissions it may hold, per the config's [forwarding] (read at every
        take: an attribute, kept up to date by Forwarder.apply)."""
        per_window = self.forwarder.config.forwarding.queue_per_window
        self.capacity = max(64, per_window * self.settings.window * self.settings.binds)

    @property
    def room(self) -> int:
        return self.capacity - self.held

    def start(self) -> None:
        self.binds = [UpstreamBind(self.settings, self, i) for i in range(self.settings.binds)]
        for bind in self.binds:
            bind.start()

    async def stop(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        await asyncio.gather(*(bind.stop() for bind in self.binds), return_exceptions=True)

    @property
    def is_up(self) -> bool:
        return any(link.is_bound for link in self.links)

    # LinkHandler: the forwarder decides, told which queue it is about.
    def on_ready(self, link: UpstreamLink) -> None:
        if not self.closed:
            if link not in self.links:
                self.links.append(link)
            self.forwarder._pump(self)

    # A closed queue (reloaded away) still hears its links' last answers: what the carrier
    # took is recorded, the rest is let go, to be routed again.
    def on_response(self, link: UpstreamLink, context: tuple[Submission, int], pdu: Pdu) -> None:
        self.in_flight -= 1
        self.forwarder._on_response(self, context, pdu)

    def on_timeout(self, link: UpstreamLink, context: tuple[Submission, int]) -> None:
        self.in_flight -= 1
        self.forwarder._on_timeout(self, context)

    def on_lost(self, link: UpstreamLink, contexts: list[tuple[Submission, int]]) -> None:
        if link in self.links:
            self.links.remove(link)
        self.in_flight -= len(contexts)
        self.forwarder._on_lost(self, contexts)

    def on_requests(self, link: UpstreamLink, pdus: list[Pdu],
                    respond: Callable[[Pdu, int | BaseException], None]) -> None:
        self.forwarder.flush_sent()  # receipts are requested after the records they may need
        self.forwarder.inbound.answer_read(self.settings, pdus, respond)


class Forwarder:
    """The LinkHandler of every upstream link, the scanner and the queues."""

    def __init__(self, config: Config, store: Store, inbound: Any = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store = store
        self.inbound = inbound  # receipts and MO from carriers (smsc.aio.inbound.Inbound)
        self.clock = clock
        self.loop = asyncio.get_running_loop()
        self.queues: dict[str, UpstreamQueue] = {}
        self.route_buckets: dict[str, TokenBucket] = {}
        self.mt_table = router.MtTable.of(config)
        self.held: set[int] = set()  # numbers (smsc.store.ids) of the messages queued or in flight
        self.counters: Counter[str] = Counter()
        self.references = ReferenceAllocator()
        self._cursor: fw.Cursor = fw.START
        self._sent: list[tuple[str, str, str]] = []  # (message id, upstream, carrier id) to record
        self._rewind = False  # a message was passed over (its queue full): walk from the start again
        self._caught_up = False  # a walk caught up with nothing passed over: new messages are taken as committed
        self._committed_meanwhile: list[Message] = []  # handed over while a walk's page was read
        self._wake = asyncio.Event()
        self._order = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scanner: asyncio.Task[None] | None = None
        self._stopping = False
        self.addresses: dict[str, tuple[str, int]] = {}  # upstream -> where its binds connect
        if inbound is not None:
            inbound.due_again = self.due_again

    # --- life -----------------------------------------------------------------------------

    async def start(self) -> None:
        for settings in self.config.upstreams:
            self._open_queue(settings)
        self._scanner = self.loop.create_task(self._scan_loop(), name="forwarder-scan")

    def _open_queue(self, settings: Upstream) -> None:
        address = self.addresses.get(settings.name)
        if address is not None:  # an in-process simulator stands in for the carrier
            settings = msgspec.structs.replace(settings, host=address[0], port=address[1], tls=False)
        queue = self.queues[settings.name] = UpstreamQueue(settings, self, self.loop.time())
        queue.start()

    async def stop(self) -> None:
        """Stop sending and unbind; what is held is simply due again at the next start."""
        self._stopping = True
        if self._scanner is not None:
            self._scanner.cancel()
            await asyncio.gather(self._scanner, return_exceptions=True)
        await asyncio.gather(*(queue.stop() for queue in self.queues.values()))
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def apply(self, config: Config, changed: set[str] | None = None) -> None:
        """A reloaded config: upstreams whose settings are unchanged keep their binds and
        queues; removed or changed ones are closed (their held messages go back to the
        store's queue, to be routed again), added ones start."""
        old = {u.name: u for u in self.config.upstreams}
        new = {u.name: u for u in config.upstreams}
        self.config = config
        self.route_buckets.clear()
        self.mt_table = router.MtTable.of(config)
        for name, queue in list(self.queues.items()):
            if name not in new or new[name] != old.get(name):
                del self.queues[name]
                self._drop_queue(queue)
                await queue.stop()
        for name, settings in new.items():
            if name not in self.queues:
                self._open_queue(settings)
            else:
                self.queues[name].resize()
        self._start_over()
        self._wake.set()

    def _drop_queue(self, queue: UpstreamQueue) -> None:
        for submission in queue.parts.items() + [s for _, _, s, _ in queue.delayed]:
            self._let_go(submission.message.id)
        queue.parts = PartQueue()
        queue.delayed.clear()

    def _spawn(self, coroutine: Any) -> None:
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("forwarder_task_failed", error=repr(task.exception()))

    # --- the scanner ----------------------------------------------------------------------

    async def _scan_loop(self) -> None:
        while not self._stopping:
            try:
                found = await self.scan_once()
            except Exception as exc:  # a busy disk: look again after a pause
                _log.error("scan_failed", error=repr(exc))
                found = 0
            if not found:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), SCAN_IDLE)
                except TimeoutError:
                    pass

    async def scan_once(self) -> int:
        """Take one page of due messages into the queues; how many were taken. With no
        routes at all nothing is taken: messages wait in the store for a config that
        has somewhere to send them."""
        self._committed_meanwhile = []  # what commits hand over from here on: newer than the page
        room = sum(max(queue.room, 0) for queue in self.queues.values())
        if not self.config.routes or not room:
            return 0
        now = self.clock()
        held = self.held
        # No more whole rows than the queues have room for: the rest would be passed over
        # and read again by the next walk.
        page, cursor, ended = await fw.due_after(self.store, self._cursor, now, SCAN_PAGE, held.__contains__,
                                                 rows=room)
        self.counters["scanned"] += len(page)  # whole rows the walks read back
        taken = 0
        for message in page:
            number = _number(message.id)
            if number in held:  # taken while the page was read
                continue
            outcome = self._take(message, now, number)
            if outcome is None:
                self._start_over()  # its queue is full: it stays due, seen on the next walk
                continue
            taken += outcome
        self._cursor = cursor
        # Caught up with nothing passed over: every due message was read by a walk or
        # handed over, so new ones may be taken as they are committed (those committed
        # while this page was read first, in order).
        self._caught_up = ended and not self._rewind
        # At its end the walk starts again a little back; after a pass-over, from the start
        # at once: a later page must not take a message behind one passed over (the queue
        # may have room again by then), or order per destination breaks.
        if ended or self._rewind:
            self._cursor = fw.START if self._rewind else (min(self._cursor[0], now) - RESCAN_LAG, 0)
            self._rewind = False
        meanwhile, self._committed_meanwhile = self._committed_meanwhile, []
        if self._caught_up:
            # Due by the clock now, not at the walk's start: one accepted after that was
            # not on the page (scheduled later than its `now`), and left to the next walk
            # it would go after newer messages to its destination, taken as committed.
            self._take_committed(meanwhile, self.clock())
        for queue in list(self.queues.values()):  # queued first, then each queue pumped once
            self._pump(queue)
        return taken

    def accepted(self, messages: list[Message]) -> None:
        """Messages just committed (the store's hook for new rows): taken into their
        queues at once, not read back by the scan, once a walk has caught up with nothing
        passed over (nothing older waits in the store, so order per destination holds).
        Until then they wait for the end of the walk under way (or the next walk reads
        them); those scheduled later, or meeting a full queue, stay for the scan."""
        if self._stopping or not self.config.routes:
            return
        if not self._caught_up:
            self._committed_meanwhile += messages
            return
        self._take_committed(messages, self.clock())
        for queue in list(self.queues.values()):
            self._pump_soon(queue)

    def _take_committed(self, messages: list[Message], now: float) -> None:
        held = self.held
        for message in messages:
            if message.scheduled > now:
                continue
            number = _number(message.id)
            if number in held:
                continue
            if self._take(message, now, number) is None:
                # Its queue is full: it and those after it stay for the walks, which start
                # over; nothing is taken as committed until one catches up again.
                self._start_over()
                return

    def _start_over(self) -> None:
        """Due messages wait behind the walk's cursor: the next walk starts from the
        beginning, and nothing is taken as committed until a walk has caught up again."""
        self._rewind = True
        self._caught_up = False

    def _take(self, message: Message, now: float, number: int) -> int | None:
        """Route a due message (`number` its id's) into its queue: 1 taken, 0 ended here,
        None no room."""
        if message.expires is not None and message.expires <= now:
            self._finish(message, MessageState.EXPIRED)
            return 0
        decision = router.route_mt(self.mt_table, message, now, self._is_up)
        if decision is None:
            self.counters["unroutable"] += 1
            self._finish(message, MessageState.UNDELIVERABLE, status.ESME_RINVDSTADR)
            return 0
        target = decision.upstream
        attempted = message.body.get(ATTEMPTED)
        if attempted:  # back from an UNDELIV receipt (smsc.aio.inbound): on to the next upstream
            target = router.next_upstream(decision, attempted, router.Undelivered(message.error), self._is_up)
            if target is None:  # the config changed since: the receipt's verdict stands
                self._finish(message, MessageState.UNDELIVERABLE, message.error)
                return 0
        queue = self.queues.get(target)
        if queue is None or queue.held >= queue.capacity:
            return None
        try:
            pdus = self._pdus(message, queue)
        except TextError as exc:
            _log.warning("unsendable", message=message.id, error=str(exc))
            self._finish(message, MessageState.UNDELIVERABLE, status.ESME_RINVMSGLEN)
            return 0
        submission = Submission(message, decision, pdus)
        if attempted:
            submission.attempted.extend(attempted)
        self.held.add(number)
        self._enqueue(queue, submission, pump=False)  # the scan pumps once it has taken its page
        return 1

    def _is_up(self, upstream: str) -> bool:
        queue = self.queues.get(upstream)
        return queue is not None and queue.is_up

    def _enqueue(self, queue: UpstreamQueue, submission: Submission, pump: bool = True) -> None:
        queue.held += 1
        submission.attempted.append(queue.name)
        queue.parts.add(submission, len(submission.pdus), submission.message.destination)
        if pump:
            self._pump(queue)

    # --- building the submits -------------------------------------------------------------

    def _pdus(self, message: Message, queue: UpstreamQueue) -> list[SubmitSm]:
        body = message.body
        get = body.get
        settings = queue.settings
        stored_tlvs = get("tlvs")
        tlvs = tuple(map(tuple, stored_tlvs)) if stored_tlvs else ()
        validity = "" if message.expires is None else _validity(int(message.expires * 10))
        # Positional, in SubmitSm's field order (checked below the class): built for every
        # message, and a call with keywords costs ~1.5 us more. The stored body's fields are
        # copied as they are, but replace_if_present_flag and schedule_delivery_time (ours
        # to act on, not the carrier's) and the source TON/NPI the upstream may set.
        base = SubmitSm(0, 0, message.service_type,
                        get("source_addr_ton", 0) if settings.source_ton is None else settings.source_ton,
                        get("source_addr_npi", 0) if settings.source_npi is None else settings.source_npi,
                        message.source, get("dest_addr_ton", 0), get("dest_addr_npi", 0), message.destination,
                        get("esm_class", 0), get("protocol_id", 0), get("priority_flag", 0), "", validity,
                        _carrier_receipts(message), 0, get("data_coding", 0), get("sm_default_msg_id", 0),
                        get("short_message", b""), tlvs)
        payload = next((value for tag, value in tlvs if tag == Tag.MESSAGE_PAYLOAD), None) if tlvs else None
        if payload is None or settings.concatenation == "payload":  # the common case: as it came
            return [base]
        base = msgspec.structs.replace(base, tlvs=tuple(tlv for tlv in tlvs if tlv[0] != Tag.MESSAGE_PAYLOAD))
        if message.segments <= 1 and len(payload) <= 140:
            return [msgspec.structs.replace(base, short_message=bytes(payload))]
        return self._split(message, base, payload, base.tlvs, queue.options)

    def _split(self, message: Message, base: SubmitSm, payload: bytes, others: tuple, options: TextOptions) -> list[SubmitSm]:
        """A message_payload cut into the parts the upstream's concatenation wants."""
        part = read_part(b"", base.esm_class, base.data_coding, ((Tag.MESSAGE_PAYLOAD, payload),))
        reference = lambda: self.references.next(message.destination)  # noqa: E731
        if part.alphabet in ("gsm7", "ucs2"):
            text = part_text(part, base.data_coding)
            segmented = split(text, msgspec.structs.replace(options, force_ucs2=part.alphabet == "ucs2"), reference)
            data_coding = segmented.count.data_coding
        else:
            segmented = split_binary(part.units, options, reference, base.data_coding)
            data_coding = base.data_coding
        return [msgspec.structs.replace(base, short_message=short_message, tlvs=others + tuple(extra),
                                        esm_class=base.esm_class | segmented.esm_class, data_coding=data_coding)
                for short_message, extra in segmented.parts()]

    # --- sending --------------------------------------------------------------------------

    def _pump(self, queue: UpstreamQueue) -> None:
        """Send what the links' windows and the buckets allow now; come back when a
        token is due."""
        if queue.timer is not None or self._stopping or queue.closed:
            return
        now, wall = self.loop.time(), self.clock()  # once a pass: it takes microseconds
        self._release_delayed(queue, now)
        # Each link's room read once per pump, counted down as parts go: the bind with the
        # most room takes the next part.
        rooms = {link: link.free_window for link in queue.links}
        link = max(rooms, key=rooms.__getitem__, default=None)
        parts = queue.parts
        while True:
            if link is None or rooms[link] <= 0:
                return  # a response or a new bind pumps again
            taken = parts.next()
            if taken is None:
                break
            submission, part = taken
            expires = submission.message.expires
            if expires is not None and expires <= wall:
                self._expired_in_queue(queue, submission)
                continue
            due = self._take_tokens(queue, submission.route, now)
            if due > now:
                parts.back(submission, part)
                self._pump_at(queue, due)
                return
            if not link.submit(submission.pdus[part], (submission, part)):
                parts.back(submission, part)
                return
            rooms[link] -= 1
            queue.in_flight += 1
            self.counters["submitted"] += 1
            if submission.route.reroute_waits:
                self._arm_reroute(queue, submission)
            if len(rooms) > 1:
                link = max(rooms, key=rooms.__getitem__)
        if queue.delayed:
            self._pump_at(queue, queue.delayed[0][0])

    def _take_tokens(self, queue: UpstreamQueue, route: router.RouteDecision, now: float) -> float:
        """A token from the upstream's bucket and from the route's (when it has a rate),
        taken when both have one: then `now`; else the time both will (nothing taken)."""
        upstream = queue.rate.bucket
        if route.rate is None:  # one bucket: try_take fails exactly when delay_until is later
            return now if upstream.try_take(1, now) else upstream.delay_until(1, now)
        bucket = self.route_buckets.get(route.rule)
        if bucket is None:
            bucket = self.route_buckets[route.rule] = TokenBucket(route.rate, burst=max(1.0, route.rate / 10), now=now)
        due = max(upstream.delay_until(1, now), bucket.delay_until(1, now))
        if due <= now:
            upstream.try_take(1, now)
            bucket.try_take(1, now)
        return due

    def _pump_soon(self, queue: UpstreamQueue) -> None:
        """Pump once later in this loop turn: the answers of one read free their window
        slots first, then one pass refills them (not a pump per answer)."""
        if not queue.pump_due:
            queue.pump_due = True
            self.loop.call_soon(self._pump_due, queue)

    def _pump_due(self, queue: UpstreamQueue) -> None:
        queue.pump_due = False
        self._pump(queue)

    def _pump_at(self, queue: UpstreamQueue, when: float) -> None:
        def fire() -> None:
            queue.timer = None
            self._pump(queue)

        queue.timer = self.loop.call_at(when, fire)

    def _release_delayed(self, queue: UpstreamQueue, now: float) -> None:
        while queue.delayed and queue.delayed[0][0] <= now:
            _, _, submission, part = heapq.heappop(queue.delayed)
            queue.parts.back(submission, part)

    # --- the route's own re-route wait (reroute.timeout below the response_timeout) ------

    def _arm_reroute(self, queue: UpstreamQueue, submission: Submission) -> None:
        wait = submission.route.reroute_waits.get(queue.name)
        if (wait is not None and wait < queue.settings.response_timeout and len(submission.pdus) == 1
                and submission.deadline is None):
            submission.deadline = self.loop.call_later(wait, self._unanswered, queue, submission)

    def _unanswered(self, queue: UpstreamQueue, submission: Submission) -> None:
        """The route's re-route wait ended before the carrier answered: on to the next
        upstream. The submit_sm stays in the first link's window until its answer or its
        timeout, which then count as late (the carrier may deliver it too)."""
        submission.deadline = None
        if not queue.closed and submission.attempted[-1] == queue.name and submission.pending:
            self.counters["timeouts"] += 1
            if self._reroute(queue, submission, router.TimedOut()):
                self._pump(queue)

    def _moved_on(self, queue: UpstreamQueue, submission: Submission, accepted: bool = False) -> bool:
        """An answer (or its absence) for a submission re-routed away from `queue` meanwhile."""
        if submission.attempted[-1] == queue.name:
            return False
        self.counters["late_answers"] += 1
        if accepted:  # both carriers have it now: the handset may get it twice
            _log.warning("late_accept_after_reroute", message=submission.message.id, upstream=queue.name)
        self._pump(queue)
        return True

    # --- answers (from UpstreamQueue, the links' handler) ----------------------------------

    def _on_response(self, queue: UpstreamQueue, context: tuple[Submission, int], pdu: Pdu) -> None:
        submission, part = context
        code = pdu.command_status
        if submission.attempted[-1] != queue.name and self._moved_on(queue, submission, code == 0):
            return
        if submission.deadline is not None:
            submission.answered()
        now = self.loop.time()
        if code == 0:
            queue.rate.accepted(now)
            submission.carrier_ids[part] = fw.normalise_id(getattr(pdu, "message_id", "") or "")
            submission.pending -= 1
            self.counters["accepted"] += 1
            if submission.pending == 0:
                self._settle(queue, submission)
        elif code in SLOW_DOWN:
            self.counters["throttled"] += 1
            if queue.rate.throttled(now):
                _log.info("upstream_throttled", upstream=queue.name, rate=round(queue.rate.rate, 2))
            queue.parts.back(submission, part)
        elif code in TEMPORARY:
            self._retry_later(queue, submission, part, code)
        else:
            self.counters["refused"] += 1
            submission.failed = code
            submission.pending -= 1
            if submission.pending == 0:
                self._settle(queue, submission)
        self._pump_soon(queue)

    def _on_timeout(self, queue: UpstreamQueue, context: tuple[Submission, int]) -> None:
        submission, part = context
        if self._moved_on(queue, submission):
            return
        submission.answered()
        self.counters["timeouts"] += 1  # the carrier may have it: a retry may duplicate it
        # Only a message sent whole moves on: parts of one message must reach one carrier
        # (the handset joins them), and the others may be with this one already.
        moved = (not queue.closed and len(submission.pdus) == 1
                 and self._reroute(queue, submission, router.TimedOut()))
        if not moved:
            self._retry_later(queue, submission, part, status.ESME_RUNKNOWNERR)
        self._pump(queue)

    def _on_lost(self, queue: UpstreamQueue, contexts: list[tuple[Submission, int]]) -> None:
        if queue.closed:
            for submission, _ in contexts:
                self._let_go(submission.message.id)
            return
        for submission, part in contexts:
            if submission.attempted[-1] == queue.name:  # else re-routed away meanwhile
                submission.answered()
                self.counters["resent_after_loss"] += 1  # may reach the carrier twice
                queue.parts.back(submission, part)
        self._pump(queue)

    # --- outcomes -------------------------------------------------------------------------

    def _retry_later(self, queue: UpstreamQueue, submission: Submission, part: int, code: int) -> None:
        if queue.closed:
            self._let_go(submission.message.id)
            return
        submission.attempts += 1
        settings = self.config.forwarding
        if submission.attempts >= settings.max_attempts:
            submission.failed = code
            submission.pending -= 1
            if submission.pending == 0:
                self._settle(queue, submission)
            return
        self.counters["retried"] += 1
        wait = min(settings.retry_max, settings.retry_initial * 2 ** (submission.attempts - 1))
        heapq.heappush(queue.delayed, (self.loop.time() + wait, next(self._order), submission, part))

    def _settle(self, queue: UpstreamQueue, submission: Submission) -> None:
        """Every part has its answer: record the message as sent, re-route it, or end it."""
        if not submission.failed:
            self._leave(queue, submission)
            self._record_sent(queue, submission)
        elif not self._reroute(queue, submission, router.Refused(submission.failed)):
            self._leave(queue, submission)
            self._finish(submission.message, MessageState.UNDELIVERABLE, submission.failed)

    def _leave(self, queue: UpstreamQueue, submission: Submission) -> None:
        queue.held -= 1
        queue.parts.done(submission)

    def _reroute(self, queue: UpstreamQueue, submission: Submission, outcome: router.Outcome) -> bool:
        """Move the submission from `queue` to the next upstream its route names after
        `outcome` (router.next_upstream); False when the route does not, or cannot."""
        if any(submission.carrier_ids):  # a part already with the carrier cannot move
            return False
        target = router.next_upstream(submission.route, submission.attempted, outcome, self._is_up)
        if target is None or target not in self.queues:
            return False
        self._leave(queue, submission)
        submission.failed = 0
        submission.pending = len(submission.pdus)
        self.counters["rerouted"] += 1
        self._enqueue(self.queues[target], submission)
        return True

    def _expired_in_queue(self, queue: UpstreamQueue, submission: Submission) -> None:
        # Its other parts may still sit in the queue: they go when their turn comes.
        submission.pending = -1
        queue.held -= 1
        queue.parts.remove(submission)
        self._finish(submission.message, MessageState.EXPIRED)

    def _record_sent(self, queue: UpstreamQueue, submission: Submission) -> None:
        """Record where the message went, requested at once (not from a task): a receipt
        that overtakes this commit is requested after it, and the store finds the
        carrier id in the same batch (Store.apply_receipt)."""
        message = submission.message
        if len(submission.carrier_ids) > 1:  # first: a receipt finding the message by its first id finds the parts
            self._spawn(self._record_parts(queue, message, [carrier_id or "" for carrier_id in submission.carrier_ids]))
            return
        carrier_id = submission.carrier_ids[0] or ""
        if not self._sent:
            self.loop.call_soon(self.flush_sent)
        self._sent.append((message.id, queue.name, carrier_id))
        if self.inbound is not None and self.inbound.kept:  # mostly none: no call a message
            self.inbound.sent(queue.settings, [carrier_id])

    def flush_sent(self) -> None:
        """Request the sent records gathered so far (those of one read of submit_sm_resp)
        as one store request. Called at the end of the loop turn, and before a receipt
        from a carrier is requested: a receipt that overtakes its message's record must
        be requested after it (Store.apply_receipt finds the id in the same batch)."""
        if not self._sent:  # asked before every receipt: mostly nothing
            return
        batch, self._sent = self._sent, []
        recorded = self.store.update_many(batch, now=self.clock())
        recorded.add_done_callback(functools.partial(self._batch_recorded, batch))

    def _batch_recorded(self, batch: list[tuple[str, str, str]],
                        recorded: "asyncio.Future[list[StoreError | None]]") -> None:
        error = recorded.exception()
        outcomes = [error] * len(batch) if error is not None else recorded.result()
        for (message_id, _, _), outcome in zip(batch, outcomes):
            self._sent_recorded(message_id, outcome)

    async def _record_parts(self, queue: UpstreamQueue, message: Message, ids: list[str]) -> None:
        try:
            await fw.record_parts(self.store, queue.name, message.id, ids, self.clock())
            await self.store.update(message.id, upstream=queue.name, carrier_id=ids[0], now=self.clock())
        except StoreError as exc:
            self._sent_recorded(message.id, exc)
        else:
            self._sent_recorded(message.id, None)
        if self.inbound is not None:
            self.inbound.sent(queue.settings, ids)

    def _sent_recorded(self, message_id: str, error: BaseException | None) -> None:
        self._release(message_id)
        if error is None:
            self.counters["sent"] += 1
        elif isinstance(error, (MessageFinal, UnknownMessage)):  # cancelled or expired meanwhile
            _log.info("sent_but_final", message=message_id, error=str(error))
        else:
            _log.error("record_sent_failed", message=message_id, error=repr(error))

    def _release(self, message_id: str) -> None:
        """Its fate is committed (or it goes back to the store's queue): the scan may take
        it again if the store says it is due."""
        self.held.discard(_number(message_id))

    def _let_go(self, message_id: str) -> None:
        """Back to the store's queue unsent (its queue closed by a reload): due again, with
        its old schedule, behind the walk's cursor."""
        self._release(message_id)
        self._start_over()

    def due_again(self, message_id: str) -> None:
        """A message recorded as sent is due again (an UNDELIV re-routed, committed):
        walk the queue again soon."""
        self._start_over()
        self._wake.set()

    def _finish(self, message: Message, state: MessageState, error: int | None = None) -> None:
        self.held.add(_number(message.id))
        recorded = self.store.update(message.id, state, error=error, now=self.clock())
        recorded.add_done_callback(lambda future: self._final_recorded(message.id, state, future.exception()))

    def _final_recorded(self, message_id: str, state: MessageState, error: BaseException | None) -> None:
        self._release(message_id)
        if error is None:
            self.counters[f"final_{state.name.lower()}"] += 1
        elif not isinstance(error, (MessageFinal, UnknownMessage)):
            _log.error("record_final_failed", message=message_id, error=repr(error))


def _number(message_id: str) -> int:
    return int(message_id, 16)  # an id the store gave: no need for parse_id's checks


# The order Forwarder._pdus passes SubmitSm's fields in.
assert SubmitSm.__struct_fields__ == (
    "sequence_number", "command_status", "service_type", "source_addr_ton", "source_addr_npi", "source_addr",
    "dest_addr_ton", "dest_addr_npi", "destination_addr", "esm_class", "protocol_id", "priority_flag",
    "schedule_delivery_time", "validity_period", "registered_delivery", "replace_if_present_flag", "data_coding",
    "sm_default_msg_id", "short_message", "tlvs"), "SubmitSm's fields changed: update Forwarder._pdus"


def _carrier_receipts(message: Message) -> int:
    """We always ask the carrier for a final receipt: it is how a message reaches its final
    state here, whatever the client asked for its own receipt."""
    return 1


@functools.lru_cache(maxsize=1024)
def _validity(tenths: int) -> str:
    # Messages accepted together expire together: format each tenth of a second once.
    return format_absolute(datetime.fromtimestamp(tenths / 10, timezone.utc))
