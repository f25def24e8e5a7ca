"""The claimer of one account's outbound queue (deliver_sm waiting for its receivers).

One claimer per account at a time: the gateway claims the queue when the account's first
receiver binds, spreads what it takes over the account's receiver binds, and releases the
claim when the last one unbinds. While nobody holds the claim, items wait in the store
(held, not lost) until they expire.

At-least-once: an item is marked delivered only on deliver_sm_resp with status 0. A take
pushes the item's next attempt out by the store's lease, so what was taken by a session
that vanished (or a process that died) is offered again when the lease ends; `release`
offers the claim's unanswered items again at once.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from smsc.store.types import OutboundItem, OutboundState, StoreError

if TYPE_CHECKING:
    from smsc.store.store import Store


class OutboundClaim:
    def __init__(self, store: "Store", account: str) -> None:
        self.store = store
        self.account = account
        self._in_flight: dict[int, int] = {}  # item id -> attempts so far
        self._ready = asyncio.Event()
        self._released = False

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def _check(self) -> None:
        if self._released:
            raise StoreError(f"the claim on {self.account!r} was released")

    def _now(self, now: float | None) -> float:
        return self.store.clock() if now is None else now

    async def take(self, limit: int, now: float | None = None) -> list[OutboundItem]:
        """Up to `limit` items due now, oldest due first, each counted as an attempt."""
        self._check()
        items = await self.store._request("take", (self.account, limit, self._now(now)))
        self._in_flight.update((item.id, item.attempts) for item in items)
        return items

    async def ack(self, item_id: int, now: float | None = None) -> None:
        """The ESME answered deliver_sm_resp 0: the item is delivered."""
        self._in_flight.pop(item_id, None)
        await self.store._request("outbound_set", (OutboundState.DELIVERED, self._now(now), None, None, item_id))

    async def retry(self, item_id: int, now: float | None = None, error: int | None = None) -> float:
        """The ESME answered an error (or nothing in time): try again after a backoff
        growing with the attempts; the time of the next attempt."""
        attempts = self._in_flight.pop(item_id, 1)
        store = self.store
        backoff = min(store.retry_max, store.retry_initial * store.retry_factor ** (attempts - 1))
        when = self._now(now) + backoff
        await store._request("outbound_set", (OutboundState.PENDING, None, when, error, item_id))
        return when

    async def retry_at(self, item_id: int, when: float, error: int | None = None) -> None:
        """Offer the item again at `when`: for a claimer with its own backoff (webhooks)."""
        self._in_flight.pop(item_id, None)
        await self.store._request("outbound_set", (OutboundState.PENDING, None, when, error, item_id))

    async def give_up(self, item_id: int, now: float | None = None, error: int | None = None) -> None:
        """Stop trying: the item is expired now (dead-lettered), kept with its last error."""
        self._in_flight.pop(item_id, None)
        await self.store._request("outbound_set", (OutboundState.EXPIRED, self._now(now), None, error, item_id))

    async def release(self, now: float | None = None) -> None:
        """Give the queue up: unanswered items are due again at once for the next claimer."""
        if self._released:
            return
        self._released = True
        now = self._now(now)
        pending = [self.store._request("outbound_set", (OutboundState.PENDING, None, now, None, item_id)) for item_id in self._in_flight]
        self._in_flight.clear()
        self.store._claims.pop(self.account, None)
        await asyncio.gather(*pending)

    async def next_due(self) -> float | None:
        """When the earliest waiting item falls due (a retry, a lease ending), so the
        claimer can sleep until then; None when nothing waits. Items in flight count too:
        their lease is their due time."""
        self._check()
        return await self.store._next_due(self.account)

    async def wait(self, timeout: float) -> bool:
        """Until items are enqueued for the account (True) or `timeout` seconds pass."""
        self._check()
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            self._ready.clear()
        return True

    def _wake(self) -> None:
        self._ready.set()
