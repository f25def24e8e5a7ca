"""[http] workers = 2: the API served by two worker processes (smsc.http.pool,
smsc.http.worker) in front of the gateway's process, over real sockets. Which worker
serves a connection is found from the kernel's socket tables, so "through the other
worker" is checked, not assumed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from smsc.config import Compliance, ConfigError, parse
from smsc.http import keys
from tests.http.conftest import Api, HttpServer, account, http_config, wait_for
from tests.integration.conftest import password_hash

WORKERS = 2
SEND = {"to": "+447700900001", "from": "Shop", "text": "Your code is 1234"}


def workers_config(tmp_path, *accounts, **http):
    return http_config(tmp_path, *accounts, workers=WORKERS, **http)


def worker_pids(server: HttpServer) -> list[int]:
    return [worker.process.pid for worker in server.runtime.http.pool.workers]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def serving_pid(api: Api, pids: list[int]) -> int | None:
    """The process among `pids` holding the server's end of `api`'s connection."""
    client_port = api.conn.sock.getsockname()[1]
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == api.port and int(remote.split(":")[1], 16) == client_port:
                inode = fields[9]
    return next((pid for pid in pids if inode in _socket_inodes(pid)), None)


def one_on_each_worker(server: HttpServer, account_name: str = "shop") -> list[Api]:
    """A keep-alive connection served by each worker (new connections until each has one)."""
    path = keys.keys_path(server.runtime.config.store.path, server.runtime.config.http.api_keys)
    _, key = keys.create(path, account_name)
    pids, found = worker_pids(server), {}
    for _ in range(64):  # the kernel hashes each connection to a worker: 2**-63 to miss one
        api = Api(server.http_port, key)
        assert api.get("/healthz")[0] == 200
        found.setdefault(serving_pid(api, pids), api)
        if all(pid in found for pid in pids):
            return [found[pid] for pid in pids]
    raise AssertionError(f"connections reached only {sorted(found, key=str)} of {pids}")


@pytest.mark.parametrize("value", ["-1", "65", '"two"'])
def test_a_bad_workers_count_is_refused_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"http\.workers"):
        parse(f"[http]\nworkers = {value}\n")
    assert parse("[http]\nworkers = 2\n").http.workers == 2 and parse("").http.workers == 0


def test_a_send_through_one_worker_is_committed_and_seen_through_the_other(serve_http, tmp_path):
    server = serve_http(workers_config(tmp_path))
    first, second = one_on_each_worker(server)
    status, body, _ = first.post("/v1/messages", SEND | {"to": ["+447700900001", "+447700900002"]})
    assert status == 201 and [m["to"] for m in body["messages"]] == ["447700900001", "447700900002"]
    assert (body["encoding"], body["parts"], body["rejected"]) == ("gsm7", 1, [])
    ids = [message["id"] for message in body["messages"]]
    stored = [server.call(server.store.get(message_id)) for message_id in ids]  # committed before the 201
    assert [(m.account, m.source, m.destination) for m in stored] == [
        ("shop", "Shop", "447700900001"), ("shop", "Shop", "447700900002")]
    status, view, _ = second.get(f"/v1/messages/{ids[0]}")
    assert status == 200 and view["id"] == ids[0] and view["state"] == "enroute" and view["from"] == "Shop"
    # Counted once, wherever answered: the workers' counts reach the gateway's /metrics.
    text = second.get("/metrics")[1]
    assert 'smsc_http_requests_total{route="/v1/messages",status="201"} 1.0' in text
    assert 'smsc_http_requests_total{route="/v1/messages/{id}",status="200"} 1.0' in text
    assert 'smsc_messages_accepted_total{account="shop",channel="http"} 2.0' in text
    assert 'smsc_submit_response_seconds_count{channel="http"} 1.0' in text


def test_refusals_made_by_a_worker_are_the_in_process_ones(serve_http, tmp_path):
    server = serve_http(workers_config(tmp_path, account("shop", allowed_sources=("Shop",))))
    api, _ = one_on_each_worker(server)
    status, body, headers = Api(server.http_port, "sk_wrong").post("/v1/messages", SEND)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    status, body, _ = api.post("/v1/messages", SEND | {"from": "Other"})
    assert status == 403 and body["error"] == {"code": "sender_not_allowed", "field": "from",
                                               "message": "sender 'Other' is not allowed for this account"}
    status, body, _ = api.post("/v1/messages", SEND | {"colour": "red"})
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid_field", "colour")
    assert api.post("/v1/messages", raw=b"{")[1]["error"]["code"] == "invalid_json"


def test_an_optout_added_through_the_api_refuses_the_next_promotional_send_through_a_worker(
        serve_http, tmp_path):
    server = serve_http(workers_config(tmp_path, compliance=Compliance(quiet_start="00:00", quiet_end="00:00")))
    first, second = one_on_each_worker(server)
    promotional = SEND | {"category": "promotional"}
    assert first.post("/v1/messages", promotional)[0] == 201
    assert second.post("/v1/optouts", {"handset": "+447700900001"})[0] == 201
    for api in (first, second):
        status, body, _ = api.post("/v1/messages", promotional)
        assert status == 403 and body["error"]["code"] == "recipient_opted_out" and body["error"]["field"] == "to"
        status, body, _ = api.post("/v1/messages", promotional | {"to": ["+447700900001", "+447700900002"]})
        assert status == 201 and [m["to"] for m in body["messages"]] == ["447700900002"]
        assert [r["to"] for r in body["rejected"]] == ["447700900001"]
    assert first.post("/v1/messages", SEND)[0] == 201  # transactional: allowed by default


def test_an_idempotent_retry_through_either_worker_sends_once(serve_http, tmp_path):
    server = serve_http(workers_config(tmp_path))
    first, second = one_on_each_worker(server)
    headers = {"Idempotency-Key": "order-17"}
    status, body, _ = first.post("/v1/messages", SEND, headers=headers)
    assert status == 201
    status, again, answer_headers = second.post("/v1/messages", SEND, headers=headers)
    assert status == 201 and again == body and answer_headers["Idempotent-Replayed"] == "true"
    status, other, _ = second.post("/v1/messages", SEND | {"text": "another"}, headers=headers)
    assert status == 422 and other["error"]["code"] == "idempotency_key_reused"
    assert [m["id"] for m in first.get("/v1/messages")[1]["messages"]] == [body["messages"][0]["id"]]
    # client_ref sends go through the gateway's process too, and are found by it
    status, body, _ = second.post("/v1/messages", SEND | {"client_ref": "r-1"})
    assert status == 201
    found = first.get("/v1/messages?client_ref=r-1")[1]["messages"]
    assert [m["id"] for m in found] == [body["messages"][0]["id"]]


def test_the_account_rate_holds_across_workers(serve_http, tmp_path):
    rate = 5.0  # segments a second, and a bucket of 5 to start with
    server = serve_http(workers_config(tmp_path, account("shop", rate=rate)))
    first, second = one_on_each_worker(server)
    started = time.monotonic()
    statuses = [api.post("/v1/messages", SEND)[0] for _ in range(10) for api in (first, second)]
    elapsed = time.monotonic() - started
    accepted = statuses.count(201)
    # One bucket: 5 plus what refilled meanwhile. A bucket per worker would let 10 and more through.
    assert rate <= accepted <= rate + rate * elapsed + 1, (accepted, elapsed)
    assert statuses.count(429) == len(statuses) - accepted
    assert 'smsc_throttled_total{channel="http",name="shop"}' in first.get("/metrics")[1]


def test_a_reload_reaches_the_workers(serve_http, tmp_path):
    config = workers_config(tmp_path)
    server = serve_http(config)
    apis = one_on_each_worker(server)
    assert all(api.post("/v1/messages", SEND)[0] == 201 for api in apis)
    only_other = msgspec.structs.replace(config, accounts=(account("shop", allowed_sources=("Other",)),))
    server.call(server.runtime.apply(only_other))
    for api in apis:
        wait_for(lambda: api.post("/v1/messages", SEND)[0] == 403)
        assert api.post("/v1/messages", SEND | {"from": "Other"})[0] == 201


def test_a_killed_worker_is_started_again(serve_http, tmp_path):
    server = serve_http(workers_config(tmp_path))
    first, second = one_on_each_worker(server)
    victim = worker_pids(server)[0]
    os.kill(victim, signal.SIGKILL)
    pool = server.runtime.http.pool
    wait_for(lambda: pool.restarts == 1 and victim not in worker_pids(server)
             and all(pool_worker.channel.ready.done() for pool_worker in pool.workers), timeout=30)
    assert all(os.path.exists(f"/proc/{pid}") for pid in worker_pids(server))
    # The survivor kept its connection; new connections reach both, the new worker too.
    assert second.post("/v1/messages", SEND)[0] == 201
    assert all(api.post("/v1/messages", SEND)[0] == 201 for api in one_on_each_worker(server))


def test_a_worker_that_does_not_end_is_killed_at_stop(serve_http, tmp_path, monkeypatch):
    server = serve_http(workers_config(tmp_path))
    hung, other = worker_pids(server)
    os.kill(hung, signal.SIGSTOP)  # deaf to SIGTERM until killed
    monkeypatch.setattr("smsc.http.pool.STOP_TIMEOUT", 1.0)
    started = time.monotonic()
    server.__exit__(None, None, None)
    assert time.monotonic() - started < 8
    assert not any(os.path.exists(f"/proc/{pid}") for pid in (hung, other))


CONFIG = f"""
[[smpp.listeners]]
port = 0
[http]
enabled = true
port = 0
workers = {WORKERS}
[[accounts]]
system_id = "shop"
password_hash = "{password_hash("secret1")}"
"""


class Serving:
    """`smsc serve -c FILE` with [http] workers = 2, its log in a file."""

    def __init__(self, tmp_path: Path) -> None:
        file = tmp_path / "smsc.toml"
        file.write_text(CONFIG)
        self.state = tmp_path / "state"
        env = {**os.environ, "SMSC_STATE_DIR": str(self.state)}
        env.pop("PYTEST_CURRENT_TEST", None)
        self.log = tmp_path / "serve.log"
        with open(self.log, "w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "smsc", "serve", "-c", str(file)], stdout=out,
                                            stderr=subprocess.STDOUT, env=env)
        line = wait_for(lambda: next((line for line in self.log.read_text().splitlines() if "HTTP API on" in line),
                                     None), timeout=60)
        self.port = int(line.rsplit(":", 1)[1])
        self.workers = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                        if _parent(pid) == self.process.pid and _is_worker(pid)]  # not a store writer process

    def api(self) -> Api:
        _, key = keys.create(self.state / "api-keys.jsonl", "shop")  # beside the store
        return Api(self.port, key)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pid in self.workers:  # still ours if it still runs the worker
            try:
                if _is_worker(pid):
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_sigterm_ends_the_workers_and_the_gateway_cleanly(tmp_path):
    serving = Serving(tmp_path)
    try:
        assert len(serving.workers) == WORKERS
        assert serving.api().post("/v1/messages", SEND)[0] == 201
        serving.process.send_signal(signal.SIGTERM)
        assert serving.process.wait(timeout=30) == 0
        assert not [pid for pid in serving.workers if os.path.exists(f"/proc/{pid}")]  # exited, and reaped
        assert "http_worker_died" not in serving.log.read_text()
    finally:
        serving.close()


def test_workers_exit_when_their_gateway_dies(tmp_path):
    serving = Serving(tmp_path)
    try:
        assert len(serving.workers) == WORKERS
        serving.process.kill()
        serving.process.wait(timeout=10)
        # Orphans now (reaped by whoever adopts them): gone, or zombies of the adopter.
        wait_for(lambda: all(_state(pid) in (None, "Z") for pid in serving.workers), timeout=30)
    finally:
        serving.close()


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _is_worker(pid: int) -> bool:
    try:
        return b"smsc.http.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
