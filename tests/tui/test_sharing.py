"""Images on the server (issue 8), as a user meets them: one conversation per picture whatever it was
opened from, uploads on the first marker (never with upload off), links, `--share`, `y`/`Y`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from imagechat_tui.client.errors import RequestError
from imagechat_tui.client.imagecache import ImageCache
from imagechat_tui.client.rest import RestClient
from imagechat_tui.protocol.imagekey import legacy_key_hash, legacy_url_key
from imagechat_tui.protocol.models import CreateChat
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url
from imagechat_tui.server.runner import build_runner
from imagechat_tui.tui import cli
from imagechat_tui.tui.settings import SettingsError, resolve
from imagechat_tui.tui.viewport import View
from imagechat_tui.tui.widgets.status import StatusBar

from ..conftest import Harness, bid, wait_for
from ..website import send_body, website
from .conftest import tool
from .test_flows import SIZE, notices, place, ready
from .test_zoom import markers_at

SECRETS = ("hunter2pw", "SIGsecret", "SIGother")
SOURCE = "https://shots.example.com/4711.png"


class RecordingServer(ImageChatServer):
    """The server, noting everything a client sends it: request lines, query strings, headers,
    bodies and WebSocket frames."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[bytes] = []
        self.requests: list[str] = []

    def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            return super().__call__(scope, receive, send)
        line = f"{scope['type']} {scope.get('method', '')} {scope['path']}?{scope['query_string'].decode()}"
        self.requests.append(line)
        self.received.append(line.encode())
        self.received += [name + b": " + value for name, value in scope.get("headers", [])]

        async def recorded() -> Any:
            message = await receive()
            self.received.append(message.get("body") or message.get("bytes") or (message.get("text") or "").encode())
            return message

        return super().__call__(scope, recorded, send)

    def saw(self, secret: str) -> bool:
        return any(secret.encode() in chunk for chunk in self.received)


@pytest_asyncio.fixture
async def recording(tmp_path: Path) -> AsyncIterator[Harness]:
    app = RecordingServer(ServerConfig(database_url=sqlite_url(tmp_path), write_rate=1000.0, write_burst=1000.0))
    runner = build_runner(app, host="127.0.0.1", port=0, announce=False)
    task = asyncio.create_task(runner.serve())
    await wait_for(lambda: runner.started or task.done(), 10, "the server to start")
    yield Harness(app, runner.url)
    runner.should_exit = True
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def web(sample: Path) -> Iterator[str]:
    """A web server giving the sample at /shot.png, whatever the query string (a signed link)."""
    body = sample.read_bytes()

    with website(lambda request: send_body(request, body)) as address:
        yield address


def screen_text(app) -> str:
    return str(app.query_one(StatusBar).render()) + "\n" + app.sub_title + "\n" + "\n".join(notices(app))


async def stored(server: Harness, token: str, key: str) -> dict[str, Any] | None:
    async with httpx.AsyncClient(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as h:
        response = await h.get(f"/images/{key}")
    return response.json() if response.status_code == 200 else None


def no_secret_shown(app) -> bool:
    return not any(secret in screen_text(app) for secret in SECRETS)


async def test_two_resigned_urls_and_a_file_are_one_conversation_and_no_secret_reaches_our_server(
        recording: Harness, make_app, sample, sample_key, web, tmp_path) -> None:
    token = await recording.token("u_ana", "Ana")
    images = ImageCache(tmp_path / "images")
    first = make_app(recording, token, f"http://ana:hunter2pw@{web}/shot.png?X-Amz-Signature=SIGsecret",
                     images=images)
    async with first.run_test(size=SIZE) as pilot:
        await ready(first, pilot)
        assert first.key == sample_key
        await place(pilot, "Wrong total")
        await wait_for(lambda: first.shared, 5, "the upload")
        assert no_secret_shown(first)
    info = await stored(recording, token, sample_key)
    assert info is not None and info["source"] == f"http://{web}/shot.png"

    for target in (f"http://{web}/shot.png?X-Amz-Signature=SIGother", str(sample)):
        again = make_app(recording, token, target)
        async with again.run_test(size=SIZE) as pilot:
            await ready(again, pilot)
            await wait_for(lambda app=again: len(app.markers) == 1, 5, "the marker placed from the first URL")
            assert again.markers[0].comments[0].text == "Wrong total"
            assert no_secret_shown(again)
    received = recording.app
    assert not any(received.saw(secret) for secret in SECRETS)
    # The previous version's conversation of that URL is asked for by the hash of its old key alone.
    legacy = legacy_key_hash(f"http://ana:hunter2pw@{web}/shot.png?X-Amz-Signature=SIGsecret")
    assert any(line.endswith(f"/images/{sample_key}/adopt?") for line in received.requests)
    assert any(legacy.encode() in chunk for chunk in received.received)


async def test_the_first_marker_uploads_the_image_once_with_its_file_name(recording: Harness, make_app, sample,
                                                                           sample_key) -> None:
    token = await recording.token("u_ana", "Ana")
    app = make_app(recording, token, sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert await stored(recording, token, sample_key) is None  # opening alone uploads nothing
        await place(pilot, "One")
        await wait_for(lambda: app.shared, 5, "the upload")
        await pilot.press("escape", "right", "right")
        await place(pilot, "Two")
    puts = [line for line in recording.app.requests if line.startswith("http PUT")]
    assert len(puts) == 1 and "name=shot.png" in puts[0]
    info = await stored(recording, token, sample_key)
    assert info is not None and (info["source"], info["name"]) == (None, "shot.png")


async def test_with_upload_off_nothing_is_uploaded(recording: Harness, make_app, sample, sample_key) -> None:
    token = await recording.token("u_ana", "Ana")
    app = make_app(recording, token, sample, upload=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await place(pilot, "Private screenshot")
    assert await stored(recording, token, sample_key) is None
    assert not any(line.startswith(("http PUT", "http HEAD")) for line in recording.app.requests)


async def upload_with_markers(server: Harness, token: str, sample: Path, key: str) -> None:
    """The sample on the server with markers 1 and 3 (2 deleted)."""
    rest = RestClient(server.url, token)
    try:
        await rest.put_image(key, await asyncio.to_thread(sample.read_bytes), source=SOURCE)
    finally:
        await rest.aclose()
    await markers_at(server, token, key, (20, 20), (50, 50), (80, 70))
    async with httpx.AsyncClient(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as h:
        chats = (await h.get("/chats", params={"image": key})).json()
        second = next(m for m in chats["markers"] if m["number"] == 2)
        assert (await h.delete(f"/chats/{second['id']}", params={"broadcastId": bid()})).status_code == 200


async def test_a_link_opens_the_image_from_the_server_with_its_marker_shown(recording: Harness, make_app, sample,
                                                                           sample_key, tmp_path) -> None:
    token = await recording.token("u_ana", "Ana")
    await upload_with_markers(recording, token, sample, sample_key)
    app = make_app(recording, token, f"imagechat-tui {sample_key}#3", images=ImageCache(tmp_path / "images"))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: app.marker is not None, 5, "the link's marker selected")
        assert app.marker.number == 3
        view = app.main.image_view
        assert view.cursor == (80, 70) and view.view != View()  # zoomed onto it
        await pilot.pause()
        assert sorted(p.text for p in view.placement.badges) == ["3"]  # 1 is out of the zoomed view
        await pilot.press("0")
        assert sorted(p.text for p in view.placement.badges) == ["1", "3"]  # stable: 3 stays 3
        await wait_for(lambda: app.loaded.name == SOURCE, 5, "the image named by its source, not its key")


async def test_a_link_without_a_marker_or_to_a_missing_one_opens_the_image(recording: Harness, make_app, sample,
                                                                           sample_key) -> None:
    token = await recording.token("u_ana", "Ana")
    await upload_with_markers(recording, token, sample, sample_key)
    for target, selected in ((sample_key, None), (f"{sample_key}#2", None)):
        app = make_app(recording, token, target)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda app=app: len(app.markers) == 2, 5, "the markers")
            if target.endswith("#2"):
                await wait_for(lambda app=app: any("no marker 2" in n for n in notices(app)), 5, "the notice")
            assert app.marker is selected and app.key == sample_key


async def test_a_link_to_an_unknown_image_is_one_clear_line(recording: Harness, make_app) -> None:
    app = make_app(recording, await recording.token("u_ana", "Ana"), "sha256:" + "0" * 64)
    async with app.run_test(size=SIZE):
        await wait_for(lambda: app.load_error is not None, 10, "the failure")
    assert app.load_error == f"sha256:{'0' * 64}: no such image on the server (never shared there, or deleted)"
    assert app.return_code == 1


async def test_share_uploads_and_prints_the_link_and_refuses_with_upload_off(
        recording: Harness, sample, sample_key, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.delenv("IMAGECHAT_UPLOAD", raising=False)
    token = await recording.token("u_ana", "Ana")
    args = [str(sample), "--share", "--server", recording.url, "--token", token]
    assert await asyncio.to_thread(cli.main, args) == 0
    assert capsys.readouterr().out == f"imagechat-tui {sample_key}\n"
    info = await stored(recording, token, sample_key)
    assert info is not None and info["size"] == sample.stat().st_size

    asked = len(recording.app.requests)
    assert await asyncio.to_thread(cli.main, [*args, "--no-upload"]) == 2
    assert "uploading is turned off" in capsys.readouterr().err
    monkeypatch.setenv("IMAGECHAT_UPLOAD", "0")
    assert await asyncio.to_thread(cli.main, args) == 2
    assert "uploading is turned off" in capsys.readouterr().err
    assert len(recording.app.requests) == asked  # nothing was even asked


async def test_y_copies_the_thread_headed_by_its_link_and_capital_y_the_link(recording: Harness, make_app, sample,
                                                                             sample_key, desktop, tmp_path) -> None:
    got = tmp_path / "clipboard.txt"
    tool(desktop, "xclip", f"/bin/cat > {got}")
    app = make_app(recording, await recording.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("a")
        await wait_for(lambda: app.screen.__class__.__name__ == "ComposeScreen", 5, "the compose screen")
        await pilot.press(*"First line", "enter", *"second line", "ctrl+s")
        await wait_for(lambda: app.marker is not None and app.marker.number == 1, 5, "marker 1")
        await pilot.press("y")
        await wait_for(lambda: any("Marker 1 as Markdown copied" in n for n in notices(app)), 5, "the y notice")
        markdown = got.read_text()
        await pilot.press("Y")
        await wait_for(lambda: any("link to marker 1 copied" in n for n in notices(app)), 5, "the Y notice")
        link = got.read_text()
    assert markdown.startswith(f"`imagechat-tui {sample_key}#1`\n\n## Marker 1 (open) at ")
    assert "- **Ana** (" in markdown and markdown.endswith("):\n  > First line\n  > second line\n")
    assert link == f"imagechat-tui {sample_key}#1"


def test_upload_comes_from_the_flag_then_the_environment_then_the_file(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text("upload = false\nimage_cache_mb = 64\n")
    monkeypatch.delenv("IMAGECHAT_UPLOAD", raising=False)
    settings = resolve(None, None, None, config)
    assert (settings.upload, settings.image_cache_mb) == (False, 64)
    monkeypatch.setenv("IMAGECHAT_UPLOAD", "yes")
    assert resolve(None, None, None, config).upload is True
    assert resolve(None, None, None, config, upload=False).upload is False
    monkeypatch.setenv("IMAGECHAT_UPLOAD", "maybe")
    with pytest.raises(SettingsError, match="IMAGECHAT_UPLOAD must be 1 or 0"):
        resolve(None, None, None, config)
    monkeypatch.delenv("IMAGECHAT_UPLOAD")
    for bad, message in (('upload = "no"', "upload must be true or false"),
                         ("image_cache_mb = 0", "image_cache_mb must be a whole number")):
        config.write_text(bad + "\n")
        with pytest.raises(SettingsError, match=message):
            resolve(None, None, None, config)


async def test_a_failed_upload_is_a_notice_and_the_marker_is_saved(recording: Harness, make_app, sample,
                                                                    monkeypatch) -> None:
    async def refused(*args: Any, **kwargs: Any) -> None:
        raise RequestError(413, "too_large", "the image is larger than the server takes")

    monkeypatch.setattr(RestClient, "put_image", refused)
    app = make_app(recording, await recording.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await place(pilot, "Kept anyway")
        await wait_for(lambda: any("larger than the server takes" in n for n in notices(app)), 5, "the notice")
        assert app.marker.number == 1 and not app.shared


async def test_a_urls_conversation_from_the_previous_version_comes_along(recording: Harness, make_app, sample_key,
                                                                         web) -> None:
    url = f"http://ana:hunter2pw@{web}/shot.png?X-Amz-Signature=SIGsecret"
    token = await recording.token("u_ana", "Ana")
    p = await recording.app.store.principal(token)
    assert p is not None
    old = CreateChat.model_construct(image=legacy_url_key(url), x=30.0, y=40.0, text="From the old version",
                                     broadcast_id=bid())
    await recording.app.store.create_marker(p, old, bid())  # as the previous version keyed it: by the URL
    app = make_app(recording, token, url)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: len(app.markers) == 1, 5, "the adopted conversation")
        assert app.key == sample_key
        assert (app.markers[0].number, app.markers[0].comments[0].text) == (1, "From the old version")
    assert not any(recording.app.saw(secret) for secret in SECRETS)
