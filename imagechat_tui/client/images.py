"""An image's bytes, content key and source, whatever names it: an http(s) URL, a local file, or a
link to the server's store (`sha256:<hex>`, optionally `#N`). The viewer gets, and shares, images
through here alone; decoding them is the viewer's.

Every image is keyed by the SHA-256 of its bytes, so the same screenshot from a link, a re-signed
link or a file is one conversation. A URL is kept only as the image's `source`, without user info,
query string or fragment: what is shown, sent or written down never carries its credentials or
signature (only the image cache's URL map holds a digest of the full URL, and adoption a digest of
the previous version's key).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
from pydantic import TypeAdapter, ValidationError

from ..protocol.imagekey import data_image_key, legacy_key_hash, legacy_source
from ..protocol.limits import MAX_IMAGE_BYTES
from ..protocol.models import ImageName
from ..protocol.safe import visible
from .errors import ClientError
from .imagecache import ImageCache
from .links import parse_link
from .rest import RestClient

MAX_REDIRECTS = 5
TICK = 0.5
"""Seconds between progress reports while a server sends nothing."""
_IMAGE_NAME: TypeAdapter[str] = TypeAdapter(ImageName)

Progress = Callable[[int, int | None, float], None]
"""progress(bytes received, bytes expected or None, seconds since the download started)."""

_SCHEME = re.compile(r"([a-z][a-z0-9+.-]+)://", re.IGNORECASE)
"""A URL's scheme: two characters at least, so that a Windows drive letter is not one."""
_TOO_LARGE = f"larger than {MAX_IMAGE_BYTES // 2**20} MB"


class ImageError(ClientError):
    """An image that can't be had, with a message for the user (never a URL's secrets)."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """An image's bytes and what is known of where they came from."""

    data: bytes
    key: str
    """`sha256:<hex>` of `data`."""
    name: str
    """What the viewer shows: the URL's source, the file's name, or the key."""
    source: str | None = None
    """The URL without user info, query string or fragment; sent with an upload."""
    file_name: str | None = None
    """A local file's base name; sent with an upload when there is no source."""
    path: Path | None = None
    """The local file it was read from."""
    legacy_key_hash: str | None = None
    """For a URL: the SHA-256 of the key the previous version gave it, to adopt its conversation."""
    marker: int | None = None
    """A link's marker number (`#N`), to select and show."""


def is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


def shown_target(target: str) -> str:
    """A target as it may be shown before it is opened: a URL without its secrets."""
    if not is_url(target):
        return visible(target)
    try:
        return visible(legacy_source(target))
    except ValueError:
        return "an unusable URL"


async def resolve(target: str, *, rest: RestClient | None, cache: ImageCache | None = None,
                  progress: Progress | None = None, verify: object = True) -> Resolved:
    """The image `target` names, from the cache when it has it. Raises ImageError."""
    link = parse_link(target)
    if link is not None:
        return await _from_store(link.key, link.marker, rest, cache)
    if target.strip().lower().startswith("sha256:"):
        raise ImageError(f"{visible(target)}: a link is sha256: and 64 hex digits, then optionally #N (a marker)")
    if is_url(target):
        return await _from_url(target.strip(), cache, progress, verify)
    return await asyncio.to_thread(_from_file, local_path(target), cache)


async def _from_store(key: str, marker: int | None, rest: RestClient | None, cache: ImageCache | None) -> Resolved:
    data = _cached(cache, key)
    if data is None:
        if rest is None:
            raise ImageError(f"{key}: not in the image cache, and no server to fetch it from")
        try:
            data = await rest.image_content(key)
        except ClientError as exc:
            raise ImageError(f"{key}: not in the image cache, and fetching it failed: {exc}") from None
        if data is None:
            raise ImageError(f"{key}: no such image on the server (never shared there, or deleted)")
        if data_image_key(data) != key:
            raise ImageError(f"{key}: the server sent other bytes than the ones this key names")
        _keep(cache, key, data)
    return Resolved(data, key, key, marker=marker)


async def _from_url(url: str, cache: ImageCache | None, progress: Progress | None, verify: object) -> Resolved:
    try:
        source = legacy_source(url)
        legacy = legacy_key_hash(url)
    except ValueError as exc:
        raise ImageError(f"{shown_target(url)}: not a usable URL ({exc})") from None
    key = cache.key_for_url(url) if cache is not None else None
    data = _cached(cache, key) if key is not None else None
    if data is None or key is None:
        data = await download(url, source, progress=progress, verify=verify)
        key = data_image_key(data)
        _keep(cache, key, data)
        if cache is not None:
            with contextlib.suppress(OSError):
                cache.remember_url(url, key)
    return Resolved(data, key, source, source=source, legacy_key_hash=legacy)


def local_path(target: str) -> Path:
    """The file a target names: a path, or a file:// URL; any other URL scheme is refused."""
    scheme = _SCHEME.match(target)
    if scheme is None:
        return Path(target).expanduser()
    if scheme[1].lower() != "file":
        raise ImageError(f"the {scheme[1].lower()}:// scheme is not supported (use http, https, a file or a "
                         "sha256: link)")
    parts = urlsplit(target)
    if parts.netloc not in ("", "localhost"):
        raise ImageError(f"{visible(target)}: only file:// URLs of this computer can be opened")
    return Path(unquote(parts.path))


def _from_file(path: Path, cache: ImageCache | None) -> Resolved:
    shown = visible(str(path))
    try:
        if path.is_dir():
            raise ImageError(f"{shown}: is a directory")
        if not path.exists():
            raise ImageError(f"{shown}: no such file")
        if not path.is_file():
            raise ImageError(f"{shown}: not a regular file")  # a FIFO or a device: reading it may never end
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise ImageError(f"{shown}: {_TOO_LARGE}")
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{shown}: can't be read ({exc.strerror or type(exc).__name__})") from None
    key = data_image_key(data)
    _keep(cache, key, data)
    return Resolved(data, key, path.name, file_name=path.name, path=path)


def _cached(cache: ImageCache | None, key: str) -> bytes | None:
    return cache.get(key) if cache is not None else None


def _keep(cache: ImageCache | None, key: str, data: bytes) -> None:
    if cache is not None:
        with contextlib.suppress(OSError):  # a full or read-only disk costs the cache, not the image
            cache.put(key, data)


# Sharing


def upload_name(resolved: Resolved) -> str | None:
    """The file name the server may show for the image: one it accepts (the protocol's rule), else none."""
    if resolved.file_name is None:
        return None
    try:
        return _IMAGE_NAME.validate_python(resolved.file_name)
    except ValidationError:
        return None


async def share(rest: RestClient, resolved: Resolved) -> bool:
    """Make sure the server has the image's bytes; True if they were uploaded now."""
    if await rest.image_exists(resolved.key):
        return False
    await rest.put_image(resolved.key, resolved.data, source=resolved.source,
                         name=None if resolved.source else upload_name(resolved))
    return True


# Downloading


class _Meter:
    """What a download has received so far, reported with the time since it started."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._started = time.monotonic()
        self.done = 0
        self.total: int | None = None

    def report(self) -> None:
        if self._progress is not None:
            self._progress(self.done, self.total, time.monotonic() - self._started)


async def download(url: str, shown: str, *, progress: Progress | None = None, verify: object = True) -> bytes:
    """The body at `url`; `progress` hears of every chunk, and every TICK seconds while nothing arrives.
    Errors name the URL as `shown`."""
    meter = _Meter(progress)
    fetch = asyncio.create_task(_fetch(url, visible(shown), meter, verify))
    try:
        while not fetch.done():
            await asyncio.wait({fetch}, timeout=TICK)
            if not fetch.done():
                meter.report()
        return fetch.result()
    finally:
        fetch.cancel()


async def _fetch(url: str, shown: str, meter: _Meter, verify: object) -> bytes:
    try:
        async with httpx.AsyncClient(follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=15,
                                     verify=verify) as http:  # type: ignore[arg-type]
            async with http.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise ImageError(f"{shown}: the server answered {response.status_code}")
                meter.total = int(response.headers.get("content-length", 0)) or None
                if meter.total is not None and meter.total > MAX_IMAGE_BYTES:
                    raise ImageError(f"{shown}: {_TOO_LARGE}")
                buffer = bytearray()
                async for chunk in response.aiter_bytes():
                    buffer += chunk
                    if len(buffer) > MAX_IMAGE_BYTES:
                        raise ImageError(f"{shown}: {_TOO_LARGE}")
                    meter.done = len(buffer)
                    meter.report()
                return bytes(buffer)
    except httpx.TooManyRedirects:
        raise ImageError(f"{shown}: more than {MAX_REDIRECTS} redirects") from None
    except httpx.TimeoutException:
        raise ImageError(f"{shown}: the server did not answer in time") from None
    except httpx.TransportError as exc:
        raise ImageError(f"{shown}: the server can't be reached ({type(exc).__name__})") from None
