"""One event-loop timer that follows a sans-I/O Session's next deadline.

    timer = DeadlineTimer(loop, on_due)
    timer.rearm(session.next_deadline())    # after every receive, send and tick
    timer.cancel()                          # the connection is gone

Deadlines mostly move later with activity, so the loop timer is moved only when a
deadline comes earlier; one firing early costs a tick that finds nothing and a re-arm.
"""
from __future__ import annotations

import asyncio
from typing import Callable


class DeadlineTimer:
    def __init__(self, loop: asyncio.AbstractEventLoop, on_due: Callable[[], None]) -> None:
        self.loop = loop
        self.on_due = on_due
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None

    def rearm(self, deadline: float | None) -> None:
        if deadline is None or (self._at is not None and self._at <= deadline):
            return
        if self._handle is not None:
            self._handle.cancel()
        self._at = deadline
        self._handle = self.loop.call_at(deadline, self._fire)

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def _fire(self) -> None:
        self._handle = self._at = None
        self.on_due()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._at = None
