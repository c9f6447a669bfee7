"""A sample screenshot and conversation, made here (no network), for screenshots, tests and demos."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from PIL import Image, ImageDraw


def draw_sample(path: Path) -> Path:
    """A screenshot-like picture: a title bar, two panels and a button (the same bytes every time)."""
    image = Image.new("RGB", (800, 500), (235, 240, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 800, 60), fill=(40, 60, 110))
    draw.rectangle((40, 100, 380, 300), fill=(255, 255, 255), outline=(120, 120, 120))
    draw.rectangle((420, 100, 760, 460), fill=(250, 250, 250), outline=(120, 120, 120))
    draw.rectangle((600, 400, 820, 450), fill=(30, 140, 80))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


async def seed(server: str, key: str, ana: str, bob: str) -> None:
    """Three markers on `key`: a thread with a reply, an open question, a resolved one."""
    async with httpx.AsyncClient(base_url=server + "/api/v1") as http:

        async def call(token: str, method: str, path: str, **body: object) -> dict:
            body["broadcastId"] = str(uuid.uuid4())
            response = await http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            return response.json()

        first = (await call(ana, "POST", "/chats", image=key, x=22, y=30,
                            text="The title is cut off on narrow windows"))["marker"]
        await call(bob, "POST", f"/chats/{first['id']}/comments", text="Which width? I see it at 800 px",
                   parentId=first["comments"][0]["id"])
        await call(ana, "POST", f"/chats/{first['id']}/comments", text="Below 820 px, in Firefox and Chrome")
        await call(bob, "POST", "/chats", image=key, x=75, y=55, text="This panel should scroll, not clip")
        done = await call(ana, "POST", "/chats", image=key, x=88, y=85, text="Save button colour is off-brand")
        await call(bob, "PATCH", f"/chats/{done['marker']['id']}", status="resolved")
