"""The order parts leave in (smsc.aio.partqueue): pure, no sockets."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.aio.partqueue import PartQueue
from smsc.throttle import AdaptiveRate, TokenBucket


class Item:
    def __init__(self, name: str) -> None:
        self.name = name


def drain(queue: PartQueue) -> list[tuple[str, int]]:
    out = []
    while (taken := queue.next()) is not None:
        out.append((taken[0].name, taken[1]))
    return out


def test_parts_leave_in_order_and_a_given_back_part_goes_first():
    queue = PartQueue()
    a, b = Item("a"), Item("b")
    queue.add(a, 2, "1")
    queue.add(b, 1, "2")
    assert queue.next()[0] is a and queue.next() == (a, 1)
    queue.back(a, 0)  # throttled: before b, which came later
    assert drain(queue) == [("a", 0), ("b", 0)]


def test_a_destination_has_one_message_with_the_carrier_at_a_time():
    queue = PartQueue()
    first, second, other = Item("first"), Item("second"), Item("other")
    queue.add(first, 1, "447700900001")
    queue.add(second, 1, "447700900001")
    queue.add(other, 1, "447700900002")
    assert drain(queue) == [("first", 0), ("other", 0)]  # second waits, other does not
    queue.back(first, 0)  # the carrier said slow down
    assert drain(queue) == [("first", 0)]
    queue.done(first)
    assert drain(queue) == [("second", 0)]
    assert len(queue) == 0


def test_remove_drops_an_item_and_frees_its_destination():
    queue = PartQueue()
    gone, next_ = Item("gone"), Item("next")
    queue.add(gone, 3, "1")
    queue.add(next_, 1, "1")
    assert queue.next() == (gone, 0)
    queue.remove(gone)
    assert drain(queue) == [("next", 0)]


def test_adaptive_rate_halves_once_per_hold_and_climbs_back_slowly():
    rate = AdaptiveRate(100.0, floor=10.0, hold=0.25, now=0.0)
    assert rate.throttled(1.0) and rate.rate == 50.0
    assert not rate.throttled(1.1) and rate.rate == 50.0  # the same window's answers
    assert rate.bucket.tokens(1.0) <= 0.0  # the savings are spent
    for _ in range(50):
        rate.accepted(2.0)
    assert 50.0 < rate.rate < 52.0  # about increase (1/s) per second of successes
    for step in range(10):
        rate.throttled(3.0 + step)
    assert rate.rate == 10.0  # never below the floor


def test_a_bucket_check_and_its_wait_agree_on_float_crumbs():
    bucket = TokenBucket(50.0, burst=5.0, now=0.0)
    now, sent = 0.0, 0
    for _ in range(2000):  # bounded: a disagreement would spin here
        due = bucket.delay_until(1, now)
        if due > now:
            now = due
            continue
        assert bucket.try_take(1, now)
        sent += 1
        if now >= 10.0:
            break
    assert 500 <= sent <= 506


_OPS = st.lists(st.tuples(st.sampled_from(["add", "next", "back", "done"]), st.integers(0, 3), st.integers(1, 3)),
                max_size=40)


@settings(max_examples=80, deadline=None)
@given(_OPS)
def test_random_use_keeps_one_message_per_destination_and_every_part_leaves_once(ops):
    queue, taken, live, owner, sent = PartQueue(), [], {}, {}, []
    for op, destination, parts in ops:
        if op == "add":
            item = Item(f"m{len(live)}")
            live[item] = (str(destination), parts)
            queue.add(item, parts, str(destination))
        elif op == "next" and (got := queue.next()) is not None:
            item, part = got
            dest = live[item][0]
            assert owner.setdefault(dest, item) is item  # no other message to it with the carrier
            taken.append(got)
            sent.append(got)
        elif op == "back" and taken:
            item, part = taken.pop(0)
            sent.remove((item, part))
            queue.back(item, part)
        elif op == "done" and taken:
            item = taken[0][0]
            if all(got[0] is not item for got in taken[1:]) and sum(got[0] is item for got in sent) == live[item][1]:
                taken.pop(0)
                queue.done(item)
                del owner[live[item][0]]
    # Settle the rest: every part of every message leaves exactly once, in per-destination order.
    for _ in range(200):
        if (got := queue.next()) is not None:
            assert owner.setdefault(live[got[0]][0], got[0]) is got[0]
            sent.append(got)
            continue
        done = [item for item in owner.values() if sum(got[0] is item for got in sent) == live[item][1]]
        if not done:
            break
        for item in done:
            queue.done(item)
            del owner[live[item][0]]
    assert sorted((item.name, part) for item, part in sent) == sorted(
        (item.name, part) for item, (_, parts) in live.items() for part in range(parts))
    for dest in {d for d, _ in live.values()}:
        order = [int(item.name[1:]) for item, part in sent if live[item][0] == dest and part == 0]
        assert order == sorted(order)
