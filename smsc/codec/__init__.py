"""The codec switch: one place decides which twin of each hot module runs.

Each twin has a pure-Python reference `_<name>_py` and a Cython build `_<name>_c` (from
native/<same name>.pyx) with the same functions and the same exceptions. The native twin
is used when it was built; `SMSC_PUREPYTHON=1` in the environment at import forces the
pure-Python one. `smsc version` prints what is active.

    from smsc.codec import pdu, text     # the active implementations
    load("python").pdu                   # a specific one (tests, benchmarks)
"""
from __future__ import annotations

import os
from importlib import import_module
from types import ModuleType, SimpleNamespace

TWINS = ("pdu", "text")
IMPLEMENTATIONS = ("cython", "python")
_SUFFIX = {"cython": "_c", "python": "_py"}

FORCED_PURE = os.environ.get("SMSC_PUREPYTHON", "") not in ("", "0")


def load_twin(name: str, implementation: str) -> ModuleType:
    """Import one implementation of one twin; ImportError when it is not built."""
    if name not in TWINS or implementation not in IMPLEMENTATIONS:
        raise ValueError(f"unknown codec twin {name!r} / implementation {implementation!r}")
    return import_module(f"{__name__}._{name}{_SUFFIX[implementation]}")


def load(implementation: str) -> SimpleNamespace:
    """All twins of one implementation, as attributes (`load("cython").pdu`)."""
    return SimpleNamespace(**{name: load_twin(name, implementation) for name in TWINS})


def _select(name: str) -> tuple[ModuleType, str]:
    if FORCED_PURE:
        return load_twin(name, "python"), "python (forced by SMSC_PUREPYTHON)"
    try:
        return load_twin(name, "cython"), "cython"
    except ImportError:
        # A source tree used without `pip install`: correct, but slow, and said so.
        return load_twin(name, "python"), "python (native extension not built)"


_active: dict[str, tuple[ModuleType, str]] = {}


def active() -> dict[str, str]:
    """Which implementation each twin runs on, e.g. {"pdu": "cython", "text": "cython"}."""
    return {name: _get(name)[1] for name in TWINS}


def _get(name: str) -> tuple[ModuleType, str]:
    if name not in _active:
        _active[name] = _select(name)
    return _active[name]


def twin(name: str) -> ModuleType:
    """The active implementation of a twin, as `from smsc.codec import <name>` gives it,
    for code on a hot path (a function call, not the import machinery each time)."""
    return _get(name)[0]


def __getattr__(name: str) -> ModuleType:
    # Lazy, so importing smsc.codec for one twin does not import the other.
    if name in TWINS:
        return _get(name)[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
