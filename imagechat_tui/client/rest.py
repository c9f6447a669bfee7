"""REST calls of docs/protocol.md over httpx, returning protocol models and raising ClientError."""

from __future__ import annotations

import ssl
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from ..protocol.models import (
    AddComment,
    AdoptImage,
    AdoptResult,
    ChatsPage,
    CommentResult,
    CreateChat,
    EditComment,
    ImageInfo,
    ImagesPage,
    InboxFilter,
    MarkerResult,
    MarkersReadResult,
    MarkMarkersRead,
    MarkRead,
    Me,
    NotificationsPage,
    PatchChat,
    People,
    ReadResult,
    SeqResult,
    UnreadMarkers,
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
        response = await self._send(method, path, content=content, params=params, headers=headers)
        return model.model_validate_json(response.content)

    async def _send(self, method: str, path: str, *, content: bytes | str | None = None,
                    params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                    missing_ok: bool = False) -> httpx.Response:
        """The answer; an error status raises RequestError, except 404 when `missing_ok`."""
        try:
            response = await self._http.request(method, path, content=content, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise OfflineError(f"the server can't be reached ({type(exc).__name__})") from exc
        if response.is_error and not (missing_ok and response.status_code == 404):
            raise _request_error(response)
        return response

    async def me(self) -> Me:
        return await self._call(Me, "GET", "/me")

    async def users(self) -> People:
        return await self._call(People, "GET", "/users")

    async def notifications(self, cursor: str | None = None) -> NotificationsPage:
        return await self._call(NotificationsPage, "GET", "/notifications",
                                params={"cursor": cursor} if cursor is not None else None)

    async def mark_read(self, body: MarkRead) -> ReadResult:
        return await self._call(ReadResult, "POST", "/notifications/read", body=body)

    async def unread(self, key: str) -> UnreadMarkers:
        """The caller's unread markers of the image, as of its seq."""
        return await self._call(UnreadMarkers, "GET", f"/images/{quote(key, safe=':')}/unread")

    async def mark_markers_read(self, key: str, body: MarkMarkersRead) -> MarkersReadResult:
        return await self._call(MarkersReadResult, "POST", f"/images/{quote(key, safe=':')}/read", body=body)

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

    async def image_exists(self, key: str) -> bool:
        response = await self._send("HEAD", f"/images/{key}/content", missing_ok=True)
        return response.status_code != 404

    async def image_info(self, key: str) -> ImageInfo | None:
        response = await self._send("GET", f"/images/{key}", missing_ok=True)
        return None if response.status_code == 404 else ImageInfo.model_validate_json(response.content)

    async def image_content(self, key: str) -> bytes | None:
        """The stored image's bytes; None if this tenant has no such image."""
        response = await self._send("GET", f"/images/{key}/content", missing_ok=True)
        return None if response.status_code == 404 else response.content

    async def put_image(self, key: str, data: bytes, *, source: str | None = None,
                        name: str | None = None) -> ImageInfo:
        params = {k: v for k, v in (("source", source), ("name", name)) if v is not None}
        response = await self._send("PUT", f"/images/{key}", content=data, params=params,
                                    headers={"Content-Type": "application/octet-stream"})
        return ImageInfo.model_validate_json(response.content)

    async def adopt(self, key: str, legacy_key_hash: str) -> AdoptResult:
        """Move the previous version's URL-keyed conversation (named by the hash of its key) under `key`."""
        return await self._call(AdoptResult, "POST", f"/images/{key}/adopt",
                                body=AdoptImage(legacy_key_hash=legacy_key_hash))

    async def images(self, filter: InboxFilter = "open", q: str = "", cursor: str | None = None,
                     limit: int = 50) -> ImagesPage:
        """A page of the inbox, most recent activity first; `cursor` is the previous page's next_cursor."""
        params: dict[str, Any] = {"filter": filter, "limit": limit}
        if q:
            params["q"] = q
        if cursor is not None:
            params["cursor"] = cursor
        return await self._call(ImagesPage, "GET", "/images", params=params)

    async def thumbnail(self, key: str) -> bytes:
        """The stored image's thumbnail, a PNG at most 64 px on a side."""
        return (await self._send("GET", f"/images/{quote(key, safe=':')}/thumbnail")).content

    async def usage(self) -> Usage:
        return await self._call(Usage, "GET", "/usage")


def _request_error(response: httpx.Response) -> RequestError:
    try:
        error = response.json()["error"]
        return RequestError(response.status_code, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return RequestError(response.status_code, "http_error", f"the server answered {response.status_code}")
