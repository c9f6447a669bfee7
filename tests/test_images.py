"""Image files on the server: upload validation, deduplication, content and caching, thumbnails,
metadata, tenant isolation, deletion with the whole conversation (REST, CLI, live viewers), and the
schema migration that added them; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from PIL import Image
from sqlalchemy import func, select, update

from imagechat_tui.client.engine import ImageDeleted, Notice
from imagechat_tui.client.errors import ClientError
from imagechat_tui.protocol.limits import MAX_FRAME_BYTES, MAX_IMAGE_BYTES, THUMBNAIL_SIZE
from imagechat_tui.server import admin
from imagechat_tui.server.config import sqlite_url
from imagechat_tui.server.database import Database
from imagechat_tui.server.redis_pubsub import RedisPubSub
from imagechat_tui.server.schema import SCHEMA_VERSION, image_files, meta, prepare

from .conftest import Harness, bid, wait_for
from .old_schemas import back_to_version_2
from .redis_server import RedisServer
from .test_cli import admin as run_cli
from .test_limits import error_code_of, open_raw, status_of, stream_chunked
from .test_live import open_ws, recv, subscribe
from .test_rest import client


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (200, 100), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def key_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def bomb() -> bytes:
    """A tiny PNG whose header claims 9000 x 9000 pixels (81 megapixels)."""
    png = image_bytes(size=(1, 1))
    ihdr = b"IHDR" + struct.pack(">II", 9000, 9000) + png[24:29]
    return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


PNG = image_bytes()
KEY = key_of(PNG)


async def put(http: httpx.AsyncClient, data: bytes, key: str | None = None, **params: str) -> httpx.Response:
    return await http.put(f"/images/{key or key_of(data)}", content=data, params=params,
                          headers={"Content-Type": "application/octet-stream"})


@pytest_asyncio.fixture
async def both(make_server, database_url: str) -> Harness:
    """A server on each database."""
    return await make_server(database_url)


@pytest_asyncio.fixture
async def ana(server: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with client(server, await server.token("u_ana", "Ana")) as http:
        yield http


async def test_upload_then_read_back_with_caching_thumbnail_and_metadata(both: Harness) -> None:
    async with client(both, await both.token("u_ana", "Ana")) as http:
        signed = "https://Shots.Example.com/4711.png?X-Amz-Signature=s3cr3t#part"
        created = await put(http, PNG, source=signed)
        assert created.status_code == 201, created.text
        info = created.json()
        assert info == {"key": KEY, "size": len(PNG), "width": 200, "height": 100, "format": "png",
                        "source": "https://shots.example.com/4711.png", "uploadedBy": {"id": "u_ana", "name": "Ana"},
                        "uploadedAt": info["uploadedAt"]}
        assert (await http.get(f"/images/{KEY}")).json() == info
        assert (await http.get(f"/images/{KEY.upper().replace('SHA256', 'sha256')}")).json() == info

        content = await http.get(f"/images/{KEY}/content")
        assert content.status_code == 200 and content.content == PNG
        assert content.headers["content-type"] == "image/png"
        assert content.headers["etag"] == f'"{KEY}"'
        assert "immutable" in content.headers["cache-control"]
        again = await http.get(f"/images/{KEY}/content", headers={"If-None-Match": f'W/"x", "{KEY}"'})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == f'"{KEY}"'
        assert (await http.get(f"/images/{KEY}/content", headers={"If-None-Match": '"other"'})).status_code == 200

        head = await http.head(f"/images/{KEY}/content")
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(PNG)
        assert (await http.head(f"/images/{key_of(b'nothing')}/content")).status_code == 404

        thumbnail = await http.get(f"/images/{KEY}/thumbnail")
        assert thumbnail.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(thumbnail.content)) as small:
            assert small.format == "PNG" and small.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE // 2)
        etag = thumbnail.headers["etag"]
        assert (await http.get(f"/images/{KEY}/thumbnail", headers={"If-None-Match": etag})).status_code == 304


async def test_the_same_bytes_again_store_nothing_new(both: Harness) -> None:
    async with client(both, await both.token("u_ana", "Ana")) as ana, \
            client(both, await both.token("u_bob", "Bob")) as bob:
        first = await put(ana, PNG, source="https://a.example/1.png")
        second = await put(bob, PNG, source="https://b.example/2.png")
        assert (first.status_code, second.status_code) == (201, 200)
        assert second.json() == first.json()  # the first upload's metadata stays
    count = select(func.count()).select_from(image_files)
    assert await both.app.db.run(lambda conn: conn.execute(count).scalar_one(), snapshot=True) == 1


async def test_two_servers_over_one_database_serve_the_same_image(make_server, database_url: str) -> None:
    first = await make_server(database_url)
    second = await make_server(database_url)
    token = await first.token("u_ana", "Ana")
    async with client(first, token) as one, client(second, token) as two:
        assert (await put(one, PNG)).status_code == 201
        assert (await two.get(f"/images/{KEY}/content")).content == PNG
        assert (await put(two, PNG)).status_code == 200


async def test_another_tenants_image_is_not_found(both: Harness) -> None:
    async with client(both, await both.token("u_ana", "Ana")) as ana, \
            client(both, await both.token("u_eve", "Eve", "admin", tenant="other")) as eve:
        assert (await put(ana, PNG)).status_code == 201
        for path in (f"/images/{KEY}", f"/images/{KEY}/content", f"/images/{KEY}/thumbnail"):
            answer = await eve.get(path)
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found", path
        assert (await eve.get(f"/images/{KEY}/content", headers={"If-None-Match": "*"})).status_code == 404
        assert (await eve.head(f"/images/{KEY}/content")).status_code == 404
        assert (await eve.delete(f"/images/{KEY}")).status_code == 404
        assert (await ana.get(f"/images/{KEY}/content")).content == PNG  # still there
        assert (await put(eve, PNG)).status_code == 201  # each tenant keeps its own


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP"])
async def test_every_accepted_format(ana: httpx.AsyncClient, fmt: str) -> None:
    data = image_bytes(fmt)
    answer = await put(ana, data)
    assert answer.status_code == 201, answer.text
    assert answer.json()["format"] == fmt.lower()
    content = await ana.get(f"/images/{key_of(data)}/content")
    assert content.headers["content-type"] == f"image/{fmt.lower()}"


BAD_UPLOADS = [
    pytest.param(PNG, key_of(b"other bytes"), {}, 422, "hash_mismatch", id="wrong-hash"),
    pytest.param(b"plain text, not an image", None, {}, 422, "not_an_image", id="not-an-image"),
    pytest.param(PNG[: len(PNG) // 2], None, {}, 422, "not_an_image", id="truncated"),
    pytest.param(image_bytes("TIFF"), None, {}, 422, "not_an_image", id="tiff-not-accepted"),
    pytest.param(bomb(), None, {}, 422, "too_many_pixels", id="decompression-bomb"),
    pytest.param(PNG, "sha256:abc", {}, 422, "invalid", id="key-not-a-digest"),
    pytest.param(PNG, None, {"source": "https://user:pw@example.com/a.png"}, 422, "invalid", id="source-credentials"),
    pytest.param(PNG, None, {"source": "ftp://example.com/a.png"}, 422, "invalid", id="source-not-http"),
]


@pytest.mark.parametrize(("data", "key", "params", "status", "code"), BAD_UPLOADS)
async def test_bad_uploads_are_refused_and_store_nothing(server: Harness, ana: httpx.AsyncClient, data: bytes,
                                                         key: str | None, params: dict[str, str], status: int,
                                                         code: str) -> None:
    answer = await put(ana, data, key, **params)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    count = select(func.count()).select_from(image_files)
    assert await server.app.db.run(lambda conn: conn.execute(count).scalar_one(), snapshot=True) == 0


async def declared(server: Harness, request: str, length: int) -> bytes:
    """The answer to a request head declaring a body of `length` bytes, none of which is sent."""
    reader, writer = await open_raw(server)
    writer.write(f"{request} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {await server.token()}\r\n"
                 f"Content-Length: {length}\r\n\r\n".encode())
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return response


async def test_a_declared_body_over_25_mib_is_refused_before_it_is_read(server: Harness) -> None:
    response = await declared(server, f"PUT /api/v1/images/{KEY}", MAX_IMAGE_BYTES + 1)
    assert status_of(response) == 413 and error_code_of(response) == "too_large"


@pytest.mark.parametrize("request_line", ["POST /api/v1/chats", f"GET /api/v1/images/{KEY}/content",
                                          f"PUT /api/v1/images/{KEY}/content", f"POST /api/v1/images/{KEY}"])
async def test_other_routes_keep_the_64_kib_cap(server: Harness, request_line: str) -> None:
    response = await declared(server, request_line, MAX_FRAME_BYTES + 1)
    assert status_of(response) == 413 and error_code_of(response) == "too_large"


async def test_a_chunked_upload_over_the_cap_is_refused_early(server: Harness) -> None:
    headers = f"Authorization: Bearer {await server.token()}\r\n"
    total = 2 * MAX_IMAGE_BYTES
    response, sent = await stream_chunked(server, headers, total, f"PUT /api/v1/images/{KEY}")
    assert status_of(response) == 413 and error_code_of(response) == "too_large"
    assert sent < MAX_IMAGE_BYTES + (8 << 20), f"{sent} bytes went out before the refusal came back"


async def test_an_unauthenticated_upload_is_refused_before_its_body(server: Harness) -> None:
    total = 2 * MAX_IMAGE_BYTES
    response, sent = await stream_chunked(server, "", total, f"PUT /api/v1/images/{KEY}")
    assert status_of(response) == 401 and sent < total // 2


async def conversation(http: httpx.AsyncClient, key: str) -> str:
    body = {"image": key, "x": 10, "y": 20, "text": "customer data here", "broadcastId": bid()}
    marker = (await http.post("/chats", json=body)).json()["marker"]
    reply = {"text": "a reply", "broadcastId": bid()}
    assert (await http.post(f"/chats/{marker['id']}/comments", json=reply)).status_code == 201
    return str(marker["id"])


async def test_an_admin_deletes_an_image_with_its_whole_conversation(both: Harness) -> None:
    async with client(both, await both.token("u_ana", "Ana")) as ana, \
            client(both, await both.token("u_root", "Root", "admin")) as root:
        assert (await put(ana, PNG)).status_code == 201
        await conversation(ana, KEY)
        other = key_of(image_bytes(color="blue"))
        await conversation(ana, other)
        ws = await open_ws(both, await both.token("u_viewer", "Viewer"))
        assert (await subscribe(ws, image=KEY))["seq"] == 2

        refused = await ana.delete(f"/images/{KEY}")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        deleted = await root.delete(f"/images/{KEY}")
        assert deleted.status_code == 200 and deleted.json() == {"seq": 3}
        event = await recv(ws)
        assert event["type"] == "deleted-image" and event["image"] == KEY and event["seq"] == 3
        await ws.close()

        assert (await ana.get(f"/images/{KEY}/content")).status_code == 404
        assert (await ana.get("/chats", params={"image": KEY})).json() == {"image": KEY, "seq": 3, "markers": []}
        history = (await ana.get("/events", params={"image": KEY, "since": 2})).json()["events"]
        assert [e["type"] for e in history] == ["deleted-image"]  # a viewer that missed it still learns of it
        assert len((await ana.get("/chats", params={"image": other})).json()["markers"]) == 1
        assert (await root.delete(f"/images/{KEY}")).status_code == 404

    def leftovers(conn) -> list[str]:
        rows = conn.exec_driver_sql("SELECT body FROM receipts").scalars().all()
        comments = conn.exec_driver_sql("SELECT text FROM comments").scalars().all()
        return [b for b in rows if KEY in b] + list(comments)

    remaining = await both.app.db.run(leftovers, snapshot=True)
    assert remaining == ["customer data here", "a reply"]  # only the other image's


async def test_a_conversation_without_stored_bytes_can_be_deleted(server: Harness) -> None:
    async with client(server, await server.token("u_ana", "Ana")) as ana, \
            client(server, await server.token("u_root", "Root", "admin")) as root:
        await conversation(ana, KEY)
        assert (await root.delete(f"/images/{KEY}")).json() == {"seq": 3}


async def test_viewers_of_stored_bytes_without_a_conversation_are_told_too(server: Harness) -> None:
    async with client(server, await server.token("u_ana", "Ana")) as ana, \
            client(server, await server.token("u_root", "Root", "admin")) as root:
        assert (await put(ana, PNG)).status_code == 201
        ws = await open_ws(server, await server.token("u_viewer", "Viewer"))
        assert (await subscribe(ws, image=KEY))["seq"] == 0
        assert (await root.delete(f"/images/{KEY}")).json() == {"seq": 1}
        assert (await recv(ws))["type"] == "deleted-image"
        await ws.close()


async def test_the_sync_engine_reports_a_deleted_image(server: Harness, engines) -> None:
    engine = await engines(server.url, await server.token("u_ana", "Ana"))
    notices: list[Notice] = []
    engine.add_listener(notices.append)
    key = engine.subscribe(KEY)
    await engine.wait_synced(key)
    await wait_for(lambda: engine.me is not None, what="the engine online")
    await engine.create_marker(key, 10, 10, "hello")
    async with client(server, await server.token("u_root", "Root", "admin")) as root:
        assert (await root.delete(f"/images/{KEY}")).status_code == 200
    await wait_for(lambda: ImageDeleted(key) in notices, what="the deletion notice")
    assert engine.is_deleted(key) and engine.markers(key) == []
    with pytest.raises(ClientError, match="deleted"):
        await engine.create_marker(key, 20, 20, "again")


async def test_the_cli_deletes_an_image_and_tells_live_viewers_through_redis(make_server, tmp_path: Path,
                                                                            own_redis: RedisServer) -> None:
    server = await make_server(sqlite_url(tmp_path), RedisPubSub(own_redis.url))
    async with client(server, await server.token("u_ana", "Ana")) as ana:
        assert (await put(ana, PNG)).status_code == 201
        await conversation(ana, KEY)
    ws = await open_ws(server, await server.token("u_viewer", "Viewer"))
    await subscribe(ws, image=KEY)

    missing = run_cli(tmp_path, "image", "delete", "--tenant", "acme", key_of(b"none"))
    assert missing.returncode == 2 and "has no image" in missing.stderr and "Traceback" not in missing.stderr
    bad = run_cli(tmp_path, "image", "delete", "--tenant", "acme", "https://example.com/a.png")
    assert bad.returncode == 2 and "sha256" in bad.stderr
    done = run_cli(tmp_path, "--redis-url", own_redis.url, "image", "delete", "--tenant", "acme", KEY)
    assert done.returncode == 0, done.stderr
    assert "deleted" in done.stdout and "told" in done.stdout
    event = await recv(ws, timeout=5)
    assert event["type"] == "deleted-image" and event["seq"] == 3
    await ws.close()
    async with client(server, await server.token("u_ana", "Ana")) as ana:
        assert (await ana.get(f"/images/{KEY}")).status_code == 404


async def test_a_version_1_database_is_migrated(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.run(prepare)

        def make_version_1(conn) -> None:
            back_to_version_2(conn)
            image_files.drop(conn)
            conn.execute(update(meta).where(meta.c.key == "schema_version").values(value="1"))

        await db.run(make_version_1)
        await admin.create_tenant(db, "acme")
        assert await db.run(prepare) == SCHEMA_VERSION
        version = select(meta.c.value).where(meta.c.key == "schema_version")
        assert await db.run(lambda conn: conn.execute(version).scalar_one(), snapshot=True) == str(SCHEMA_VERSION)
        count = select(func.count()).select_from(image_files)
        assert await db.run(lambda conn: conn.execute(count).scalar_one(), snapshot=True) == 0
    finally:
        await db.dispose()
