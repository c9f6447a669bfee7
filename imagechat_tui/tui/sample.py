"""A sample screenshot and conversation, made here (no network), for screenshots, tests and demos."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, ImageFont

SAMPLE_SIZE = (1280, 800)


def draw_sample(path: Path) -> Path:
    """A screenshot-like picture with small text, as real ones have: a title bar, an order summary,
    a payment panel with an error and a button (the same bytes every time, for one Pillow version)."""
    image = Image.new("RGB", SAMPLE_SIZE, (235, 240, 245))
    draw = ImageDraw.Draw(image)
    text, title = ImageFont.load_default(14), ImageFont.load_default(22)
    draw.rectangle((0, 0, 1280, 96), fill=(40, 60, 110))
    draw.text((40, 34), "Acme Store · Checkout", fill=(255, 255, 255), font=title)
    draw.rectangle((64, 160, 608, 480), fill=(255, 255, 255), outline=(120, 120, 120))
    draw.text((88, 180), "Order summary", fill=(20, 20, 20), font=title)
    for row, (item, price) in enumerate([("Wireless keyboard", "49.90"), ("USB-C cable, 2 m", "12.50"),
                                         ("Shipping", "4.90"), ("Total (EUR)", "67.30")]):
        draw.text((88, 240 + row * 44), item, fill=(40, 40, 40), font=text)
        draw.text((520, 240 + row * 44), price, fill=(40, 40, 40), font=text)
    draw.rectangle((672, 160, 1216, 736), fill=(250, 250, 250), outline=(120, 120, 120))
    draw.text((696, 180), "Payment", fill=(20, 20, 20), font=title)
    draw.rectangle((696, 240, 1192, 330), fill=(255, 235, 235), outline=(200, 60, 60))
    draw.text((712, 256), "Card declined: error 0x80070005", fill=(170, 0, 0), font=text)
    draw.text((712, 290), "Request id 7f3a-22c9-bb01", fill=(90, 90, 90), font=text)
    draw.rectangle((960, 640, 1312, 720), fill=(30, 140, 80))
    draw.text((1040, 668), "Save and pay", fill=(255, 255, 255), font=title)
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
        await call(bob, "POST", f"/chats/{first['id']}/comments", text="Which width? I see it at 1280 px",
                   parentId=first["comments"][0]["id"])
        await call(ana, "POST", f"/chats/{first['id']}/comments", text="Below 820 px, in Firefox and Chrome")
        await call(bob, "POST", "/chats", image=key, x=68, y=33, text="Is 0x80070005 the issuer's code or ours?")
        done = await call(ana, "POST", "/chats", image=key, x=88, y=85, text="Save button colour is off-brand")
        await call(bob, "PATCH", f"/chats/{done['marker']['id']}", status="resolved")
