"""Shared fixtures. `codec` runs a test once per codec implementation."""
from __future__ import annotations

import pytest

from smsc import codec as codec_switch


def _native_built() -> bool:
    try:
        codec_switch.load("cython")
    except ImportError:
        return False
    return True


@pytest.fixture(params=codec_switch.IMPLEMENTATIONS)
def codec(request):
    """All codec twins of one implementation: `codec.pdu`, `codec.text`.

    Under SMSC_PUREPYTHON=1 only the pure-Python twin runs. Otherwise a missing native
    build is an error, not a skip: CI must never pass on the slow path alone.
    """
    implementation = request.param
    if implementation == "cython" and codec_switch.FORCED_PURE:
        pytest.skip("SMSC_PUREPYTHON=1: pure-Python twin only")
    if implementation == "cython" and not _native_built():
        pytest.fail("native codec not built: run `pip install -e .` (needs a C compiler)")
    return codec_switch.load(implementation)


def pytest_collection_modifyitems(items):
    # Every test that uses the codec fixture is a codec test (run again by .ci/run).
    for item in items:
        if "codec" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.codec)
