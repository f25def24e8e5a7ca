"""Token buckets for rate limits. Pure: every call takes `now` (seconds, any monotonic
origin) from the caller, so tests advance a number instead of sleeping.

Used for account rates (one token per message segment) and for routes and upstreams,
whose rate a carrier's throttling answers lower and successes raise again (AIMD):
`set_rate` changes the rate without losing the tokens already earned.
"""
from __future__ import annotations

import math

# Tokens are sums of float products: 0.02 s at 50/s may earn 0.9999999999999999 of one.
# Both the check and the wait treat a shortfall this small as none, so they agree (a wait
# of 1e-18 s would never move a float clock, a check failing after it would spin).
_EPSILON = 1e-9


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; starts full.

    A request for more tokens than `burst` (a long concatenated message under a small
    burst) would never fit, so it is allowed once the bucket is full and leaves the bucket
    in debt: the long-run rate still holds, the bucket refills from below zero.
    """

    __slots__ = ("_rate", "_burst", "_tokens", "_stamp")

    def __init__(self, rate: float, burst: float | None = None, now: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = float(rate)
        self._burst = float(burst if burst is not None else max(rate, 1.0))
        if self._burst <= 0:
            raise ValueError("burst must be positive")
        self._tokens = self._burst
        self._stamp = now

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> float:
        return self._burst

    def tokens(self, now: float) -> float:
        """Tokens available at `now` (negative while in debt)."""
        self._refill(now)
        return self._tokens

    def set_rate(self, rate: float, now: float) -> None:
        """Change the rate from `now` on; tokens earned until now are kept."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._refill(now)
        self._rate = float(rate)

    def try_take(self, n: float, now: float) -> bool:
        """Take `n` tokens if they are there now; False (and nothing taken) otherwise."""
        self._refill(now)
        burst = self._burst
        if self._tokens + _EPSILON < (n if n < burst else burst):  # no min() call: once or twice a message
            return False
        self._tokens -= n
        return True

    def delay_until(self, n: float, now: float) -> float:
        """The earliest time (>= now) at which `try_take(n, ...)` will succeed."""
        self._refill(now)
        missing = min(n, self._burst) - self._tokens
        if missing <= _EPSILON:
            return now
        # Never `now` itself when the check would fail: a shortfall just past _EPSILON at a
        # high rate is a wait below the clock's resolution (now + 3e-12 == now at 42,000 s
        # of uptime), and a caller sending when the wait is over sent without a token:
        # upstreams at 1,000/s went out at 8,000/s.
        return max(now + missing / self._rate, math.nextafter(now, math.inf))

    def _refill(self, now: float) -> None:
        # A clock that steps back (another caller's older `now`) earns nothing, loses nothing.
        elapsed = now - self._stamp
        if elapsed > 0:
            tokens = self._tokens + elapsed * self._rate
            self._tokens = tokens if tokens < self._burst else self._burst  # no min() call
            self._stamp = now


class AdaptiveRate:
    """A token bucket whose rate a carrier's answers steer (AIMD, as TCP does): each
    throttling answer (ESME_RTHROTTLED, ESME_RMSGQFUL) halves the rate, down to `floor`,
    and spends the tokens saved up, at most once per `hold` seconds (the answers to a
    window already in flight are one signal, not many); each accepted submit adds back
    `increase / rate`, so the rate climbs by about `increase` per second of success (1%
    of the ceiling by default: the carrier's limit is probed again slowly), never above
    `ceiling`."""

    __slots__ = ("bucket", "ceiling", "floor", "increase", "hold", "_cut_at")

    def __init__(self, ceiling: float, floor: float = 1.0, *, increase: float | None = None,
                 hold: float = 0.25, now: float = 0.0) -> None:
        if not 0 < floor <= ceiling:
            raise ValueError("need 0 < floor <= ceiling")
        self.ceiling, self.floor, self.hold = float(ceiling), float(floor), hold
        self.increase = increase if increase is not None else max(1.0, ceiling / 100)
        self.bucket = TokenBucket(ceiling, burst=max(1.0, ceiling / 10), now=now)
        self._cut_at = float("-inf")

    @property
    def rate(self) -> float:
        return self.bucket.rate

    def throttled(self, now: float) -> bool:
        """The carrier said slow down: halve the rate (once per `hold`); True if cut."""
        if now - self._cut_at < self.hold:
            return False
        self._cut_at = now
        self.bucket.set_rate(max(self.floor, self.bucket.rate / 2), now)
        self.bucket.try_take(max(0.0, self.bucket.tokens(now)), now)
        return True

    def accepted(self, now: float) -> None:
        rate = self.bucket.rate
        if rate < self.ceiling:
            self.bucket.set_rate(min(self.ceiling, rate + self.increase / rate), now)
