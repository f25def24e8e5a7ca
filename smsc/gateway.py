"""The application: what an ESME's requests mean, answered from and into the store.

The SMPP adapter (smsc.aio.server) owns sockets, sessions and timers; this module owns
the decisions. It reads no socket and imports no asyncio: its only I/O is awaiting the
store, so every flow can be tested with a real store and no network.

    gateway = Gateway(config, store)
    refusal, account = gateway.check_bind(system_id, peer_ip, "transmitter")  # 0: go on
    response = await gateway.handle(account, request_pdu)  # always its *_resp
    deliver_sm = deliver_sm_of(packed_body)  # a queued item, as OutboundClaim.take_packed gives it

The SMPP adapter takes submit_sm / data_sm by `submit_many` and `submitted_many` instead
of `handle`: the same flow for all the submits of one read, without a coroutine or a task
per message, and one store request for all of them. A submit_sm with
replace_if_present_flag (`replaces(pdu)`) goes through `handle`: it looks for the message
it replaces first.

Invariant 1 of the design lives in `handle`: a submit is answered with a message id only
after `store.accept` returned, i.e. after the commit. Every refusal is a precise
command_status, never an exception out of `handle`.
"""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import msgspec

from smsc.codec.decoding import part_text, read_part
from smsc.codec.segmentation import TextOptions, count
from smsc.codec.text_errors import TextError
from smsc.compliance import Compliance, OptedOut
from smsc.config import Account, Config
from smsc.log import get_logger
from smsc.smpp import status
from smsc.smpp.constants import Tag
from smsc.smpp.pdus import (
    RESPONSE_CLASS, CancelSm, DataSm, DeliverSm, Pdu, QuerySm, QuerySmResp, ReplaceSm, SmeAddress,
    SubmitMulti, SubmitSm, UnsuccessSme,
)
from smsc.smpp.times import format_absolute, parse_time
from smsc.store import Message, MessageFinal, NewMessage, Store, StoreError, UnknownMessage
from smsc.throttle import TokenBucket

# 8-bit user data per part (TS 23.040): 140 octets alone, 134 beside a concatenation UDH.
OCTETS_ALONE, OCTETS_PER_PART = 140, 134

# The body fields kept with a stored message (with the TLVs): what a receipt echoes and
# what an upstream submit needs besides the columns.
_SUBMIT_FIELDS = ("source_addr_ton", "source_addr_npi", "dest_addr_ton", "dest_addr_npi", "esm_class",
                  "protocol_id", "priority_flag", "replace_if_present_flag", "data_coding",
                  "sm_default_msg_id", "short_message")
_decode_deliver_sm = msgspec.msgpack.Decoder(DeliverSm).decode
# Per submit class, a function building the stored body from a PDU: generated, because a
# dict display is ~4x faster than a dict built from the field names at run time (~1 against
# ~4 µs, per message). A field the class lacks (data_sm has no short_message...) is 0 or b"".
def _body_builder(cls: type) -> Callable[[Any], dict[str, Any]]:
    items = ", ".join(f"{name!r}: pdu.{name}" if name in cls.__struct_fields__
                      else f"{name!r}: {b'' if name == 'short_message' else 0!r}" for name in _SUBMIT_FIELDS)
    namespace: dict[str, Any] = {}
    exec(f"def body(pdu):\n    return {{{items}}}", namespace)
    return namespace["body"]


_BODY_BUILDERS = {cls: _body_builder(cls) for cls in (SubmitSm, DataSm, SubmitMulti)}


class Refused(Exception):
    """A request the gateway answers with `command_status` (never leaves this module)."""

    def __init__(self, command_status: int, why: str = "") -> None:
        super().__init__(why or status.status_name(command_status))
        self.command_status = command_status


def count_segments(short_message: bytes, esm_class: int, data_coding: int,
                   tlvs: tuple[tuple[int, Any], ...]) -> int:
    """The parts a submit becomes on the air. A short_message is one part (the ESME cut
    it); a message_payload is cut by the carrier, so it is counted as the text core would
    cut it in its own alphabet, and binary data by octets."""
    if short_message or not tlvs:
        return 1
    payload = next((value for tag, value in tlvs if tag == Tag.MESSAGE_PAYLOAD), None)
    if payload is None:
        return 1
    try:
        part = read_part(b"", esm_class, data_coding, tlvs)
    except TextError:  # a malformed UDH: count the octets as they are
        return _octet_parts(len(payload))
    if part.alphabet in ("gsm7", "ucs2"):
        text = part_text(part, data_coding)
        return count(text, TextOptions(force_ucs2=part.alphabet == "ucs2")).parts
    return _octet_parts(len(part.units))


def replaces(pdu: Pdu) -> bool:
    """A submit_sm asking to take the place of a live message (replace_if_present_flag 1;
    2-255 are reserved and read as 0): `handle` serves it, not `submit_many`."""
    return type(pdu) is SubmitSm and pdu.replace_if_present_flag == 1


def _octet_parts(octets: int) -> int:
    return 1 if octets <= OCTETS_ALONE else -(-octets // OCTETS_PER_PART)


class Gateway:
    """The flows of one running gateway over one store. `clock` gives epoch seconds (the
    store's times), `monotonic` the rate limiter's; tests pass their own."""

    def __init__(self, config: Config, store: Store, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.monotonic = monotonic
        self._buckets: dict[str, TokenBucket] = {}
        # SMPP requests answered ESME_RTHROTTLED, by account (rate or window; /metrics reads it)
        self.throttled: Counter[str] = Counter()
        self.compliance: Compliance | None = None  # opt-outs, quiet hours; set by the runtime
        self._log = get_logger("smsc.gateway")
        self._handlers: dict[type, Callable[[Account, Any], Awaitable[Pdu]]] = {
            SubmitSm: self._submit, DataSm: self._submit, SubmitMulti: self._submit_multi,
            QuerySm: self._query_sm, CancelSm: self._cancel_sm, ReplaceSm: self._replace_sm,
        }

    # --- binds -------------------------------------------------------------------------

    def account(self, system_id: str) -> Account | None:
        return self.config.account(system_id)

    def check_bind(self, system_id: str, peer: str, bind_type: str) -> tuple[int, Account | None]:
        """(status refusing the bind or 0, the account) before its password is checked.
        The password (slow on purpose) is checked by the caller off the event loop, and
        the bind count by the caller, who keeps the binds."""
        account = self.account(system_id)
        if account is None:
            return status.ESME_RINVSYSID, None
        if not account.allows_peer(peer) or not account.allows_bind(bind_type):
            return status.ESME_RBINDFAIL, account
        return 0, account

    # --- requests ------------------------------------------------------------------------

    def handles(self, pdu: Pdu) -> bool:
        return type(pdu) in self._handlers

    async def handle(self, account: Account, pdu: Pdu) -> Pdu:
        """The response to a request of a bound ESME of `account`."""
        try:
            return await self._handlers[type(pdu)](account, pdu)
        except Refused as refusal:
            return pdu.response(refusal.command_status)

    def submit_many(self, account: Account, pdus: list[SubmitSm | DataSm]
                    ) -> tuple[list[Pdu], list[SubmitSm | DataSm], Awaitable[list[str]] | None]:
        """submit_sm / data_sm read together, without a coroutine (the adapter's hot path):
        (the refusals to send now, the submits accepted, the store's one pending accept
        of their messages). Once that is done, `submitted_many` gives their responses.
        Not for a submit that `replaces` (its flag would be ignored)."""
        refusals: list[Pdu] = []
        accepted: list[SubmitSm | DataSm] = []
        messages: list[NewMessage] = []
        now = self.clock()  # one read for the lot
        for pdu in pdus:
            try:
                message = self._new_message(account, pdu, pdu.destination_addr, now=now)
            except Refused as refusal:
                refusals.append(pdu.response(refusal.command_status))
                continue
            accepted.append(pdu)
            messages.append(message)
        if messages:
            accepted, messages = self._within_rate(account, accepted, messages, refusals)
        return refusals, accepted, self.store.accept_many(messages, now=now) if messages else None

    def _within_rate(self, account: Account, pdus: list[SubmitSm | DataSm], messages: list[NewMessage],
                     refusals: list[Pdu]) -> tuple[list[SubmitSm | DataSm], list[NewMessage]]:
        """The submits the account's rate lets through, in order; the others refused."""
        moment = self.monotonic()
        bucket = self._bucket(account, moment)
        total = sum(message.segments for message in messages)
        # All at once when they fit (what taking them one by one would give, for a ~1 µs
        # less per message); a lot over the burst would be let into debt: one by one.
        if total <= bucket.burst and bucket.try_take(total, moment):
            return pdus, messages
        kept: tuple[list[SubmitSm | DataSm], list[NewMessage]] = ([], [])
        for pdu, message in zip(pdus, messages):
            if bucket.try_take(message.segments, moment):
                kept[0].append(pdu)
                kept[1].append(message)
            else:
                refusals.append(pdu.response(status.ESME_RTHROTTLED))
        return kept

    def submitted_many(self, account: Account, pdus: list[SubmitSm | DataSm], accepted: Any) -> list[Pdu]:
        """The responses to the submits `submit_many` accepted, once their accept is done."""
        try:
            ids = accepted.result()
        except Exception as exc:
            failure = self._accept_failed(account.system_id, exc)
            return [pdu.response(failure) for pdu in pdus]
        # Built directly and positionally (sequence_number, command_status, message_id):
        # Pdu.response's keyword passing costs ~1 µs a message, this ~0.1.
        return [RESPONSE_CLASS[type(pdu)](pdu.sequence_number, 0, message_id) for pdu, message_id in zip(pdus, ids)]

    async def _submit(self, account: Account, pdu: SubmitSm | DataSm) -> Pdu:
        if replaces(pdu):
            return await self._submit_replacing(account, pdu)  # type: ignore[arg-type]
        refusals, pdus, accepted = self.submit_many(account, [pdu])
        if accepted is None:
            return refusals[0]
        try:
            await accepted
        except Exception:
            pass  # submitted_many() answers it
        return self.submitted_many(account, pdus, accepted)[0]

    async def _submit_replacing(self, account: Account, pdu: SubmitSm) -> Pdu:
        message = self._new_message(account, pdu, pdu.destination_addr)
        self.take_rate(account, message.segments)
        return pdu.response(message_id=await self._replace_or_accept(message))

    async def _replace_or_accept(self, message: NewMessage) -> str:
        """replace_if_present_flag: the account's live message from the same source_addr to
        the same destination_addr with the same service_type (the oldest, if several)
        becomes the new one, text, schedule, validity, segments and all, and keeps its id;
        with none, a new message is stored as usual. The id either way."""
        now = self.clock()
        for message_id in await self._live_like(message):
            try:
                # scheduled None would keep the old schedule: "now" is what an accept stores.
                await self.store.replace(
                    message.account, message_id, body=message.body,
                    scheduled=now if message.scheduled is None else message.scheduled, expires=message.expires,
                    registered_delivery=message.registered_delivery, segments=message.segments, now=now)
            except (UnknownMessage, MessageFinal):
                continue  # final since it was found: the next one, else a new message
            except Exception as exc:
                raise Refused(self._accept_failed(message.account, exc)) from None
            return message_id
        return await self._accept(message)

    async def _live_like(self, message: NewMessage) -> list[str]:
        """Ids of the live messages `message` would replace, oldest first."""
        try:
            return await self.store.live_matching(message.account, message.source, message.destination,
                                                  message.service_type)
        except UnknownMessage:  # no source_addr: nothing to match against
            return []
        except Exception as exc:
            self._log.error("query_failed", account=message.account, error=repr(exc))
            raise Refused(status.ESME_RSYSERR) from None

    async def _submit_multi(self, account: Account, pdu: SubmitMulti) -> Pdu:
        """One stored message per SME address (with replace_if_present_flag 1, each takes
        the place of its address's live message as a submit_sm would); refused destinations
        are listed in unsuccess_sme. The response's message_id is the first stored message's."""
        refused: list[UnsuccessSme] = []
        messages: list[tuple[SmeAddress, NewMessage]] = []
        for dest in pdu.dest_addresses:
            if not isinstance(dest, SmeAddress):  # distribution lists are not kept here
                refused.append(UnsuccessSme(0, 0, dest.dl_name, status.ESME_RINVDLNAME))
                continue
            try:
                messages.append((dest, self._new_message(account, pdu, dest.destination_addr,
                                                         dest.dest_addr_ton, dest.dest_addr_npi)))
            except Refused as refusal:
                if refusal.command_status in (status.ESME_RINVSRCADR, status.ESME_RINVSCHED,
                                              status.ESME_RINVEXPIRY):
                    raise  # the same for every destination: refuse the request
                refused.append(_unsuccess(dest, refusal.command_status))
        self.take_rate(account, sum(message.segments for _, message in messages))
        ids = []
        # One accept after the other: the store commits each; a failure refuses only the
        # destinations not stored yet.
        store = self._replace_or_accept if pdu.replace_if_present_flag == 1 else self._accept
        for dest, message in messages:
            try:
                ids.append(await store(message))
            except Refused as refusal:
                refused.append(_unsuccess(dest, refusal.command_status))
        if not ids:
            raise Refused(refused[0].error_status_code if refused else status.ESME_RINVNUMDESTS)
        return pdu.response(message_id=ids[0], unsuccess_smes=tuple(refused))

    async def _query_sm(self, account: Account, pdu: QuerySm) -> Pdu:
        message = await self._stored(account, pdu.message_id, status.ESME_RQUERYFAIL)
        if pdu.source_addr and pdu.source_addr != message.source:
            raise Refused(status.ESME_RINVMSGID, "source_addr is not the message's")
        error = message.error or 0
        return QuerySmResp(
            sequence_number=pdu.sequence_number, message_id=message.id,
            final_date="" if message.final is None else format_absolute(_utc(message.final)),
            message_state=int(message.state), error_code=error if error < 256 else 0)

    async def _cancel_sm(self, account: Account, pdu: CancelSm) -> Pdu:
        if not pdu.message_id and not (pdu.source_addr and pdu.destination_addr):
            raise Refused(status.ESME_RCANCELFAIL, "cancel_sm without message_id needs both addresses")
        await self._change(status.ESME_RCANCELFAIL, self.store.cancel(
            account.system_id, pdu.message_id, source=pdu.source_addr, destination=pdu.destination_addr,
            service_type=pdu.service_type, now=self.clock()))
        return pdu.response()

    async def _replace_sm(self, account: Account, pdu: ReplaceSm) -> Pdu:
        now = self.clock()
        scheduled, expires = self._times(pdu.schedule_delivery_time, pdu.validity_period, now, default=False)
        stored = await self._stored(account, pdu.message_id, status.ESME_RREPLACEFAIL)
        # The new short_message replaces the text, wherever the old one was carried.
        tlvs = [tlv for tlv in stored.body.get("tlvs", ()) if tlv[0] != Tag.MESSAGE_PAYLOAD]
        body = {"short_message": pdu.short_message, "sm_default_msg_id": pdu.sm_default_msg_id, "tlvs": tlvs}
        await self._change(status.ESME_RREPLACEFAIL, self.store.replace(
            account.system_id, pdu.message_id, source=pdu.source_addr, body=body, scheduled=scheduled,
            expires=expires, registered_delivery=pdu.registered_delivery, segments=1, now=now))
        return pdu.response()

    # --- helpers -------------------------------------------------------------------------

    def _new_message(self, account: Account, pdu: SubmitSm | DataSm | SubmitMulti, destination: str,
                     dest_ton: int | None = None, dest_npi: int | None = None,
                     now: float | None = None) -> NewMessage:
        """The message a submit asks to store at `now` (default: the clock), validated
        (Refused otherwise)."""
        source = pdu.source_addr
        if not account.allows_source(source):
            raise Refused(status.ESME_RINVSRCADR, f"source {source!r} not allowed")
        if not destination:
            raise Refused(status.ESME_RINVDSTADR, "no destination_addr")
        body = _BODY_BUILDERS[type(pdu)](pdu)
        tlvs = pdu.tlvs
        if tlvs:
            if body["short_message"] and any(tag == Tag.MESSAGE_PAYLOAD for tag, _ in tlvs):
                raise Refused(status.ESME_RINVMSGLEN, "short_message and message_payload both given")
            segments = count_segments(body["short_message"], pdu.esm_class, pdu.data_coding, tlvs)
            body["tlvs"] = [list(tlv) for tlv in tlvs]
        else:  # most submits: one part (count_segments' first answer)
            segments = 1
            body["tlvs"] = []
        now = self.clock() if now is None else now
        if type(pdu) is DataSm:
            ttl = pdu.tlv(Tag.QOS_TIME_TO_LIVE)
            scheduled, expires = None, self.config.smpp.expiry(now, now + ttl if ttl else None)
        else:
            scheduled, expires = self._times(pdu.schedule_delivery_time, pdu.validity_period, now)
        if dest_ton is not None:
            body["dest_addr_ton"], body["dest_addr_npi"] = dest_ton, dest_npi
        # Positional: keywords cost ~0.5 µs a message here.
        message = NewMessage(account.system_id, source, destination, body, pdu.service_type,
                             pdu.registered_delivery, segments, scheduled, expires)
        try:
            return self.screen(account, message, account.smpp_category, now)
        except OptedOut as exc:
            raise Refused(exc.command_status, str(exc)) from None

    def screen(self, account: Account, message: NewMessage, category: str, now: float | None = None) -> NewMessage:
        """A message about to be accepted (SMPP or HTTP) at `now` (default: the clock) as
        compliance lets it through: OptedOut raised, or deferred out of quiet hours
        (smsc.compliance)."""
        if self.compliance is None:
            return message
        return self.compliance.screen(account, message, category, self.clock() if now is None else now)

    def _times(self, schedule: str, validity: str, now: float,
               default: bool = True) -> tuple[float | None, float | None]:
        """(scheduled, expires) in epoch seconds from SMPP times (absolute or relative).
        Without a validity_period: [smpp] default_validity (None when not `default`);
        never more than max_validity; both from when the message may first be sent."""
        smpp = self.config.smpp
        if not schedule and not validity:  # the common case, without a datetime
            return None, smpp.expiry(now, None) if default else None
        moment = _utc(now)
        try:
            scheduled = _epoch(parse_time(schedule, moment))
        except ValueError:
            raise Refused(status.ESME_RINVSCHED) from None
        try:
            expires = _epoch(parse_time(validity, moment))
        except ValueError:
            raise Refused(status.ESME_RINVEXPIRY) from None
        if expires is not None or default:
            expires = smpp.expiry(scheduled or now, expires)  # the default, the cap
        if expires is not None and (expires <= now or (scheduled is not None and expires <= scheduled)):
            raise Refused(status.ESME_RINVEXPIRY, "validity period ends before delivery could start")
        return scheduled, expires

    def take_rate(self, account: Account, segments: int) -> None:
        """Count `segments` against the account's rate (SMPP and HTTP share it); Refused
        ESME_RTHROTTLED when over it."""
        now = self.monotonic()
        if not self._bucket(account, now).try_take(segments, now):
            raise Refused(status.ESME_RTHROTTLED, f"over {account.rate:g} segments/s")

    def _bucket(self, account: Account, now: float) -> TokenBucket:
        """The account's rate limiter (a new one when its configured rate changed)."""
        bucket = self._buckets.get(account.system_id)
        if bucket is None or bucket.rate != account.rate:
            bucket = self._buckets[account.system_id] = TokenBucket(account.rate, now=now)
        return bucket

    async def _accept(self, message: NewMessage) -> str:
        try:
            return await self.store.accept(message, now=self.clock())
        except Exception as exc:
            raise Refused(self._accept_failed(message.account, exc)) from None

    def _accept_failed(self, account: str, exc: Exception) -> int:
        """Log a failed accept; the status to answer it with."""
        if isinstance(exc, StoreError):
            self._log.error("accept_failed", account=account, error=str(exc))
            return exc.command_status
        # The disk is full, the file went away...
        self._log.error("accept_failed", account=account, error=repr(exc))
        return status.ESME_RSYSERR

    async def _stored(self, account: Account, message_id: str, failure: int) -> Message:
        try:
            return await self.store.query(account.system_id, message_id)
        except UnknownMessage:
            raise Refused(status.ESME_RINVMSGID) from None
        except Exception as exc:
            self._log.error("query_failed", account=account.system_id, error=repr(exc))
            raise Refused(failure) from None

    async def _change(self, failure: int, change: Awaitable[Any]) -> Any:
        """Await a store change; its refusals as SMPP statuses (`failure` for a message
        already final or a store that cannot do it)."""
        try:
            return await change
        except UnknownMessage:
            raise Refused(status.ESME_RINVMSGID) from None
        except MessageFinal:
            raise Refused(failure) from None
        except Exception as exc:
            self._log.error("change_failed", error=repr(exc))
            raise Refused(failure) from None

    # --- delivery ------------------------------------------------------------------------


def deliver_sm_of(body: bytes) -> DeliverSm:
    """The deliver_sm carrying a queued receipt or MO whose body is `body` as the store
    keeps it (msgpack: OutboundClaim.take_packed): decoded straight into the Struct, no
    dict between (~0.7 against ~4 µs). Keys that are no deliver_sm field are ignored, and
    so are sequence_number and command_status (the session numbers it). A value of the
    wrong type raises msgspec.ValidationError (a ValueError)."""
    deliver = _decode_deliver_sm(body)
    if deliver.sequence_number or deliver.command_status:
        deliver = msgspec.structs.replace(deliver, sequence_number=0, command_status=0)
    return deliver


def _unsuccess(dest: SmeAddress, command_status: int) -> UnsuccessSme:
    return UnsuccessSme(dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr, command_status)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
