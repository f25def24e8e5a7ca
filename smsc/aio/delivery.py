"""Receipts and MO for one account: the store's outbound queue, fed to its receiver binds.

While the account has a receiver or transceiver bind, one AccountDelivery holds the
account's claim on the queue (store.claim_outbound), takes as many items as its binds
have free window, and sends each as a deliver_sm to the bind with the most room. A
deliver_sm_resp with status 0 acks the item (those of one loop turn in one store
request); an error status or no answer in time retries it after the store's backoff.
The hot path per item: its body decoded from the store's msgpack straight into the
DeliverSm (OutboundClaim.take_packed, gateway.deliver_sm_of), and a `_Sent` as the
request's context, which the connection settles like a future but which settles the item
at once (no future, callback or loop turn per item).
When the last receiver goes, the claim is released
and what was in flight is due again at once, for the next bind: items are held durably
while nobody is bound, never dropped.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from smsc.gateway import deliver_sm_of
from smsc.log import get_logger
from smsc.smpp import status
from smsc.smpp.pdus import Pdu
from smsc.store import OutboundClaim

if TYPE_CHECKING:
    from smsc.aio.connection import Connection
    from smsc.gateway import Gateway


class AccountDelivery:
    def __init__(self, gateway: "Gateway", system_id: str, previous: "AccountDelivery | None" = None) -> None:
        self.gateway = gateway
        self.system_id = system_id
        self.receivers: list[Connection] = []
        self.stopping = False
        self.log = get_logger("smsc.delivery", system_id=system_id)
        self._wakeup = asyncio.Event()
        self._previous = previous
        self.task: asyncio.Task[None] | None = None
        self._claim: OutboundClaim | None = None
        self._unanswered: set[_Sent] = set()  # deliver_sm sent, answer not in
        self._all_answered: asyncio.Future[None] | None = None  # set once _unanswered empties
        self._recording: set[asyncio.Future[None]] = set()  # ack/retry requested, not committed
        self._acks: list[int] = []  # items answered 0 in this loop turn, acked together

    def add(self, conn: "Connection") -> None:
        self.receivers.append(conn)
        self._wakeup.set()
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name=f"delivery-{self.system_id}")
            self.task.add_done_callback(self._ended)

    def remove(self, conn: "Connection") -> None:
        if conn in self.receivers:
            self.receivers.remove(conn)
        if not self.receivers:
            self.stopping = True  # a later bind starts a new AccountDelivery
        self._wakeup.set()

    def _ended(self, task: "asyncio.Task[None]") -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("delivery_failed", error=repr(task.exception()))

    def _ready(self) -> list["Connection"]:
        return [conn for conn in self.receivers if conn.receiving and conn.writable.is_set()]

    async def _run(self) -> None:
        if self._previous is not None and self._previous.task is not None:
            await self._previous.task  # its claim must be released before ours is taken
        claim = self._claim = self.gateway.store.claim_outbound(self.system_id)
        # Items enqueued wake the loop even while the binds have no room: it then finds
        # none and waits again (rare: a window full at a commit).
        claim.on_enqueued = self._wakeup.set
        self.log.info("delivery_started")
        try:
            while self.receivers:
                self._wakeup.clear()  # before looking: a wake-up from now on is not lost
                ready = self._ready()
                room = sum(conn.free_window for conn in ready)
                items = await self._take(claim, room) if room else []
                if items:
                    self._send(ready, items)
                else:
                    await self._idle()
            # The receivers went: their unanswered deliver_sm failed with them; settle
            # every answer before the claim is released.
            if self._unanswered:
                self._all_answered = asyncio.get_running_loop().create_future()
                await self._all_answered
            self._ack(claim)
            await asyncio.gather(*self._recording, return_exceptions=True)
        finally:
            await claim.release()
            self.log.info("delivery_stopped")

    async def _take(self, claim: OutboundClaim, room: int) -> list[tuple[int, bytes]]:
        try:
            return await claim.take_packed(room)
        except Exception as exc:  # a failing disk: log it, look again after a pause
            self.log.error("take_failed", error=repr(exc))
            return []

    def _send(self, ready: list["Connection"], items: list[tuple[int, bytes]]) -> None:
        """Each item as a deliver_sm to the bind with the most room (each bind's in one
        `send_all`)."""
        rooms = [conn.free_window for conn in ready]  # as now: answers came during the take
        batches: list[list[tuple[Pdu, _Sent]]] = [[] for _ in ready]
        for item_id, body in items:
            try:
                deliver_sm = deliver_sm_of(body)
            except ValueError as exc:  # no deliver_sm: would fail the same at every attempt
                self.log.error("deliver_sm_undecodable", item=item_id, error=str(exc))
                self._record(self._claim.give_up(item_id, error=status.ESME_RSYSERR))  # type: ignore[union-attr]
                continue
            most = rooms.index(max(rooms))
            rooms[most] -= 1
            sent = _Sent(self, item_id)
            self._unanswered.add(sent)
            batches[most].append((deliver_sm, sent))
        for conn, batch in zip(ready, batches):
            if batch:
                for sent in conn.send_all(batch):
                    sent.set_exception(ConnectionError("the bind cannot take it now"))

    async def _idle(self) -> None:
        """Until something may have changed: items enqueued (the claim's on_enqueued), a
        response freeing window, a bind coming or going; or [smpp] delivery_poll seconds
        (items enqueued wake it at once, but a retry whose backoff ended is found only by
        looking). One wait on one Event, with no task: the loop idles once a commit."""
        try:
            async with asyncio.timeout(self.gateway.config.smpp.delivery_poll):
                await self._wakeup.wait()
        except TimeoutError:
            pass

    def _answered(self, sent: "_Sent", command_status: int, error: Exception | None) -> None:
        """Settle one deliver_sm with the store once its fate is known (called by its
        connection as it reads the answer, or fails the request). What the store answers
        is only logged: a failing store leaves the item leased, offered again when the
        lease ends."""
        unanswered = self._unanswered
        unanswered.discard(sent)
        self._wakeup.set()  # window freed
        if not unanswered and self._all_answered is not None and not self._all_answered.done():
            self._all_answered.set_result(None)
        claim = self._claim
        assert claim is not None
        if error is None and command_status == 0:
            if not self._acks:
                asyncio.get_running_loop().call_soon(self._ack, claim)
            self._acks.append(sent.item_id)
            return
        if isinstance(error, ConnectionError):
            # Its bind went (or is going: a closing connection fails its requests before
            # it leaves `receivers`). With others still bound, offer it again after the
            # backoff; with none, the release at the end of the run offers it again at once.
            if not any(conn.receiving for conn in self.receivers):
                return
            recorded = claim.retry(sent.item_id)
        elif error is not None:  # no answer in time
            recorded = claim.retry(sent.item_id)
        else:
            self.log.info("deliver_sm_refused", item=sent.item_id, status=command_status)
            recorded = claim.retry(sent.item_id, error=command_status)
        self._record(recorded)

    def _ack(self, claim: OutboundClaim) -> None:
        """The items answered 0 since the last call, acked in one store request (the
        deliver_sm_resp of one read of a client's connection come in one loop turn)."""
        if self._acks:
            self._record(claim.ack_many(self._acks))
            self._acks = []

    def _record(self, recorded: "asyncio.Future[object]") -> None:
        self._recording.add(recorded)  # type: ignore[arg-type]
        recorded.add_done_callback(self._recorded)

    def _recorded(self, recorded: "asyncio.Future[None]") -> None:
        self._recording.discard(recorded)
        if not recorded.cancelled() and recorded.exception() is not None:
            self.log.error("delivery_record_failed", error=repr(recorded.exception()))


class _Sent:
    """The context of one deliver_sm in flight, kept by its session with the request: its
    connection settles it as it would a future (`done`, `set_result` with the answer,
    `set_exception` with ConnectionError or TimeoutError), and it settles the item."""

    __slots__ = ("delivery", "item_id", "settled")

    def __init__(self, delivery: AccountDelivery, item_id: int) -> None:
        self.delivery = delivery
        self.item_id = item_id
        self.settled = False

    def done(self) -> bool:
        return self.settled

    def set_result(self, response: Pdu) -> None:
        self.settled = True
        self.delivery._answered(self, response.command_status, None)

    def set_exception(self, error: Exception) -> None:
        self.settled = True
        self.delivery._answered(self, 0, error)
