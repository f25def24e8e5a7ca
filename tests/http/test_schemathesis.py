"""Schemathesis against the live API and its /openapi.json: whatever it generates (valid
and not), the answer is never a 5xx. Bounded examples per operation."""
from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

AUTH: dict[str, str] = {}  # the API key of the server the fixture started


@pytest.fixture
def api_schema(serve_http):
    server = serve_http()
    AUTH["Authorization"] = f"Bearer {server.api().key}"
    return schemathesis.openapi.from_url(f"http://127.0.0.1:{server.http_port}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call(headers=AUTH)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
