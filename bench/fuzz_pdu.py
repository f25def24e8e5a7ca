"""PDU decoder fuzzing: decode must return a Pdu or raise an SmppError, nothing else, and
the Cython and pure-Python twins must give the same answer.

    python bench/fuzz_pdu.py [--inputs 100000] [--seed 1]

Inputs, in equal shares: valid PDUs of every class built from random field values (and
re-encoded by both twins, which must write the same bytes), those PDUs damaged (octets
changed, cut, inserted, duplicated, command_id swapped, command_length patched or not),
random bodies behind a valid header, and random bytes (half with a matching
command_length). Prints counts per kind of input
and outcome; exits 1 on any other exception or any disagreement between the twins.
"""
from __future__ import annotations

import argparse
import random
import struct
import time
from collections import Counter
from typing import Any, Callable

from smsc import codec
from smsc.smpp import pdus
from smsc.smpp.constants import TLV_SPEC, TlvType
from smsc.smpp.errors import SmppError
from smsc.smpp.pdus import Field, Kind

CLASSES = list(pdus.PDU_CLASSES.values())
COMMAND_IDS = list(pdus.PDU_CLASSES)


class Generator:
    """Random valid field values, read from pdus.BODY and TLV_SPEC."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def text(self, max_length: int) -> str:
        return "".join(chr(self.rnd.randint(1, 255)) for _ in range(self.rnd.randint(0, max_length)))

    def time(self) -> str:
        r = self.rnd
        return r.choice([
            "",
            f"{r.randint(0, 99):02d}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 23):02d}"
            f"{r.randint(0, 59):02d}{r.randint(0, 59):02d}{r.randint(0, 9)}{r.randint(0, 48):02d}{r.choice('+-')}",
            f"{r.randint(0, 10**12 - 1):012d}000R",
        ])

    def value(self, field: Field) -> Any:
        r = self.rnd
        if field.kind is Kind.U8:
            return r.choice(sorted(field.allowed)) if field.allowed is not None else r.randrange(256)
        if field.kind is Kind.CSTR:
            return self.text(min(field.size - 1, 24))
        if field.kind is Kind.TIME:
            return self.time()
        if field.kind is Kind.SHORT_MESSAGE:
            return r.randbytes(r.choice([0, 5, 70, 160, 254]))
        if field.kind is Kind.DEST_ADDRESSES:
            return tuple(self.sme_address() if r.random() < 0.7 else pdus.DistributionList(self.text(20))
                         for _ in range(r.randint(1, 5)))
        return tuple(pdus.UnsuccessSme(*self.sme_address_fields(), r.randrange(1 << 32)) for _ in range(r.randint(0, 4)))

    def sme_address_fields(self) -> tuple[int, int, str]:
        return self.rnd.randint(0, 6), self.rnd.choice(sorted(pdus.NPI_VALUES)), self.text(20)

    def sme_address(self) -> pdus.SmeAddress:
        return pdus.SmeAddress(*self.sme_address_fields())

    def tlv(self) -> tuple[int, Any]:
        r = self.rnd
        if r.random() < 0.2:
            return r.randrange(0x1400, 0x4000), r.randbytes(r.randint(0, 12))
        tag = r.choice(list(TLV_SPEC))
        kind, low, high = TLV_SPEC[tag]
        if kind in (TlvType.INT1, TlvType.INT2, TlvType.INT4):
            return tag, r.randrange(1 << (8 * high))
        if kind == TlvType.CSTR:
            return tag, self.text(min(high - 1, 30))[: high - 1] or "x" * (low - 1)
        if kind == TlvType.EMPTY:
            return tag, None
        return tag, r.randbytes(r.randint(low, min(high, 40)))

    def pdu(self) -> pdus.Pdu:
        cls = self.rnd.choice(CLASSES)
        fields = {f.name: self.value(f) for f in cls.BODY}
        if cls.HAS_TLVS:
            fields["tlvs"] = tuple(self.tlv() for _ in range(self.rnd.randint(0, 4)))
        status = 0 if cls.BODY_OPTIONAL_ON_ERROR and self.rnd.random() < 0.8 else self.rnd.randrange(0x100)
        return cls(sequence_number=self.rnd.randrange(1 << 32), command_status=status, **fields)


def damage(wire: bytes, rnd: random.Random) -> bytes:
    data = bytearray(wire)
    for _ in range(rnd.randint(1, 4)):
        action = rnd.randrange(6)
        at = rnd.randrange(16, len(data) + 1)
        if action == 0 and at < len(data):
            data[at] = rnd.randrange(256)
        elif action == 1:
            del data[at:]
        elif action == 2:
            data[at:at] = rnd.randbytes(rnd.randint(1, 8))
        elif action == 3:
            data[at:at] = data[16:at][-rnd.randint(1, 20):]
        elif action == 4:
            data[4:8] = rnd.choice(COMMAND_IDS).to_bytes(4, "big")
        else:
            data[at:at] = bytes([0xFF]) * rnd.randint(1, 3)
    if rnd.random() < 0.9:
        data[0:4] = len(data).to_bytes(4, "big")
    return bytes(data)


def outcome(decode: Callable[[bytes], Any], data: bytes) -> tuple[str, Any]:
    """("pdu", the PDU) or ("SmppError subclass name", the error); anything else propagates."""
    try:
        return "pdu", decode(data)
    except SmppError as error:
        return type(error).__name__, error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="how many inputs (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    generate = Generator(rnd)
    native, pure = codec.load("cython").pdu, codec.load("python").pdu
    counts: Counter[tuple[str, str]] = Counter()
    failures = 0
    started = time.perf_counter()

    def check(kind: str, data: bytes) -> None:
        nonlocal failures
        try:
            native_result, pure_result = outcome(native.decode, data), outcome(pure.decode, data)
        except Exception as exc:  # the property under test: nothing but SmppError escapes
            failures += 1
            print(f"FAIL {kind}: {type(exc).__name__}: {exc} on {data.hex()}")
            return
        if native_result != pure_result:
            failures += 1
            print(f"DISAGREE {kind}: cython {native_result} / python {pure_result} on {data.hex()}")
        counts[kind, native_result[0]] += 1

    for i in range(args.inputs):
        kind = ("valid", "damaged", "random body", "random bytes")[i % 4]
        if kind in ("valid", "damaged"):
            pdu = generate.pdu()
            wire = pure.encode(pdu)
            if native.encode(pdu) != wire:
                failures += 1
                print(f"DISAGREE encode: {pdu!r}")
            check(kind, wire if kind == "valid" else damage(wire, rnd))
        elif kind == "random body":
            body = rnd.randbytes(rnd.choice([0, 1, 5, 30, 120, 300]))
            check(kind, struct.pack(">IIII", 16 + len(body), rnd.choice(COMMAND_IDS), rnd.choice([0, 0x58]), 1) + body)
        else:
            data = rnd.randbytes(rnd.randint(0, 64))
            if rnd.random() < 0.5:  # let half of them past the command_length check
                data = len(data).to_bytes(4, "big") + data[4:]
            check(kind, data)

    elapsed = time.perf_counter() - started
    print(f"{args.inputs:,} inputs, each decoded by both twins, in {elapsed:.1f} s (seed {args.seed})")
    for (kind, result), count in sorted(counts.items()):
        print(f"  {kind:<13} {result:<22} {count:>8,}")
    print(f"other exceptions or disagreements: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
