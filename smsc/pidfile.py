"""The pid file `smsc serve` keeps beside its store, so `smsc reload` finds the process.

A pid file whose process is gone (a crash, kill -9) is stale and simply taken over; one
whose process is alive is left alone (that process holds the store, so this one will
refuse to start anyway). On exit only our own pid is removed.
"""
from __future__ import annotations

import os
from pathlib import Path


class PidFileError(Exception):
    pass


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: the existence and permission check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def read(path: Path) -> int:
    """The pid in the file, if that process is running; PidFileError otherwise."""
    try:
        pid = int(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise PidFileError(f"no pid file at {path}: is `smsc serve` running with this config?") from None
    except (OSError, ValueError) as exc:
        raise PidFileError(f"unreadable pid file {path}: {exc}") from None
    if pid <= 0 or not alive(pid):
        raise PidFileError(f"{path} names process {pid}, which is not running")
    return pid


def claim(path: Path) -> bool:
    """Write our pid unless a live process already holds the file; whether we did."""
    try:
        if read(path) != os.getpid():
            return False
    except PidFileError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(f"{os.getpid()}\n", encoding="ascii")
    temporary.replace(path)  # atomic: a reader never sees a half-written number
    return True


def release(path: Path) -> None:
    """Remove the file if it still names this process."""
    try:
        if int(path.read_text(encoding="ascii").strip()) == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass
