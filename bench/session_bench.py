"""The sans-I/O Session's CPU per message of a full cycle, without sockets or a loop.

    python bench/session_bench.py [--messages 20000] [--batch 50] [--repeat 7]
    python bench/session_bench.py --against TREE [--rounds 5]   # alternating with another checkout

A full cycle makes 8 PDUs go through Sessions (4 on the client's connection, 4 on the
carrier's), as smsc's two adapters drive them: each read of `--batch` PDUs fed at once and
drained with `next_hot`, each reply sent with `send`:

- the client's connection (Role.SMSC): submit_sm in, submit_sm_resp out, deliver_sm (the
  receipt) out, deliver_sm_resp in;
- the carrier's link (Role.ESME): submit_sm out, submit_sm_resp in, deliver_sm in,
  deliver_sm_resp out.

The peers' bytes are encoded before the clock starts; the figure is the Sessions' own work
(framing, decode, state and window checks, numbering, encode) in us of CPU (process_time)
per message, best of `--repeat` timings. With --against, this script runs in turn with the
other tree's smsc on sys.path (PYTHONPATH), so only the Session and the codec differ.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from smsc.codec import pdu as pdu_codec
from smsc.smpp.events import NEED_DATA
from smsc.smpp.pdus import BindTransceiver, DeliverSm, DeliverSmResp, Pdu, SubmitSm, SubmitSmResp
from smsc.smpp.session import Session
from smsc.smpp.state import Role

TEXT = b"Your verification code is 482913. It expires in 10 minutes."
RECEIPT = b"id:5f2a9c01 sub:001 dlvrd:001 submit date:2611231200 done date:2611231201 stat:DELIVRD err:000 text:Your"


def submit(sequence: int) -> SubmitSm:
    return SubmitSm(sequence_number=sequence, source_addr="MyBrand", source_addr_ton=5, dest_addr_ton=1,
                    dest_addr_npi=1, destination_addr="447700900123", registered_delivery=1, short_message=TEXT)


def receipt(sequence: int) -> DeliverSm:
    return DeliverSm(sequence_number=sequence, source_addr="447700900123", dest_addr_ton=5,
                     destination_addr="MyBrand", esm_class=4, short_message=RECEIPT,
                     tlvs=((0x0427, 2), (0x001E, "5f2a9c01")))


def bound(role: Role, window: int) -> Session:
    """A bound transceiver session of `role` (the bind exchanged through it)."""
    session = Session(role, window=window, now=0.0)
    bind = BindTransceiver(sequence_number=1, system_id="bench", password="secret")
    if role is Role.ESME:
        session.send(bind)
        session.receive_data(pdu_codec.encode(bind.response(system_id="smsc")))
    else:
        session.receive_data(pdu_codec.encode(bind))
        session.next_hot()
        session.send(bind.response(system_id="smsc"))
    item = session.next_hot()
    assert item is NEED_DATA or type(item) is tuple, item
    return session


def drain(session: Session, data: bytes, now: float) -> int:
    session.receive_data(data, now=now)
    items = 0
    while (item := session.next_hot()) is not NEED_DATA:
        assert isinstance(item, Pdu) or type(item) is tuple, item  # no error, no unmatched response
        items += 1
    return items


def wire(messages: int, batch: int) -> dict[str, list[bytes]]:
    """The peers' reads, `batch` PDUs each. The sessions number their requests from 1 on
    (the client's) and from 2 on (the carrier's, after its bind): the answers are known in
    advance."""
    reads: dict[str, list[bytes]] = {"submits": [], "deliver_resps": [], "submit_resps": [], "receipts": []}
    for first in range(0, messages, batch):
        numbers = range(first + 2, min(first + batch, messages) + 2)
        reads["submits"].append(b"".join(pdu_codec.encode(submit(n)) for n in numbers))
        reads["deliver_resps"].append(b"".join(pdu_codec.encode(DeliverSmResp(n - 1)) for n in numbers))
        reads["submit_resps"].append(b"".join(pdu_codec.encode(SubmitSmResp(n, 0, f"c{n:08x}")) for n in numbers))
        reads["receipts"].append(b"".join(pdu_codec.encode(receipt(n)) for n in numbers))
    return reads


def cycle(messages: int, batch: int, reads: dict[str, list[bytes]]) -> float:
    """us of CPU per message for the 8 PDUs of `messages` full cycles."""
    client, carrier = bound(Role.SMSC, batch), bound(Role.ESME, batch)
    client_send, carrier_send = client.send, carrier.send
    out = submit(0)
    deliver = receipt(0)
    began = time.process_time()
    for i in range(len(reads["submits"])):
        now = float(i)
        requests: list[Any] = []
        client.receive_data(reads["submits"][i], now=now)
        while (item := client.next_hot()) is not NEED_DATA:
            requests.append(item)
        for request in requests:  # the answers after the commit, as the gateway builds them
            client_send(SubmitSmResp(request.sequence_number, 0, "00000001"), now=now)
        for _ in requests:
            carrier_send(out, now=now)
        drain(carrier, reads["submit_resps"][i], now)
        carrier.receive_data(reads["receipts"][i], now=now)
        receipts: list[Any] = []
        while (item := carrier.next_hot()) is not NEED_DATA:
            receipts.append(item)
        for request in receipts:
            carrier_send(DeliverSmResp(request.sequence_number), now=now)
        for _ in receipts:
            client_send(deliver, now=now)
        drain(client, reads["deliver_resps"][i], now)
    spent = time.process_time() - began
    assert client.outstanding == carrier.outstanding == 0 and not client.inbound_window_full
    return spent / messages * 1e6


def measure(messages: int, batch: int, repeat: int) -> dict[str, Any]:
    reads = wire(messages, batch)
    cycle(messages, batch, reads)  # warm
    times = [cycle(messages, batch, reads) for _ in range(repeat)]
    return {"us_per_message": round(min(times), 3), "median": round(statistics.median(times), 3),
            "codec": pdu_codec.__name__, "smsc": str(Path(sys.modules["smsc"].__file__).parent)}


def alternate(other: Path, rounds: int, options: list[str]) -> None:
    here = Path(__file__).resolve().parents[1]
    trees = {"against": other.resolve(), "this": here}
    runs: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            out = subprocess.run([sys.executable, __file__, *options, "--json"], cwd=tree, check=True,
                                 env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True)
            run = json.loads(out.stdout)
            assert run["smsc"] == str(tree / "smsc"), run
            runs[name].append(run["us_per_message"])
            print(name, run, flush=True)
    print(json.dumps({"medians_us_per_message": {k: statistics.median(v) for k, v in runs.items()},
                      "runs": runs, "load_average": os.getloadavg()[0]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=50, help="PDUs a read (and the windows)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--against", type=Path, metavar="TREE", help="alternate with this checkout")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args()
    if args.against:
        alternate(args.against, args.rounds, ["--messages", str(args.messages), "--batch", str(args.batch),
                                              "--repeat", str(args.repeat)])
        return
    result = measure(args.messages, args.batch, args.repeat)
    print(json.dumps(result) if args.json else f"{result['us_per_message']} us a message (8 PDUs), "
          f"median {result['median']}, {result['codec']}")


if __name__ == "__main__":
    main()
