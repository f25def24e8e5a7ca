"""The carrier simulator's behaviours, seen by a third-party client (smpplib) and by the
load generator."""
from __future__ import annotations

from dataclasses import replace

import pytest
import smpplib.client
import smpplib.consts

from smsc.bench import loadgen
from smsc.bench.carrier_sim import Behaviour, load_behaviour
from smsc.bench.loadgen_config import LoadConfig
from smsc.bench.loadgen_messages import MessageSpec
from smsc.dlr import parse_text
from smsc.smpp import status as st

from tests.bench.conftest import running_sim

NO_RECEIPT = (MessageSpec(registered_delivery=0),)


def _smpplib_client(port: int) -> tuple[smpplib.client.Client, list, list]:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    answers, delivered = [], []
    client.set_message_sent_handler(lambda pdu: answers.append(pdu))
    client.set_message_received_handler(lambda pdu: delivered.append(pdu))
    client.connect()
    client.bind_transceiver(system_id="esme", password="secret")
    return client, answers, delivered


def _submit(client: smpplib.client.Client, n: int, registered_delivery: int = 1) -> None:
    for i in range(n):
        client.send_message(source_addr_ton=smpplib.consts.SMPP_TON_ALNUM, source_addr="SHOP",
                            dest_addr_ton=smpplib.consts.SMPP_TON_INTL, destination_addr=f"4477009000{i:02d}",
                            short_message=b"hello %d" % i, registered_delivery=registered_delivery)


def _read_until(client: smpplib.client.Client, done, limit: int = 200) -> None:
    for _ in range(limit):
        if done():
            return
        client.read_once()
    raise AssertionError("the simulator did not send what was expected")


@pytest.mark.parametrize("receipt_first", [False, True])
def test_receipts_carry_the_submit_ids_and_states(receipt_first):
    behaviour = Behaviour(receipts=True, undeliv_share=1.0, receipt_first=receipt_first)
    with running_sim(behaviour) as sim:
        client, answers, delivered = _smpplib_client(sim.port)
        _submit(client, 5)
        _read_until(client, lambda: len(answers) == 5 and len(delivered) == 5)
        client.unbind()
        client.disconnect()
    ids = [a.message_id.decode() for a in answers]
    assert len(set(ids)) == 5
    for receipt in delivered:
        assert receipt.esm_class & 0x04  # a delivery receipt
        text = parse_text(receipt.short_message)
        assert text.id == receipt.receipted_message_id.decode() and text.stat == "UNDELIV"
        assert receipt.message_state == smpplib.consts.SMPP_MESSAGE_STATE_UNDELIVERABLE
    assert sorted(r.receipted_message_id.decode() for r in delivered) == sorted(ids)
    assert sim.counters["deliver_sm_resp"] == 5  # smpplib answers each deliver_sm
    assert sim.receipt_states == {"UNDELIVERABLE": 5}


def test_accept_all_sends_no_receipt_and_answers_every_submit():
    with running_sim() as sim:
        assert sim.behaviour.accept_all
        client, answers, delivered = _smpplib_client(sim.port)
        _submit(client, 20)
        _read_until(client, lambda: len(answers) == 20)
        client.unbind()
        client.disconnect()
    assert all(a.status == 0 and a.message_id for a in answers)
    assert delivered == [] and sim.counters["submit_sm_resp_ok"] == 20


def test_error_shares_answer_those_statuses():
    with running_sim(Behaviour(error_shares={st.ESME_RMSGQFUL: 0.5}, seed=3)) as sim:
        result = loadgen.run(LoadConfig(port=sim.port, count=1000, receipt_wait=0, messages=NO_RECEIPT),
                             progress=False)
    assert result["errors"] == {"ESME_RMSGQFUL": sim.errors_sent[st.ESME_RMSGQFUL]}
    assert 350 < result["error_total"] < 650
    assert result["answered"] + result["error_total"] == 1000


def test_throttles_above_its_rate():
    with running_sim(Behaviour(throttle_rate=500)) as sim:
        result = loadgen.run(LoadConfig(port=sim.port, mode="open", rate=1500, duration=2.0, receipt_wait=0,
                                        messages=NO_RECEIPT), progress=False)
    throttled = result["errors"]["ESME_RTHROTTLED"]
    assert throttled == sim.errors_sent[st.ESME_RTHROTTLED]
    assert result["answered"] == pytest.approx(1000, abs=520)  # 500 a second, window edges aside
    assert result["answered"] + throttled == result["sent"]


def test_no_response_shows_as_timeouts():
    with running_sim(Behaviour(no_response_share=0.2, seed=5)) as sim:
        result = loadgen.run(LoadConfig(port=sim.port, count=500, window=500, response_timeout=0.3,
                                        receipt_wait=0, messages=NO_RECEIPT), progress=False)
    assert result["timeouts"] == sim.counters["no_response"] > 50
    assert result["answered"] + result["timeouts"] == 500


def test_random_disconnects_are_counted_on_both_sides():
    with running_sim(Behaviour(disconnect_share=0.01, seed=11)) as sim:
        result = loadgen.run(LoadConfig(port=sim.port, binds=2, count=100_000, receipt_wait=0,
                                        messages=NO_RECEIPT), progress=False)
    assert result["disconnects"] == sim.counters["disconnects"] == 2  # both binds, then nothing left
    assert result["sent"] < 2000
    assert result["answered"] + result["timeouts"] == result["sent"]


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_mo_messages_reach_a_receiver_bind(mode):
    with running_sim(Behaviour(mo_rate=400)) as sim:
        result = loadgen.run(LoadConfig(port=sim.port, bind_type="receiver", mode=mode, duration=1.0,
                                        receipt_wait=0), progress=False)
    assert result["sent"] == 0
    assert result["mo"] == sim.counters["mo_sent"]
    # each answered, but the last few answers may cross the unbind and find it closed
    assert result["mo"] - 10 <= sim.counters["deliver_sm_resp"] <= result["mo"]
    assert 200 < result["mo"] < 600


def test_receipts_for_a_transmitter_go_to_the_receiver_bind():
    with running_sim(Behaviour(receipts=True)) as sim:
        receiver = smpplib.client.Client("127.0.0.1", sim.port, timeout=5, allow_unknown_opt_params=True)
        delivered = []
        receiver.set_message_received_handler(lambda pdu: delivered.append(pdu))
        receiver.connect()
        receiver.bind_receiver(system_id="esme", password="x")
        transmitter = smpplib.client.Client("127.0.0.1", sim.port, timeout=5, allow_unknown_opt_params=True)
        answers = []
        transmitter.set_message_sent_handler(lambda pdu: answers.append(pdu))
        transmitter.connect()
        transmitter.bind_transmitter(system_id="esme", password="x")
        _submit(transmitter, 3)
        _read_until(transmitter, lambda: len(answers) == 3)
        _read_until(receiver, lambda: len(delivered) == 3)
        for client in (receiver, transmitter):
            client.unbind()
            client.disconnect()
    assert {d.receipted_message_id for d in delivered} == {a.message_id for a in answers}


def test_refuses_a_wrong_password():
    with running_sim(Behaviour(credentials={"esme": "right"})) as sim:
        client = smpplib.client.Client("127.0.0.1", sim.port, timeout=5, allow_unknown_opt_params=True)
        client.connect()
        with pytest.raises(smpplib.exceptions.PDUError) as refused:
            client.bind_transceiver(system_id="esme", password="wrong")
        client.disconnect()
        with pytest.raises(loadgen.TargetError):
            loadgen.run(LoadConfig(port=sim.port, system_id="esme", password="wrong", count=1), progress=False)
    assert refused.value.args[1] == st.ESME_RINVPASWD
    assert sim.counters["binds_refused"] == 2


def test_scenario_file_and_options(tmp_path):
    scenario = tmp_path / "carrier.toml"
    scenario.write_text('[carrier]\nreceipts = true\nreceipt_delay = 2.0\n'
                        'error_shares = { ESME_RSYSERR = 0.01, "0x58" = 0.02 }\n')
    behaviour = load_behaviour(str(scenario), {"receipt_delay": 0.5, "mo_rate": None})
    assert behaviour == replace(Behaviour(), receipts=True, receipt_delay=0.5,
                                error_shares={st.ESME_RSYSERR: 0.01, st.ESME_RTHROTTLED: 0.02})
    scenario.write_text("[carrier]\nreceipt = true\n")
    with pytest.raises(ValueError, match="receipt"):
        load_behaviour(str(scenario), {})
    with pytest.raises(ValueError):
        Behaviour(undeliv_share=0.7, expired_share=0.5)


def test_sending_resumes_after_timeouts_free_the_window():
    with running_sim(Behaviour(no_response_share=0.5, seed=2)) as sim:
        result = loadgen.run(LoadConfig(port=sim.port, window=4, count=60, duration=0, response_timeout=0.05,
                                        receipt_wait=0, messages=NO_RECEIPT), progress=False)
    assert result["sent"] == 60 == result["answered"] + result["timeouts"]
    assert result["timeouts"] == sim.counters["no_response"]


def test_receipt_on_failure_only_and_wall_clock_dates():
    import time

    with running_sim(Behaviour(receipts=True, undeliv_share=0.5, seed=4)) as sim:
        client, answers, delivered = _smpplib_client(sim.port)
        _submit(client, 20, registered_delivery=2)  # SMSC delivery receipt on failure only
        _read_until(client, lambda: len(answers) == 20 and len(delivered) == sim.receipt_states["UNDELIVERABLE"])
        client.unbind()
        client.disconnect()
    assert 3 < len(delivered) < 17 and set(sim.receipt_states) == {"UNDELIVERABLE"}
    for receipt in delivered:
        text = parse_text(receipt.short_message)
        assert text.stat == "UNDELIV" and abs(text.submit_date - time.time()) < 120


def test_a_receiver_bind_may_not_submit():
    with running_sim() as sim:
        client = smpplib.client.Client("127.0.0.1", sim.port, timeout=5, allow_unknown_opt_params=True)
        client.connect()
        client.bind_receiver(system_id="esme", password="x")
        with pytest.raises(smpplib.exceptions.PDUError) as refused:
            _submit(client, 1)
            client.read_once()
        client.unbind()
        client.disconnect()
    assert "Incorrect BIND Status" in str(refused.value)  # smpplib's words for ESME_RINVBNDSTS
    assert sim.counters["submit_sm"] == 0


class _Vanish(Exception):
    """Raised from a handler: the client goes before answering the deliver_sm."""


def test_a_receipt_left_unanswered_by_a_lost_connection_comes_again_on_the_next_bind():
    with running_sim(Behaviour(receipts=True)) as sim:
        client, answers, _ = _smpplib_client(sim.port)
        seen = []

        def vanish(pdu):
            seen.append(pdu.receipted_message_id)
            raise _Vanish

        client.set_message_received_handler(vanish)
        _submit(client, 1)
        with pytest.raises(_Vanish):
            _read_until(client, lambda: False)
        client._socket.close()  # gone without answering, as a process killed with -9
        client.state = smpplib.consts.SMPP_CLIENT_STATE_CLOSED
        again, _, delivered = _smpplib_client(sim.port)
        _read_until(again, lambda: len(delivered) == 1)
        again.unbind()
        again.disconnect()
    assert [pdu.receipted_message_id for pdu in delivered] == seen
    assert sim.counters["deliver_sm_redelivered"] == 1


def test_a_receipt_answered_not_now_comes_again_after_a_pause():
    with running_sim(Behaviour(receipts=True)) as sim:
        client, answers, delivered = _smpplib_client(sim.port)
        client.set_message_received_handler(
            lambda pdu: delivered.append(pdu) or (st.ESME_RX_T_APPN if len(delivered) == 1 else None))
        _submit(client, 1)
        _read_until(client, lambda: len(delivered) == 2)
        client.unbind()
        client.disconnect()
    assert delivered[0].receipted_message_id == delivered[1].receipted_message_id
    assert sim.counters["deliver_sm_retried"] == 1


def test_an_mo_answered_not_now_comes_again_with_receipts_off():
    with running_sim(Behaviour(mo_rate=20)) as sim:
        client, _, delivered = _smpplib_client(sim.port)
        client.set_message_received_handler(
            lambda pdu: delivered.append(pdu) or (st.ESME_RX_T_APPN if len(delivered) == 1 else None))
        _read_until(client, lambda: [p.short_message for p in delivered].count(b"MO 1") == 2, limit=400)
        client.unbind()
        client.disconnect()
    assert sim.counters["deliver_sm_retried"] == 1
