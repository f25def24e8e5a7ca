"""structlog, configured once per process.

The server binds session context with structlog.contextvars (session id, system_id,
peer, bind type) when a session starts, so every line logged while serving it carries
them without passing a logger around:

    with structlog.contextvars.bound_contextvars(session=sid, peer=peer):
        ...

JSON lines in production, coloured key=value on a console. The codec and the protocol
core never log (their loops run per byte and per PDU); adapters log outcomes.
"""
from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("json", "console")


def configure(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Set up structlog for the process; calling again replaces the previous setup."""
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=(stream or sys.stderr).isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """A logger carrying `logger=name` and any initial key-values."""
    logger = structlog.get_logger()
    if name is not None:
        initial["logger"] = name  # get_logger(logger=...) would clash with its own argument
    return logger.bind(**initial) if initial else logger
