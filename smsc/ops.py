"""What the operator commands print: `smsc route explain` and `smsc msg show`. Pure:
each function takes what was loaded or read and returns lines (or a JSON-able dict).
"""
from __future__ import annotations

from datetime import datetime, time as clock, timezone
from typing import Any

import msgspec

from smsc import config as config_module
from smsc import router
from smsc.compliance import TimeZones, quiet_end, quiet_hours_for, quiet_setting
from smsc.codec.segmentation import count
from smsc.codec.text_errors import TextError
from smsc.smpp.status import status_name
from smsc.store.inspect import MessageReport


def explain_route(config: config_module.Config, facts: router.MtFacts, text: str | None,
                  now: float) -> tuple[bool, list[str]]:
    """(whether a route matches, the lines saying which one, where it sends, and how the
    text is encoded and cut for the first upstream). Every upstream is taken as up."""
    decision = router.route_mt(config, facts, now, draw=lambda: 0.0)
    if decision is None:
        return False, ["no route matches: the message would end UNDELIVERABLE (ESME_RINVDSTADR)"]
    index, route = next((i, r) for i, r in enumerate(config.routes) if r.name == decision.rule)
    lines = [f"route: {route.name} (routes[{index}]: {config_module.describe_filters(route)})"]
    lines.append(f"sends: {config_module.describe_action(route)}")
    if route.balance:
        lines.append("upstreams: drawn by weight among those up, the others after them")
    elif len(decision.candidates) > 1:
        lines.append(f"upstreams: {' then '.join(decision.candidates)} (the ones down go last)")
    first = config.upstream(decision.upstream)
    assert first is not None, "the config check makes every routed upstream exist"
    rates = [rate for rate in (route.rate, first.throughput) if rate is not None]
    lines.append(f"rate: at most {min(rates):g} msg/s, segments counted (route {route.rate or 'unlimited'},"
                 f" {first.name} {first.throughput:g})")
    lines.append(f"no answer: {_reroute_wait(decision, route, first)}")
    lines.append(f"quiet hours: {_quiet_hours(config, route, facts, now)}")
    if text is not None:
        lines.append(_text_line(text, first))
    return True, lines


def _reroute_wait(decision: router.RouteDecision, route: config_module.Route,
                  first: config_module.Upstream) -> str:
    """What happens to a submit_sm the carrier does not answer."""
    timeout = route.reroute.timeout
    if timeout is None or len(decision.candidates) < 2:
        why = "no reroute.timeout" if timeout is None else "one upstream"
        return f"retried after {first.name}'s response_timeout, {first.response_timeout:g} s ({why})"
    waits = ", ".join(f"{decision.reroute_waits[name]:g} s on {name}" for name in decision.candidates)
    return f"re-routed after {waits} (reroute.timeout {timeout:g} s, at most each upstream's response_timeout)"


def _quiet_hours(config: config_module.Config, route: config_module.Route, facts: router.MtFacts,
                 now: float) -> str:
    """The quiet window promotional messages on this route keep, whose it is, and when one
    sent `now` would go."""
    account = config.account(facts.account)
    setting = quiet_setting(route, account)
    whose = (f"route {route.name}'s" if route.quiet_hours is not None
             else f"account {facts.account}'s" if account is not None else "the default")
    window = quiet_hours_for(config.compliance, route, account)
    if window is None:
        return f"none ({whose}: promotional messages go at once)"
    source = "" if isinstance(setting, config_module.QuietHours) else " of [compliance]"
    zone = TimeZones(config.compliance).of(facts.destination)
    until = quiet_end(datetime.fromtimestamp(now, zone), *map(clock.fromisoformat, window))
    when = "goes at once" if until is None else f"waits until {datetime.fromtimestamp(until, zone).isoformat()}"
    return f"{window[0]}-{window[1]}{source} ({whose}), {zone.key} time: a promotional message now {when}"


def explain_mo(config: config_module.Config, upstream: str, destination: str,
               text: str | None) -> tuple[bool, list[str]]:
    """(whether an MO route matches, the lines saying which one and its target)."""
    target = router.route_mo(config, upstream, destination, text)
    if target is None:
        return False, ["no MO route matches: the carrier's deliver_sm would be answered ESME_RX_R_APPN"]
    index, route = next((i, r) for i, r in enumerate(config.mo_routes) if r.name == target.rule)
    keyword = router.first_word(text)
    return True, [f"mo route: {route.name} (mo_routes[{index}]: {config_module.describe_mo_route(route)})",
                  f"keyword: {keyword!r}" if keyword is not None else "keyword: none (no text)"]


def _text_line(text: str, upstream: config_module.Upstream) -> str:
    try:
        counted = count(text, upstream.text_options())
    except TextError as exc:
        return f"text: cannot be sent: {exc}"
    units = {"gsm7": "septets", "ucs2": "UTF-16 units"}.get(counted.encoding, "octets")
    tables = f", national tables {counted.locking_shift}/{counted.single_shift}" \
        if counted.locking_shift or counted.single_shift else ""
    return (f"text: {counted.encoding} (data_coding 0x{counted.data_coding:02X}{tables}), {counted.characters}"
            f" characters, {counted.units} {units}, {counted.parts} part{'s' if counted.parts > 1 else ''}"
            f" of {counted.per_part} by {upstream.concatenation}, {counted.remaining} left in the last")


def _when(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(code: int | None) -> str:
    return f" error {code}" if code else ""  # 0 is what carriers send for none


def report_lines(report: MessageReport) -> list[str]:
    message = report.message
    lines = [f"message {message.id}: {message.state.name}{_error(message.error)}",
             f"  account {message.account}, from {message.source!r} to {message.destination!r}"
             f"{f', service_type {message.service_type!r}' if message.service_type else ''}",
             f"  submitted {_when(message.submitted)}, scheduled {_when(message.scheduled)},"
             f" expires {_when(message.expires)}, final {_when(message.final)}",
             f"  {message.segments} segment{'s' if message.segments > 1 else ''}, registered_delivery"
             f" {message.registered_delivery}, data_coding {message.body.get('data_coding', 0)}",
             f"  text: {report.text!r}" if report.text is not None else "  text: (binary)",
             f"  upstream {message.upstream or '-'}, carrier id {message.carrier_id or '-'}",
             "history:"]
    lines += [f"  {_when(time)} {state.name}{_error(error)}" for state, time, error in report.history]
    if report.parts:
        lines.append("carrier parts:")
        lines += [f"  {p.part}/{p.parts} {p.upstream} id {p.carrier_id}:"
                  f" {p.state.name if p.state is not None else 'no receipt yet'}{_error(p.error)}"
                  for p in report.parts]
    lines.append("receipts to the ESME:" if report.receipts else "receipts to the ESME: none")
    lines += [f"  #{r.id} to {r.account}: {r.state.name}, {r.attempts} attempt{'s' if r.attempts != 1 else ''}"
              f"{f', last error {status_name(r.last_error)}' if r.last_error else ''}, done {_when(r.done)}"
              f"\n    {r.text}" for r in report.receipts]
    return lines


def _hex_bytes(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {key: _hex_bytes(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_hex_bytes(item) for item in value]
    return value


def report_json(report: MessageReport) -> dict[str, Any]:
    """The report as JSON-able data: states by name, bytes in hex."""
    message = msgspec.structs.asdict(report.message)
    message.update(state=report.message.state.name, body=_hex_bytes(report.message.body))
    return {
        "message": message,
        "text": report.text,
        "history": [{"state": state.name, "time": time, "error": error} for state, time, error in report.history],
        "parts": [{**msgspec.structs.asdict(part), "state": part.state.name if part.state is not None else None}
                  for part in report.parts],
        "receipts": [{**msgspec.structs.asdict(receipt), "state": receipt.state.name} for receipt in report.receipts],
    }
