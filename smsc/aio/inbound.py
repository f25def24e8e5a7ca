"""What carriers send us: delivery receipts for our submits, and MO messages.

    inbound = Inbound(config, store)
    code = await inbound.handle(upstream_settings, deliver_sm_or_data_sm)  # the *_resp status
    inbound.answer(upstream_settings, pdu, respond)   # the same, as respond(code)
    inbound.answer_read(upstream_settings, pdus, respond)   # a link's read: respond(pdu, code) each
    inbound.sent(upstream_settings, carrier_ids)   # when a submit_sm_resp gave them

Every answer to the carrier is given after the commit (design invariant 1): `handle`
returns the status only once the receipt or MO is stored.

Receipts: the carrier's id comes from receipted_message_id, else from the receipt text
(smsc.dlr.parse_text); the state from message_state, else the text's stat word. The id is
looked up in its possible readings (smsc.store.forwarding.id_readings, per the upstream's
message_id_format): a message sent whole carries it in messages.carrier_id, one sent in
parts in carrier_parts. A final state moves the message there (and the store queues the
client's receipt, with our id, in the same commit); a message in parts moves when all its
parts are final, to the worst of their states, or, for carriers that report only the
first or the last part, when that part's receipt is all that came after
[forwarding] parts_grace.
An id that matches nothing is answered, logged, counted and kept (early_receipts): it is
applied when a submit_sm_resp brings that id (`sent`), or dropped after
[forwarding] unmatched_receipt_keep.
An UNDELIV of a message sent whole whose err: code its route lists (reroute.undeliv_errors)
does not end it while the retry budget lasts: it goes back to the forwarder's queue, for
the next upstream of the route (`Reroutes`), and the client hears only the last try.

MO: reassembled when concatenated (any order; after [forwarding] mo_reassembly_timeout
what arrived is delivered, flagged incomplete), routed by smsc.router.route_mo and queued
for the account's receiver binds (store.enqueue kind "mo"; smsc.aio.delivery delivers it),
or, for a route with a webhook, in that route's webhook queue
(smsc.http.webhooks.enqueue_route_mo; its Dispatcher POSTs it). Either way it is committed
before the answer; so is each part of a concatenated MO (mo_parts), until its message is
queued: a restart resumes the reassembly (`resume`), at the risk of queuing a message
twice when it stopped between the queuing and the parts' removal. An MO that no route
takes is answered ESME_RX_R_APPN, never a silent ESME_ROK.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import pickle
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any, Callable

import msgspec

from smsc import router
from smsc.codec import twin as active_twin
from smsc.codec.decoding import read_part
from smsc.codec.reassembly import join_parts
from smsc.codec.reassembly import Completed, Incomplete, Reassembler
from smsc.codec.text_errors import TextError
from smsc.config import Config, Upstream
from smsc.dlr import parse_text
from smsc.http.webhooks import enqueue_route_mo
from smsc.log import get_logger
from smsc.smpp import status
from smsc.smpp.constants import FINAL_STATES, STATE_OF, EsmClass, MessageState, Tag
from smsc.smpp.pdus import Pdu
from smsc.store import Message, MessageFinal, ReceiptOutcome, Store, StoreError, UnknownMessage
from smsc.store import forwarding as fw

_RECEIPT_TYPES = (EsmClass.TYPE_DELIVERY_RECEIPT, 0x20)  # 0x20: intermediate notification
_TYPE_MASK = 0x3C
# Plain ints and a dict for the per-receipt reads (an IntEnum lookup or call costs ~0.3 us).
_RECEIPTED_MESSAGE_ID, _MESSAGE_STATE = int(Tag.RECEIPTED_MESSAGE_ID), int(Tag.MESSAGE_STATE)
_NETWORK_ERROR_CODE, _MESSAGE_PAYLOAD = int(Tag.NETWORK_ERROR_CODE), int(Tag.MESSAGE_PAYLOAD)
_UNDELIVERABLE, _REROUTED, _APPLIED = MessageState.UNDELIVERABLE, ReceiptOutcome.REROUTED, ReceiptOutcome.APPLIED
_SETTLED_COUNTERS = {ReceiptOutcome.APPLIED: "receipts_applied", ReceiptOutcome.REPEATED: "receipts_repeated",
                     ReceiptOutcome.REROUTED: "receipts_rerouted"}
# What a link answers a deliver_sm / data_sm with: called once with the status, or with
# the exception that kept it from being committed (never when the work was cancelled).
Respond = Callable[[int | BaseException], None]
RespondTo = Callable[[Pdu, int | BaseException], None]  # the same for the PDUs of one read
_DELIVER_FIELDS = ("source_addr_ton", "source_addr_npi", "source_addr", "dest_addr_ton", "dest_addr_npi",
                   "destination_addr", "esm_class", "protocol_id", "priority_flag", "data_coding")


class MtTableOnce:
    """An MT table that goes to the store's writer with every UNDELIV receipt's re-route
    check (the writer may be another process, smsc.store.process) but changes only on a
    reload: pickled once, as (digest, bytes), and unpickled once per digest on the other
    side (pickling a table each time costs ~50 us for five routes, more for hundreds)."""

    __slots__ = ("table", "_digest", "_data")

    def __init__(self, table: router.MtTable, data: bytes | None = None, digest: bytes | None = None) -> None:
        self.table = table
        self._data = pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL) if data is None else data
        self._digest = hashlib.blake2b(self._data, digest_size=16).digest() if digest is None else digest

    def __reduce__(self) -> tuple[Any, ...]:
        return _table_once, (self._digest, self._data)


_TABLES_SEEN: dict[bytes, MtTableOnce] = {}  # on the writer's side: by digest, the last few
_TABLES_KEPT = 4


def _table_once(digest: bytes, data: bytes) -> MtTableOnce:
    once = _TABLES_SEEN.get(digest)
    if once is None:
        while len(_TABLES_SEEN) >= _TABLES_KEPT:  # older configs' tables
            del _TABLES_SEEN[next(iter(_TABLES_SEEN))]
        once = _TABLES_SEEN[digest] = MtTableOnce(pickle.loads(data), data, digest)
    return once


class Reroutes(msgspec.Struct, frozen=True):
    """Store.apply_receipt's `reroute`: whether an UNDELIV with `error` from `upstream`,
    received at `now`, sends the message it names (read by the writer), whose route
    re-routes on that error, to the route's next upstream within its budget (the store
    keeps our id and moves it back to the queue). Data and a method, so it pickles for a
    writer in another process. Messages sent in parts are not moved (the store does not
    ask): their receipts come per part, and a handset may already hold some of them."""

    table: MtTableOnce
    upstream: str
    error: int | None
    now: float

    def __call__(self, message: Message) -> bool:
        decision = router.route_mt(self.table.table, router.facts_of(message), self.now)
        tried = [*fw.attempted(message), self.upstream]
        return decision is not None and router.next_upstream(
            decision, tried, router.Undelivered(self.error)) is not None


class ReceiptFacts(msgspec.Struct, frozen=True, gc=False):
    """What a receipt says (a Struct: made in C, ~0.25 us cheaper than a slotted class)."""

    carrier_id: str
    state: MessageState | None
    error: int | None


def read_receipt(pdu: Pdu) -> ReceiptFacts | None:
    """The carrier id, state and error a deliver_sm/data_sm receipt carries; None when
    the PDU is not a receipt."""
    tlvs = dict(reversed(pdu.tlvs))  # one pass; reversed: the first of a repeated tag wins, as in Pdu.tlv
    receipted = tlvs.get(_RECEIPTED_MESSAGE_ID)
    esm_type = getattr(pdu, "esm_class", 0) & _TYPE_MASK
    if receipted is None and esm_type not in _RECEIPT_TYPES:
        return None
    state = STATE_OF.get(tlvs.get(_MESSAGE_STATE))
    network = tlvs.get(_NETWORK_ERROR_CODE)
    error = int.from_bytes(network[1:], "big") if isinstance(network, (bytes, bytearray)) and len(network) == 3 else None
    if receipted and state is not None:  # the TLVs say it all: the text need not be read
        return ReceiptFacts(str(receipted), state, error or None)
    text = getattr(pdu, "short_message", b"") or tlvs.get(_MESSAGE_PAYLOAD) or b""
    parsed = parse_text(bytes(text)) if text else None
    carrier_id = receipted or (parsed.id if parsed else None)
    if not carrier_id:
        return ReceiptFacts("", None, None)
    if state is None and parsed is not None:
        state = parsed.state
    if not error and parsed is not None and parsed.err and parsed.err.isdigit():
        error = int(parsed.err)
    return ReceiptFacts(str(carrier_id), state, error or None)


class Inbound:
    def __init__(self, config: Config, store: Store, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self.monotonic = monotonic
        self.counters: Counter[str] = Counter()
        self.reassembler = Reassembler(timeout=config.forwarding.mo_reassembly_timeout)
        # (upstream, carrier id) of the receipts kept in early_receipts, so that a submit's
        # new id is looked up there only when one may be waiting (refreshed periodically).
        self.kept: set[tuple[str, str]] = set()
        self.log = get_logger("smsc.inbound")
        # Told the id of a message put back in the queue by an UNDELIV: the forwarder
        # (Forwarder.due_again) sets it, to take the message up again at once.
        self.due_again: Callable[[str], None] = lambda message_id: None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.apply(config)

    def apply(self, config: Config) -> None:
        self.config = config
        self.reassembler.timeout = config.forwarding.mo_reassembly_timeout
        self.mo_table = router.MoTable.of(config)
        # For UNDELIV receipts the route re-routes on; None when no route re-routes on one.
        self.mt_table = MtTableOnce(router.MtTable.of(config)) if any(
            route.reroute.undeliv_errors for route in config.routes) else None

    async def handle(self, upstream: Upstream, pdu: Pdu) -> int:
        """The status to answer `pdu` with, once what it says is committed."""
        answered: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.answer(upstream, pdu, functools.partial(_settle, answered))
        return await answered

    def answer(self, upstream: Upstream, pdu: Pdu, respond: Respond) -> None:
        """`handle` for a link: `respond(status)` once what `pdu` says is committed."""
        self.answer_read(upstream, [pdu], functools.partial(_respond_one, respond))

    def answer_read(self, upstream: Upstream, pdus: list[Pdu], respond: RespondTo) -> None:
        """`answer` for the deliver_sm / data_sm of one read of a link: `respond(pdu,
        status)` for each, once what it says is committed. The common receipts, for
        messages sent whole, are one store request together (Store.apply_receipts),
        whose callback responds to each in order (no task, no future of their own); the
        rest (MO, parts, an id not known yet) takes a task each."""
        finals: list[tuple[Pdu, ReceiptFacts, list[str]]] = []
        for pdu in pdus:
            try:
                facts = self._final_receipt(upstream, pdu, respond)
                if facts is not None:
                    finals.append((pdu, facts, fw.id_readings(facts.carrier_id, upstream.message_id_format)))
            except Exception as exc:  # this PDU's answer says so; the read's others go on
                respond(pdu, exc)
        if not finals:
            return
        now = self.clock()
        try:
            applied = self.store.apply_receipts(
                upstream.name, [(readings, facts.state, facts.error, self._reroutes(upstream.name, facts.state,
                                                                                   facts.error, now))
                                for _, facts, readings in finals], now=now)
        except Exception as exc:  # the finals only: the read's others may be answered already
            for pdu, _, _ in finals:
                respond(pdu, exc)
            return
        applied.add_done_callback(functools.partial(self._applied, upstream, finals, respond))

    def _final_receipt(self, upstream: Upstream, pdu: Pdu, respond: RespondTo) -> ReceiptFacts | None:
        """The facts of a final receipt, for the store; anything else is taken care of
        here (an MO in a task, an intermediate or unreadable receipt answered at once)."""
        facts = read_receipt(pdu)
        if facts is None:
            self._then(self._mo(upstream, pdu), functools.partial(respond, pdu))
            return None
        self.counters["receipts"] += 1
        if not facts.carrier_id or facts.state is None or facts.state not in FINAL_STATES:
            kind = "receipts_intermediate" if facts.carrier_id else "receipts_unreadable"
            self.counters[kind] += 1  # ENROUTE, ACCEPTED...: the message stays where it is
            if not facts.carrier_id:
                self.log.warning("receipt_unreadable", upstream=upstream.name)
            respond(pdu, 0)
            return None
        return facts

    def _then(self, work: Coroutine[Any, Any, int], respond: Respond) -> None:
        """Run `work` as a task and respond with what it returns."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(functools.partial(_respond_with, respond))
        task.add_done_callback(self._tasks.discard)

    # --- receipts -------------------------------------------------------------------------

    def _reroutes(self, upstream: str, state: MessageState, error: int | None, now: float) -> Reroutes | None:
        # An UNDELIV without an err: code is re-routed by no route (router.reroutes).
        if state == _UNDELIVERABLE and error is not None and self.mt_table is not None:
            return Reroutes(self.mt_table, upstream, error, now)
        return None

    def _request_apply(self, upstream: str, readings: list[str], state: MessageState, error: int | None,
                       parts_first: bool = True) -> "asyncio.Future[tuple[ReceiptOutcome, str | None]]":
        now = self.clock()
        return self.store.apply_receipt(upstream, readings, state, error, reroute=self._reroutes(upstream, state, error, now),
                                        parts_first=parts_first, now=now)

    def _applied(self, upstream: Upstream, finals: list[tuple[Pdu, ReceiptFacts, list[str]]], respond: RespondTo,
                 applied: "asyncio.Future[list[tuple[ReceiptOutcome, str | None] | StoreError]]") -> None:
        error = applied.exception()
        outcomes = [error] * len(finals) if error is not None else applied.result()
        done = 0
        for (pdu, facts, readings), outcome in zip(finals, outcomes):
            if isinstance(outcome, BaseException):
                respond(pdu, outcome)
            elif outcome[0] is _APPLIED:  # the common outcome: counted once for the read
                done += 1
                respond(pdu, 0)
            elif self._settled(*outcome):
                respond(pdu, 0)
            else:
                self._then(self._receipt_rest(upstream, facts, readings, outcome[0]), functools.partial(respond, pdu))
        if done:
            self.counters["receipts_applied"] += done

    def _settled(self, outcome: ReceiptOutcome, message_id: str | None) -> bool:
        """Count an outcome that ends the receipt's work; False for PARTS and UNKNOWN."""
        counter = _SETTLED_COUNTERS.get(outcome)
        if counter is None:
            return False
        self.counters[counter] += 1
        if outcome == _REROUTED:
            self.due_again(message_id or "")
        return True

    async def _receipt_rest(self, upstream: Upstream, facts: ReceiptFacts, readings: list[str],
                            outcome: ReceiptOutcome) -> int:
        """A receipt the first request did not settle: about one part of a message sent in
        parts, or for an id no message has (yet)."""
        assert facts.state is not None
        if await self._after_apply(upstream.name, readings, facts.state, facts.error, outcome):
            return 0
        self.counters["receipts_unknown"] += 1
        self.log.info("receipt_unknown_id", upstream=upstream.name, carrier_id=facts.carrier_id)
        await fw.keep_early(self.store, upstream.name, facts.carrier_id, facts.state, facts.error, self.clock())
        self.kept.add((upstream.name, fw.normalise_id(facts.carrier_id)))
        # Its submit_sm_resp may have been recorded while this was kept: look once more
        # (else the next housekeeping round finds it).
        if await self._apply(upstream.name, readings, facts.state, facts.error):
            await fw.take_early(self.store, upstream.name, [fw.normalise_id(facts.carrier_id)])
            self.counters["receipts_early_applied"] += 1
        return 0

    async def _apply(self, upstream: str, readings: list[str], state: MessageState, error: int | None) -> bool:
        """Apply a final receipt to the message it names; False when none is known yet.
        One request to the store, which finds the message on the writer's connection: a
        receipt that overtakes the commit of its submit_sm_resp's carrier id still finds
        it (the forwarder requested that update first)."""
        outcome, message_id = await self._request_apply(upstream, readings, state, error)
        return self._settled(outcome, message_id) or await self._after_apply(upstream, readings, state, error, outcome)

    async def _after_apply(self, upstream: str, readings: list[str], state: MessageState, error: int | None,
                           outcome: ReceiptOutcome) -> bool:
        if outcome == ReceiptOutcome.PARTS:
            if await self._in_parts(upstream, readings, state, error):
                return True
            outcome, message_id = await self._request_apply(upstream, readings, state, error, parts_first=False)
            return self._settled(outcome, message_id)
        return await self._in_parts(upstream, readings, state, error)  # UNKNOWN: maybe a part after the first

    async def _in_parts(self, upstream: str, readings: list[str], state: MessageState, error: int | None) -> bool:
        part = await fw.find_part(self.store, upstream, readings)
        if part is None:
            return False
        await self._part(upstream, part[0], part[1], state, error)
        return True

    async def _part(self, upstream: str, message_id: str, carrier_id: str, state: MessageState,
                    error: int | None) -> None:
        states, part = await fw.part_receipt(self.store, upstream, carrier_id, state, error, self.clock())
        self.counters["receipts_parts"] += 1
        if fw.parts_final(states):
            await self._final(message_id, fw.worst_state([s for s in states if s is not None]), error)

    async def _final(self, message_id: str, state: MessageState, error: int | None) -> None:
        try:
            await self.store.update(message_id, state, error=error, now=self.clock())
            self.counters["receipts_applied"] += 1
        except (MessageFinal, UnknownMessage):
            self.counters["receipts_repeated"] += 1  # a carrier repeating itself

    def sent(self, upstream: Upstream, carrier_ids: list[str]) -> "asyncio.Task[None] | None":
        """Ids a carrier just gave: apply receipts that came before them (in a task, which
        is returned; None in the common case, when no kept receipt may match)."""
        if not self.kept:
            return None
        fmt = upstream.message_id_format
        forms = [form for carrier_id in carrier_ids for form in fw.receipt_forms(carrier_id, fmt)
                 if (upstream.name, form) in self.kept]
        if not forms:
            return None
        self.kept.difference_update((upstream.name, form) for form in forms)
        task = asyncio.get_running_loop().create_task(self._apply_early(upstream, forms))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _apply_early(self, upstream: Upstream, forms: list[str]) -> None:
        fmt = upstream.message_id_format
        for carrier_id, state, error in await fw.take_early(self.store, upstream.name, forms):
            if await self._apply(upstream.name, fw.id_readings(carrier_id, fmt), MessageState(state), error):
                self.counters["receipts_early_applied"] += 1

    async def housekeeping(self) -> None:
        """Periodically: kept receipts matched again or dropped when too old, long
        messages whose carrier reported only some parts finished with what it said, MO
        parts waited for too long delivered as they are."""
        now = self.clock()
        kept = await fw.early_receipts(self.store)
        self.kept = {(upstream, carrier_id) for upstream, carrier_id, *_ in kept}
        for upstream, carrier_id, received, state, error in kept:
            settings = self.config.upstream(upstream)
            fmt = settings.message_id_format if settings is not None else "as_is"
            readings = fw.id_readings(carrier_id, fmt)
            if await fw.take_early(self.store, upstream, [carrier_id]) and not await self._apply(
                    upstream, readings, MessageState(state), error):
                if received >= now - self.config.forwarding.unmatched_receipt_keep:  # not yet: keep it
                    await fw.keep_early(self.store, upstream, carrier_id, state, error, received)
                else:
                    self.counters["receipts_early_dropped"] += 1
                    self.log.warning("receipt_unmatched_dropped", upstream=upstream, carrier_id=carrier_id)
        for message_id, states in await fw.partly_reported(self.store, now - self.config.forwarding.parts_grace):
            self.counters["receipts_parts_assumed"] += 1  # the carrier reports some parts only
            await self._final(message_id, fw.worst_state(states), None)
        for incomplete in self.reassembler.expire(self.monotonic()):
            await self._deliver_incomplete(incomplete)

    # --- MO -------------------------------------------------------------------------------

    async def _mo(self, upstream: Upstream, pdu: Pdu) -> int:
        self.counters["mo"] += 1
        try:
            part = read_part(getattr(pdu, "short_message", b""), pdu.esm_class, pdu.data_coding, tuple(pdu.tlvs),
                             packed=upstream.gsm7 == "packed")
        except TextError:
            part = None
        if part is not None and part.concat is not None and part.concat.total > 1:
            if self._target(upstream, pdu, None) is None:
                return self._unrouted(upstream, pdu)
            key = _mo_key(upstream.name, pdu, part)
            # Committed before the carrier hears ESME_ROK: a restart resumes from the store.
            await fw.keep_mo_part(self.store, key, part.concat.seq, active_twin("pdu").encode(pdu), self.clock())
            await self._add_part(upstream, key, pdu, part, self.monotonic())
            return 0
        text = _text(part, pdu.data_coding) if part is not None else None
        target = self._target(upstream, pdu, text)
        if target is None:
            return self._unrouted(upstream, pdu)
        return await self._queue(target, upstream, [(pdu, part)], complete=True)

    async def _add_part(self, upstream: Upstream, key: fw.MoKey, pdu: Pdu, part: Any, seen: float) -> None:
        done = self.reassembler.add(key[:3], part.concat, (pdu, part), seen)
        if isinstance(done, Completed):
            target = self._target(upstream, pdu, None)
            if target is not None:
                await self._queue(target, upstream, done.values, complete=True)
            await fw.drop_mo_parts(self.store, key)

    async def resume(self) -> None:
        """After a start: the MO parts kept in the store wait again for the rest (their
        reassembly timeout counted from when they came)."""
        now, monotonic = self.clock(), self.monotonic()
        for key, _, received, data in await fw.mo_parts(self.store):
            upstream = self.config.upstream(key[0])
            if upstream is None:
                self.log.warning("mo_part_of_unknown_upstream", upstream=key[0])
                continue
            pdu = active_twin("pdu").decode(data)
            part = read_part(getattr(pdu, "short_message", b""), pdu.esm_class, pdu.data_coding, tuple(pdu.tlvs),
                             packed=upstream.gsm7 == "packed")
            await self._add_part(upstream, key, pdu, part, monotonic - max(0.0, now - received))
            self.counters["mo_parts_resumed"] += 1

    def _target(self, upstream: Upstream, pdu: Pdu, text: str | None) -> router.MoTarget | None:
        return router.route_mo(self.mo_table, upstream.name, pdu.destination_addr, text)

    def _unrouted(self, upstream: Upstream, pdu: Pdu) -> int:
        self.counters["mo_unrouted"] += 1
        self.log.warning("mo_unrouted", upstream=upstream.name, destination=pdu.destination_addr)
        return status.ESME_RX_R_APPN

    async def _queue(self, target: router.MoTarget, upstream: Upstream, parts: Any, *, complete: bool) -> int:
        first, _ = parts[0]
        body = {name: getattr(first, name) for name in _DELIVER_FIELDS if hasattr(first, name)}
        if len(parts) == 1:
            body["short_message"] = getattr(first, "short_message", b"")
            body["tlvs"] = [list(tlv) for tlv in first.tlvs]
        else:  # joined: the units of every part, without their UDHs, as one payload
            body["esm_class"] = first.esm_class & ~0x40
            body["short_message"] = b""
            body["tlvs"] = [[Tag.MESSAGE_PAYLOAD, b"".join(part.units for _, part in parts)]]
        if not complete:
            body["incomplete"] = True
        if target.account is not None:
            await self.store.enqueue(target.account, body, kind="mo", now=self.clock())
        else:  # the config gives a route without an account a webhook
            await enqueue_route_mo(self.store, target.rule, body, self.clock())
        self.counters["mo_queued"] += 1
        return 0

    async def _deliver_incomplete(self, incomplete: Incomplete) -> None:
        upstream_name, _, _ = incomplete.source
        upstream = self.config.upstream(upstream_name)
        parts = list(incomplete.received.values())
        if not parts:
            return
        target = None if upstream is None else self._target(upstream, parts[0][0], None)
        if upstream is not None and target is not None:
            self.counters["mo_incomplete"] += 1
            self.log.warning("mo_incomplete", upstream=upstream_name, missing=list(incomplete.missing))
            await self._queue(target, upstream, parts, complete=False)
        await fw.drop_mo_parts(self.store, _mo_key(upstream_name, *parts[0]))


def _respond_with(respond: Respond, task: "asyncio.Task[int]") -> None:
    if not task.cancelled():  # stopping: no answer; the carrier sends it again
        error = task.exception()
        respond(task.result() if error is None else error)


def _respond_one(respond: Respond, pdu: Pdu, outcome: int | BaseException) -> None:
    respond(outcome)


def _settle(answered: "asyncio.Future[int]", outcome: int | BaseException) -> None:
    if isinstance(outcome, BaseException):
        answered.set_exception(outcome)
    else:
        answered.set_result(outcome)


def _mo_key(upstream: str, pdu: Pdu, part: Any) -> fw.MoKey:
    return (upstream, pdu.source_addr, pdu.destination_addr, part.concat.reference, part.concat.total)


def _text(part: Any, data_coding: int) -> str | None:
    if part.alphabet == "binary":
        return None
    try:
        return join_parts([part], data_coding)
    except TextError:
        return None
