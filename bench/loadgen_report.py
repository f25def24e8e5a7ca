"""The results of a load run: one dict with every figure, a summary table, the JSON
file, the PNG plot and the live progress line.

The dict (and so the --json file) has these keys:
    implementation     "trio" or "asyncio+uvloop": which driver ran
    config             the settings (LoadConfig.public())
    elapsed_s          from the first submit to the last answer (or the end of waiting)
    sending_s          from the first submit to when sending stopped
    cpu_s              the generator's own CPU time (user + system) while sending
    sent, answered     submit_sm sent; submit_sm_resp with status 0
    errors             {status name: count} of error responses (incl. generic_nack)
    error_total, timeouts, disconnects
    rate               {"sent_per_s": sent / sending_s, "answered_per_s": answered / elapsed_s,
                        "target_per_s": the open-loop mean target or None,
                        "cpu_us_per_submit": cpu_s / sent, the generator's cost,
                        "mean_batch": submits per write,
                        "send_lag_mean_ms", "send_lag_p50_ms", "send_lag_p99_ms",
                        "send_lag_max_ms": open loop, how late the generator got to submits
                        after their intended times (its timer tick, its wake-up, its own
                        stalls): left out of latency}
    latency            submit -> submit_sm_resp: count, mean_ms, p50_ms, p90_ms, p99_ms,
                       p99.9_ms, max_ms (open loop: from when the generator got to the
                       submit, so a wait for room in a full window counts, its send lag not)
    receipts           expected, matched, by_stat {word: n}, never_receipted (count),
                       never_receipted_ids (the first 100), unmatched, duplicates,
                       latency (submit -> receipt, as above)
    mo                 mobile-originated deliver_sm received
    error_rate         (error_total + timeouts) / sent
    series             one row a second: t (its end, seconds into the run), seconds (1,
                       less for the last), sent, answered, errors, receipts, mo,
                       outstanding, p50_ms, p99_ms
"""
from __future__ import annotations

import json
from typing import Any

from smsc.smpp.status import status_name

from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_core import ReceiptBook
from smsc.bench.loadgen_stats import Stats

NEVER_RECEIPTED_LISTED = 100


def results(config: LoadConfig, stats: Stats, book: ReceiptBook, *, implementation: str,
            elapsed: float, sending: float, cpu: float) -> dict[str, Any]:
    errors = {status_name(code): n for code, n in sorted(stats.errors.items())}
    error_total = sum(stats.errors.values())
    target = None
    if config.mode == "open" and sending > 0:
        target = config.schedule().due(sending) / sending
    return {
        "implementation": implementation,
        "config": config.public(),
        "elapsed_s": round(elapsed, 3),
        "sending_s": round(sending, 3),
        "cpu_s": round(cpu, 3),
        "sent": stats.sent,
        "answered": stats.answered,
        "errors": errors,
        "error_total": error_total,
        "timeouts": stats.timeouts,
        "disconnects": stats.disconnects,
        "rate": {
            "sent_per_s": round(stats.sent / sending, 1) if sending > 0 else None,
            "answered_per_s": round(stats.answered / elapsed, 1) if elapsed > 0 else None,
            "target_per_s": target,
            "cpu_us_per_submit": round(cpu / stats.sent * 1e6, 3) if stats.sent else None,
            "mean_batch": round(stats.sent / stats.writes, 1) if stats.writes else None,
            "send_lag_mean_ms": round(stats.lag_total / stats.sent * 1e3, 3) if stats.sent else None,
            "send_lag_p50_ms": _ms(stats.lags.percentile(50)),
            "send_lag_p99_ms": _ms(stats.lags.percentile(99)),
            "send_lag_max_ms": round(stats.lag_max * 1e3, 3),
        },
        "latency": stats.latency.summary(),
        "receipts": {
            "expected": book.expected,
            "matched": stats.receipts,
            "by_stat": dict(sorted(book.by_stat.items())),
            "never_receipted": book.pending,
            "never_receipted_ids": list(book.waiting)[:NEVER_RECEIPTED_LISTED],
            "unmatched": stats.unmatched_receipts,
            "duplicates": stats.duplicate_receipts,
            "latency": stats.receipt_latency.summary(),
        },
        "mo": stats.mo,
        "error_rate": round((error_total + stats.timeouts) / stats.sent, 6) if stats.sent else 0.0,
        "series": stats.series,
    }


def table(result: dict[str, Any]) -> str:
    """The summary a person reads at the end of a run."""
    lat, rec, rate = result["latency"], result["receipts"], result["rate"]
    rows = [
        ("driver", result["implementation"]),
        ("mode", f"{result['config']['mode']} loop, {result['config']['binds']} bind(s) x window "
                 f"{result['config']['window']}"),
        ("elapsed", f"{result['elapsed_s']:.2f} s (sending {result['sending_s']:.2f} s)"),
        ("sent", f"{result['sent']:,} submit_sm  ({_num(rate['sent_per_s'])}/s"
                 + (f", target {_num(rate['target_per_s'])}/s)" if rate["target_per_s"] else ")")),
        ("answered ok", f"{result['answered']:,}  ({_num(rate['answered_per_s'])}/s)"),
        ("generator cpu", f"{result['cpu_s']:.2f} s, {rate['cpu_us_per_submit'] or 0:.2f} us per submit, "
                          f"{rate['mean_batch'] or 0:.0f} per write"),
        *([("send lag ms", f"mean {rate['send_lag_mean_ms']:.2f}  p50 {rate['send_lag_p50_ms']:.2f}"
                           f"  p99 {rate['send_lag_p99_ms']:.2f}  max {rate['send_lag_max_ms']:.2f}"
                           "  (left out of latency)")]
          if result["config"]["mode"] == "open" and rate["send_lag_mean_ms"] is not None else []),
        ("errors", ", ".join(f"{k} {v:,}" for k, v in result["errors"].items()) or "none"),
        ("timeouts", f"{result['timeouts']:,}"),
        ("disconnects", f"{result['disconnects']:,}"),
        ("latency ms", _latency(lat)),
        ("receipts", f"{rec['matched']:,} of {rec['expected']:,} matched, "
                     f"{rec['never_receipted']:,} never, {rec['unmatched']:,} unmatched, "
                     f"{rec['duplicates']:,} duplicate"),
        ("receipt states", ", ".join(f"{k} {v:,}" for k, v in rec["by_stat"].items()) or "none"),
        ("receipt ms", _latency(rec["latency"])),
        ("MO received", f"{result['mo']:,}"),
        ("error rate", f"{result['error_rate']:.4%}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:>{width}}  {value}" for name, value in rows)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e3, 3)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _latency(summary: dict[str, Any]) -> str:
    if not summary["count"]:
        return "no samples"
    return "  ".join(f"{key[:-3]} {summary[key]:.2f}" for key in ("p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms"))


def progress_line(row: dict[str, Any], errors: dict[int, int], elapsed: float) -> str:
    """The live line: this second's rate and latency, errors so far by status."""
    errs = " ".join(f"{status_name(c)}={n}" for c, n in sorted(errors.items())) or "0"
    p50 = "-" if row["p50_ms"] is None else f"{row['p50_ms']:.2f}"
    p99 = "-" if row["p99_ms"] is None else f"{row['p99_ms']:.2f}"
    return (f"{elapsed:6.1f}s  sent {row['sent']:>8,}/s  ok {row['answered']:>8,}/s  "
            f"outstanding {row['outstanding']:>6,}  p50 {p50} p99 {p99} ms  "
            f"receipts {row['receipts']:>7,}/s  errors {errs}")


def write_json(result: dict[str, Any], path: str) -> None:
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


def write_plot(result: dict[str, Any], path: str) -> None:
    """Throughput and p50/p99 latency per second, one above the other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A last sliver of a second would plot its few counts as a spike or a dip in rate.
    series = [row for row in result["series"] if row["seconds"] >= 0.5] or result["series"]
    t = [row["t"] for row in series]
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    for key, label in (("sent", "sent/s"), ("answered", "answered ok/s"), ("receipts", "receipts/s")):
        if key != "receipts" or any(row["receipts"] for row in series):
            top.plot(t, [row[key] / row["seconds"] for row in series], label=label)
    top.set_ylabel("submit_sm per second")
    top.legend(loc="lower right")
    top.grid(True, alpha=0.3)
    for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
        bottom.plot(t, [row[key] for row in series], label=label)
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel("seconds")
    bottom.legend(loc="upper left")
    bottom.grid(True, alpha=0.3)
    config = result["config"]
    figure.suptitle(f"smsc load: {config['mode']} loop against {config['host']}:{config['port']} "
                    f"({result['implementation']})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
