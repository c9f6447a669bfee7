"""Property-based fuzzing of the REST API from its own OpenAPI schema: no input makes a 5xx."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url
from imagechat_tui.server.runner import build_runner


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server on its own loop in a thread (schemathesis calls are synchronous); its URL and an admin token."""
    app = ImageChatServer(ServerConfig(sqlite_url(Path(tmp_path_factory.mktemp("fuzz"))), write_rate=1e6,
                                       write_burst=1e6))
    runner = build_runner(app, host="127.0.0.1", port=0, announce=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(runner.serve(),), daemon=True)
    thread.start()

    async def started() -> str:
        while not runner.started:
            await asyncio.sleep(0.01)
        await admin.create_tenant(app.db, "acme")
        return (await admin.create_token(app.db, "acme", "u_root", "Root", "admin"))[1]

    token = asyncio.run_coroutine_threadsafe(asyncio.wait_for(started(), 30), loop).result(35)
    yield runner.url, token
    runner.should_exit = True
    thread.join(15)


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
