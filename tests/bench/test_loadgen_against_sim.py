"""The load generator against the carrier simulator, both for real on 127.0.0.1."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from smsc.bench import loadgen
from smsc.bench.carrier_sim import Behaviour
from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_messages import MessageSpec
from smsc.bench.loadgen_report import write_json, write_plot

from tests.bench.conftest import running_sim

MIX = (MessageSpec("short", weight=3), MessageSpec("long", concatenation="udh"),
       MessageSpec("long", concatenation="sar"), MessageSpec("long", concatenation="payload"),
       MessageSpec("ucs2"))


def _config(sim, **settings) -> LoadConfig:
    base = LoadConfig(port=sim.port, duration=1.0, receipt_wait=3.0, response_timeout=3.0, window=50)
    return replace(base, **settings)


@pytest.mark.parametrize("runtime", ["asyncio", "trio"])
def test_closed_loop_every_submit_answered_and_every_receipt_matched(runtime):
    with running_sim(Behaviour(receipts=True, receipt_delay=0.05, receipt_distribution="uniform",
                               undeliv_share=0.1, expired_share=0.1, seed=1)) as sim:
        result = loadgen.run(_config(sim, messages=MIX, count=3000, duration=0, binds=2), runtime=runtime,
                             progress=False)
    counters = sim.counters
    assert result["sent"] == 3000 == counters["submit_sm"] == counters["submit_sm_resp_ok"]
    assert result["answered"] == 3000 and result["error_total"] == 0 and result["timeouts"] == 0
    receipts = result["receipts"]
    assert receipts["expected"] == receipts["matched"] == 3000 == counters["deliver_sm"]
    assert counters["deliver_sm_resp"] == 3000
    assert receipts["never_receipted"] == receipts["unmatched"] == receipts["duplicates"] == 0
    assert receipts["by_stat"] == {"DELIVRD": sim.receipt_states["DELIVERED"],
                                   "EXPIRED": sim.receipt_states["EXPIRED"],
                                   "UNDELIV": sim.receipt_states["UNDELIVERABLE"]}
    assert 0 < receipts["by_stat"]["UNDELIV"] < 600
    # receipts came 0..0.1 s after the submit
    assert 0 < receipts["latency"]["p50_ms"] < 150 and result["latency"]["count"] == 3000
    assert counters["unbinds"] == 2


@pytest.mark.parametrize("runtime", ["asyncio", "trio"])
def test_open_loop_holds_the_target_rate(runtime):
    with running_sim() as sim:
        result = loadgen.run(_config(sim, mode="open", rate=4000, duration=2.0, receipt_wait=0,
                                     messages=(MessageSpec(registered_delivery=0),)), runtime=runtime,
                             progress=False)
    assert result["rate"]["target_per_s"] == 4000
    assert result["sent"] == pytest.approx(8000, rel=0.05)
    assert result["rate"]["sent_per_s"] == pytest.approx(4000, rel=0.05)
    assert result["answered"] == result["sent"] == sim.counters["submit_sm"]
    # per second too (looser: a stall of this shared machine moves a few across a boundary)
    assert [row["sent"] for row in result["series"][:2]] == [pytest.approx(4000, rel=0.1)] * 2


def test_linear_ramp_sends_the_integral():
    with running_sim() as sim:
        result = loadgen.run(_config(sim, mode="open", rate=1000, rate_to=3000, ramp="linear",
                                     duration=2.0, receipt_wait=0), progress=False)
    assert result["sent"] == pytest.approx(4000, rel=0.05)  # the mean of 1000 and 3000, for 2 s
    first, second = result["series"][0]["sent"], result["series"][1]["sent"]
    assert first == pytest.approx(1500, rel=0.15) and second == pytest.approx(2500, rel=0.15)


DOCUMENTED = {"implementation", "config", "elapsed_s", "sending_s", "cpu_s", "sent", "answered", "errors",
              "error_total", "timeouts", "disconnects", "rate", "latency", "receipts", "mo", "error_rate",
              "series"}


def test_json_and_png(tmp_path):
    with running_sim(Behaviour(receipts=True)) as sim:
        result = loadgen.run(_config(sim, count=500, duration=0), progress=False)
    write_json(result, str(tmp_path / "run.json"))
    write_plot(result, str(tmp_path / "run.png"))
    written = json.loads((tmp_path / "run.json").read_text())
    assert set(written) == DOCUMENTED
    assert set(written["latency"]) == {"count", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms"}
    assert set(written["series"][0]) == {"t", "seconds", "sent", "answered", "errors", "receipts", "mo",
                                         "outstanding", "p50_ms", "p99_ms"}
    assert "password" not in written["config"]
    png = (tmp_path / "run.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    import matplotlib.pyplot as plt

    image = plt.imread(tmp_path / "run.png")
    assert image.shape[0] > 100 and image.shape[1] > 100


def _smsc(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smsc", *args], capture_output=True, text=True, timeout=timeout)


def _sim_process(*args: str) -> tuple[subprocess.Popen[str], int]:
    sim = subprocess.Popen([sys.executable, "-m", "smsc", "carrier-sim", "--port", "0", "--duration", "20", *args],
                           stdout=subprocess.PIPE, text=True)
    line = sim.stdout.readline()
    assert line.startswith("carrier-sim listening on 127.0.0.1:"), line
    return sim, int(line.rsplit(":", 1)[1])


def test_command_line_end_to_end(tmp_path):
    sim, port = _sim_process("--receipts", "--receipt-delay", "0.01")
    try:
        done = _smsc("load", "--port", str(port), "--count", "400", "--window", "20", "--message", "short",
                     "--message", "long", "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png"),
                     "--max-error-rate", "0")
    finally:
        sim.terminate()
        out, _ = sim.communicate(timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # not a terminal: no progress line
    assert "answered ok" in done.stdout and "receipts" in done.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["sent"] == result["answered"] == result["receipts"]["matched"] == 400
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    counters = dict(line.split() for line in out.splitlines()[1:] if len(line.split()) == 2)
    assert counters["submit_sm"] == counters["deliver_sm"] == counters["deliver_sm_resp"] == "400"


def test_command_line_fails_over_the_error_threshold():
    sim, port = _sim_process("--error", "ESME_RSYSERR=0.3", "--seed", "7")
    try:
        done = _smsc("load", "--port", str(port), "--count", "300", "--max-error-rate", "0.1",
                     "--registered-delivery", "0", "--message", "short")
    finally:
        sim.terminate()
        sim.communicate(timeout=10)
    assert done.returncode == 1
    assert "ESME_RSYSERR" in done.stdout and "over" in done.stderr


def test_command_line_unreachable_target_exits_2():
    with running_sim() as sim:
        port = sim.port  # free once the simulator is gone
    done = _smsc("load", "--port", str(port), "--count", "10")
    assert done.returncode == 2 and "smsc load" in done.stderr


@pytest.fixture
def certificate(tmp_path):
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return str(cert), str(key)


@pytest.mark.parametrize("runtime", ["asyncio", "trio"])
def test_over_tls(certificate, runtime):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with running_sim(Behaviour(receipts=True), ssl=context) as sim:
        config = _config(sim, count=200, duration=0, tls=True, tls_verify=False)
        result = loadgen.run(config, runtime=runtime, progress=False)
        with pytest.raises(loadgen.TargetError, match="TLS"):  # a self-signed certificate does not verify
            loadgen.run(replace(config, tls_verify=True), runtime=runtime, progress=False)
    assert result["sent"] == result["answered"] == result["receipts"]["matched"] == 200


@pytest.mark.parametrize("runtime", ["asyncio", "trio"])
def test_ctrl_c_stops_and_reports_what_it_has(tmp_path, runtime):
    import os
    import pty
    import signal
    import time

    sim, port = _sim_process("--receipts", "--receipt-delay", "30")  # receipts that never come in time
    terminal, terminal_end = pty.openpty()  # stderr on a terminal: the live progress line
    try:
        load = subprocess.Popen([sys.executable, "-m", "smsc", "load", "--port", str(port), "--duration", "60",
                                 "--mode", "open", "--rate", "500", "--json", str(tmp_path / "r.json"),
                                 "--runtime", runtime],
                                stdout=subprocess.PIPE, stderr=terminal_end, text=True)
        os.close(terminal_end)
        time.sleep(3.0)  # past the first whole second of sending, even on a slow start
        load.send_signal(signal.SIGINT)
        out, _ = load.communicate(timeout=10)
        progress = os.read(terminal, 65536).decode()
    finally:
        os.close(terminal)
        sim.terminate()
        sim.communicate(timeout=10)
    assert load.returncode == 0
    assert progress.startswith("\r") and "sent" in progress and "p99" in progress and "outstanding" in progress
    result = json.loads((tmp_path / "r.json").read_text())
    assert 50 < result["sent"] < 2000 and result["answered"] == result["sent"]
    assert result["receipts"]["never_receipted"] == result["sent"]
    assert len(result["receipts"]["never_receipted_ids"]) == 100
    assert "answered ok" in out


@pytest.mark.parametrize("runtime", ["asyncio", "trio"])
def test_a_server_that_loses_its_framing_is_a_disconnect_not_a_crash(runtime):
    import socket
    import struct
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def serve_once() -> None:
        connection, _ = listener.accept()
        with connection:
            _, command, _, sequence = struct.unpack(">IIII", connection.recv(16))
            connection.recv(4096)
            body = b"broken\0"
            connection.sendall(struct.pack(">IIII", 16 + len(body), command | 0x80000000, 0, sequence) + body)
            connection.recv(4096)  # the first submits
            connection.sendall(struct.pack(">IIII", 0xFFFFFFF0, 0x80000004, 0, 2))
            connection.recv(4096)

    server = threading.Thread(target=serve_once, daemon=True)
    server.start()
    config = LoadConfig(port=listener.getsockname()[1], count=50, duration=0, receipt_wait=0, window=5,
                        messages=(MessageSpec(registered_delivery=0),))
    result = loadgen.run(config, runtime=runtime, progress=False)
    server.join(timeout=5)
    listener.close()
    assert result["disconnects"] == 1 and result["answered"] == 0 and result["timeouts"] == result["sent"] == 5


def test_open_loop_count_shared_by_binds_ends_the_run():
    with running_sim() as sim:
        result = loadgen.run(_config(sim, mode="open", rate=2000, binds=3, count=100, duration=0, receipt_wait=0),
                             progress=False)
    assert result["sent"] == result["answered"] == 100 == sim.counters["submit_sm"]
    assert result["sending_s"] == pytest.approx(0.05, abs=0.03)
