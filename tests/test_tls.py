"""HTTPS and WSS with --certfile/--keyfile, and a client trusting a private CA with --cafile."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trustme

from imagechat_tui.client.engine import LinkState

from .conftest import IMAGE, wait_for


async def test_rest_and_live_sync_over_tls(make_server, sqlite_database, engines, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(certfile)
    cert.private_key_pem.write_to_path(keyfile)
    ca.cert_pem.write_to_path(cafile)

    server = await make_server(sqlite_database, certfile=str(certfile), keyfile=str(keyfile))
    assert server.url.startswith("https://")
    token = await server.token()
    with pytest.raises(httpx.ConnectError):  # an unknown CA is refused
        async with httpx.AsyncClient() as http:
            await http.get(server.url + "/healthz")

    a = await engines(server.url, token, cafile=str(cafile))
    b = await engines(server.url, await server.token("u_bob", "Bob"), cafile=str(cafile))
    for engine in (a, b):
        engine.subscribe(IMAGE)
        await wait_for(lambda e=engine: e.link.state is LinkState.ONLINE and e.state(IMAGE).loaded)
    marker = await a.create_marker(IMAGE, 1, 2, "over wss")
    await wait_for(lambda: any(m.id == marker.id for m in b.markers(IMAGE)), 1.0, "the marker over WSS")
