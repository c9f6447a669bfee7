"""Property-based fuzzing of the REST API from its own OpenAPI schema: no input makes a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from .conftest import ThreadedServer


@pytest.fixture(scope="module")
def live_server(threaded_server: ThreadedServer) -> tuple[str, str]:
    """The server's URL and an admin token."""
    return threaded_server.url, threaded_server.token("u_root", "Root", "admin")


@pytest.fixture(scope="module")
def api_schema(live_server: tuple[str, str]) -> schemathesis.BaseSchema:
    url, _ = live_server
    return schemathesis.openapi.from_url(url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case: schemathesis.Case, live_server: tuple[str, str]) -> None:
    url, token = live_server
    case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error],
                           timeout=10)
