import io
import json

import pytest
import structlog
from structlog.testing import capture_logs

from smsc import log


@pytest.fixture(autouse=True)
def _restore_structlog():
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_json_lines_carry_bound_context_level_and_utc_iso_time():
    out = io.StringIO()
    log.configure("info", "json", stream=out)
    with structlog.contextvars.bound_contextvars(session="s1", system_id="esme1", peer="127.0.0.1:5000"):
        log.get_logger("smsc.test").info("bound", bind_type="transceiver")
    log.get_logger("smsc.test").info("after")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["event"] == "bound" and first["level"] == "info" and first["logger"] == "smsc.test"
    assert (first["session"], first["system_id"], first["peer"], first["bind_type"]) == (
        "s1", "esme1", "127.0.0.1:5000", "transceiver")
    assert first["timestamp"].endswith("Z")
    assert "session" not in second


def test_level_filters_below_threshold():
    out = io.StringIO()
    log.configure("warning", "json", stream=out)
    logger = log.get_logger()
    logger.info("hidden")
    logger.warning("shown")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["shown"]


def test_console_format_is_not_json():
    out = io.StringIO()
    log.configure("debug", "console", stream=out)
    log.get_logger().debug("hello", n=1)
    line = out.getvalue()
    assert "hello" in line and "n=1" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


@pytest.mark.parametrize("level,fmt", [("verbose", "json"), ("info", "xml")])
def test_rejects_unknown_level_or_format(level, fmt):
    with pytest.raises(ValueError):
        log.configure(level, fmt)


def test_events_are_captured_with_context_in_tests():
    log.configure("info", "json", stream=io.StringIO())
    with capture_logs() as logs:
        log.get_logger("smsc.x", route="r1").warning("slow", rate=5)
    assert logs == [{"event": "slow", "log_level": "warning", "logger": "smsc.x", "route": "r1", "rate": 5}]
