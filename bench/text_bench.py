"""Text encoding and segmentation: strings per second, side by side, in one run.

    python bench/text_bench.py [--json PATH] [--seconds 0.2] [--repeats 5]

Rows (each a fixed input, see CASES):
  encode 160 ASCII / encode 160 mixed GSM   GSM-7 encode of one text
  choose+encode 70 UCS-2                    pick the encoding (GSM-7 fails) and encode
  split 600 mixed GSM                       pick, encode and cut into UDH parts
Columns: smsc cython twin, smsc python twin, the gsm0338 codec (what Jasmin uses) and
smpplib's gsm module, each doing the same job its own way (for the last two rows the
baselines fall back to UTF-16 / cut into 153-septet parts with a UDH as those projects
do). Not a test: it prints figures, checks the targets and says which were missed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from smpplib import gsm as smpplib_gsm

from smsc.codec import load_twin, segmentation

ASCII_160 = ("Your code is 482913. It expires in 10 minutes. Reply STOP to opt out of "
             "messages from Example Ltd. Thanks for using our service, see you soon!!")[:160].ljust(160, ".")
MIXED_160 = ("Grüße aus Köln! Ärger? Öl für 12€ @ £5 – nein: Zürich/Ünye, äöü [ok] "
             "Ihr Code: 4821. Antworten Sie STOP. Preis 3€ @ Café Müller; Ö-Ticket ÄÖÜ äöü")
MIXED_160 = MIXED_160.replace("–", "-")[:160].ljust(160, ".")
UCS2_70 = ("Ваш код подтверждения: 482913. Никому его не сообщайте. Спасибо!"[:70]).ljust(70, "!")
SPLIT_600 = (MIXED_160 * 4)[:600]

TARGETS = {  # case: (minimum cython strings/s, minimum ratio to gsm0338)
    "encode 160 ASCII": (1_500_000, 20),
    "encode 160 mixed GSM": (500_000, 20),
    "split 600 mixed GSM": (150_000, 20),
}


def _gsm0338_split(text: str) -> list[bytes]:
    # Jasmin-style: encode with the codec, fall back to UTF-16, cut and add a UDH.
    try:
        data, room = text.encode("gsm03.38"), 153
    except UnicodeError:
        data, room = text.encode("utf-16-be"), 134
    if len(data) <= (160 if room == 153 else 140):
        return [data]
    chunks = [data[i:i + room] for i in range(0, len(data), room)]
    return [bytes((5, 0, 3, 1, len(chunks), n)) + c for n, c in enumerate(chunks, 1)]


def _implementations():
    cython = load_twin("text", "cython")
    python = load_twin("text", "python")
    options = segmentation.TextOptions()

    def smsc_split(twin):
        return lambda text: segmentation.split(text, options, 1, twin=twin)

    return {
        "encode 160 ASCII": (ASCII_160, {
            "smsc cython": cython.encode_gsm,
            "smsc python": python.encode_gsm,
            "gsm0338": lambda t: t.encode("gsm03.38"),
            "smpplib gsm": smpplib_gsm.gsm_encode,
        }),
        "encode 160 mixed GSM": (MIXED_160, {
            "smsc cython": cython.encode_gsm,
            "smsc python": python.encode_gsm,
            "gsm0338": lambda t: t.encode("gsm03.38"),
            "smpplib gsm": smpplib_gsm.gsm_encode,
        }),
        "choose+encode 70 UCS-2": (UCS2_70, {
            "smsc cython": smsc_split(cython),
            "smsc python": smsc_split(python),
            "gsm0338": _gsm0338_split,
            "smpplib gsm": smpplib_gsm.make_parts,
        }),
        "split 600 mixed GSM": (SPLIT_600, {
            "smsc cython": smsc_split(cython),
            "smsc python": smsc_split(python),
            "gsm0338": _gsm0338_split,
            "smpplib gsm": smpplib_gsm.make_parts,
        }),
    }


def rate(function, argument, seconds: float, repeats: int = 5) -> float:
    """Calls per second: the best of `repeats` timed runs of about `seconds` each (the
    best, as timeit advises: slower runs measure the other jobs on the machine)."""
    calls = 1
    while True:  # calibrate a batch to ~1/10 of the time
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        if time.perf_counter() - start > seconds / 10:
            break
        calls *= 2
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls * 10):
            function(argument)
        best = max(best, calls * 10 / (time.perf_counter() - start))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--seconds", type=float, default=0.2, help="time per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell (best kept)")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    columns = ["smsc cython", "smsc python", "gsm0338", "smpplib gsm"]
    print(f"{'strings/s':24}" + "".join(f"{c:>14}" for c in columns) + f"{'x gsm0338':>11}")
    for case, (text, implementations) in _implementations().items():
        row = results[case] = {name: rate(f, text, args.seconds, args.repeats)
                               for name, f in implementations.items()}
        ratio = row["smsc cython"] / row["gsm0338"]
        print(f"{case:24}" + "".join(f"{row[c]:>14,.0f}" for c in columns) + f"{ratio:>10.0f}x")
    missed = [
        f"{case}: {results[case]['smsc cython']:,.0f}/s (target {floor:,}/s), "
        f"{results[case]['smsc cython'] / results[case]['gsm0338']:.0f}x gsm0338 (target {times}x)"
        for case, (floor, times) in TARGETS.items()
        if results[case]["smsc cython"] < floor or results[case]["smsc cython"] < times * results[case]["gsm0338"]
    ]
    print("targets: " + ("all met" if not missed else "MISSED " + "; ".join(missed)))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"results": results, "missed": missed}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
