"""Snapshots of the viewer at a fixed terminal size: marker list, open thread, offline, help."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from PIL import Image

from imagechat_tui.client.engine import Backoff, LinkState
from imagechat_tui.protocol.imagekey import file_image_key
from imagechat_tui.protocol.models import ChatsPage
from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.cache import StateCache
from imagechat_tui.tui.sample import draw_sample, seed
from imagechat_tui.tui.widgets import status
from imagechat_tui.tui.widgets.inbox_list import InboxList
from imagechat_tui.tui.widgets.status import OfflineBanner

from ..conftest import ThreadedServer

SIZE = (120, 34)


@pytest.fixture(scope="module")
def seeded(threaded_server: ThreadedServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Ana's token and the sample image with its sample conversation."""
    sample = draw_sample(tmp_path_factory.mktemp("image") / "shot.png")
    ana = threaded_server.token("u_ana", "Ana")
    threaded_server.run(seed(threaded_server.url, file_image_key(sample), ana, threaded_server.token("u_bob", "Bob")))
    return ana, sample


def ready(app: ImageChatApp) -> bool:
    return (app.key is not None and app.engine.link.state is LinkState.ONLINE and app.engine.state(app.key).loaded
            and app.engine.notifications.loaded)


async def wait_ready(pilot) -> None:
    for _ in range(500):
        if ready(pilot.app):
            break
        await pilot.pause(0.01)
    await pilot.pause()


def make(threaded_server: ThreadedServer, seeded: tuple[str, Path], tmp_path: Path, server: str | None = None,
         **kwargs: object) -> ImageChatApp:
    token, sample = seeded
    url = server or threaded_server.url
    return ImageChatApp(str(sample), server=url, token=token, cache=StateCache(tmp_path, url, token), **kwargs)


def test_marker_list(snap_compare, threaded_server, seeded, tmp_path) -> None:
    assert snap_compare(make(threaded_server, seeded, tmp_path), terminal_size=SIZE, run_before=wait_ready)


def test_markers_with_an_open_thread(snap_compare, threaded_server, seeded, tmp_path) -> None:
    async def open_first(pilot) -> None:
        await wait_ready(pilot)
        await pilot.press("n", "right_square_bracket")
        await pilot.pause()

    assert snap_compare(make(threaded_server, seeded, tmp_path), terminal_size=SIZE, run_before=open_first)


def test_offline_banner_over_the_cached_markers(snap_compare, threaded_server, seeded, tmp_path,
                                                monkeypatch) -> None:
    token, sample = seeded
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    page = ChatsPage.model_validate_json(httpx.get(
        threaded_server.url + "/api/v1/chats", params={"image": file_image_key(sample)},
        headers={"Authorization": f"Bearer {token}"}).content)
    StateCache(tmp_path, closed, token).save(page.image, page.seq, page.markers)

    async def offline(pilot) -> None:
        for _ in range(500):
            if pilot.app.engine.link.state is LinkState.RECONNECTING and pilot.app.markers:
                break
            await pilot.pause(0.01)
        # The countdown reads the wall clock: pinned 30 s before the next attempt, the snapshot
        # no longer depends on how long the way here took on a loaded machine.
        next_attempt = pilot.app.engine.link.next_attempt
        monkeypatch.setattr(status, "time", SimpleNamespace(time=lambda: next_attempt - 30))
        pilot.app.query_one(OfflineBanner).show(pilot.app.engine.link)
        await pilot.pause()

    app = make(threaded_server, seeded, tmp_path, server=closed, backoff=Backoff(30, 30))
    assert snap_compare(app, terminal_size=SIZE, run_before=offline)


def test_help_screen(snap_compare, threaded_server, seeded, tmp_path) -> None:
    async def help_open(pilot) -> None:
        await wait_ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make(threaded_server, seeded, tmp_path), terminal_size=SIZE, run_before=help_open)



def test_zoomed_to_a_marker_the_text_is_readable(snap_compare, threaded_server, seeded, tmp_path) -> None:
    async def zoomed(pilot) -> None:
        await wait_ready(pilot)
        await pilot.press("n", "n", "z", "plus")
        await pilot.pause()

    assert snap_compare(make(threaded_server, seeded, tmp_path), terminal_size=(160, 48), run_before=zoomed)


def test_close_markers_as_one_badge_at_80_columns(snap_compare, threaded_server, tmp_path) -> None:
    plain = tmp_path / "plain.png"
    Image.linear_gradient("L").resize((1280, 800)).convert("RGB").save(plain)
    token = threaded_server.token("u_ana", "Ana")
    key = file_image_key(plain)
    with httpx.Client(base_url=threaded_server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as h:
        for x, y in [(30, 40), (30.5, 40), (31, 40.2), (60, 60), (61.5, 60), (70, 20)]:
            h.post("/chats", json={"image": key, "x": x, "y": y, "text": "here", "broadcastId": str(uuid.uuid4())})

    async def loaded(pilot) -> None:
        for _ in range(500):
            if ready(pilot.app) and len(pilot.app.markers) == 6:
                break
            await pilot.pause(0.01)
        await pilot.pause()

    app = ImageChatApp(str(plain), server=threaded_server.url, token=token,
                       cache=StateCache(tmp_path, threaded_server.url, token))
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded)


def test_inbox(snap_compare, threaded_server, tmp_path) -> None:
    """The inbox of a tenant of its own: a stored screenshot with its conversation, a stored image,
    and one whose bytes the server never got (a placeholder instead of its picture, no name)."""
    ana = threaded_server.token("u_ana", "Ana", tenant="inbox-snapshot")
    bob = threaded_server.token("u_bob", "Bob", tenant="inbox-snapshot")
    sample = draw_sample(tmp_path / "checkout.png")
    plain = tmp_path / "settings.png"
    Image.linear_gradient("L").resize((640, 400)).convert("RGB").save(plain)

    def upload(path: Path, token: str, source: str) -> str:
        key = file_image_key(path)
        response = httpx.put(f"{threaded_server.url}/api/v1/images/{key}", content=path.read_bytes(),
                             params={"source": source}, headers={"Authorization": f"Bearer {token}",
                                                                 "Content-Type": "application/octet-stream"})
        response.raise_for_status()
        return key

    def comment(token: str, key: str, text: str) -> None:
        httpx.post(f"{threaded_server.url}/api/v1/chats", headers={"Authorization": f"Bearer {token}"},
                   json={"image": key, "x": 50, "y": 50, "text": text, "broadcastId": str(uuid.uuid4())},
                   ).raise_for_status()

    comment(bob, "sha256:" + "0" * 64, "Where is this one from? Nobody uploaded it")
    comment(bob, upload(plain, bob, "https://tickets.example.com/4711/settings.png"),
            "The toggles' labels overlap at 125 % scaling")
    threaded_server.run(seed(threaded_server.url, upload(sample, ana, "https://tickets.example.com/4712/checkout.png"),
                             ana, bob))

    async def loaded(pilot) -> None:
        app = pilot.app
        for _ in range(500):
            if (app.engine.link.state is LinkState.ONLINE and app.inbox.view.loaded
                    and len(app.inbox.view.rows) == 3 and len(app.inbox.pictures) == 2):
                break
            await pilot.pause(0.01)
        app.inbox.query_one(InboxList).focus()
        await pilot.pause()

    url = threaded_server.url
    app = ImageChatApp(None, server=url, token=ana, cache=StateCache(tmp_path, url, ana))
    assert snap_compare(app, terminal_size=SIZE, run_before=loaded)
