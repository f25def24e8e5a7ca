"""A load run's settings, from a scenario TOML file and the command line, and the
open-loop rate schedule. Pure, no I/O besides reading the scenario file.

A scenario file (examples in bench/scenarios/) has up to four parts; every key is
optional and the command line overrides it:

    [target]   host, port, system_id, password, system_type, bind_type, binds, window,
               tls, tls_verify
    [load]     mode ("closed" | "open"), rate, ramp ("step" | "linear"), rate_to,
               steps ([[second, rate], ...]), duration, count, destinations,
               response_timeout, receipt_wait, max_error_rate
    [[message]] kind ("short" | "long" | "ucs2"), text, weight, concatenation
               ("udh" | "sar" | "payload"), registered_delivery, source_addr
    [carrier]  read by `smsc carrier-sim` (bench/carrier_sim.py Behaviour)

Rates and counts are of submit_sm PDUs: a long message of three parts counts three.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from typing import Any

from smsc.bench.loadgen_messages import MessageSpec

MODES = ("closed", "open")
RAMPS = ("step", "linear")


@dataclass(frozen=True)
class LoadConfig:
    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = "load"
    password: str = "load"
    system_type: str = ""
    bind_type: str = "transceiver"
    binds: int = 1
    window: int = 100
    tls: bool = False
    tls_verify: bool = True
    mode: str = "closed"
    rate: float = 1000.0  # open loop: submit_sm/s over all binds (the start rate of a ramp)
    ramp: str | None = None
    rate_to: float | None = None  # linear ramp: the rate at the end of `duration`
    steps: tuple[tuple[float, float], ...] = ()  # step ramp: (from second, rate)
    duration: float = 10.0  # seconds of sending; 0: until `count`
    count: int | None = None  # stop after this many submit_sm (whichever comes first)
    destinations: str = "447700900000-447700999999"
    response_timeout: float = 10.0
    receipt_wait: float = 5.0  # after the last response, how long to wait for receipts
    max_error_rate: float | None = None  # (errors + timeouts) / sent above this: exit 1
    messages: tuple[MessageSpec, ...] = (MessageSpec(),)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.ramp is not None and self.ramp not in RAMPS:
            raise ValueError(f"ramp must be one of {RAMPS}")
        if self.ramp == "linear" and (self.rate_to is None or self.duration <= 0):
            raise ValueError("a linear ramp needs rate_to and a duration")
        if self.ramp == "step" and not self.steps:
            raise ValueError("a step ramp needs steps = [[second, rate], ...]")
        if self.binds < 1 or self.window < 1:
            raise ValueError("binds and window must be at least 1")
        if self.bind_type not in ("transmitter", "receiver", "transceiver"):
            raise ValueError("bind_type must be transmitter, receiver or transceiver")
        if self.duration <= 0 and self.count is None:
            raise ValueError("give a duration or a count")

    def schedule(self) -> "Schedule":
        if self.ramp == "linear":
            return Schedule(self.rate, self.duration, rate_to=self.rate_to)
        if self.ramp == "step":
            return Schedule(self.rate, self.duration, steps=self.steps)
        return Schedule(self.rate, self.duration)

    def public(self) -> dict[str, Any]:
        """The settings as JSON-able values, the password left out."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("password", "messages")}
        out["steps"] = [list(s) for s in self.steps]
        out["messages"] = [vars(m) for m in self.messages]
        return out


_SECTIONS = {
    "target": ("host", "port", "system_id", "password", "system_type", "bind_type", "binds", "window",
               "tls", "tls_verify"),
    "load": ("mode", "rate", "ramp", "rate_to", "steps", "duration", "count", "destinations",
             "response_timeout", "receipt_wait", "max_error_rate"),
}


def load_config(path: str | None = None, **overrides: Any) -> LoadConfig:
    """The scenario file's settings (when given), then `overrides` that are not None."""
    values: dict[str, Any] = {}
    if path:
        with open(path, "rb") as f:
            scenario = tomllib.load(f)
        for section, keys in _SECTIONS.items():
            table = scenario.get(section, {})
            unknown = set(table) - set(keys)
            if unknown:
                raise ValueError(f"{path}: unknown keys in [{section}]: {', '.join(sorted(unknown))}")
            values.update(table)
        if "message" in scenario:
            values["messages"] = tuple(MessageSpec(**m) for m in scenario["message"])
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "steps" in values:
        values["steps"] = tuple((float(t), float(r)) for t, r in values["steps"])
    return replace(LoadConfig(), **values)


@dataclass(frozen=True)
class Schedule:
    """The open-loop rate over time: constant, a linear ramp from `rate` to `rate_to`
    over `duration`, or steps (from second t, `rate`). `due(t)` is how many submits are
    due by `t` seconds into the run: the integral of the rate."""

    rate: float
    duration: float
    rate_to: float | None = None
    steps: tuple[tuple[float, float], ...] = field(default=())

    def rate_at(self, t: float) -> float:
        if self.rate_to is not None:
            return self.rate + (self.rate_to - self.rate) * min(t, self.duration) / self.duration
        rate = self.rate
        for start, step_rate in self.steps:
            if t >= start:
                rate = step_rate
        return rate

    def due(self, t: float) -> float:
        if self.rate_to is not None:
            span = min(t, self.duration)
            slope = (self.rate_to - self.rate) / self.duration
            return self.rate * span + slope * span * span / 2 + max(0.0, t - self.duration) * self.rate_to
        total, since, rate = 0.0, 0.0, self.rate
        for start, step_rate in sorted(self.steps):
            if start >= t:
                break
            if start > since:
                total += rate * (start - since)
                since = start
            rate = step_rate
        return total + rate * (t - since)


class Pacer:
    """Turns a Schedule into batches for one bind carrying `share` of the rate: at each
    tick, how many submits fell due since the last and when each was meant to go."""

    def __init__(self, schedule: Schedule, share: float, limit: float = math.inf) -> None:
        self.schedule = schedule
        self.share = share
        self.limit = limit  # this bind's part of `count`
        self._t = 0.0
        self._due = 0.0  # fractional submits due by _t
        self.scheduled = 0

    def advance(self, t: float) -> tuple[int, float, float]:
        """(count, first intended time, step) for the submits due in (last t, t]; times
        are seconds since the start. Within one tick the rate is taken as constant."""
        due = min(self.schedule.due(t) * self.share, self.limit)
        last_t, last_due = self._t, self._due
        self._t, self._due = t, max(due, last_due)
        count = int(due) - self.scheduled
        if count <= 0:
            return 0, t, 0.0
        step = (t - last_t) / (due - last_due)
        first = last_t + (self.scheduled + 1 - last_due) * step
        self.scheduled += count
        return count, first, step
