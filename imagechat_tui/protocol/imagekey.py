"""Image keys: normalised http(s) URLs or `sha256:<hex>` digests of image bytes; image sources."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .limits import MAX_IMAGE_KEY_LENGTH

_DEFAULT_PORTS = {"http": 80, "https": 443}
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def normalize_image_key(raw: str) -> str:
    """The canonical form of an image key; ValueError if it is neither a URL nor a digest."""
    key = raw.strip()
    if _DIGEST.fullmatch(key.lower()):
        return key.lower()
    try:
        parts = urlsplit(key)
        port = parts.port
    except ValueError:
        raise ValueError("must be an http(s) URL or sha256:<hex digest>") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("must be an http(s) URL or sha256:<hex digest>")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    key = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    if len(key) > MAX_IMAGE_KEY_LENGTH:
        raise ValueError(f"must be at most {MAX_IMAGE_KEY_LENGTH} characters")
    return key


def content_key(raw: str) -> str:
    """The `sha256:<hex>` key of stored image bytes, lower-cased; ValueError for anything else."""
    key = raw.strip().lower()
    if not _DIGEST.fullmatch(key):
        raise ValueError("must be sha256:<64 hex digits>")
    return key


def image_source(raw: str) -> str:
    """Where an image came from, kept for display: its normalised URL without query string or
    fragment (signatures live there); ValueError for one with credentials, never to be sent."""
    try:
        parts = urlsplit(raw.strip())
    except ValueError:
        raise ValueError("must be an http(s) URL") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise ValueError("must be an http(s) URL")
    if "@" in parts.netloc:
        raise ValueError("must not contain credentials (user:password@)")
    return normalize_image_key(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))


def file_image_key(path: Path) -> str:
    """The key of a local file: the SHA-256 of its bytes, so equal files share conversations."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def public_source(url: str) -> str | None:
    """A URL as it may be shown or sent: without user info, query string or fragment (credentials
    and signatures live there); None if it is not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        host = parts.netloc.rpartition("@")[2]
        return image_source(urlunsplit((parts.scheme, host, parts.path, "", "")))
    except ValueError:
        return None
