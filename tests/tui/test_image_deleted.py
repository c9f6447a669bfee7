"""The viewer closes an image an admin deleted while it was open."""

from __future__ import annotations

from ..conftest import Harness, wait_for
from ..test_rest import client
from .test_flows import SIZE, ready


async def test_the_viewer_closes_when_an_admin_deletes_its_image(server: Harness, make_app, sample,
                                                                 sample_key: str) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await app.engine.create_marker(sample_key, 10, 10, "customer data")
        async with client(server, await server.token("u_root", "Root", "admin")) as root:
            assert (await root.delete(f"/images/{sample_key}")).status_code == 200
        await wait_for(lambda: app.return_code == 1, 5, "the viewer to close")
