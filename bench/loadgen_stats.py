"""What a load run counts: latency histograms and the per-second series. Pure, no I/O.

Latencies go into log buckets in the manner of HdrHistogram: values (microseconds) below
64 each have their own bucket, above that every power of two is cut into 32 buckets, so
any value is known to within 1/32 (3 %) and the whole range up to hours takes about 1,200
counters. Recording is an index computation and one increment: millions of samples cost
a list of ints, not a list of floats.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

_SUB_BITS = 5
_SUB = 1 << _SUB_BITS  # buckets per power of two
_LINEAR = _SUB * 2  # values below this have a bucket each
_BUCKETS = 40 * _SUB  # up to 2**39 us (6 days): far past any timeout


def bucket(seconds: float) -> int:
    """The index of the bucket that counts `seconds`."""
    us = int(seconds * 1e6)
    if us < _LINEAR:
        return us if us > 0 else 0
    if us >= 1 << 39:
        return _BUCKETS - 1
    shift = us.bit_length() - _SUB_BITS - 1
    return (shift << _SUB_BITS) + (us >> shift)


def _value(index: int) -> float:
    """The middle of a bucket, in microseconds."""
    if index < _LINEAR:
        return float(index)
    shift = (index >> _SUB_BITS) - 1
    low = (index - (shift << _SUB_BITS)) << shift
    return low + ((1 << shift) - 1) / 2


class Histogram:
    """Latency samples in seconds, kept as log-bucket counts."""

    __slots__ = ("counts", "total", "maximum")

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.total = 0
        self.maximum = 0.0

    def record(self, seconds: float) -> None:
        self.counts[bucket(seconds)] += 1
        self.total += 1
        if seconds > self.maximum:
            self.maximum = seconds

    def counted(self, total: int, maximum: float) -> None:
        """For a hot loop that added `total` samples to `counts[bucket(s)]` itself."""
        self.total += total
        if maximum > self.maximum:
            self.maximum = maximum

    def merge(self, other: "Histogram") -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts)]
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    def percentile(self, p: float) -> float | None:
        """The p-th percentile (0..100) in seconds; None without samples."""
        if not self.total:
            return None
        rank = max(1, round(self.total * p / 100))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return min(_value(index), self.maximum * 1e6) / 1e6
        return self.maximum

    def mean(self) -> float | None:
        if not self.total:
            return None
        return sum(_value(i) * c for i, c in enumerate(self.counts) if c) / self.total / 1e6

    def summary(self) -> dict[str, Any]:
        """count, mean, p50, p90, p99, p99.9 and max, in milliseconds."""
        ms = lambda s: None if s is None else round(s * 1e3, 3)  # noqa: E731
        out: dict[str, Any] = {"count": self.total, "mean_ms": ms(self.mean())}
        for p in (50, 90, 99, 99.9):
            out[f"p{p:g}_ms"] = ms(self.percentile(p))
        out["max_ms"] = ms(self.maximum if self.total else None)
        return out


class Second:
    """The counts of one second of the run (the current one, while it lasts)."""

    __slots__ = ("sent", "answered", "errors", "receipts", "mo", "latency", "receipt_latency")

    def __init__(self) -> None:
        self.sent = 0
        self.answered = 0  # submit_sm_resp with status 0
        self.errors: Counter[int] = Counter()  # by command_status
        self.receipts = 0
        self.mo = 0
        self.latency = Histogram()
        self.receipt_latency = Histogram()


class Stats:
    """Every figure of a run. The drivers add to `now` (the current second) and call
    `roll` once a second; `series` keeps one row per elapsed second."""

    def __init__(self) -> None:
        self.now = Second()
        self.latency = Histogram()
        self.receipt_latency = Histogram()
        self.series: list[dict[str, Any]] = []
        self.sent = self.answered = self.receipts = self.mo = 0
        self.errors: Counter[int] = Counter()
        self.disconnects = 0
        self.writes = 0  # batches of submits written: sent / writes is the mean batch
        self.lag_total = 0.0  # open loop: how late the generator got to submits (seconds)
        self.lag_max = 0.0
        self.lags = Histogram()  # each tick's submits at their mean lag
        self.timeouts = 0
        self.unmatched_receipts = 0
        self.duplicate_receipts = 0

    def lag(self, mean: float, count: int, maximum: float) -> None:
        """The generator got to `count` open-loop submits `mean` seconds after their
        intended times on average, `maximum` at most: its own delay, left out of their
        latency."""
        self.lag_total += mean * count
        self.lags.counts[bucket(mean)] += count
        self.lags.counted(count, maximum)
        if maximum > self.lag_max:
            self.lag_max = maximum

    def roll(self, elapsed: float, outstanding: int, seconds: float = 1.0) -> dict[str, Any]:
        """Close the current second (or the last `seconds` of one, at the end) into the
        totals and the series; return its row."""
        second, self.now = self.now, Second()
        self.sent += second.sent
        self.answered += second.answered
        self.receipts += second.receipts
        self.mo += second.mo
        self.errors.update(second.errors)
        self.latency.merge(second.latency)
        self.receipt_latency.merge(second.receipt_latency)
        p50, p99 = second.latency.percentile(50), second.latency.percentile(99)
        row = {
            "t": round(elapsed, 3),
            "seconds": round(seconds, 3),
            "sent": second.sent,
            "answered": second.answered,
            "errors": sum(second.errors.values()),
            "receipts": second.receipts,
            "mo": second.mo,
            "outstanding": outstanding,
            "p50_ms": None if p50 is None else round(p50 * 1e3, 3),
            "p99_ms": None if p99 is None else round(p99 * 1e3, 3),
        }
        self.series.append(row)
        return row
