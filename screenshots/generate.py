"""Regenerate screenshots/*.svg from the real viewer, on a private server with the sample image.

    python screenshots/generate.py

Nothing leaves the machine: the server runs in this process on loopback, with a throwaway database.
"""

from __future__ import annotations

import asyncio
import random
import socket
import tempfile
import uuid
from pathlib import Path

import httpx

from imagechat_tui.client.engine import Backoff, LinkState
from imagechat_tui.protocol.imagekey import file_image_key
from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url
from imagechat_tui.server.runner import build_runner
from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.cache import StateCache
from imagechat_tui.tui.sample import draw_sample, seed

HERE = Path(__file__).parent
SIZE = (120, 34)


async def until(condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("the viewer did not get there")
        await asyncio.sleep(0.02)


async def shoot(app: ImageChatApp, name: str, keys: tuple[str, ...], ready, size: tuple[int, int] = SIZE) -> None:
    async with app.run_test(size=size) as pilot:
        await until(lambda: ready(app))
        await pilot.press(*keys)
        await pilot.pause(0.3)
        app.save_screenshot(f"{name}.svg", str(HERE))
        print(f"wrote screenshots/{name}.svg")


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="imagechat-screenshots-"))
    server = ImageChatServer(ServerConfig(sqlite_url(work)))
    runner = build_runner(server, host="127.0.0.1", port=0, announce=False)
    serving = asyncio.create_task(runner.serve())
    await until(lambda: runner.started)
    await admin.create_tenant(server.db, "demo")
    ana = (await admin.create_token(server.db, "demo", "u_ana", "Ana", "member"))[1]
    bob = (await admin.create_token(server.db, "demo", "u_bob", "Bob", "member"))[1]
    sample = draw_sample(work / "checkout-page.png")
    await seed(runner.url, file_image_key(sample), ana, bob)

    def online(app: ImageChatApp) -> bool:
        return app.key is not None and app.engine.link.state is LinkState.ONLINE and bool(app.markers)

    def viewer(url: str) -> ImageChatApp:
        return ImageChatApp(str(sample), server=url, token=ana, cache=StateCache(work / "cache", url, ana),
                            backoff=Backoff(30, 30))

    await shoot(viewer(runner.url), "markers", (), online)
    await shoot(viewer(runner.url), "thread", ("n", "right_square_bracket"), online)
    await shoot(viewer(runner.url), "help", ("question_mark",), online)
    await shoot(viewer(runner.url), "zoomed", ("n", "n", "z", "plus"), online, size=(160, 48))
    await mention(runner.url, file_image_key(sample), bob)
    await shoot(viewer(runner.url), "notifications", ("N",),
                lambda app: online(app) and app.engine.notifications.loaded and bool(app.engine.directory))

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    state = server.store
    page = await state.chats(await state.principal(ana), file_image_key(sample))  # type: ignore[arg-type]
    StateCache(work / "cache", closed, ana).save(page.image, page.seq, page.markers)
    random.uniform = lambda a, b: b  # a steady countdown in the picture
    await shoot(viewer(closed), "offline", (), lambda app: app.engine.link.state is LinkState.RECONNECTING
                and bool(app.markers))

    runner.should_exit = True
    await serving


async def mention(url: str, key: str, bob: str) -> None:
    """Bob asks Ana about his marker, so that her notifications hold a mention too."""
    async with httpx.AsyncClient(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {bob}"}) as http:
        markers = (await http.get("/chats", params={"image": key})).json()["markers"]
        question = next(m for m in markers if m["createdBy"]["id"] == "u_bob")
        response = await http.post(f"/chats/{question['id']}/comments", json={
            "text": "<@u_ana> the log says it comes from the payment gateway: can you confirm?",
            "broadcastId": str(uuid.uuid4())})
        response.raise_for_status()


if __name__ == "__main__":
    asyncio.run(main())
