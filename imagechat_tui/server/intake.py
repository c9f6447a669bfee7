"""What every HTTP request passes before FastAPI sees it.

FastAPI reads a body before it runs the route's dependencies, so authentication there would come
after the whole body had been read. Here the caller of `/api/v1` is known first, from the headers
alone, and the body is then read whole within a size and a time limit, whatever its framing
(Content-Length or chunked): a refusal ends the connection, so the rest is never read. The limits
are the route's (`limit_for`): 64 KiB for everything but an image upload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, unauthorized
from .store import Principal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
ErrorSender = Callable[[Send, ApiError], Awaitable[None]]

API_PREFIX = "/api/v1/"
PRINCIPAL = "imagechat.principal"
"""The scope key under which the authenticated caller of an `/api/v1` request is handed on."""


def bearer_token(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer …` header, if there is one."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """How big a request's body may be, and how long it may take to arrive."""

    size: int
    seconds: float


class Intake:
    def __init__(self, app: App, authenticate: Callable[[str], Awaitable[Principal | None]],
                 refuse: ErrorSender, *, limit_for: Callable[[Scope], BodyLimit]) -> None:
        self.app = app
        self.authenticate = authenticate
        self.refuse = refuse
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope)
        if _declared_too_large(scope, limit):
            return await self.refuse(send, _too_large(limit))
        if scope["path"].startswith(API_PREFIX):
            token = bearer_token(scope)
            if token is None:
                return await self.refuse(send, unauthorized())
            principal = await self.authenticate(token)
            if principal is None:
                return await self.refuse(send, unauthorized("the token is unknown or revoked"))
            scope[PRINCIPAL] = principal
        try:
            async with asyncio.timeout(limit.seconds):
                body = await _read_body(receive, limit.size)
        except _ClientGone:
            return None
        except TimeoutError:
            return await self.refuse(send, ApiError(408, "timeout", f"the request body took over "
                                                                     f"{limit.seconds:g} s to arrive"))
        if body is None:
            return await self.refuse(send, _too_large(limit))
        await self.app(scope, _replay(body, receive), send)


def _declared_too_large(scope: Scope, limit: BodyLimit) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return not value.isdigit() or int(value) > limit.size
    return False


def _too_large(limit: BodyLimit) -> ApiError:
    return ApiError(413, "too_large", f"this request's body is limited to {limit.size} bytes")


async def _read_body(receive: Receive, max_size: int) -> bytes | None:
    """The whole body, or None as soon as it passes `max_size`."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        part = message.get("body", b"")
        size += len(part)
        if size > max_size:
            return None
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)


class _ClientGone(Exception):
    """The client disconnected before its body was complete: there is no one to answer."""


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already, then passes on to the connection's."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
