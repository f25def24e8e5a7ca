"""Receipts and MO for one account: the store's outbound queue, fed to its receiver binds.

While the account has a receiver or transceiver bind, one AccountDelivery holds the
account's claim on the queue (store.claim_outbound), takes as many items as its binds
have free window, and sends each as a deliver_sm to the bind with the most room. A
deliver_sm_resp with status 0 acks the item (those of one loop turn in one store
request); an error status or no answer in time retries it after the store's backoff.
When the last receiver goes, the claim is released
and what was in flight is due again at once, for the next bind: items are held durably
while nobody is bound, never dropped.
"""
from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from smsc.log import get_logger
from smsc.smpp.pdus import Pdu
from smsc.store import OutboundClaim, OutboundItem

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
        self._unanswered: set[asyncio.Future[Pdu]] = set()  # deliver_sm sent, answer not in
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
        claim = self.gateway.store.claim_outbound(self.system_id)
        self.log.info("delivery_started")
        loop = asyncio.get_running_loop()
        try:
            while self.receivers:
                self._wakeup.clear()  # before looking: a wake-up from now on is not lost
                ready = self._ready()
                room = sum(conn.free_window for conn in ready)
                items = await self._take(claim, room) if room else []
                for item in items:
                    conn = max(ready, key=lambda c: c.free_window)
                    answer: asyncio.Future[Pdu] = loop.create_future()
                    self._unanswered.add(answer)
                    answer.add_done_callback(functools.partial(self._answered, claim, item))
                    if not conn.send(self.gateway.deliver_sm(item), context=answer):
                        answer.set_exception(ConnectionError("the bind cannot take it now"))
                if not items:
                    await self._idle(claim if room else None)
            # The receivers went: their unanswered deliver_sm failed with them; settle
            # every answer before the claim is released.
            await asyncio.gather(*self._unanswered, return_exceptions=True)
            self._ack(claim)
            await asyncio.gather(*self._recording, return_exceptions=True)
        finally:
            await claim.release()
            self.log.info("delivery_stopped")

    async def _take(self, claim: OutboundClaim, room: int) -> list[OutboundItem]:
        try:
            return await claim.take(room)
        except Exception as exc:  # a failing disk: log it, look again after a pause
            self.log.error("take_failed", error=repr(exc))
            return []

    async def _idle(self, claim: OutboundClaim | None) -> None:
        """Until something may have changed: items enqueued (when there is room), a
        response freeing window, a bind coming or going; or [smpp] delivery_poll seconds
        (items enqueued wake it at once, but a retry whose backoff ended is found only by
        looking)."""
        poll = self.gateway.config.smpp.delivery_poll
        waiters = [asyncio.ensure_future(self._wakeup.wait())]
        if claim is not None:
            waiters.append(asyncio.ensure_future(claim.wait(poll)))
        try:
            await asyncio.wait(waiters, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _answered(self, claim: OutboundClaim, item: OutboundItem, answer: "asyncio.Future[Pdu]") -> None:
        """Settle one deliver_sm with the store once its fate is known (a callback: no
        task per item). What the store answers is only logged: a failing store leaves
        the item leased, offered again when the lease ends."""
        self._unanswered.discard(answer)
        self._wakeup.set()  # window freed
        if answer.cancelled():
            return
        error = answer.exception()
        if isinstance(error, ConnectionError):
            # Its bind went. With others still bound, offer it again after the backoff;
            # with none, the release at the end of the run offers it again at once.
            if not self.receivers:
                return
            recorded = claim.retry(item.id)
        elif error is not None:  # no answer in time
            recorded = claim.retry(item.id)
        elif answer.result().command_status == 0:
            if not self._acks:
                asyncio.get_running_loop().call_soon(self._ack, claim)
            self._acks.append(item.id)
            return
        else:
            status = answer.result().command_status
            self.log.info("deliver_sm_refused", item=item.id, status=status)
            recorded = claim.retry(item.id, error=status)
        self._recording.add(recorded)
        recorded.add_done_callback(self._recorded)

    def _ack(self, claim: OutboundClaim) -> None:
        """The items answered 0 since the last call, acked in one store request (the
        deliver_sm_resp of one read of a client's connection come in one loop turn)."""
        if self._acks:
            recorded = claim.ack_many(self._acks)
            self._acks = []
            self._recording.add(recorded)
            recorded.add_done_callback(self._recorded)

    def _recorded(self, recorded: "asyncio.Future[None]") -> None:
        self._recording.discard(recorded)
        if not recorded.cancelled() and recorded.exception() is not None:
            self.log.error("delivery_record_failed", error=repr(recorded.exception()))
