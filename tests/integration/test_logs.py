"""What the server logs, read as structured entries (never by parsing text)."""
from __future__ import annotations

from structlog.testing import capture_logs

from tests.integration import raw
from tests.integration.conftest import PASSWORD, wait_for


def test_session_logs_carry_system_id_peer_and_bind_type(server):
    with capture_logs() as logs:
        client = server.client()
        port = client._socket.getsockname()[1]
        refused = client._socket
        assert raw.request(refused, raw.BIND_RECEIVER, 1, raw.bind_body("shop", "wrong")).status != 0
        assert raw.request(refused, raw.BIND_RECEIVER, 2, raw.bind_body("shop", PASSWORD)).status == 0
        refused.sendall(raw.pdu(0x00000777, 3))
        raw.read(refused)
        client.state = 3  # smpplib: bound as a receiver
        client.unbind()
        client.disconnect()
        wait_for(lambda: any(entry["event"] == "disconnected" for entry in logs))

    by_event = {entry["event"]: entry for entry in logs}
    peer = f"127.0.0.1:{port}"
    assert by_event["bind_refused"].items() >= {"system_id": "shop", "bind_type": "receiver", "peer": peer,
                                                "status": "ESME_RINVPASWD", "log_level": "warning"}.items()
    assert by_event["bound"].items() >= {"system_id": "shop", "bind_type": "receiver", "peer": peer,
                                         "log_level": "info"}.items()
    error = by_event["protocol_error"]
    assert (error["status"], error["system_id"], error["close"]) == ("ESME_RINVCMDID", "shop", False)
    assert by_event["unbound"]["by"] == "client"
    assert by_event["disconnected"]["system_id"] == "shop"
