"""`GET /api/v1/users`: the tenant's people, for members too, and nothing of other tenants."""

from __future__ import annotations

from typing import Any

from imagechat_tui.server import admin

from .conftest import Harness
from .test_live import rest


async def test_people_of_the_tenant_only_without_roles_or_tokens(make_server: Any, database_url: str) -> None:
    server: Harness = await make_server(database_url)
    member = await server.token("u_ana", "Ana", "member")
    await server.token("u_bo", "<b>Bo</b>\x1b[31m", "admin")
    revoked_id, _ = await server.token_with_id("u_cy", "Cy", "moderator")
    await admin.revoke_token(server.app.db, revoked_id)
    await server.token("u_ana", "Ana Lima", "member")  # a newer token names her anew
    other = await server.token("u_eve", "Eve", "admin", tenant="globex")
    async with rest(server, member) as http:
        response = await http.get("/users")
    assert response.status_code == 200
    assert response.json() == {"users": [{"id": "u_bo", "name": "<b>Bo</b>\x1b[31m"},
                                         {"id": "u_ana", "name": "Ana Lima"}]}
    async with rest(server, other) as http:
        assert (await http.get("/users")).json() == {"users": [{"id": "u_eve", "name": "Eve"}]}
    async with rest(server, "not-a-token") as http:
        assert (await http.get("/users")).status_code == 401
