"""The course of one load run, shared by the asyncio and the trio drivers. No I/O (it
only reads its own CPU time, to report what the load cost): the drivers own the sockets
and the clock; each bind's reader sends what a response lets out, and one pump calls
`pump(now)`, flushes every bind, and sleeps until the time it returns.

Phases: sending (until `duration` or `count`, or Ctrl-C), draining (until every submit
is answered, or `response_timeout`), receipts (until every receipt asked for is in, or
`receipt_wait`), unbinding (until every bind has its unbind_resp, or 2 s), done.
"""
from __future__ import annotations

import math
from time import process_time
from typing import Any, Callable

from smsc.bench.loadgen_config import LoadConfig, Pacer
from smsc.bench.loadgen_core import Link, Quota, ReceiptBook
from smsc.bench.loadgen_messages import Destinations, MessageSource
from smsc.bench.loadgen_report import results
from smsc.bench.loadgen_stats import Stats

UNBIND_WAIT = 2.0
TICK = 0.001  # open loop: how often the submits that fell due are sent
STEP = 0.01  # how often the phases, timeouts and the series are looked at

SENDING, DRAINING, RECEIPTS, UNBINDING, DONE = "sending", "draining", "receipts", "unbinding", "done"


def next_tick(tick: float, now: float) -> float:
    """The open-loop tick after `tick`, on a fixed cadence (a late wake-up does not push
    the ones after it back), skipping those already missed."""
    following = tick + TICK
    return following if following > now else now + TICK


def _share_of(count: int | None, binds: int, index: int) -> float:
    """Bind `index`'s whole part of `count` (the first ones take the remainder)."""
    if count is None:
        return math.inf
    return count // binds + (index < count % binds)


class Run:
    """The links of one run, their shared receipt book and stats, and where the run is."""

    def __init__(self, config: LoadConfig, on_second: Callable[[dict[str, Any], "Run"], None] | None = None) -> None:
        self.config = config
        self.stats = Stats()
        self.book = ReceiptBook(self.stats)
        self.on_second = on_second
        source = MessageSource(list(config.messages), Destinations(config.destinations))
        closed = config.mode == "closed" or config.bind_type == "receiver"  # receivers only listen
        self.quota = Quota(config.count if config.count is not None else math.inf)
        self.links = [
            Link(source, self.book, self.stats, window=config.window, bind_type=config.bind_type,
                 system_id=config.system_id, password=config.password, system_type=config.system_type,
                 closed_loop=closed, quota=self.quota)
            for _ in range(config.binds)]
        self.pacers: list[Pacer] | None = None if closed else [
            Pacer(config.schedule(), 1 / config.binds, _share_of(config.count, config.binds, i))
            for i in range(config.binds)]
        self.phase = SENDING
        self.scheduling = not closed  # open loop: pacers still add submits
        self.interrupted = False
        self.start = 0.0
        self._phase_at = 0.0
        self._next_second = 0.0
        self._next_step = 0.0
        self._tick = 0.0
        self.sending_s = 0.0
        self.elapsed_s = 0.0
        self.cpu_s = 0.0  # this process's CPU time while sending: what the load cost us

    def begin(self, now: float) -> None:
        self.start = self._phase_at = self._next_step = self._tick = now
        self.cpu_s = process_time()
        self._next_second = now + 1.0
        for link in self.links:
            link.sending = link.bound and link.can_submit

    @property
    def outstanding(self) -> int:
        return sum(len(link.outstanding) for link in self.links)

    def pace(self, index: int, now: float) -> None:
        """Open loop: queue on link `index` the submits that fell due by `now`."""
        if self.scheduling and self.pacers is not None:
            count, first, step = self.pacers[index].advance(now - self.start)
            self.links[index].schedule(count, self.start + first, step, now)

    def pump(self, now: float) -> float | None:
        """Step the run when a STEP is due and, open loop, queue on every link the
        submits due by `now`; the drivers then flush every bind. Returns when to pump
        again (None: the run is over)."""
        if now >= self._next_step:
            if not self.step(now):
                return None
            self._next_step = now + STEP
        if self.pacers is None:
            return self._next_step
        for index in range(len(self.links)):
            self.pace(index, now)
        self._tick = next_tick(self._tick, now)
        return min(self._tick, self._next_step)

    def _sending_over(self, t: float) -> bool:
        if self.interrupted or (self.config.duration > 0 and t >= self.config.duration):
            return True
        if self.pacers is not None:
            return all(p.scheduled >= p.limit for p in self.pacers)
        submitters = [link for link in self.links if link.can_submit]  # receiver binds only listen
        return self.quota.left <= 0 or bool(submitters) and not any(link.sending for link in submitters)

    def step(self, now: float) -> bool:
        """Advance the phases and the per-second series; False once the run is over."""
        t = now - self.start
        while now >= self._next_second:
            self._roll(self._next_second)
            self._next_second += 1.0
        for link in self.links:
            link.expire(now, self.config.response_timeout)
        waited = now - self._phase_at
        if self.phase == SENDING and self._sending_over(t):
            self.scheduling = False
            self.sending_s = t
            self.cpu_s = process_time() - self.cpu_s
            for link in self.links:
                link.sending = link.sending and not link.closed_loop
            self._enter(DRAINING, now)
        elif self.phase == DRAINING and (self.interrupted or waited >= self.config.response_timeout
                                         or all(link.idle or link.closed for link in self.links)):
            self.elapsed_s = t
            for link in self.links:
                link.sending = False
            self._enter(RECEIPTS, now)
        elif self.phase == RECEIPTS and (self.interrupted or waited >= self.config.receipt_wait
                                         or not self.book.pending):
            for link in self.links:
                link.want_unbind = True
            self._enter(UNBINDING, now)
        elif self.phase == UNBINDING and (waited >= UNBIND_WAIT or all(link.closed for link in self.links)):
            self._enter(DONE, now)
        return self.phase != DONE

    def _enter(self, phase: str, now: float) -> None:
        self.phase, self._phase_at = phase, now

    def _roll(self, at: float) -> None:
        row = self.stats.roll(at - self.start, self.outstanding)
        if self.on_second is not None:
            self.on_second(row, self)

    def finish(self, now: float, implementation: str) -> dict[str, Any]:
        """Close the books (a last, partial second; links still open count as lost)."""
        second = self.stats.now
        if second.sent or second.answered or second.receipts or second.errors or second.mo:
            self.stats.roll(now - self.start, self.outstanding, seconds=now - (self._next_second - 1.0))
        for link in self.links:
            if not link.closed:
                link.closed = True  # we are the ones closing: not a disconnect
                link.lost()
        self.book.settle()
        if not self.elapsed_s:
            self.elapsed_s = now - self.start
        if not self.sending_s:
            self.sending_s = self.elapsed_s
        return results(self.config, self.stats, self.book, implementation=implementation,
                       elapsed=self.elapsed_s, sending=self.sending_s, cpu=self.cpu_s)
