"""REST calls of docs/protocol.md over httpx, returning protocol models and raising ClientError."""

from __future__ import annotations

import ssl
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from ..protocol.models import (
    AddComment,
    ChatsPage,
    CommentResult,
    CreateChat,
    EditComment,
    MarkerResult,
    MarkRead,
    Me,
    NotificationsPage,
    PatchChat,
    People,
    ReadResult,
    SeqResult,
    Usage,
)
from .errors import OfflineError, RequestError

T = TypeVar("T", bound=BaseModel)


class RestClient:
    def __init__(self, base_url: str, token: str, *, verify: ssl.SSLContext | bool = True, timeout: float = 10.0):
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            verify=verify,
            timeout=timeout,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, model: type[T], method: str, path: str, *, body: BaseModel | None = None,
                    params: dict[str, Any] | None = None) -> T:
        content = body.model_dump_json(exclude_none=True) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = await self._http.request(method, path, content=content, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise OfflineError(f"the server can't be reached ({type(exc).__name__})") from exc
        if response.is_error:
            raise _request_error(response)
        return model.model_validate_json(response.content)

    async def me(self) -> Me:
        return await self._call(Me, "GET", "/me")

    async def users(self) -> People:
        return await self._call(People, "GET", "/users")

    async def notifications(self, cursor: str | None = None) -> NotificationsPage:
        return await self._call(NotificationsPage, "GET", "/notifications",
                                params={"cursor": cursor} if cursor is not None else None)

    async def mark_read(self, body: MarkRead) -> ReadResult:
        return await self._call(ReadResult, "POST", "/notifications/read", body=body)

    async def chats(self, image: str) -> ChatsPage:
        return await self._call(ChatsPage, "GET", "/chats", params={"image": image})

    async def create_chat(self, body: CreateChat) -> MarkerResult:
        return await self._call(MarkerResult, "POST", "/chats", body=body)

    async def add_comment(self, marker_id: str, body: AddComment) -> CommentResult:
        return await self._call(CommentResult, "POST", f"/chats/{marker_id}/comments", body=body)

    async def patch_chat(self, marker_id: str, body: PatchChat) -> MarkerResult:
        return await self._call(MarkerResult, "PATCH", f"/chats/{marker_id}", body=body)

    async def delete_chat(self, marker_id: str, broadcast_id: str) -> SeqResult:
        return await self._call(SeqResult, "DELETE", f"/chats/{marker_id}", params={"broadcastId": broadcast_id})

    async def edit_comment(self, comment_id: str, body: EditComment) -> CommentResult:
        return await self._call(CommentResult, "PATCH", f"/comments/{comment_id}", body=body)

    async def delete_comment(self, comment_id: str, broadcast_id: str) -> SeqResult:
        return await self._call(SeqResult, "DELETE", f"/comments/{comment_id}", params={"broadcastId": broadcast_id})

    async def usage(self) -> Usage:
        return await self._call(Usage, "GET", "/usage")


def _request_error(response: httpx.Response) -> RequestError:
    try:
        error = response.json()["error"]
        return RequestError(response.status_code, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return RequestError(response.status_code, "http_error", f"the server answered {response.status_code}")
