"""Opening images from URLs over a real HTTP server on loopback: progress, limits, failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from imagechat_tui.tui.loader import LoadError, load


@pytest.fixture
def web(sample: Path) -> Iterator[str]:
    body = sample.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the stdlib's name
            if self.path.startswith("/hop/"):
                left = int(self.path.rsplit("/", 1)[1])
                self.send_response(302)
                self.send_header("Location", "/shot.png" if left == 0 else f"/hop/{left - 1}")
                self.end_headers()
            elif self.path == "/shot.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/huge.png":
                self.send_response(200)
                self.send_header("Content-Length", str(30 * 2**20))
                self.end_headers()
            else:
                self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_a_url_loads_with_progress_and_a_normalised_key(web: str) -> None:
    seen: list[tuple[int, int | None]] = []
    loaded = await load(web.replace("http://127.0.0.1", "HTTP://127.0.0.1") + "/shot.png#top",
                        progress=lambda done, total: seen.append((done, total)))
    assert loaded.key == web + "/shot.png"
    assert (loaded.width, loaded.height) == (800, 500)
    assert seen and seen[-1][0] == seen[-1][1]


async def test_up_to_five_redirects_are_followed(web: str) -> None:
    assert (await load(web + "/hop/4")).width == 800  # five redirects
    with pytest.raises(LoadError, match="more than 5 redirects"):
        await load(web + "/hop/5")


@pytest.mark.parametrize("path, message", [("/missing.png", "answered 404"), ("/huge.png", "larger than 25 MB")])
async def test_http_failures_are_clear(web: str, path: str, message: str) -> None:
    with pytest.raises(LoadError, match=message):
        await load(web + path)
