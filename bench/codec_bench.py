"""PDU codec speed: encode, decode and encode+decode PDUs per second, side by side.

    python bench/codec_bench.py [--seconds 1.0] [--json PATH]

Codecs: smsc (Cython twin), smsc (pure-Python twin), smpp.pdu3 (Jasmin's), smpplib and
smpp34 (Rust-backed). PDUs: a typical submit_sm (about 170 octets, 2 TLVs) and a deliver_sm
delivery receipt (2 TLVs). Each codec works on its own objects and its own bytes, which
are checked to equal smsc's. One run; each figure is the best of 3 timings, in PDUs per
CPU second of this process (time.process_time): the 2-core machine is shared, and
wall-clock rates swing with whatever else runs on it.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
import warnings
from typing import Any, Callable

from smsc import codec
from smsc.smpp import pdus
from smsc.smpp.constants import Tag

TEXT = b"Your verification code is 482913. It expires in 10 minutes. Do not share it with anyone, we never ask."
RECEIPT = (b"id:5f2a9c01 sub:001 dlvrd:001 submit date:2611231200 done date:2611231201 "
           b"stat:DELIVRD err:000 text:Your verification")

SUBMIT = dict(
    sequence_number=1042, service_type="", source_addr_ton=5, source_addr_npi=0, source_addr="MyBrand",
    dest_addr_ton=1, dest_addr_npi=1, destination_addr="447700900123", esm_class=0, protocol_id=0, priority_flag=0,
    schedule_delivery_time="", validity_period="", registered_delivery=1, replace_if_present_flag=0, data_coding=0,
    sm_default_msg_id=0, short_message=TEXT,
)
SUBMIT_TLVS = ((Tag.USER_MESSAGE_REFERENCE, 42), (Tag.DESTINATION_PORT, 9200))
DELIVER = dict(SUBMIT, sequence_number=77, source_addr_ton=1, source_addr_npi=1, source_addr="447700900123",
               dest_addr_ton=5, dest_addr_npi=0, destination_addr="MyBrand", esm_class=4, registered_delivery=0,
               short_message=RECEIPT)
DELIVER_TLVS = ((Tag.MESSAGE_STATE, 2), (Tag.RECEIPTED_MESSAGE_ID, "5f2a9c01"))  # the order the others write


def ours(implementation: str, cls: type[pdus.Pdu], fields: dict, tlvs: tuple) -> tuple[Any, Callable, Callable]:
    twin = codec.load(implementation).pdu
    return cls(**fields, tlvs=tuple((int(t), v) for t, v in tlvs)), twin.encode, twin.decode


def pdu3(cls_name: str, fields: dict, tlvs: tuple) -> tuple[Any, Callable, Callable]:
    from smpp.pdu.pdu_encoding import PDUEncoder

    encoder = PDUEncoder()

    def decode(data: bytes) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints while parsing times
            return encoder.decode(io.BytesIO(data))

    # Built the way its users get them: decoded from the wire.
    wire = codec.load("python").pdu.encode(getattr(pdus, cls_name)(**fields, tlvs=tuple((int(t), v) for t, v in tlvs)))
    return decode(wire), encoder.encode, decode


def smpplib(command: str, fields: dict, tlvs: tuple) -> tuple[Any, Callable, Callable]:
    import smpplib.client
    import smpplib.smpp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = smpplib.client.Client("127.0.0.1", 0, allow_unknown_opt_params=True)  # never connected
    kwargs = {k: v for k, v in fields.items() if k != "sequence_number"}
    kwargs.update({Tag(t).name.lower(): v for t, v in tlvs})
    pdu = smpplib.smpp.make_pdu(command, client=client, **kwargs)
    pdu.sequence = fields["sequence_number"]
    return pdu, lambda p: p.generate(), lambda data: smpplib.smpp.parse_pdu(data, client=client)


def smpp34(cls_name: str, fields: dict, tlvs: tuple) -> tuple[Any, Callable, Callable]:
    import smpp34

    def raw(tag: int, value: Any) -> bytes:
        if isinstance(value, str):
            return value.encode("latin-1") + b"\0"
        return value.to_bytes(2 if tag in (Tag.USER_MESSAGE_REFERENCE, Tag.DESTINATION_PORT) else 1, "big")

    kwargs = dict(fields)
    pdu = getattr(smpp34, cls_name)(kwargs.pop("source_addr"), kwargs.pop("destination_addr"), kwargs.pop("short_message"),
                                    tlvs=[smpp34.Tlv(int(t), raw(t, v)) for t, v in tlvs], **kwargs)
    return pdu, lambda p: p.encode(), smpp34.decode


def rate(operation: Callable[[], Any], seconds: float, repeats: int = 3) -> float:
    """Operations per CPU second: the best of `repeats` timings of about `seconds` / 3
    each, after a short calibration (as timeit takes the minimum: slower runs measure the
    neighbours, not the code)."""
    n, elapsed = 10, 0.0
    while elapsed < seconds / 30:
        n *= 2
        start = time.process_time()
        for _ in range(n):
            operation()
        elapsed = time.process_time() - start
    n = max(1, int(n * seconds / repeats / elapsed))
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(n):
            operation()
        best = min(best, time.process_time() - start)
    return n / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement (default 1.0)")
    parser.add_argument("--json", metavar="PATH", help="write the figures to PATH as JSON")
    args = parser.parse_args()

    cases = {
        "submit_sm": ("SubmitSm", "submit_sm", SUBMIT, SUBMIT_TLVS),
        "deliver_sm receipt": ("DeliverSm", "deliver_sm", DELIVER, DELIVER_TLVS),
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    for case, (cls_name, command, fields, tlvs) in cases.items():
        reference = codec.load("python").pdu.encode(getattr(pdus, cls_name)(**fields, tlvs=tuple((int(t), v) for t, v in tlvs)))
        print(f"\n{case}: {len(reference)} octets on the wire")
        print(f"  {'codec':<14}{'encode/s':>12}{'decode/s':>12}{'enc+dec/s':>12}  same bytes as smsc")
        codecs = {
            "smsc cython": ours("cython", getattr(pdus, cls_name), fields, tlvs),
            "smsc python": ours("python", getattr(pdus, cls_name), fields, tlvs),
            "smpp.pdu3": pdu3(cls_name, fields, tlvs),
            "smpplib": smpplib(command, fields, tlvs),
            "smpp34": smpp34(cls_name, fields, tlvs),
        }
        results[case] = {}
        for name, (pdu, encode, decode) in codecs.items():
            wire = encode(pdu)
            figures = {
                "encode": rate(lambda: encode(pdu), args.seconds),
                "decode": rate(lambda: decode(wire), args.seconds),
                "encode+decode": rate(lambda: decode(encode(pdu)), args.seconds),
            }
            results[case][name] = figures
            print(f"  {name:<14}{figures['encode']:>12,.0f}{figures['decode']:>12,.0f}"
                  f"{figures['encode+decode']:>12,.0f}  {'yes' if wire == reference else 'no'}")
        both = {name: f["encode+decode"] for name, f in results[case].items()}
        print(f"  smsc cython / smpp34 (encode+decode): {both['smsc cython'] / both['smpp34']:.2f}x;"
              f" smsc python / smpp.pdu3: {both['smsc python'] / both['smpp.pdu3']:.1f}x")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
