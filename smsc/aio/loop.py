"""The event loop every long-running smsc process runs on: the gateway, its HTTP workers
and its store writer process."""
import asyncio

from smsc.log import get_logger


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it can be imported, else the standard one (and it is said)."""
    try:
        import uvloop
    except ImportError as exc:
        get_logger("smsc.runtime").warning("event_loop", implementation="asyncio",
                                           reason=f"uvloop unavailable: {exc}")
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
