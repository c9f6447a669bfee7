"""client/images.py, imagecache.py and links.py without a viewer: keys by content, sources without
secrets, the image cache's bound and order, links."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from PIL import Image

from imagechat_tui.client.imagecache import ImageCache
from imagechat_tui.client.images import ImageError, resolve, shown_target
from imagechat_tui.client.links import Link, format_link, parse_link
from imagechat_tui.protocol.imagekey import data_image_key, legacy_source, legacy_url_key

from .website import send_body, website

SECRETS = ("hunter2pw", "SIGsecret")


def png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 0, 0)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def web() -> Iterator[tuple[str, list[str]]]:
    """A web server giving the same image whatever the query string; the request lines it saw."""
    body = png(10)
    seen: list[str] = []

    def respond(request: BaseHTTPRequestHandler) -> None:
        seen.append(request.path)
        if request.path.startswith("/shot.png"):
            send_body(request, body)
        else:
            request.send_error(404)

    with website(respond) as address:
        yield address, seen


def test_a_source_has_no_user_info_query_or_fragment() -> None:
    assert legacy_source("HTTPS://u:hunter2pw@Shots.Example.com:443/a/b.png?X-Amz-Signature=SIGsecret#f") == \
        "https://shots.example.com/a/b.png"
    assert shown_target("https://u:hunter2pw@h.example/x.png?sig=SIGsecret") == "https://h.example/x.png"


def test_links_with_and_without_a_marker() -> None:
    key = "sha256:" + "ab" * 32
    assert parse_link(key) == Link(key)
    assert parse_link(f"{key.upper().replace('SHA256', 'sha256')}#12") == Link(key, 12)
    assert parse_link(format_link(key, 12)) == Link(key, 12)
    assert format_link(key) == f"imagechat-tui {key}"
    assert parse_link("sha256:abc") is None and parse_link(f"{key}#x") is None


async def test_resigned_urls_and_a_file_of_the_same_bytes_have_one_key(web, tmp_path: Path) -> None:
    host, _ = web
    first = await resolve(f"http://u:hunter2pw@{host}/shot.png?X-Amz-Signature=SIGsecret", rest=None)
    second = await resolve(f"http://{host}/shot.png?X-Amz-Signature=other", rest=None)
    path = tmp_path / "download.png"
    path.write_bytes(png(10))
    local = await resolve(str(path), rest=None)
    assert first.key == second.key == local.key == data_image_key(png(10))
    assert first.source == first.name == f"http://{host}/shot.png"
    assert local.file_name == "download.png" and local.source is None
    legacy = legacy_url_key(f"http://u:hunter2pw@{host}/shot.png?X-Amz-Signature=SIGsecret")
    assert first.legacy_key_hash == hashlib.sha256(legacy.encode()).hexdigest()


async def test_failures_never_show_a_urls_secrets(web) -> None:
    host, _ = web
    with pytest.raises(ImageError) as failed:
        await resolve(f"http://u:hunter2pw@{host}/missing.png?X-Amz-Signature=SIGsecret", rest=None)
    assert "answered 404" in str(failed.value)
    assert not any(secret in str(failed.value) for secret in SECRETS)


async def test_a_url_opened_before_reopens_from_the_cache_offline(web, tmp_path: Path) -> None:
    host, seen = web
    cache = ImageCache(tmp_path / "cache")
    url = f"http://u:hunter2pw@{host}/shot.png?X-Amz-Signature=SIGsecret"
    first = await resolve(url, rest=None, cache=cache)
    assert len(seen) == 1
    again = await resolve(url, rest=None, cache=cache)
    assert len(seen) == 1 and again.key == first.key and again.data == first.data
    # Nothing in the cache names the URL: the map is filed under a digest of it.
    for path in (tmp_path / "cache").rglob("*"):
        assert not any(secret in path.name for secret in SECRETS)
        if path.is_file():
            assert not any(secret.encode() in path.read_bytes() for secret in SECRETS)


async def test_a_link_comes_from_the_cache_first(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "cache")
    data = png(20)
    key = data_image_key(data)
    cache.put(key, data)
    resolved = await resolve(f"{key}#3", rest=None, cache=cache)
    assert (resolved.key, resolved.marker, resolved.data) == (key, 3, data)
    with pytest.raises(ImageError, match="no server to fetch it from"):
        await resolve("sha256:" + "0" * 64, rest=None, cache=cache)
    with pytest.raises(ImageError, match="64 hex digits"):
        await resolve("sha256:beef", rest=None, cache=cache)


def test_the_cache_is_bounded_and_drops_the_least_recently_used_first(tmp_path: Path) -> None:
    blobs = {shade: png(shade) for shade in (1, 2, 3, 4)}
    keys = {shade: data_image_key(data) for shade, data in blobs.items()}
    size = max(len(data) for data in blobs.values())
    cache = ImageCache(tmp_path / "cache", max_bytes=3 * size)
    for shade in (1, 2, 3):
        cache.put(keys[shade], blobs[shade])
    assert cache.get(keys[1]) == blobs[1]  # 1 is used again: 2 is now the least recently used
    cache.put(keys[4], blobs[4])
    assert cache.get(keys[2]) is None
    assert all(cache.get(keys[shade]) == blobs[shade] for shade in (1, 3, 4))
    assert cache.size() <= 3 * size


def test_two_viewers_writing_one_cache_at_once_leave_whole_files(tmp_path: Path) -> None:
    blobs = [png(shade) for shade in range(40)]
    caches = [ImageCache(tmp_path / "cache", max_bytes=10 * len(blobs[0])) for _ in range(2)]

    def fill(cache: ImageCache) -> None:
        for data in blobs:
            cache.put(data_image_key(data), data)

    threads = [threading.Thread(target=fill, args=(cache,)) for cache in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for data in blobs:
        got = caches[0].get(data_image_key(data))
        assert got is None or got == data  # evicted, or whole: never half a file
    assert not list((tmp_path / "cache" / "content").glob(".*"))  # no temporary file left behind

