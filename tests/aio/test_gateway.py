"""The gateway's flows on a real store, without a network: validation, times, segments,
rates, and the deliver_sm a queued receipt becomes. Clocks are numbers the test moves."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import pytest
from msgspec.structs import replace

from smsc.codec import pdu as pdu_codec
from smsc.config import Account, Config, Smpp
from smsc.gateway import Gateway, count_segments, deliver_sm_of
from smsc.passwords import hash_password
from smsc.smpp import status
from smsc.smpp.constants import MessageState, Tag
from smsc.smpp.pdus import (
    CancelSm, DataSm, DeliverSm, DistributionList, QuerySm, ReplaceSm, SmeAddress, SubmitMulti, SubmitSm,
)
from smsc.smpp.times import format_absolute
from smsc.store import Store

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
HASH = hash_password("pw")
DEFAULT_VALIDITY = Smpp().default_validity


def account(system_id: str = "shop", **fields: Any) -> Account:
    return Account(system_id=system_id, password_hash=HASH, **fields)


class Clocks:
    def __init__(self) -> None:
        self.wall = NOW
        self.mono = 100.0


@pytest.fixture
def run(tmp_path) -> Callable[..., Any]:
    """run(scenario, *accounts, smpp=Smpp()): `await scenario(gateway, clocks)` over a fresh store."""

    def go(scenario: Callable[[Gateway, Clocks], Awaitable[Any]], *accounts: Account, smpp: Smpp = Smpp()) -> Any:
        async def main() -> Any:
            clocks = Clocks()
            store = await Store.open(str(tmp_path / "smsc.db"), clock=lambda: clocks.wall)
            try:
                gateway = Gateway(Config(smpp=smpp, accounts=accounts or (account(),)), store,
                                  clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
                return await scenario(gateway, clocks)
            finally:
                await store.close()

        return asyncio.run(main())

    return go


def submit(**fields: Any) -> SubmitSm:
    fields.setdefault("source_addr", "Shop")
    fields.setdefault("destination_addr", "447700900001")
    fields.setdefault("short_message", b"hello")
    return SubmitSm(sequence_number=7, **fields)


def payload(data: bytes) -> tuple[tuple[int, Any], ...]:
    return ((Tag.MESSAGE_PAYLOAD, data),)


@pytest.mark.parametrize("data, data_coding, parts", [
    (b"x" * 160, 0x00, 1),
    (b"x" * 161, 0x00, 2),
    (b"\x1be" * 80, 0x00, 1),  # 80 euro signs: two septets each, 160 septets
    (b"\x1be" * 81, 0x00, 2),
    (("ж" * 70).encode("utf-16-be"), 0x08, 1),
    (("ж" * 71).encode("utf-16-be"), 0x08, 2),
    (b"\xff" * 140, 0x04, 1),
    (b"\xff" * 141, 0x04, 2),
    (b"\xff" * 269, 0x04, 3),  # 134 + 134 + 1
])
def test_message_payload_is_counted_as_the_carrier_will_cut_it(data, data_coding, parts):
    assert count_segments(b"", 0, data_coding, payload(data)) == parts


def test_a_short_message_is_one_segment_whatever_its_length():
    assert count_segments(b"x" * 200, 0, 0, ()) == 1


def test_submit_is_answered_with_the_stored_message(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        resp = await gateway.handle(account(), submit(registered_delivery=1, data_coding=3, esm_class=0x40,
                                                      tlvs=((Tag.USER_MESSAGE_REFERENCE, 42),)))
        return resp, await gateway.store.get(resp.message_id)

    resp, message = run(scenario)
    assert resp.command_status == 0 and resp.sequence_number == 7
    assert (message.state, message.submitted, message.scheduled) == (MessageState.ENROUTE, NOW, NOW)
    assert message.expires == NOW + DEFAULT_VALIDITY
    assert message.body["data_coding"] == 3 and message.body["esm_class"] == 0x40
    assert message.body["tlvs"] == [[Tag.USER_MESSAGE_REFERENCE, 42]]


def test_times_absolute_and_relative(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        from datetime import datetime, timezone

        at = format_absolute(datetime.fromtimestamp(NOW + 3600, timezone.utc))
        resp = await gateway.handle(account(), submit(schedule_delivery_time=at, validity_period="000000020000000R"))
        return await gateway.store.get(resp.message_id)

    message = run(scenario)
    assert message.scheduled == NOW + 3600 and message.expires == NOW + 2 * 3600


@pytest.mark.parametrize("fields, expected", [
    ({"validity_period": "000000000000000R"}, status.ESME_RINVEXPIRY),  # ends now
    ({"schedule_delivery_time": "000000020000000R", "validity_period": "000000010000000R"}, status.ESME_RINVEXPIRY),
    ({"destination_addr": ""}, status.ESME_RINVDSTADR),
    ({"source_addr": "Bank"}, status.ESME_RINVSRCADR),
    ({"tlvs": payload(b"both")}, status.ESME_RINVMSGLEN),  # short_message too
])
def test_refused_submits(run, fields, expected):
    async def scenario(gateway: Gateway, clocks: Clocks):
        return await gateway.handle(account(allowed_sources=("Shop",)), submit(**fields))

    resp = run(scenario, account(allowed_sources=("Shop",)))
    assert resp.command_status == expected and resp.message_id == ""


def test_rate_counts_segments_and_refills_with_time(run):
    long = {"short_message": b"", "tlvs": payload(b"x" * 300)}  # 2 segments

    async def scenario(gateway: Gateway, clocks: Clocks):
        limited = account(rate=3.0)
        results = [(await gateway.handle(limited, submit(**long))).command_status,
                   (await gateway.handle(limited, submit(**long))).command_status,
                   (await gateway.handle(limited, submit())).command_status]
        clocks.mono += 1.0
        results.append((await gateway.handle(limited, submit(**long))).command_status)
        return results

    assert run(scenario, account(rate=3.0)) == [0, status.ESME_RTHROTTLED, 0, 0]


def test_submits_read_together_are_let_through_by_the_rate_in_order(run):
    long = {"short_message": b"", "tlvs": payload(b"x" * 300)}  # 2 segments

    async def scenario(gateway: Gateway, clocks: Clocks):
        limited = account(rate=5.0)

        async def answers(pdus: list[SubmitSm]) -> list[int]:
            refusals, accepted, committed = gateway.submit_many(limited, pdus)
            if committed is not None:
                await committed
            responses = refusals + (gateway.submitted_many(limited, accepted, committed) if accepted else [])
            by_sequence = {r.sequence_number: r.command_status for r in responses}
            return [by_sequence[p.sequence_number] for p in pdus]

        def batch(*kinds: dict[str, Any]) -> list[SubmitSm]:
            return [replace(submit(**kind), sequence_number=n) for n, kind in enumerate(kinds, 1)]

        over = await answers(batch(long, {}, long, {}, {}))  # 2 + 1 + 2 = the 5 of the burst, then none
        clocks.mono += 0.6  # 3 tokens back: the whole batch fits at once
        fits = await answers(batch({}, long))
        return over, fits

    over, fits = run(scenario, account(rate=5.0))
    assert over == [0, 0, 0, status.ESME_RTHROTTLED, status.ESME_RTHROTTLED]
    assert fits == [0, 0]


def test_validity_default_and_cap_come_from_the_config(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        async def expires(pdu: Any) -> float:
            resp = await gateway.handle(account(), pdu)
            assert resp.command_status == 0
            return (await gateway.store.get(resp.message_id)).expires - NOW

        return [await expires(submit()),
                await expires(submit(validity_period="000000003000000R")),  # 30 minutes
                await expires(submit(validity_period="000002000000000R")),  # 2 days: cut
                await expires(submit(schedule_delivery_time="000000000500000R")),  # in 5 minutes
                await expires(submit(schedule_delivery_time="000000000500000R", validity_period="000002000000000R")),
                await expires(DataSm(source_addr="Shop", destination_addr="447700900001",
                                     tlvs=((Tag.QOS_TIME_TO_LIVE, 7200),)))]

    assert run(scenario, smpp=Smpp(default_validity=600.0, max_validity=3600.0)) == [
        600.0, 1800.0, 3600.0, 300.0 + 600.0, 300.0 + 3600.0, 3600.0]  # from the schedule, if any


def test_data_sm_takes_its_validity_from_qos_time_to_live(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        resp = await gateway.handle(account(), DataSm(source_addr="Shop", destination_addr="447700900001",
                                                      tlvs=(*payload(b"hi"), (Tag.QOS_TIME_TO_LIVE, 600))))
        return await gateway.store.get(resp.message_id)

    message = run(scenario)
    assert message.expires == NOW + 600 and message.segments == 1


def test_submit_multi_refuses_per_destination_and_whole_when_none_is_left(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        mixed = SubmitMulti(source_addr="Shop", short_message=b"hi", dest_addresses=(
            SmeAddress(1, 1, "447700900001"), DistributionList("staff"), SmeAddress(1, 1, "")))
        none = SubmitMulti(source_addr="Shop", short_message=b"hi", dest_addresses=(DistributionList("staff"),))
        return await gateway.handle(account(), mixed), await gateway.handle(account(), none)

    mixed, none = run(scenario)
    assert mixed.command_status == 0 and mixed.message_id
    assert [(u.destination_addr, u.error_status_code) for u in mixed.unsuccess_smes] == [
        ("staff", status.ESME_RINVDLNAME), ("", status.ESME_RINVDSTADR)]
    assert none.command_status == status.ESME_RINVDLNAME


def test_query_cancel_replace_only_for_the_owner(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        shop, bank = account("shop"), account("bank")
        message_id = (await gateway.handle(shop, submit())).message_id
        return [
            (await gateway.handle(bank, QuerySm(message_id=message_id))).command_status,
            (await gateway.handle(shop, QuerySm(message_id=message_id, source_addr="Other"))).command_status,
            (await gateway.handle(bank, CancelSm(message_id=message_id))).command_status,
            (await gateway.handle(shop, CancelSm())).command_status,  # neither id nor addresses
            (await gateway.handle(shop, ReplaceSm(message_id=message_id, short_message=b"new",
                                                  validity_period="000000000000000R"))).command_status,
            (await gateway.handle(shop, ReplaceSm(message_id=message_id, short_message=b"new",
                                                  validity_period="000001000000000R"))).command_status,
            (await gateway.store.get(message_id)).expires,
            (await gateway.handle(shop, QuerySm(message_id="not-an-id"))).command_status,
        ]

    assert run(scenario, account("shop"), account("bank")) == [
        status.ESME_RINVMSGID, status.ESME_RINVMSGID, status.ESME_RINVMSGID, status.ESME_RCANCELFAIL,
        status.ESME_RINVEXPIRY, 0, NOW + 86400, status.ESME_RINVMSGID]


def test_a_queued_receipt_becomes_an_encodable_deliver_sm(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        message_id = (await gateway.handle(account(), submit(registered_delivery=1, source_addr_ton=5,
                                                            dest_addr_ton=1, dest_addr_npi=1))).message_id
        clocks.wall += 5
        await gateway.store.update(message_id, MessageState.UNDELIVERABLE, error=0x45)
        claim = gateway.store.claim_outbound("shop")
        try:
            ((_, body),) = await claim.take_packed(10)
        finally:
            await claim.release()
        return message_id, deliver_sm_of(body)

    message_id, deliver = run(scenario)
    assert isinstance(deliver, DeliverSm) and deliver.esm_class == 0x04
    assert (deliver.source_addr, deliver.source_addr_ton, deliver.destination_addr, deliver.dest_addr_ton) == (
        "447700900001", 1, "Shop", 5)
    assert deliver.tlv(Tag.RECEIPTED_MESSAGE_ID) == message_id
    assert deliver.tlv(Tag.MESSAGE_STATE) == MessageState.UNDELIVERABLE
    assert b"stat:UNDELIV" in deliver.short_message
    assert pdu_codec.decode(pdu_codec.encode(deliver)) == deliver


def test_no_id_without_a_commit(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        await gateway.store.close()  # nothing can be committed any more
        return await gateway.handle(account(), submit())

    resp = run(scenario)
    assert (resp.command_status, resp.message_id) == (status.ESME_RSYSERR, "")


def test_replace_takes_the_place_of_a_message_payload(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        long = submit(short_message=b"", tlvs=(*payload(b"x" * 300), (Tag.USER_MESSAGE_REFERENCE, 9)))
        message_id = (await gateway.handle(account(), long)).message_id
        resp = await gateway.handle(account(), ReplaceSm(message_id=message_id, short_message=b"short now"))
        return resp, await gateway.store.get(message_id)

    resp, message = run(scenario)
    assert resp.command_status == 0 and message.segments == 1
    assert message.body["short_message"] == b"short now"
    assert message.body["tlvs"] == [[Tag.USER_MESSAGE_REFERENCE, 9]]


def test_replace_if_present_matches_service_type_exactly_and_takes_the_oldest(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        async def send(**fields: Any) -> str:
            resp = await gateway.handle(account(), submit(**fields))
            assert resp.command_status == 0
            return resp.message_id

        typed = await send(service_type="CMT", short_message=b"typed")
        plain = [await send(schedule_delivery_time="000001000000000R") for _ in range(2)]
        elsewhere = await send(source_addr="Other")
        clocks.wall += 10
        replaced = await send(replace_if_present_flag=1, short_message=b"", tlvs=payload(b"x" * 200))
        typed_again = await send(replace_if_present_flag=1, service_type="CMT", short_message=b"typed 2")
        messages = {i: await gateway.store.get(i) for i in (typed, *plain, elsewhere)}
        return typed, plain, elsewhere, replaced, typed_again, messages

    typed, plain, elsewhere, replaced, typed_again, messages = run(scenario)
    # An empty service_type replaces only a message without one, the oldest of them.
    assert replaced == plain[0] and typed_again == typed
    new = messages[plain[0]]
    assert new.body["short_message"] == b"" and new.segments == 2  # 200 GSM-7 characters: 153 + 47
    assert new.body["tlvs"] == [[Tag.MESSAGE_PAYLOAD, b"x" * 200]]
    assert new.scheduled == NOW + 10  # the new submit's "now", not the old schedule a day ahead
    assert new.expires == NOW + 10 + DEFAULT_VALIDITY
    assert messages[plain[1]].body["short_message"] == b"hello" and messages[plain[1]].scheduled == NOW + 86400
    assert messages[typed].body["short_message"] == b"typed 2"
    assert messages[elsewhere].body["short_message"] == b"hello"


def test_submit_multi_with_replace_if_present_replaces_per_destination(run):
    async def scenario(gateway: Gateway, clocks: Clocks):
        first = (await gateway.handle(account(), submit(destination_addr="447700900001"))).message_id
        clocks.wall += 10
        multi = SubmitMulti(source_addr="Shop", short_message=b"updated", replace_if_present_flag=1, dest_addresses=(
            SmeAddress(1, 1, "447700900001"), SmeAddress(1, 1, "447700900002")))
        resp = await gateway.handle(account(), multi)
        live = await gateway.store.live_matching("shop", "Shop", "447700900002")
        return first, resp, await gateway.store.get(first), live

    first, resp, replaced, live = run(scenario)
    # The first address had a live message: it keeps its id and takes the new text; the
    # second had none: a new message.
    assert resp.command_status == 0 and resp.message_id == first and resp.unsuccess_smes == ()
    assert replaced.body["short_message"] == b"updated" and replaced.scheduled == NOW + 10
    assert len(live) == 1 and live[0] != first
