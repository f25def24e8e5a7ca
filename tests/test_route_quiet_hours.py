"""Quiet hours per route: a route's own window (or none) overrides the account's and the
[compliance] one for the promotional messages it takes (smsc.compliance.Compliance.screen)."""
import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from smsc import config as cfg
from smsc.compliance import Compliance
from smsc.store import NewMessage, Store
from tests.config_helpers import HASH, error, parse

LONDON = ZoneInfo("Europe/London")
UK, FR = "447700900001", "33612345678"


def at(text, zone=LONDON):
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def config_text(*routes, account_quiet=True):
    """[compliance] quiet 21:00-08:00; UK numbers in London, French ones in Paris."""
    text = f"""
[compliance]
quiet_start = "21:00"
quiet_end = "08:00"
time_zones = {{"44" = "Europe/London", "33" = "Europe/Paris"}}
[[accounts]]
system_id = "shop"
password_hash = "{HASH}"
quiet_hours = {str(account_quiet).lower()}
[[upstreams]]
name = "a"
system_id = "x"
"""
    return text + "".join(f'[[routes]]\nname = "r{i}"\nupstream = "a"\n{keys}\n' for i, keys in enumerate(routes))


def screen(tmp_path, text, destination, now, category="promotional", scheduled=None, expires=None):
    """The message as compliance lets it be accepted at `now` (a real store, for opt-outs)."""
    config = parse(text, tmp_path)

    async def run():
        store = await Store.open(str(tmp_path / "screen.db"))
        try:
            compliance = Compliance(config, store)
            await compliance.load()
            message = NewMessage("shop", "Shop", destination, {"data_coding": 0}, scheduled=scheduled,
                                 expires=expires)
            return compliance.screen(config.account("shop"), message, category, now)
        finally:
            await store.close()

    return asyncio.run(run())


def test_a_route_window_defers_to_its_own_end(tmp_path):
    text = config_text('destinations = ["44"]\nquiet_hours = {start = "18:00", end = "10:00"}')
    # 09:00 in London: outside [compliance]'s 21-08 window, inside the route's 18-10 one.
    message = screen(tmp_path, text, UK, at("2026-06-10T09:00"), expires=at("2026-06-10T10:00"))
    assert message.scheduled == at("2026-06-10T10:00")
    assert message.expires == at("2026-06-10T11:00")  # the validity counts from the window's end
    # 19:00: in the route's window, which ends the next morning at 10:00.
    assert screen(tmp_path, text, UK, at("2026-06-10T19:00")).scheduled == at("2026-06-11T10:00")
    # 11:00: outside both.
    assert screen(tmp_path, text, UK, at("2026-06-10T11:00")).scheduled is None


def test_the_window_is_read_in_the_destination_time_zone(tmp_path):
    text = config_text('quiet_hours = {start = "12:00", end = "13:00"}')
    # 11:30 in London is 12:30 in Paris: quiet for the French number only.
    now = at("2026-06-10T11:30")
    assert screen(tmp_path, text, FR, now).scheduled == at("2026-06-10T13:00", ZoneInfo("Europe/Paris"))
    assert screen(tmp_path, text, UK, now).scheduled is None


def test_a_route_without_quiet_hours_sends_at_once(tmp_path):
    text = config_text('destinations = ["44"]\nquiet_hours = false')
    night = at("2026-06-10T23:00")
    assert screen(tmp_path, text, UK, night).scheduled is None
    # Another route (no quiet_hours of its own) keeps the account's: the [compliance] window.
    assert screen(tmp_path, text, FR, night).scheduled == at("2026-06-11T08:00", ZoneInfo("Europe/Paris"))


def test_a_route_can_turn_the_compliance_window_on_for_an_account_without_it(tmp_path):
    night = at("2026-06-10T23:00")
    assert screen(tmp_path, config_text("", account_quiet=False), UK, night).scheduled is None
    text = config_text("quiet_hours = true", account_quiet=False)
    assert screen(tmp_path, text, UK, night).scheduled == at("2026-06-11T08:00")


def test_transactional_messages_ignore_a_route_window(tmp_path):
    text = config_text('quiet_hours = {start = "00:00", end = "23:59"}')
    assert screen(tmp_path, text, UK, at("2026-06-10T12:00"), category="transactional").scheduled is None


def test_a_scheduled_message_takes_the_window_of_its_send_time(tmp_path):
    # Routes by time of day: the night route has no quiet hours, the day route its own.
    text = config_text('windows = [{start = "20:00", end = "06:00"}]\ntime_zone = "Europe/London"\nquiet_hours = false',
                       'quiet_hours = {start = "06:00", end = "07:00"}')
    now = at("2026-06-10T23:00")
    assert screen(tmp_path, text, UK, now).scheduled is None  # the night route, now
    later = screen(tmp_path, text, UK, now, scheduled=at("2026-06-11T06:30"))
    assert later.scheduled == at("2026-06-11T07:00")  # the day route, when it may first go


@pytest.mark.parametrize("keys,expected", [
    ('quiet_hours = {start = "21:00", end = "21:00"}', "routes[0].quiet_hours: start and end must differ"),
    ('quiet_hours = {start = "21:00", end = "24:00"}', "routes[0].quiet_hours.end: Expected str matching"),
    ('quiet_hours = {start = "21:00"}', "routes[0].quiet_hours.end: required key missing"),
    ('quiet_hours = {start = "21:00", end = "08:00", zone = "UTC"}', "routes[0].quiet_hours.zone: unknown key"),
    ('quiet_hours = "night"', "routes[0].quiet_hours: Expected bool | object | null, got str"),
])
def test_route_quiet_hours_errors_name_the_key(tmp_path, keys, expected):
    assert error(config_text(keys), tmp_path).startswith(f"conf/x.toml: {expected}")


def test_route_quiet_hours_are_parsed(tmp_path):
    routes = parse(config_text('quiet_hours = {start = "21:30", end = "07:15"}', "quiet_hours = false", ""),
                   tmp_path).routes
    assert [route.quiet_hours for route in routes] == [cfg.QuietHours(start="21:30", end="07:15"), False, None]


def test_smpp_submits_keep_the_quiet_hours_of_their_route(tmp_path):
    """Through the running gateway: a promotional account's submit to a route with its own
    window around now is scheduled for that window's end; one to a route with
    quiet_hours = false goes at once though [compliance]'s window covers now too."""
    import socket

    import msgspec

    from tests.integration import raw
    from tests.integration.conftest import PASSWORD, ServerThread, account, make_config

    now = datetime.now(ZoneInfo("UTC"))
    around_now = cfg.QuietHours(start=f"{(now.hour - 1) % 24:02d}:00", end=f"{(now.hour + 1) % 24:02d}:00")
    carrier = cfg.Upstream(name="sim", system_id="smsc", simulated=cfg.Simulated(receipts=False))
    config = msgspec.structs.replace(
        make_config(tmp_path, accounts=(account(smpp_category="promotional"),)),
        compliance=cfg.Compliance(quiet_start=around_now.start, quiet_end=around_now.end, time_zones={}),
        upstreams=(carrier,),
        routes=(cfg.Route(name="own", destinations=("44",), upstream="sim", quiet_hours=cfg.QuietHours(
                    start=around_now.start, end=f"{(now.hour + 2) % 24:02d}:00")),
                cfg.Route(name="none", upstream="sim", quiet_hours=False)))
    with ServerThread(config) as server, socket.create_connection(("127.0.0.1", server.port()), timeout=5) as sock:
        assert raw.request(sock, raw.BIND_TRANSMITTER, 1, raw.bind_body("shop", PASSWORD)).status == 0
        ids = []
        for sequence, destination in enumerate((UK, FR), start=2):
            answer = raw.request(sock, raw.SUBMIT_SM, sequence, raw.submit_body(destination=destination))
            assert answer.status == 0
            ids.append(answer.body.rstrip(b"\0").decode())
        own, none = (server.call(server.store.get(message_id)) for message_id in ids)
    two_hours_on = now.replace(minute=0, second=0, microsecond=0).timestamp() + 2 * 3600
    assert own.scheduled == two_hours_on
    assert none.scheduled <= datetime.now(ZoneInfo("UTC")).timestamp()  # the store's "due now" is its accept time
