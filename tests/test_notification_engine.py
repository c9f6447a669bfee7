"""The engine's side of notifications: live to every engine of the user and no other, what was
missed while offline there at start, read marks shared between a user's engines, the directory."""

from __future__ import annotations

from typing import Any

from imagechat_tui.client.engine import LinkState, NotificationsChanged, SyncEngine

from .conftest import wait_for
from .test_notifications import IMAGE

TEXT = "please look at <@u_ana>'s note"


async def online(engine: SyncEngine) -> SyncEngine:
    await wait_for(lambda: engine.link.state is LinkState.ONLINE and engine.notifications.loaded, 5.0, "online")
    return engine


async def test_live_to_both_engines_of_the_user_and_not_to_another(make_server: Any, database_url: str,
                                                                   engines: Any) -> None:
    server = await make_server(database_url)
    ana_token, bo_token = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    cy_token = await server.token("u_cy", "Cy")
    ana1, ana2 = [await online(await engines(server.url, ana_token)) for _ in range(2)]
    bo, cy = [await online(await engines(server.url, t)) for t in (bo_token, cy_token)]
    arrived: list[Any] = []
    ana1.add_listener(lambda n: arrived.append(n.arrived) if isinstance(n, NotificationsChanged) else None)

    key = bo.subscribe(IMAGE)
    await bo.wait_synced(key)
    marker = await bo.create_marker(key, 10, 10, TEXT)
    await wait_for(lambda: ana1.notifications.unread == 1 and ana2.notifications.unread == 1, 1.0,
                   "Ana's two engines to be told within 1 s")
    assert [n.kind for n in ana1.notifications.items] == ["mention"]
    assert ana2.notifications.items[0].marker_number == marker.number
    assert any(a is not None and a.kind == "mention" for a in arrived)
    assert bo.notifications.items == [] and cy.notifications.items == []
    assert ana1.directory == {"u_ana": "Ana", "u_bo": "Bo", "u_cy": "Cy"}

    await ana1.mark_read([ana1.notifications.items[0].id])
    assert ana1.notifications.unread == 0
    await wait_for(lambda: ana2.notifications.unread == 0 and ana2.notifications.items[0].read, 2.0,
                   "the read mark on Ana's other engine")


async def test_missed_while_offline_is_there_at_start_and_mark_all(make_server: Any, database_url: str,
                                                                  engines: Any) -> None:
    server = await make_server(database_url)
    ana_token, bo_token = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    ana = await online(await engines(server.url, ana_token))
    key = ana.subscribe(IMAGE)
    await ana.wait_synced(key)
    marker = await ana.create_marker(key, 10, 10, "mine")
    await ana.close()

    bo = await online(await engines(server.url, bo_token))
    bo.subscribe(IMAGE)
    await bo.wait_synced(key)
    for text in ("one", "two", "three"):
        await bo.add_comment(key, marker.id, text)
    await bo.set_status(key, marker.id, "resolved")

    later = await online(await engines(server.url, ana_token))
    assert [(n.kind, n.excerpt) for n in later.notifications.items] == [
        ("resolved", ""), ("comment", "three"), ("comment", "two"), ("comment", "one")]
    assert later.notifications.unread == 4
    await later.mark_all_read()
    assert later.notifications.unread == 0 and all(n.read for n in later.notifications.items)
