"""The engine's unread markers against a real server: loaded after subscribing, others' writes live,
one's own read, a read on one engine of the user reaching the others (following the image or not)."""

from __future__ import annotations

from typing import Any

from imagechat_tui.client.engine import SyncEngine, UnreadChanged

from .conftest import Harness, wait_for
from .test_notification_engine import online

IMAGE = "sha256:" + "d" * 64


async def following(engine: SyncEngine) -> SyncEngine:
    engine.subscribe(IMAGE)
    await engine.wait_synced(IMAGE)
    return engine


async def test_unread_loaded_live_and_read_on_every_engine_of_the_user(server: Harness, engines: Any) -> None:
    ana_token, bo_token = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    bo = await following(await online(await engines(server.url, bo_token)))
    before = await bo.create_marker(IMAGE, 10, 10, "placed before Ana looked")

    ana1 = await following(await online(await engines(server.url, ana_token)))
    ana2 = await following(await online(await engines(server.url, ana_token)))
    elsewhere = await online(await engines(server.url, ana_token))  # Ana's inbox: not following the image
    told: list[UnreadChanged] = []
    elsewhere.add_listener(lambda n: told.append(n) if isinstance(n, UnreadChanged) else None)
    await wait_for(lambda: ana1.unread(IMAGE) == {before.id} and ana2.unread(IMAGE) == {before.id}, 3,
                   "loaded after subscribing")
    assert ana1.unread_known(IMAGE) and not elsewhere.unread_known(IMAGE)

    live = await bo.create_marker(IMAGE, 50, 50, "placed while Ana looks")
    await wait_for(lambda: ana1.unread(IMAGE) == {before.id, live.id}, 2, "Bo's new marker live")
    assert bo.unread(IMAGE) == frozenset()  # his own are never unread for him

    await ana1.mark_marker_read(IMAGE, before.id)
    assert ana1.unread(IMAGE) == {live.id}
    await wait_for(lambda: ana2.unread(IMAGE) == {live.id}, 2, "the read on Ana's other engine")
    await wait_for(lambda: any(n.image == IMAGE and [p.marker_id for p in n.read] == [before.id] for n in told), 2,
                   "the read told to an engine not following the image (for its inbox)")

    await ana2.add_comment(IMAGE, live.id, "replying reads it")
    await wait_for(lambda: not ana1.unread(IMAGE) and not ana2.unread(IMAGE), 2, "read by writing")
    await bo.add_comment(IMAGE, live.id, "and Bo again")
    await wait_for(lambda: ana1.unread(IMAGE) == {live.id} == ana2.unread(IMAGE), 2, "unread again")
