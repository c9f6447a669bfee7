"""Hostile clients on raw sockets: oversized and unauthenticated bodies whatever their framing,
slow and oversized request heads, unfinished handshakes, too many connections, and running out of
file descriptors. Each is refused early, in the API's error shape, and the server keeps serving."""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from imagechat_tui.server.connections import AcceptErrorLog

from .conftest import IMAGE, Harness, bid
from .test_cli import SERVER, ServerProcess, token

CHUNK = b"x" * 65536


async def open_raw(server: Harness) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(server.url)
    return await asyncio.open_connection(url.hostname, url.port)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def error_code_of(response: bytes) -> str:
    return json.loads(response.partition(b"\r\n\r\n")[2])["error"]["code"]


async def stream_chunked(server: Harness, headers: str, total: int,
                         request: str = "POST /api/v1/chats") -> tuple[bytes, int]:
    """Send up to `total` bytes as a chunked body, stopping when the server answers or closes;
    returns the answer and how much had been sent by then."""
    reader, writer = await open_raw(server)
    writer.write(f"{request} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Transfer-Encoding: chunked\r\n{headers}\r\n".encode())
    answer = asyncio.create_task(reader.read())
    sent = 0
    try:
        while sent < total and not answer.done():
            writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
            await writer.drain()
            sent += len(CHUNK)
    except ConnectionError:
        pass
    response = await asyncio.wait_for(answer, 10)
    writer.close()
    return response, sent


@pytest.mark.parametrize("who", ["nobody", "wrong-token", "member"])
async def test_a_huge_chunked_body_is_refused_early_with_bounded_memory(server: Harness, who: str) -> None:
    headers = {"nobody": "", "wrong-token": "Authorization: Bearer ict_wrong\r\n",
               "member": f"Authorization: Bearer {await server.token()}\r\n"}[who]
    total = 64 << 20
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    # /healthz keeps answering while the body streams in.
    async with httpx.AsyncClient(base_url=server.url) as http:
        streaming = asyncio.create_task(stream_chunked(server, headers, total))
        assert (await http.get("/healthz")).status_code == 200
        response, sent = await streaming
    assert status_of(response) == (413 if who == "member" else 401), response
    assert error_code_of(response) == ("too_large" if who == "member" else "unauthorized")
    assert sent < total // 2, f"{sent} bytes went out before the refusal came back"
    assert time.monotonic() - started < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 32 << 10  # KiB: under 32 MB more


async def test_a_chunked_body_within_the_limit_is_accepted(server: Harness) -> None:
    reader, writer = await open_raw(server)
    body = json.dumps({"image": IMAGE, "x": 1, "y": 2, "text": "chunked", "broadcastId": bid()}).encode()
    writer.write(f"POST /api/v1/chats HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Authorization: Bearer {await server.token()}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    for part in (body[:10], body[10:]):
        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
    writer.write(b"0\r\n\r\n")
    assert status_of(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)) == 201
    writer.close()


async def test_a_slow_body_is_answered_408(make_server, sqlite_database: str) -> None:
    server = await make_server(sqlite_database, body_timeout=0.3)
    reader, writer = await open_raw(server)
    writer.write(f"POST /api/v1/chats HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Authorization: Bearer {await server.token()}\r\nContent-Length: 100\r\n\r\n{{\"x\"".encode())
    response = await asyncio.wait_for(reader.read(), 5)
    assert status_of(response) == 408 and error_code_of(response) == "timeout"
    writer.close()


@pytest.mark.parametrize("sent", [
    pytest.param(b"", id="nothing"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\n", id="half-a-head"),
    pytest.param(b"GET /api/v1/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Version: 13\r\n", id="half-a-websocket-handshake"),
])
async def test_an_unfinished_request_head_is_answered_408_and_closed(make_server, sqlite_database: str,
                                                                     sent: bytes) -> None:
    server = await make_server(sqlite_database, header_timeout=0.3)
    reader, writer = await open_raw(server)
    writer.write(sent)
    response = await asyncio.wait_for(reader.read(), 5)  # read() returns once the server has closed
    assert status_of(response) == 408 and error_code_of(response) == "timeout"
    writer.close()


@pytest.mark.parametrize("head", [
    pytest.param(b"X-Big: " + b"a" * (1 << 20) + b"\r\n", id="one-1-MB-header"),
    pytest.param(b"".join(b"X-%d: v\r\n" % i for i in range(20_000)), id="20000-headers"),
])
async def test_an_oversized_request_head_is_answered_431(server: Harness, head: bytes) -> None:
    reader, writer = await open_raw(server)
    started = time.process_time()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        for start in range(0, len(head), 65536):
            writer.write(head[start:start + 65536])
            await writer.drain()
    except ConnectionError:
        pass
    response = await asyncio.wait_for(reader.read(), 5)
    assert status_of(response) == 431 and error_code_of(response) == "headers_too_large"
    assert time.process_time() - started < 2
    writer.close()
    async with httpx.AsyncClient(base_url=server.url) as http:  # a normal head still passes
        assert (await http.get("/healthz", headers={"X-Fine": "a" * 8000})).status_code == 200


async def test_connections_over_the_limit_are_answered_503_until_one_closes(make_server,
                                                                             sqlite_database: str) -> None:
    server = await make_server(sqlite_database, max_connections=3)
    held = [await open_raw(server) for _ in range(3)]
    reader, writer = await open_raw(server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 5)
    assert status_of(response) == 503 and error_code_of(response) == "busy"
    writer.close()
    with pytest.raises(InvalidStatus) as refused:  # WebSocket upgrades count, and are refused alike
        await connect(server.url.replace("http", "ws") + "/api/v1/live")
    assert refused.value.response.status_code == 503
    held[0][1].close()
    async with httpx.AsyncClient(base_url=server.url) as http:
        async def answered() -> bool:
            return (await http.get("/healthz")).status_code == 200

        deadline = time.monotonic() + 5
        while not await answered():
            assert time.monotonic() < deadline, "a freed connection slot was not reused"
            await asyncio.sleep(0.05)
    for _, w in held[1:]:
        w.close()


def test_accept_failures_are_logged_once_per_interval_with_a_count() -> None:
    throttle = AcceptErrorLog(interval=10)
    error = OSError(24, "Too many open files")
    lines = [throttle.line(error, now) for now in (0.0, 0.1, 5.0, 9.9, 10.0, 10.5, 30.0)]
    assert [line is not None for line in lines] == [True, False, False, False, True, False, True]
    assert "Too many open files" in lines[0] and "more since" not in lines[0]  # type: ignore[operator]
    assert "(3 more since the last report)" in lines[4]  # type: ignore[operator]
    assert "(1 more since the last report)" in lines[6]  # type: ignore[operator]


async def test_running_out_of_file_descriptors_logs_a_few_lines_and_recovers(tmp_path: Path) -> None:
    secret = token(tmp_path)

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    # The connection limit is set above what the descriptors allow, to make accept() itself fail.
    proc = subprocess.Popen([*SERVER, "--data-dir", str(tmp_path), "--port", "0", "--max-connections", "1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=few_files)
    url = await ServerProcess.url_of(proc)
    harness = Harness(app=None, url=url)  # type: ignore[arg-type]
    held = []
    try:
        for _ in range(200):
            held.append(await asyncio.wait_for(open_raw(harness), 5))
        await asyncio.sleep(3)  # the accept loop meets the limit again and again meanwhile
        for _, writer in held:
            writer.close()
        held.clear()
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {secret}"}) as http:
            deadline = time.monotonic() + 15
            while True:
                try:
                    if (await http.get("/api/v1/me")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not recover"
                await asyncio.sleep(0.2)
    finally:
        for _, writer in held:
            writer.close()
        proc.terminate()
        _, errors = await asyncio.to_thread(proc.communicate, timeout=15)
    reports = [line for line in errors.splitlines() if "can't accept connections" in line]
    assert 1 <= len(reports) <= 3, errors[-2000:]
    assert "Too many open files" in reports[0] and len(errors) < 20_000, errors[-2000:]
