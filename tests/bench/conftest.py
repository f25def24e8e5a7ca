"""A carrier simulator on its own asyncio loop in a thread, so that clients under test
(the trio load generator, smpplib) run in the test's thread as they would anywhere."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from ssl import SSLContext

from smsc.bench.carrier_sim import Behaviour, CarrierSim


@contextmanager
def running_sim(behaviour: Behaviour = Behaviour(), ssl: SSLContext | None = None) -> Iterator[CarrierSim]:
    """The simulator on 127.0.0.1, a free port; its counters are final after the block."""
    loop = asyncio.new_event_loop()
    sim = CarrierSim(behaviour, ssl=ssl)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(sim.start(), loop).result(timeout=5)
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(timeout=5)
        asyncio.run_coroutine_threadsafe(_cancel_the_rest(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


async def _cancel_the_rest() -> None:
    """Connections still handshaking when the server stopped."""
    rest = asyncio.all_tasks() - {asyncio.current_task()}
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)
