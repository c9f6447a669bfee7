"""The ASGI application: REST under /api/v1 (FastAPI), the live endpoint beside it, and their upkeep.

No `from __future__ import annotations` here: FastAPI reads the route signatures at run time.
"""


import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException

from .. import __version__
from ..protocol.events import Event, events_page
from ..protocol.limits import (
    CLOSE_UNAUTHENTICATED,
    INBOX_PAGE_DEFAULT,
    INBOX_PAGE_MAX,
    MAX_FRAME_BYTES,
    MAX_IMAGE_BYTES,
    MAX_SEARCH_LENGTH,
    NOTIFICATIONS_PAGE_DEFAULT,
    NOTIFICATIONS_PAGE_MAX,
)
from ..protocol.models import (
    AddComment,
    AdoptImage,
    AdoptResult,
    ChatsPage,
    CommentResult,
    ContentKey,
    CreateChat,
    EditComment,
    ErrorResponse,
    ImageInfo,
    ImageKey,
    ImageName,
    ImageSource,
    ImagesPage,
    InboxFilter,
    MarkerResult,
    MarkersReadResult,
    MarkMarkersRead,
    MarkRead,
    Me,
    MeUser,
    Model,
    NotificationsPage,
    ObjectId,
    PatchChat,
    People,
    ReadResult,
    SeqResult,
    TenantRef,
    UnreadMarkers,
    Usage,
    canonical_uuid,
    iso,
)
from .cluster_usage import HEARTBEAT, ClusterMeter, ClusterUsage, LocalTally, Tally, Totals
from .config import ServerConfig
from .database import Database
from .domain_errors import DomainError, Forbidden, Invalid, NotFound
from .errors import ApiError, from_domain, unauthorized
from .imagefile import MEDIA_TYPES, check_digest, decode
from .inbox import Cursor, InboxQuery
from .intake import PRINCIPAL, BodyLimit, Intake, bearer_token
from .live import Hub, LiveEndpoint, Receive, Scope, Send
from .metrics import LinkMeter
from .notification_pruning import SWEEP_EVERY, Retention
from .notification_pruning import sweep as sweep_notifications
from .notifications import ListQuery, decode_cursor, read_frame
from .presence_core import TICK as PRESENCE_TICK
from .pubsub import LocalPubSub, PubSub
from .ratelimit import Limiter, RateLimiter
from .readiness import unready
from .schema import prepare
from .search import search_terms
from .store import Committed, Principal, Store, user_topic
from .usage import UsageMeter

log = logging.getLogger("imagechat.server")

LIVE_PATH = "/api/v1/live"
MAX_BODY_BYTES = MAX_FRAME_BYTES
UPLOAD_PATH = re.compile(r"/api/v1/images/[^/]+")
UPLOAD_TIME_FACTOR = 4
"""An image upload may take this many times the body timeout: 25 MiB in 120 s is 210 KiB/s."""
DECODES_AT_ONCE = 2
"""Image decodes run in threads, each up to 256 MB of pixels (64 megapixels RGBA): at most this many."""
IMMUTABLE = "private, max-age=31536000, immutable"
UPLOAD_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


class EventsPage(Model):
    image: str
    seq: int
    events: list[Event]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 408, 409, 410, 413, 422, 429)
}


class ImageChatServer:
    """The whole server as one ASGI app: `/api/v1/live` goes straight to the live endpoint (no
    middleware frames kept per idle connection), everything else to FastAPI."""

    def __init__(self, config: ServerConfig, pubsub: PubSub | None = None, limiter: Limiter | None = None,
                 tally: Tally | None = None) -> None:
        self.config = config
        self.db = Database(config.database_url)
        self.store = Store(self.db, Retention(config.notifications_kept, config.notifications_read_days))
        self.meter = UsageMeter()
        self.cluster_usage = ClusterUsage(self.meter, tally or LocalTally())
        self.hub = Hub(pubsub or LocalPubSub(), self.meter, self.store.image_history)
        self.live = LiveEndpoint(self.store, self.hub)
        self.limiter = limiter or RateLimiter(config.write_rate, config.write_burst)
        self.api = build_api(self)
        self.intake = Intake(self.api, self.store.principal, _refuse, limit_for=self._body_limit)
        self.decoding = asyncio.Semaphore(DECODES_AT_ONCE)

    def _body_limit(self, scope: Scope) -> BodyLimit:
        if scope["method"] == "PUT" and UPLOAD_PATH.fullmatch(scope["path"]):
            return BodyLimit(MAX_IMAGE_BYTES, self.config.body_timeout * UPLOAD_TIME_FACTOR)
        return BodyLimit(MAX_BODY_BYTES, self.config.body_timeout)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine itself: it hands over the chosen app's coroutine, so that no frame of
        # its own stays alive under every idle WebSocket (uvicorn is told "asgi3" explicitly).
        if scope["type"] == "websocket" and scope["path"] == LIVE_PATH:
            return self.live(scope, receive, send)
        if scope["type"] == "http":
            return self.intake(scope, receive, send)
        return self.api(scope, receive, send)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Open storage and pub/sub, keep the upkeep tasks going, and close it all on the way out."""
        await self.db.run(prepare)
        await self.store.prune_receipts(iso(datetime.now(UTC) - timedelta(days=self.config.receipt_days)))
        await self.hub.pubsub.start(self.hub.on_message, self.hub.on_relinked)
        tasks = [
            asyncio.create_task(_every(self.config.usage_flush, self._flush_usage, "write usage figures")),
            asyncio.create_task(_every(HEARTBEAT, self.cluster_usage.report, "report live usage figures")),
            asyncio.create_task(_every(self.config.checkpoint_every, self.db.checkpoint, "checkpoint the WAL")),
            asyncio.create_task(self._watch_revocations()),
            asyncio.create_task(_every(PRESENCE_TICK, self._tick_presence, "expire and publish presence")),
            # First at a random moment, so that processes started together (or restarted more
            # often than SWEEP_EVERY) still sweep, and not all at once.
            asyncio.create_task(_every(SWEEP_EVERY, self._sweep_notifications, "prune notifications",
                                       first=random.uniform(60.0, 600.0))),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.hub.close_all(1001, "server shutting down")
            await self.hub.settle()
            await self._flush_usage()
            await self.cluster_usage.tally.close()
            await self.hub.pubsub.close()
            await self.limiter.close()
            await self.db.dispose()

    async def publish(self, committed: Committed) -> Response:
        """Answer a committed write, after handing its event to pub/sub."""
        await self.broadcast(committed)
        return Response(committed.body, status_code=committed.status, media_type="application/json")

    async def broadcast(self, committed: Committed) -> None:
        """Hand a committed event to pub/sub (which sends it again if its broker did not take it;
        a lost event is repaired by seq, never a reason to fail the write)."""
        if committed.event is not None and committed.topic is not None:
            try:
                await self.hub.pubsub.publish(committed.topic, committed.seq, committed.event)
            except Exception:
                log.exception("could not publish seq %d of %s", committed.seq, committed.topic)
        if committed.inbox is not None and committed.inbox_topic is not None:
            try:  # the inbox feed is not sequenced: a viewer that misses a row has it on its next reload
                await self.hub.pubsub.publish(committed.inbox_topic, committed.seq, committed.inbox)
            except Exception:
                log.exception("could not publish the inbox row of seq %d of %s", committed.seq, committed.topic)
        if committed.notify:
            await self._publish_notifications(committed.notify)

    async def _publish_notifications(self, notify: tuple[tuple[str, int, str], ...]) -> None:
        """Each frame to its user's topic, all at once; a lost one is in what the user's viewer
        reloads on every (re)connection (their notifications, an image's unread markers)."""
        results = await asyncio.gather(*(self.hub.pubsub.publish(topic, number, frame)
                                         for topic, number, frame in notify), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("could not publish to a user's feed: %r", result)

    async def publish_read(self, p: Principal, body: MarkRead) -> None:
        """Tell the user's other viewers what was marked read (seq: any non-zero number; the feed is not sequenced)."""
        number = max(1, *(body.ids or [body.up_to or 1]))
        await self._publish_notifications(((user_topic(p.tenant_id, p.user_id), number,
                                            read_frame(body.ids, body.up_to)),))

    async def _tick_presence(self) -> None:
        self.hub.presence_tick()

    async def _sweep_notifications(self) -> None:
        await sweep_notifications(self.db, self.store.prune)

    async def _flush_usage(self) -> None:
        """Write the counts to the database, then tell the cluster they are no longer unflushed
        (so that, in between, they are counted twice for a moment rather than missed)."""
        await self.store.add_usage(self.meter.take_deltas())
        await self.cluster_usage.report()

    async def _watch_revocations(self) -> None:
        revision, _ = await self.store.revocations_after(0)
        while True:
            await asyncio.sleep(self.config.revocation_poll)
            try:
                revision, revoked = await self.store.revocations_after(revision)
            except Exception:
                log.exception("could not check for revoked tokens; will retry")
                continue
            if revoked:
                ids = set(revoked)
                self.hub.close_where(lambda c: c.principal.token_id in ids, CLOSE_UNAUTHENTICATED, "token revoked")


async def _every(seconds: float, action: Callable[[], Awaitable[None]], what: str, first: float | None = None) -> None:
    """Upkeep: run `action` every `seconds` (the first time after `first`, if given); a failure is
    logged and tried again next time."""
    wait = seconds if first is None else first
    while True:
        await asyncio.sleep(wait)
        wait = seconds
        try:
            await action()
        except Exception:
            log.exception("could not %s; will retry", what)


async def _refuse(send: Send, error: ApiError) -> None:
    """Answer before the body is read, and end the connection so that it never is."""
    response = error_response(error)
    headers = [*response.raw_headers, (b"connection", b"close")]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def error_response(error: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    if error.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    body = {"error": {"code": error.code, "message": error.message}}
    return JSONResponse(body, status_code=error.status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "bad_json", "the request body is not valid JSON"
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ())[1:]) or "body"  # without "body", "query", "path"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return 422, "invalid", "; ".join(parts)


def _immutable(etag: str, data: bytes | None = None, media_type: str | None = None) -> Response:
    """Stored image bytes never change under their key: cached for good, revalidated by ETag
    (without `data`, the answer is 304 Not Modified)."""
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if data is None:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def fingerprint(request: Request, body: Model | None = None) -> str:
    """What a retry must repeat exactly to be recognised as the same write."""
    text = f"{request.method} {request.url.path} {body.model_dump_json() if body else ''}"
    return hashlib.sha256(text.encode()).hexdigest()


def build_api(server: ImageChatServer) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with server.running():
            yield

    api = FastAPI(
        title="Image Chat",
        version=__version__,
        description="Collaborative annotation of images: markers at percentage coordinates, threaded "
        "conversations, live updates over `/api/v1/live`. The wire contract is docs/protocol.md in the repository.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    bearer = HTTPBearer(auto_error=False)
    store = server.store

    @api.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @api.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return error_response(from_domain(exc))

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _validation_message(exc)
        return error_response(ApiError(status, code, message))

    @api.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's answer to a body its JSON parser gave up on
            return error_response(ApiError(400, "bad_json", "the request body is not valid JSON"))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(ApiError(exc.status_code, code, str(exc.detail)))

    @api.exception_handler(Exception)
    async def _crash(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"error": {"code": "internal", "message": "internal server error"}}, status_code=500)

    async def caller(request: Request,
                     _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        """The caller, authenticated by the intake before the body was read (`_scheme` declares
        the bearer scheme in the OpenAPI schema)."""
        principal: Principal = request.scope[PRINCIPAL]
        return principal

    async def writer(p: Annotated[Principal, Depends(caller)]) -> Principal:
        wait = await server.limiter.retry_after((p.tenant_id, p.user_id))
        if wait:
            raise ApiError(429, "rate_limited", f"too many writes; retry in {wait} s", retry_after=wait)
        return p

    Caller = Annotated[Principal, Depends(caller)]
    Writer = Annotated[Principal, Depends(writer)]
    ImageParam = Annotated[ImageKey, Query(description="the image key")]
    BroadcastParam = Annotated[str, Query(alias="broadcastId", min_length=1, max_length=64)]

    def broadcast_id(raw: str) -> str:
        try:
            return canonical_uuid(raw)
        except ValueError:
            raise Invalid("broadcastId: must be a UUID") from None

    @api.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @api.get("/readyz", tags=["ops"], responses={503: {"model": ErrorResponse}})
    async def readyz() -> JSONResponse:
        """200 once the database and pub/sub (Redis, if configured) answer, else 503 with why."""
        problems = await unready(server.db, server.hub.pubsub)
        if problems:
            return error_response(ApiError(503, "not_ready", "; ".join(problems)))
        return JSONResponse({"status": "ready", "version": __version__})

    registry = CollectorRegistry()
    registry.register(server.meter)
    cluster_meter = ClusterMeter()
    registry.register(cluster_meter)
    registry.register(LinkMeter(server.hub.pubsub.counts))
    metrics_token = server.config.metrics_token

    @api.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics(request: Request) -> Response:
        """Prometheus figures, per tenant: only for the bearer of `--metrics-token`, and off
        without one."""
        if metrics_token is None:
            raise ApiError(404, "not_found", "metrics are off: start the server with --metrics-token")
        given = bearer_token(request.scope) or ""
        if not hmac.compare_digest(given.encode(), metrics_token.encode()):
            raise unauthorized("metrics need the bearer token given as --metrics-token")
        cluster_meter.totals = await server.cluster_usage.totals(await store.usage())
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @api.get("/api/v1/me", response_model=Me)
    async def me(p: Caller) -> Me:
        return Me(user=MeUser(id=p.user_id, name=p.user_name, role=p.role), tenant=TenantRef(id=p.tenant_id,
                                                                                             name=p.tenant_name))

    @api.get("/api/v1/users", response_model=People)
    async def users(p: Caller) -> People:
        return People(users=await store.people(p.tenant_id))

    @api.get("/api/v1/notifications", response_model=NotificationsPage, tags=["notifications"])
    async def list_notifications(
        p: Caller,
        cursor: Annotated[str | None, Query(description="the nextCursor of the page before")] = None,
        limit: Annotated[int, Query(ge=1, le=NOTIFICATIONS_PAGE_MAX)] = NOTIFICATIONS_PAGE_DEFAULT,
    ) -> NotificationsPage:
        """The caller's notifications, newest first, a page at a time, with how many are unread."""
        before = decode_cursor(cursor) if cursor is not None else None
        return await store.list_notifications(ListQuery(p.tenant_id, p.user_id, before, limit))

    @api.post("/api/v1/notifications/read", response_model=ReadResult, tags=["notifications"])
    async def read_notifications(p: Caller, body: MarkRead) -> ReadResult:
        """Mark the caller's notifications read: `ids`, or every one up to `upTo`; their other viewers are told."""
        result = await store.mark_read(p, body)
        if result.read:
            await server.publish_read(p, body)
        return result

    @api.get("/api/v1/chats", response_model=ChatsPage)
    async def chats(p: Caller, image: ImageParam) -> ChatsPage:
        return await store.chats(p, image)

    @api.post("/api/v1/chats", status_code=201, response_model=MarkerResult)
    async def create_chat(request: Request, p: Writer, body: CreateChat) -> Response:
        committed = await store.create_marker(p, body, fingerprint(request, body))
        if committed.event is not None:
            server.meter.tenant(p.tenant_id).conversations += 1
        return await server.publish(committed)

    @api.post("/api/v1/chats/{markerId}/comments", status_code=201, response_model=CommentResult)
    async def add_comment(request: Request, p: Writer, body: AddComment, markerId: ObjectId) -> Response:
        return await server.publish(await store.add_comment(p, markerId, body, fingerprint(request, body)))

    @api.patch("/api/v1/chats/{markerId}", response_model=MarkerResult)
    async def patch_chat(request: Request, p: Writer, body: PatchChat, markerId: ObjectId) -> Response:
        return await server.publish(await store.patch_marker(p, markerId, body, fingerprint(request, body)))

    @api.delete("/api/v1/chats/{markerId}", response_model=SeqResult)
    async def delete_chat(request: Request, p: Writer, markerId: ObjectId, bid: BroadcastParam) -> Response:
        committed = await store.delete_marker(p, markerId, broadcast_id(bid), fingerprint(request))
        return await server.publish(committed)

    @api.patch("/api/v1/comments/{commentId}", response_model=CommentResult)
    async def edit_comment(request: Request, p: Writer, body: EditComment, commentId: ObjectId) -> Response:
        return await server.publish(await store.edit_comment(p, commentId, body, fingerprint(request, body)))

    @api.delete("/api/v1/comments/{commentId}", response_model=SeqResult)
    async def delete_comment(request: Request, p: Writer, commentId: ObjectId, bid: BroadcastParam) -> Response:
        committed = await store.delete_comment(p, commentId, broadcast_id(bid), fingerprint(request))
        return await server.publish(committed)

    @api.get("/api/v1/events", response_model=EventsPage)
    async def events(p: Caller, image: ImageParam, since: Annotated[int, Query(ge=0)]) -> Response:
        history = await store.history(p, image, since)
        if history.events is None:
            raise ApiError(410, "gone", f"events after seq {since} are no longer kept: fetch /chats instead")
        return Response(events_page(history.key, history.seq, history.events), media_type="application/json")

    KeyParam = Annotated[ContentKey, Path(description="sha256:<hex> of the image's bytes")]
    IfNoneMatch = Annotated[str | None, Header()]

    async def image_info(p: Principal, key: str) -> ImageInfo:
        info = await store.image_info(p.tenant_id, key)
        if info is None:
            raise NotFound("image")
        return info

    @api.put("/api/v1/images/{key}", status_code=201, response_model=ImageInfo, openapi_extra=UPLOAD_BODY,
             tags=["images"])
    async def put_image(request: Request, p: Writer, key: KeyParam,
                        source: Annotated[ImageSource | None, Query(description="where the image came from: "
                                          "an http(s) URL, kept without query string or fragment")] = None,
                        name: Annotated[ImageName | None, Query(description="the file's base name (1 to 255 "
                                        "characters, no path separators or control characters)")] = None,
                        ) -> Response:
        """Store image bytes under their SHA-256 (at most 25 MiB and 64 megapixels; PNG, JPEG, GIF,
        WebP or BMP). The same bytes again change nothing and answer 200."""
        data = await request.body()
        await asyncio.to_thread(check_digest, key, data)
        stored = await store.image_info(p.tenant_id, key)
        if stored is None:
            async with server.decoding:
                decoded = await asyncio.to_thread(decode, data)
            created, stored, row = await store.put_image(p, key, data, decoded, source, name)
            if row is not None:
                await server.broadcast(row)
        else:
            created = False
        return Response(stored.model_dump_json(), status_code=201 if created else 200, media_type="application/json")

    @api.get("/api/v1/images", response_model=ImagesPage, tags=["images"])
    async def list_images(
        p: Caller,
        filter: Annotated[InboxFilter, Query(description="open: with an open marker; all: with any marker; "
                                             "mine: with a marker the caller created or commented on; "
                                             "unread: with a marker unread by the caller")] = "open",
        q: Annotated[str | None, Query(max_length=MAX_SEARCH_LENGTH, description="words that a comment of the "
                                       "image holds, all of them (punctuation only separates words)")] = None,
        cursor: Annotated[str | None, Query(description="the nextCursor of the page before")] = None,
        limit: Annotated[int, Query(ge=1, le=INBOX_PAGE_MAX)] = INBOX_PAGE_DEFAULT,
    ) -> Response:
        """The tenant's images with a conversation, most recent activity first, a page at a time."""
        terms = search_terms(q) if q is not None and q.strip() else None
        position = Cursor.decode(cursor) if cursor is not None else None
        page = await store.images_page(InboxQuery(p.tenant_id, p.user_id, filter, terms, position, limit))
        # Serialised here: FastAPI would validate the page against its model once more first.
        return Response(page.model_dump_json(), media_type="application/json")

    @api.post("/api/v1/images/{key}/adopt", response_model=AdoptResult, tags=["images"])
    async def adopt_image(p: Writer, key: KeyParam, body: AdoptImage) -> Response:
        """Move the previous version's conversation on a URL key, named by the SHA-256 (hex) of that
        key, under this content key, unless it has markers already. Live viewers of the URL key are
        sent `deleted-image`; this key's get the moved markers as `new-image-chat` events."""
        adoption = await store.adopt(p, key, body.legacy_key_hash)
        for committed in adoption.published:
            await server.broadcast(committed)
        return Response(adoption.result.model_dump_json(), media_type="application/json")

    @api.get("/api/v1/images/{key}/unread", response_model=UnreadMarkers, tags=["images"])
    async def unread_markers(p: Caller, key: KeyParam) -> UnreadMarkers:
        """The caller's unread markers of the image, each with the seq of its newest unread comment."""
        return await store.unread(p, key)

    @api.post("/api/v1/images/{key}/read", response_model=MarkersReadResult, tags=["images"])
    async def read_markers(p: Caller, key: KeyParam, body: MarkMarkersRead) -> MarkersReadResult:
        """The caller has read `markerId` (null: every marker of the image) up to the image's seq `seq`;
        the positions that moved. The caller's viewers are told, and the notifications about those
        markers up to there are marked read."""
        result, told = await store.read_markers(p, key, body)
        await server.broadcast(told)
        return result

    @api.get("/api/v1/images/{key}", response_model=ImageInfo, tags=["images"])
    async def get_image_info(p: Caller, key: KeyParam) -> ImageInfo:
        return await image_info(p, key)

    @api.get("/api/v1/images/{key}/content", response_class=Response, tags=["images"],
             responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}, 304: {"description": "not modified"}})
    async def image_content(p: Caller, key: KeyParam, if_none_match: IfNoneMatch = None) -> Response:
        """The image's bytes; `ETag` is the quoted key, and they may be cached for good."""
        etag = f'"{key}"'
        if _matches(if_none_match, etag):
            await image_info(p, key)  # a 304 only for an image this tenant has, read without its bytes
            return _immutable(etag)
        stored = await store.image_data(p.tenant_id, key)
        if stored is None:
            raise NotFound("image")
        return _immutable(etag, stored.data, MEDIA_TYPES[stored.format])

    @api.head("/api/v1/images/{key}/content", response_class=Response, tags=["images"])
    async def image_exists(p: Caller, key: KeyParam) -> Response:
        """Whether the tenant has the image: 200 with its length and type, else 404."""
        info = await image_info(p, key)
        return Response(headers={"ETag": f'"{key}"', "Cache-Control": IMMUTABLE, "Content-Length": str(info.size),
                                 "Content-Type": MEDIA_TYPES[info.format]})

    @api.get("/api/v1/images/{key}/thumbnail", response_class=Response, tags=["images"],
             responses={200: {"content": {"image/png": {}}}, 304: {"description": "not modified"}})
    async def image_thumbnail(p: Caller, key: KeyParam, if_none_match: IfNoneMatch = None) -> Response:
        """A PNG at most 64 pixels on its longer side, made once at upload."""
        stored = await store.image_data(p.tenant_id, key, thumbnail=True)
        if stored is None:
            raise NotFound("image")
        etag = f'"{key}/thumbnail"'
        return _immutable(etag) if _matches(if_none_match, etag) else _immutable(etag, stored.data, "image/png")

    @api.delete("/api/v1/images/{key}", response_model=SeqResult, tags=["images"])
    async def delete_image(p: Caller, key: KeyParam) -> Response:
        """Delete the image's bytes and its whole conversation (admins only); its live viewers are
        sent `deleted-image`."""
        if p.role != "admin":
            raise Forbidden("deleting an image is for admins")
        return await server.publish(await store.delete_image(p.tenant_id, key))

    @api.get("/api/v1/usage", response_model=Usage)
    async def usage(p: Caller) -> Usage:
        if p.role != "admin":
            raise Forbidden("usage figures are for admins")
        totals = (await server.cluster_usage.totals(await store.usage(p.tenant_id))).get(p.tenant_id, Totals())
        return Usage(tenant=p.tenant_id, pub_sub_message_count=totals.messages, pub_sub_bandwidth=totals.bandwidth,
                     conversation_create_count=totals.conversations, connections=totals.connections)

    return api
