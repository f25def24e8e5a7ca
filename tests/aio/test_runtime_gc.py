"""settle_gc, what `smsc serve` does once started: what is loaded leaves the cycle
collector's generations, and the first generation is collected far less often."""
from __future__ import annotations

import gc

from smsc.aio.runtime import settle_gc


def test_settle_gc_freezes_what_is_loaded_and_raises_the_first_threshold():
    before = gc.get_threshold()
    try:
        settle_gc()
        frozen = gc.get_freeze_count()
        threshold = gc.get_threshold()
        # What was tracked before now sits in the permanent generation: a collection of
        # the oldest generation no longer walks it.
        assert frozen > 10_000 and gc.get_count()[2] == 0
        assert threshold == (20_000, 10, 10)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
