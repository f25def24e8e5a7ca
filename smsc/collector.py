"""The cycle collector's settings for a long-running smsc process (the gateway, its
store writer, an HTTP worker)."""
import gc


def settle_gc() -> None:
    """Once a process has started, what it loaded stays loaded: frozen out of the cycle
    collector's way, so that a full collection walks only what came since (~2 ms rather
    than 35-45 ms, which sat in the latency tails), and the first generation collected
    every 20,000 new containers rather than 700 (the default collected every few hundred
    messages and found almost nothing: smsc makes few reference cycles). Measured in
    bench/README.md (end to end and HTTP, session 3)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
