"""Compliance built into the one submit path: opt-outs (STOP / START / HELP), quiet hours
for promotional messages, and an append-only audit of consent.

    compliance = Compliance(config, store); await compliance.load()
    message = compliance.screen(account, message, "promotional", now)  # OptedOut, or deferred
    keyword, item_id = await compliance.receive_mo(account, handset, number, text, deliver_sm_fields)
    store.mo_hook = compliance.enqueue_mo   # store.enqueue(account, fields, kind="mo") does the same

`screen` is pure and synchronous (opt-outs are kept in memory, loaded at start and updated
after each commit), so the gateway calls it for every submit, SMPP or HTTP, at no I/O
cost. A promotional message to a handset that opted out is refused (OptedOut: HTTP 403
`recipient_opted_out`, SMPP ESME_RINVDSTADR, the standard status closest to "this
destination may not be sent to"); one whose destination is inside its local quiet hours
is scheduled for the window's end, not refused. The quiet window is the route's when the
route the message would take (at the time it may first be sent) sets `quiet_hours` (its
own window, true: [compliance]'s, false: none), else [compliance]'s if the account has
quiet_hours on.

`receive_mo` is what an inbound MO goes through (the upstream MO path's
`store.enqueue(account, fields, kind="mo")` reaches it through the store's mo_hook): a
keyword text records the opt-out or opt-in and its audit row, queues the MO for the
account, and accepts the configured confirmation as a message back to the handset, all
in ONE commit, so the carrier's deliver_sm can be acknowledged after it returns.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time as clock_time, timedelta
from functools import lru_cache
from typing import Any, Iterable, Literal
from zoneinfo import ZoneInfo

import msgspec

from smsc import router
from smsc.config import Account, Compliance as Rules, Config, QuietHours, Route
from smsc.smpp import status
from smsc.store import NewMessage, Store
from smsc.store import http_tables
from smsc.store.blobs import pack

Category = Literal["transactional", "promotional"]
CATEGORIES = ("transactional", "promotional")
Keyword = Literal["stop", "start", "help"]
# Consent changes asked by MO keyword (help changes nothing but is audited too).
_EVENTS = {"stop": "opt-out", "start": "opt-in", "help": "help"}


class OptedOut(Exception):
    """A promotional message to a handset that opted out of the sender or account."""

    command_status = status.ESME_RINVDSTADR
    code = "recipient_opted_out"

    def __init__(self, handset: str) -> None:
        super().__init__(f"{handset} opted out of messages from this sender (STOP); promotional messages refused")
        self.handset = handset


def number(address: str) -> str:
    """A phone number as digits only: "+44 7700-900001" and "0044..." -> "447700900001"."""
    digits = re.sub(r"[\s().-]", "", address).removeprefix("+")
    return digits[2:] if digits.startswith("00") else digits


def keyword_of(text: str) -> str:
    """The whole MO text as a keyword: case-folded, spaces and punctuation around it gone
    ("  Stop. " -> "STOP"), so only a text that IS the keyword counts."""
    return re.sub(r"^[\W_]+|[\W_]+$", "", text).upper()


class Compliance:
    def __init__(self, config: Config, store: Store) -> None:
        self.store = store
        self._optouts: set[tuple[str, str, str]] = set()
        self.apply(config)

    def apply(self, config: Config) -> None:
        """Take a (reloaded) config's keywords, scope and quiet hours."""
        self.config = config
        rules = config.compliance
        self._keywords: dict[str, Keyword] = {}
        for kind, words in (("help", rules.help_keywords), ("start", rules.start_keywords),
                            ("stop", rules.stop_keywords)):
            self._keywords.update((keyword_of(word), kind) for word in words)
        self._quiet = (_hhmm(rules.quiet_start), _hhmm(rules.quiet_end))
        self._zones = TimeZones(rules)
        # Routing costs a table lookup per promotional message: only when a route needs it.
        self._routes = router.MtTable.of(config) if any(r.quiet_hours is not None for r in config.routes) else None

    async def load(self) -> None:
        self._optouts = {(a, s, h) for a, s, h, _ in await http_tables.optouts(self.store)}

    # --- screening (sync, every submit) -------------------------------------------------

    def scope(self, sender: str) -> str:
        """The sender an opt-out is kept under: "" (all of the account's senders, its
        number pool) or the sender itself."""
        return sender if self.config.compliance.optout_scope == "sender" else ""

    def opted_out(self, account: str, sender: str, handset: str) -> bool:
        handset = number(handset)
        return (account, "", handset) in self._optouts or (account, sender, handset) in self._optouts

    def screen(self, account: Account, message: NewMessage, category: Category, now: float) -> NewMessage:
        """The message as it may be accepted: OptedOut, or moved out of quiet hours."""
        if category == "transactional" and account.transactional_to_opted_out:
            return message
        if self.opted_out(account.system_id, message.source, message.destination):
            raise OptedOut(message.destination)
        if category != "promotional":
            return message
        start = message.scheduled if message.scheduled is not None else now
        window = self.quiet_window(account, message, start)
        deferred = None if window is None else self.quiet_until(message.destination, start, window)
        if deferred is None:
            return message
        if message.expires is not None:
            # Keep the validity it asked for, counted from when it may first be sent.
            expires = message.expires + (deferred - start)
        else:
            expires = None
        return msgspec.structs.replace(message, scheduled=deferred, expires=expires)

    def time_zone(self, destination: str) -> ZoneInfo:
        return self._zones.of(destination)

    def quiet_window(self, account: Account, message: NewMessage, when: float) -> tuple[clock_time, clock_time] | None:
        """The quiet hours (start, end) that apply to a promotional message sent at `when`:
        its route's, else the account's; None: none."""
        route = self._routes.match(router.facts_of(message), when) if self._routes is not None else None
        window = quiet_hours_for(self.config.compliance, route, account)
        return None if window is None else (_hhmm(window[0]), _hhmm(window[1]))

    def quiet_until(self, destination: str, when: float,
                    window: tuple[clock_time, clock_time] | None = None) -> float | None:
        """The end of the quiet window (default: [compliance]'s) `when` falls in at the
        destination, or None."""
        zone = self.time_zone(destination)
        local = datetime.fromtimestamp(when, zone)
        return quiet_end(local, *(window or self._quiet))

    # --- consent --------------------------------------------------------------------------

    def keyword(self, text: str) -> Keyword | None:
        return self._keywords.get(keyword_of(text))

    async def receive_mo(self, account: str, handset: str, to: str, text: str, body: dict[str, Any],
                         now: float | None = None, expires: float | None = None) -> tuple[Keyword | None, int]:
        """Queue an MO (deliver_sm fields `body`) for `account`, applying its keyword: the
        opt-out or opt-in, its audit row and the confirmation message go in the same
        commit. (The keyword found or None, the queued item's id.) `to` is the number or
        sender the MO was sent to."""
        now = self.store.clock() if now is None else now
        kind = self.keyword(text)
        queue = self.store.outbound_queue(account, "mo", None)
        expires = now + self.store.receipt_expiry if expires is None else expires
        item = (queue, "mo", None, pack(body), now, expires)
        reply = self._reply(account, kind, handset, to, now)
        replies = [] if reply is None else [(reply, pack(reply.body), now)]
        events = [] if kind is None else [(account, self.scope(to), number(handset), _EVENTS[kind], "sms", text, now)]
        item_id = await http_tables.record_consent(self.store, events, also=(_queue_mo, (item, replies)))
        self._apply(events)
        return kind, item_id

    async def enqueue_mo(self, account: str, body: dict[str, Any], now: float, expires: float) -> int:
        """The store's mo_hook: `store.enqueue(account, deliver_sm_fields, kind="mo")`, as
        the upstream path calls it, goes through receive_mo. The item id."""
        from smsc.http.messages import body_text

        if body.get("incomplete"):  # parts missing: not a keyword whatever it reads
            text = ""
        else:
            text = body_text(body)
        _, item_id = await self.receive_mo(account, body.get("source_addr", ""), body.get("destination_addr", ""),
                                           text, body, now, expires)
        return item_id

    def _reply(self, account: str, kind: Keyword | None, handset: str, to: str, now: float) -> NewMessage | None:
        rules = self.config.compliance
        text = {"stop": rules.stop_reply, "start": rules.start_reply, "help": rules.help_reply}.get(kind or "", "")
        if not text:
            return None
        from smsc.http.messages import text_body  # the HTTP API builds text bodies the same way

        body, parts, _ = text_body(text)
        return NewMessage(account=account, source=to, destination=handset, body=body, segments=parts,
                          expires=now + 86400.0)

    async def set_consent(self, account: str, handset: str, event: str, *, sender: str = "", source: str = "api",
                          text: str = "", now: float) -> None:
        """Record an opt-out or opt-in made outside SMS (the API, an operator)."""
        rows = [(account, self.scope(sender), number(handset), event, source, text, now)]
        await http_tables.record_consent(self.store, rows)
        self._apply(rows)

    def _apply(self, rows: Iterable[tuple[Any, ...]]) -> None:
        for account, sender, handset, event, *_ in rows:
            if event == "opt-out":
                self._optouts.add((account, sender, handset))
            elif event == "opt-in":
                self._optouts.discard((account, sender, handset))

    # --- CSV ------------------------------------------------------------------------------

    async def export_csv(self, account: str) -> str:
        """handset,sender,since (epoch seconds) of the account's opt-outs."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(("handset", "sender", "since"))
        for _, sender, handset, since in await http_tables.optouts(self.store, account):
            writer.writerow((handset, sender, f"{since:.3f}"))
        return out.getvalue()

    async def import_csv(self, account: str, text: str, now: float) -> int:
        """Opt-outs from CSV (a `handset` column, optional `sender`), audited as 'import';
        how many rows. A row without a handset, or text that is not CSV, is a ValueError
        naming its line."""
        rows = []
        records = csv.DictReader(io.StringIO(text))
        try:
            for line, record in enumerate(records, start=2):
                handset = number(record.get("handset") or "")
                if not handset.isdigit():
                    raise ValueError(f"line {line}: handset: expected a phone number, got {record.get('handset')!r}")
                sender = self.scope(record.get("sender") or "")
                rows.append((account, sender, handset, "opt-out", "import", "", now))
        except csv.Error as exc:  # not CSV (a field over the module's limit...): the caller's 422
            raise ValueError(f"line {records.line_num}: not valid CSV: {exc}") from None
        await http_tables.record_consent(self.store, rows)
        self._apply(rows)
        return len(rows)

    async def audit_csv(self, account: str, since: float = 0.0) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(("time", "event", "handset", "sender", "source", "text"))
        for sender, handset, event, source, text, when in await http_tables.consent_audit(self.store, account, since):
            writer.writerow((f"{when:.3f}", event, handset, sender, source, text))
        return out.getvalue()


async def _queue_mo(store: Store, arg: tuple[tuple[Any, ...], list[tuple[NewMessage, bytes, float]]]) -> int:
    """`transact` work (it pickles, for a writer in another process): queue the MO item
    and accept the keyword's confirmation, if any; the item's id."""
    item, replies = arg
    (item_id,) = await store._write_outbound([item])
    if replies:
        await store._write_accepts(replies)
    return item_id


def quiet_setting(route: Route | None, account: Account | None) -> QuietHours | bool:
    """Which quiet hours a promotional message keeps: its route's when the route sets
    them, else the account's switch (on for an unknown account, as by default)."""
    if route is not None and route.quiet_hours is not None:
        return route.quiet_hours
    return account.quiet_hours if account is not None else True


def quiet_hours_for(rules: Rules, route: Route | None, account: Account | None) -> tuple[str, str] | None:
    """(start, end) as HH:MM of the quiet hours that apply (quiet_setting), None: none."""
    setting = quiet_setting(route, account)
    if isinstance(setting, QuietHours):
        return setting.start, setting.end
    return (rules.quiet_start, rules.quiet_end) if setting else None


class TimeZones:
    """A destination's time zone: of the longest prefix in [compliance] time_zones it
    starts with ("971" before "9"), else default_time_zone."""

    def __init__(self, rules: Rules) -> None:
        self._zones = sorted(((prefix, ZoneInfo(zone)) for prefix, zone in rules.time_zones.items()),
                             key=lambda item: -len(item[0]))
        self._default = ZoneInfo(rules.default_time_zone)

    def of(self, destination: str) -> ZoneInfo:
        digits = number(destination)
        return next((zone for prefix, zone in self._zones if digits.startswith(prefix)), self._default)


@lru_cache(maxsize=16)
def _hhmm(text: str) -> clock_time:
    hours, minutes = map(int, text.split(":"))
    return clock_time(hours, minutes)


def quiet_end(local: datetime, start: clock_time, end: clock_time) -> float | None:
    """When the quiet window [start, end) that the local time `local` falls in ends, as
    epoch seconds; None outside it. start after end wraps past midnight (21:00-08:00)."""
    now = local.timetz().replace(tzinfo=None)
    if start <= end:
        inside, days = start <= now < end, 0
    else:
        inside = now >= start or now < end
        days = 1 if now >= start else 0
    if not inside:
        return None
    day = local.date() + timedelta(days=days)
    # Built in the zone, so a DST change inside the window still lands on the local hour.
    return datetime.combine(day, end, local.tzinfo).timestamp()
