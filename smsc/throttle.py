"""Token buckets for rate limits. Pure: every call takes `now` (seconds, any monotonic
origin) from the caller, so tests advance a number instead of sleeping.

Used for account rates (one token per message segment) and for routes and upstreams,
whose rate a carrier's throttling answers lower and successes raise again (AIMD):
`set_rate` changes the rate without losing the tokens already earned.
"""
from __future__ import annotations


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
        if self._tokens < min(n, self._burst):
            return False
        self._tokens -= n
        return True

    def delay_until(self, n: float, now: float) -> float:
        """The earliest time (>= now) at which `try_take(n, ...)` will succeed."""
        self._refill(now)
        missing = min(n, self._burst) - self._tokens
        return now if missing <= 0 else now + missing / self._rate

    def _refill(self, now: float) -> None:
        # A clock that steps back (another caller's older `now`) earns nothing, loses nothing.
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._stamp = now
