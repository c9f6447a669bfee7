"""What every HTTP request passes before FastAPI sees it.

FastAPI reads a body before it runs the route's dependencies, so authentication there would come
after the whole body had been read. Here the caller of `/api/v1` is known first, from the headers
alone, and the body is then read whole within a size and a time limit, whatever its framing
(Content-Length or chunked): a refusal ends the connection, so the rest is never read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
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


class Intake:
    def __init__(self, app: App, authenticate: Callable[[str], Awaitable[Principal | None]],
                 refuse: ErrorSender, *, max_body: int, body_timeout: float) -> None:
        self.app = app
        self.authenticate = authenticate
        self.refuse = refuse
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._declared_too_large(scope):
            return await self.refuse(send, self._too_large())
        if scope["path"].startswith(API_PREFIX):
            token = bearer_token(scope)
            if token is None:
                return await self.refuse(send, unauthorized())
            principal = await self.authenticate(token)
            if principal is None:
                return await self.refuse(send, unauthorized("the token is unknown or revoked"))
            scope[PRINCIPAL] = principal
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await self._read_body(receive)
        except _ClientGone:
            return None
        except TimeoutError:
            return await self.refuse(send, ApiError(408, "timeout", f"the request body took over "
                                                                     f"{self.body_timeout:g} s to arrive"))
        if body is None:
            return await self.refuse(send, self._too_large())
        await self.app(scope, _replay(body, receive), send)

    def _declared_too_large(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                return not value.isdigit() or int(value) > self.max_body
        return False

    def _too_large(self) -> ApiError:
        return ApiError(413, "too_large", f"request bodies are limited to {self.max_body} bytes")

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            part = message.get("body", b"")
            size += len(part)
            if size > self.max_body:
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
