"""The claimer of one account's outbound queue (deliver_sm waiting for its receivers).

One claimer per account at a time: the gateway claims the queue when the account's first
receiver binds, spreads what it takes over the account's receiver binds, and releases the
claim when the last one unbinds. While nobody holds the claim, items wait in the store
(held, not lost) until they expire.

At-least-once: an item is marked delivered only on deliver_sm_resp with status 0. A take
pushes the item's next attempt out by the store's lease, so what was taken by a session
that vanished (or a process that died) is offered again when the lease ends; `release`
offers the claim's unanswered items again at once.

Once a take found everything due (fewer items than asked), the claim is caught up: the
store then takes each new item for it as it inserts it (leased, like a take) and hands it
over after the commit, so a busy queue costs no query per take. A claim that lets handed
items pile up (FRESH_MAX) goes back to taking from the table; so does one whose retries
come due, and every LOOK_EVERY seconds one looks anyway (leases of a vanished claimer).
"""
from __future__ import annotations

import asyncio
import heapq
from collections import deque
from typing import TYPE_CHECKING, Callable

from smsc.store.blobs import pack, unpack
from smsc.store.ids import format_id
from smsc.store.types import OutboundItem, OutboundState, StoreError

if TYPE_CHECKING:
    from smsc.store.store import Store

FRESH_MAX = 10_000  # items handed over and not taken yet, at most
LOOK_EVERY = 1.0  # seconds between looks at the table while caught up


class OutboundClaim:
    def __init__(self, store: "Store", account: str) -> None:
        self.store = store
        self.account = account
        self._in_flight: dict[int, int] = {}  # item id -> attempts so far
        self._ready = asyncio.Event()
        # Called (no argument) after each commit that enqueued items for the account: a
        # claimer with its own wake-up waits on that instead of `wait`'s task.
        self.on_enqueued: Callable[[], None] | None = None
        self._released = False
        self._fresh: deque[tuple[int, str, int | None, bytes, float]] = deque()  # handed over by the store
        self._is_caught_up = False
        self._next_look = 0.0  # when a caught-up claim looks at the table again
        self._retries: list[float] = []  # when its retries come due (a heap): it looks then too

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
        items = [self._item(*entry) for entry in self._handed(limit)]
        if len(items) < limit:
            items += await self._take_stored(limit - len(items), now)
        return items

    async def take_packed(self, limit: int, now: float | None = None) -> list[tuple[int, bytes]]:
        """`take` for a claimer that decodes the bodies itself (into the Struct it sends,
        say): (item id, the body as the store keeps it, msgpack) for each. An item handed
        over by the store is never unpacked; one read from the table is packed again."""
        self._check()
        items = [(entry[0], entry[3]) for entry in self._handed(limit)]
        if len(items) < limit:
            items += [(item.id, pack(item.body)) for item in await self._take_stored(limit - len(items), now)]
        return items

    def _handed(self, limit: int) -> list[tuple[int, str, int | None, bytes, float]]:
        """Up to `limit` of the items the store handed over, each now in flight (their first
        attempt: the store counted it as it took them)."""
        fresh = self._fresh
        entries = [fresh.popleft() for _ in range(min(limit, len(fresh)))]
        self._in_flight.update((entry[0], 1) for entry in entries)
        return entries

    async def _take_stored(self, limit: int, now: float | None) -> list[OutboundItem]:
        """Up to `limit` items from the table (none when caught up and no look is due)."""
        now = self._now(now)
        retries = self._retries
        if self._is_caught_up and now < self._next_look and not (retries and retries[0] <= now):
            return []
        self._next_look = now + LOOK_EVERY
        while retries and retries[0] <= now:
            heapq.heappop(retries)
        items: list[OutboundItem] = await self.store._request("take", (self.account, limit, now))
        self._in_flight.update((item.id, item.attempts) for item in items)
        return items

    def ack(self, item_id: int, now: float | None = None) -> "asyncio.Future[None]":
        """The ESME answered deliver_sm_resp 0: the item is delivered (a future, done
        once committed)."""
        return self.ack_many([item_id], now)

    def ack_many(self, item_ids: list[int], now: float | None = None) -> "asyncio.Future[None]":
        """`ack` for several items in one store request (a read's worth of
        deliver_sm_resp): a future, done once all are committed."""
        done = self._now(now)
        for item_id in item_ids:
            self._in_flight.pop(item_id, None)
        return self._set([(OutboundState.DELIVERED, done, None, None, item_id) for item_id in item_ids])

    def retry(self, item_id: int, now: float | None = None, error: int | None = None) -> "asyncio.Future[float]":
        """The ESME answered an error (or nothing in time): try again after a backoff
        growing with the attempts; a future of the time of the next attempt."""
        attempts = self._in_flight.pop(item_id, 1)
        store = self.store
        when = self._now(now) + min(store.retry_max, store.retry_initial * store.retry_factor ** (attempts - 1))
        recorded = self.retry_at(item_id, when, error)
        result: asyncio.Future[float] = recorded.get_loop().create_future()

        def settle(recorded: "asyncio.Future[None]") -> None:
            if recorded.exception() is not None:
                result.set_exception(recorded.exception())  # type: ignore[arg-type]
            else:
                result.set_result(when)

        recorded.add_done_callback(settle)
        return result

    def retry_at(self, item_id: int, when: float, error: int | None = None) -> "asyncio.Future[None]":
        """Offer the item again at `when`: for a claimer with its own backoff (webhooks)."""
        self._in_flight.pop(item_id, None)
        heapq.heappush(self._retries, when)
        return self._set([(OutboundState.PENDING, None, when, error, item_id)])

    def give_up(self, item_id: int, now: float | None = None, error: int | None = None) -> "asyncio.Future[None]":
        """Stop trying: the item is expired now (dead-lettered), kept with its last error."""
        self._in_flight.pop(item_id, None)
        return self._set([(OutboundState.EXPIRED, self._now(now), None, error, item_id)])

    async def release(self, now: float | None = None) -> None:
        """Give the queue up: unanswered items, and those handed over but not taken, are
        due again at once for the next claimer."""
        if self._released:
            return
        self._released = True
        now = self._now(now)
        unanswered = [*self._in_flight, *(item[0] for item in self._fresh)]
        pending = self._set([(OutboundState.PENDING, None, now, None, item_id) for item_id in unanswered])
        self._in_flight.clear()
        self._fresh.clear()
        self.store._unclaim(self.account)
        await pending

    def _set(self, rows: list[tuple[OutboundState, float | None, float | None, int | None, int]]
             ) -> "asyncio.Future[None]":
        """Items' new (state, done, next attempt, last error), each with its id: one store
        request, a future done once committed."""
        return self.store._request("outbound_set", rows)

    # --- the store's side of the hand-over -------------------------------------------------

    def takes_fresh(self) -> bool:
        """Whether the store should take a new item for this claim as it inserts it."""
        if self._is_caught_up and len(self._fresh) >= FRESH_MAX:
            self._is_caught_up = False  # its receivers lag: let items wait in the table
        return self._is_caught_up and not self._released

    def _hand(self, item_id: int, kind: str, message: int | None, body: bytes, expires: float) -> None:
        self._fresh.append((item_id, kind, message, body, expires))

    def _caught_up(self, done: bool, now: float) -> None:
        """A take in the store found fewer items than asked (`done`) or a full page."""
        self._is_caught_up = done
        self._next_look = now + LOOK_EVERY

    def _item(self, item_id: int, kind: str, message: int | None, body: bytes, expires: float) -> OutboundItem:
        return OutboundItem(item_id, self.account, kind, None if message is None else format_id(message),
                            unpack(body), 1, expires)

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
        if self.on_enqueued is not None:
            self.on_enqueued()
