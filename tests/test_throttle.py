import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.throttle import TokenBucket


def test_starts_full_then_refuses_until_refilled():
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert all(bucket.try_take(1, 0.0) for _ in range(5))
    assert not bucket.try_take(1, 0.0)
    assert bucket.delay_until(1, 0.0) == pytest.approx(0.1)
    assert not bucket.try_take(1, 0.09)
    assert bucket.try_take(1, 0.1)


def test_refill_stops_at_burst():
    bucket = TokenBucket(rate=100, burst=3, now=0.0)
    assert bucket.tokens(1000.0) == 3
    assert bucket.try_take(3, 1000.0) and not bucket.try_take(1, 1000.0)


def test_refused_take_takes_nothing():
    bucket = TokenBucket(rate=1, burst=4, now=0.0)
    bucket.try_take(3, 0.0)
    assert not bucket.try_take(2, 0.0)
    assert bucket.tokens(0.0) == 1


def test_request_above_burst_goes_into_debt_once_full():
    bucket = TokenBucket(rate=2, burst=2, now=0.0)
    assert bucket.try_take(6, 0.0)  # a 6-segment message under burst 2
    assert bucket.tokens(0.0) == -4
    assert bucket.delay_until(1, 0.0) == pytest.approx(2.5)
    assert not bucket.try_take(1, 2.4)
    assert bucket.try_take(1, 2.5)


def test_set_rate_keeps_earned_tokens():
    bucket = TokenBucket(rate=10, burst=10, now=0.0)
    bucket.try_take(10, 0.0)
    bucket.set_rate(1, 0.5)  # 5 tokens earned at rate 10 are kept
    assert bucket.tokens(0.5) == pytest.approx(5)
    assert bucket.tokens(1.5) == pytest.approx(6)
    assert bucket.rate == 1


def test_clock_stepping_back_earns_nothing():
    bucket = TokenBucket(rate=1, burst=1, now=10.0)
    assert bucket.try_take(1, 10.0)
    assert not bucket.try_take(1, 5.0)
    assert bucket.try_take(1, 11.0)


@pytest.mark.parametrize("rate,burst", [(0, 1), (-1, 1), (1, 0)])
def test_rejects_nonpositive_settings(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 1000), burst=st.floats(1, 50),
       steps=st.lists(st.tuples(st.floats(0, 2), st.integers(1, 5)), min_size=1, max_size=80))
def test_never_exceeds_rate_times_time_plus_burst(rate, burst, steps):
    bucket = TokenBucket(rate, burst, now=0.0)
    now, taken, overshoot = 0.0, 0, 0.0
    for gap, n in steps:
        now += gap
        if bucket.try_take(n, now):
            taken += n
        # A request above burst needs a full bucket, so the debt it leaves is repaid
        # before the next one: the overshoot is at most the largest single excess.
        overshoot = max(overshoot, n - burst)
        assert taken <= burst + rate * now + overshoot + 1e-6


@settings(max_examples=100, deadline=None)
@given(rate=st.floats(1, 100_000), start=st.floats(0, 1e8),
       steps=st.lists(st.tuples(st.floats(0, 0.01), st.integers(1, 3)), min_size=1, max_size=60))
def test_a_wait_that_is_over_means_the_tokens_are_there(rate, start, steps):
    # What a sender relies on (smsc.aio.forwarder): when delay_until says `now`, try_take
    # succeeds now; otherwise the wait is a time after now, however fine the shortfall.
    bucket = TokenBucket(rate, max(1.0, rate / 10), now=start)
    now = start
    for gap, n in steps:
        now += gap
        due = bucket.delay_until(n, now)
        assert due >= now
        if due == now:
            assert bucket.try_take(n, now)
        else:
            assert not bucket.try_take(n, now)


def test_a_shortfall_below_the_clocks_resolution_still_waits():
    now = 42_000.0  # ~12 hours of monotonic clock: its step is ~7e-12 s
    bucket = TokenBucket(1000.0, burst=100.0, now=now)
    assert bucket.try_take(100.0 - 1 + 3e-9, now)  # leaves 1 - 3e-9 tokens: past _EPSILON
    assert not bucket.try_take(1, now)
    assert bucket.delay_until(1, now) > now
