"""Webhooks out: receipts and MO POSTed as signed JSON, at least once, from the store.

Where events come from. A receipt is made by the store in the very transaction that
moves its message to a final state (smsc.store.changes.ChangeBatch); `WebhookQueues`
(the store's outbound_queue) tells the store to put it in the account's webhook queue
("webhook:<account>", an outbound queue like the SMPP receivers' one) when the account
has a webhook_url or the message its own. An MO
goes the same way through `store.enqueue(account, fields, kind="mo")` (or
`Compliance.receive_mo`). An MO whose MO route targets a webhook itself (no account)
goes to that route's queue ("webhook-mo:<route>", `enqueue_route_mo`), signed with the
route's webhook_secret. So whoever commits a carrier's receipt or MO (the upstream
path) has committed the webhook event when its call returns, and may then answer the
carrier's deliver_sm: nothing else to call.

Delivery. One task per account claims its webhook queue, takes what is due and POSTs it,
at most `http.webhook_concurrency` at a time. A 2xx acknowledges the item. A timeout, a
connection error or any other status retries it after webhook_retry_initial seconds,
doubled each attempt up to webhook_retry_max, each wait moved by up to +-20% so that many
events failing together do not come back together. After webhook_retry_for seconds of
failures the item is dead-lettered (expired, kept with its last HTTP status: GET
/v1/webhooks/dead-letters). A process that dies with requests in flight offers them again
when their lease ends; a receiver therefore sees an event at least once, and deduplicates
by its id.

The signature. Each request carries

    Smsc-Event-Id: evt_<16 hex>                      (also "id" in the body)
    Smsc-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body with the
account's (or the MO route's) webhook_secret, compares it in constant time, and refuses
timestamps too far from its clock (replays).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
from typing import Any, Callable

import aiohttp
import msgspec

from smsc.config import Config
from smsc.http.messages import body_text, message_view, rfc3339
from smsc.log import get_logger
from smsc.store import Message, OutboundItem, Store, UnknownMessage
from smsc.store.blobs import pack
from smsc.store.ids import EPOCH, SEQUENCE_BITS
from smsc.store.outbound import OutboundClaim

PREFIX = "webhook:"
ROUTE_PREFIX = "webhook-mo:"
JITTER = 0.2
IDLE_POLL = 5.0
SIGNATURE_HEADER = "Smsc-Signature"
EVENT_HEADER = "Smsc-Event-Id"


def webhook_queue(account: str) -> str:
    return PREFIX + account


def route_queue(route: str) -> str:
    return ROUTE_PREFIX + route


async def enqueue_route_mo(store: Store, route: str, body: dict[str, Any], now: float) -> int:
    """Commit an MO (deliver_sm fields `body`) to the webhook queue of the MO route named
    `route`; the item id once committed. Not through `store.enqueue`: its mo_hook applies
    an account's keywords, and this MO belongs to no account."""
    item = (route_queue(route), "mo", None, pack(body), now, now + store.receipt_expiry)
    return await store.transact(_write_item, item)


async def _write_item(store: Store, item: tuple[Any, ...]) -> int:
    (item_id,) = await store._write_outbound([item])
    return item_id


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Smsc-Signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300.0) -> bool:
    """Whether `header` signs `body` with `secret`, made within `tolerance` seconds of now."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def event_id(item_id: int) -> str:
    return f"evt_{item_id:016x}"


def item_created(item_id: int) -> float:
    """When an outbound item was queued: its id is time-ordered (smsc.store.ids)."""
    return (item_id >> SEQUENCE_BITS) / 1000 + EPOCH


class WebhookQueues(msgspec.Struct, frozen=True):
    """The store's outbound_queue hook: an account's receipts and MO go to its webhook
    queue when it has a webhook_url (`hooked`) or the message its own, else to its
    receivers' queue. Data only, so it pickles: the store's writer may be another process
    (smsc.store.process), and it is made again from each config (`of`) on a reload."""

    hooked: frozenset[str]  # the accounts with a webhook_url

    @classmethod
    def of(cls, config: Config) -> "WebhookQueues":
        return cls(frozenset(account.system_id for account in config.accounts if account.webhook_url))

    def __call__(self, account: str, kind: str, message: Message | None) -> str:
        if account in self.hooked or (message is not None and message.body.get("webhook_url")):
            return webhook_queue(account)
        return account


def backoff(attempts: int, initial: float, maximum: float, rng: random.Random = random._inst) -> float:
    """Seconds before the next attempt after `attempts` failed ones, with jitter."""
    base = min(maximum, initial * 2 ** (attempts - 1))
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


class Dispatcher:
    """Posts the webhook queues of every account and webhook MO route of the config
    (`get_config()`: reloads)."""

    def __init__(self, store: Store, get_config: Callable[[], Config], *, clock: Callable[[], float] = time.time,
                 metrics: Any = None) -> None:
        self.store = store
        self.get_config = get_config
        self.clock = clock
        self.metrics = metrics
        self.log = get_logger("smsc.webhooks")
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ending: dict[str, asyncio.Task[None]] = {}  # stopped by a reload, releasing their claims
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        config = self.get_config()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=config.http.webhook_timeout),
            connector=aiohttp.TCPConnector(limit=0), json_serialize=lambda x: msgspec.json.encode(x).decode())
        self.sync()

    def sync(self) -> None:
        """One task per account and per webhook MO route. After a reload new ones get one,
        and those gone (an account or route removed, a route's webhook taken away) stop:
        their queued events stay in the store, for when they come back."""
        loop = asyncio.get_running_loop()
        config = self.get_config()
        queues = [webhook_queue(a.system_id) for a in config.accounts]
        queues += [route_queue(r.name) for r in config.mo_routes if r.webhook is not None]
        for queue in [queue for queue in self._tasks if queue not in queues]:
            ending = self._tasks.pop(queue)
            ending.cancel()  # it releases its claim as it ends
            self._ending[queue] = ending
        for queue in queues:
            if queue not in self._tasks:
                previous = self._ending.pop(queue, None)  # back already: after the old claim is released
                self._tasks[queue] = loop.create_task(self._run(queue, previous), name=queue)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), *self._ending.values(), return_exceptions=True)
        self._tasks.clear()
        self._ending.clear()
        if self._session is not None:
            await self._session.close()

    async def _run(self, queue: str, previous: "asyncio.Task[None] | None" = None) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        claim = self.store.claim_outbound(queue)
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while True:
                room = self.get_config().http.webhook_concurrency - len(in_flight)
                items = await self._take(claim, room) if room > 0 else []
                for item in items:
                    task = asyncio.get_running_loop().create_task(self._deliver(claim, queue, item))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if not items:
                    await self._idle(claim, in_flight)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await asyncio.shield(claim.release())

    async def _take(self, claim: OutboundClaim, room: int) -> list[OutboundItem]:
        try:
            return await claim.take(room)
        except Exception as exc:  # a failing disk: look again after a pause
            self.log.error("webhook_take_failed", error=repr(exc))
            return []

    async def _idle(self, claim: OutboundClaim, in_flight: set[asyncio.Task[None]]) -> None:
        """Until items are queued, a retry falls due or a request ends (room again)."""
        due = await claim.next_due()
        wait = IDLE_POLL if due is None else min(IDLE_POLL, max(0.0, due - self.clock()))
        woken = asyncio.ensure_future(claim.wait(wait))
        try:
            await asyncio.wait([woken, *in_flight], timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()

    async def _deliver(self, claim: OutboundClaim, queue: str, item: OutboundItem) -> None:
        config = self.get_config()
        settings = config.http
        account = _owner(queue)  # the metrics' label
        error: int | None = None
        try:
            url, secret, event = await self._event(config, queue, item)
            body = msgspec.json.encode(event)
            timestamp = int(self.clock())
            headers = {"Content-Type": "application/json", EVENT_HEADER: event["id"],
                       SIGNATURE_HEADER: sign(secret, timestamp, body)}
            assert self._session is not None
            async with self._session.post(url, data=body, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    await claim.ack(item.id)
                    self._count(account, "delivered")
                    return
                error = response.status
        except _Undeliverable as exc:
            self.log.error("webhook_undeliverable", item=item.id, reason=str(exc))
            await claim.give_up(item.id, self.clock())
            self._count(account, "dead")
            return
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self.log.info("webhook_failed", item=item.id, error=repr(exc))
        self._count(account, "failed")
        now = self.clock()
        when = now + backoff(item.attempts, settings.webhook_retry_initial, settings.webhook_retry_max)
        if when > item_created(item.id) + settings.webhook_retry_for:
            await claim.give_up(item.id, now, error)
            self._count(account, "dead")
        else:
            await claim.retry_at(item.id, when, error)

    def _count(self, account: str, outcome: str) -> None:
        if outcome == "delivered":
            self.delivered += 1
        else:
            self.failed += 1
        if self.metrics is not None:
            self.metrics.webhook(account, outcome)

    async def _event(self, config: Config, queue: str, item: OutboundItem) -> tuple[str, str, dict[str, Any]]:
        """(url, secret, JSON event) for a queued receipt or MO."""
        if queue.startswith(ROUTE_PREFIX):
            name = queue.removeprefix(ROUTE_PREFIX)
            route = next((r for r in config.mo_routes if r.name == name), None)
            if route is None or not route.webhook or not route.webhook_secret:  # changed by a reload
                raise _Undeliverable(f"no webhook MO route {name!r} in the config")
            return route.webhook, route.webhook_secret, mo_event(item)
        account = queue.removeprefix(PREFIX)
        settings = config.account(account)
        if settings is None:
            raise _Undeliverable(f"no account {account!r} in the config")
        url = item.body.get("webhook_url") or settings.webhook_url
        if item.kind == "receipt" and item.message_id is not None:
            try:
                message = await self.store.get(item.message_id)
            except UnknownMessage:
                raise _Undeliverable(f"message {item.message_id} is gone (purged)") from None
            url = message.body.get("webhook_url") or url
            data = message_view(message)
            if self.metrics is not None and message.final is not None:
                self.metrics.receipt_latency(account, message.final - message.submitted)
            event = {"id": event_id(item.id), "type": "message.receipt",
                     "created": rfc3339(item_created(item.id)), "data": data}
        else:
            event = mo_event(item)
        if not url or not settings.webhook_secret:
            raise _Undeliverable(f"account {account!r} has no webhook_url / webhook_secret")
        return url, settings.webhook_secret, event


def mo_event(item: OutboundItem) -> dict[str, Any]:
    body = item.body
    return {"id": event_id(item.id), "type": "message.inbound", "created": rfc3339(item_created(item.id)),
            "data": {"from": body.get("source_addr", ""), "to": body.get("destination_addr", ""),
                     "text": body_text(body), "data_coding": body.get("data_coding", 0)}}


def _owner(queue: str) -> str:
    """The account a webhook queue belongs to, or "mo_route:<name>"."""
    if queue.startswith(ROUTE_PREFIX):
        return "mo_route:" + queue.removeprefix(ROUTE_PREFIX)
    return queue.removeprefix(PREFIX)


class _Undeliverable(Exception):
    """An event no retry can deliver (no URL configured, its message purged)."""
