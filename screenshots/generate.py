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
from PIL import Image

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

    def viewer(url: str, target: str | None = str(sample)) -> ImageChatApp:
        return ImageChatApp(target, server=url, token=ana, cache=StateCache(work / "cache", url, ana),
                            backoff=Backoff(30, 30))

    await shoot(viewer(runner.url), "markers", (), online)
    await shoot(viewer(runner.url), "thread", ("n", "right_square_bracket"), online)
    await shoot(viewer(runner.url), "help", ("question_mark",), online)
    await shoot(viewer(runner.url), "zoomed", ("n", "n", "z", "plus"), online, size=(160, 48))
    await mention(runner.url, file_image_key(sample), bob)
    await shoot(viewer(runner.url), "notifications", ("N",),
                lambda app: online(app) and app.engine.notifications.loaded and bool(app.engine.directory))

    # The inbox: the sample stored on the server (its thumbnail shows) and two more images.
    settings = work / "settings.png"
    Image.linear_gradient("L").resize((640, 400)).convert("RGB").save(settings)
    async with httpx.AsyncClient(base_url=runner.url + "/api/v1") as http:
        for path, token, source in ((sample, ana, "https://tickets.example.com/4712/checkout-page.png"),
                                    (settings, bob, "https://tickets.example.com/4711/settings.png")):
            (await http.put(f"/images/{file_image_key(path)}", content=path.read_bytes(), params={"source": source},
                            headers={"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/octet-stream"})).raise_for_status()
        for key, text in ((file_image_key(settings), "The toggles' labels overlap at 125 % scaling"),
                          ("sha256:" + "0" * 64, "Where is this one from? Nobody uploaded it")):
            (await http.post("/chats", headers={"Authorization": f"Bearer {bob}"}, json={
                "image": key, "x": 50, "y": 50, "text": text, "broadcastId": str(uuid.uuid4())})).raise_for_status()
        # The latest word on the sample, so that it heads the inbox.
        chats = (await http.get("/chats", params={"image": file_image_key(sample)},
                                headers={"Authorization": f"Bearer {bob}"})).json()
        (await http.post(f"/chats/{chats['markers'][1]['id']}/comments", headers={"Authorization": f"Bearer {bob}"},
                         json={"text": "Ours: the payment service's, not the issuer's",
                               "broadcastId": str(uuid.uuid4())})).raise_for_status()

    def inbox_shown(app: ImageChatApp) -> bool:
        return (app.inbox is not None and app.engine.link.state is LinkState.ONLINE and app.inbox.view.loaded
                and len(app.inbox.pictures) == 2)

    await shoot(viewer(runner.url, None), "inbox", (), inbox_shown)

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
