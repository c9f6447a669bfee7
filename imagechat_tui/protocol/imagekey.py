"""Image keys: `sha256:<hex>` digests of image bytes, and the previous version's URL keys (read-only,
kept so that their conversations can be adopted); image sources."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .limits import MAX_IMAGE_KEY_LENGTH

_DEFAULT_PORTS = {"http": 80, "https": 443}
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def legacy_url_key(raw: str) -> str:
    """The previous version's key of an http(s) URL: scheme and host lower-case, default port and
    fragment dropped, user info and query kept. Conversations on such keys are read-only; a client
    hashes the key (`legacy_key_hash`) to adopt one, and never sends it. ValueError if not a URL."""
    key = raw.strip()
    try:
        parts = urlsplit(key)
        port = parts.port
    except ValueError:
        raise ValueError("must be an http(s) URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("must be an http(s) URL")
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


def image_key(raw: str) -> str:
    """The canonical form of a key a conversation may be read under: `sha256:<hex>`, or a previous
    version's URL key; ValueError for anything else."""
    key = raw.strip()
    if _DIGEST.fullmatch(key.lower()):
        return key.lower()
    if not key.lower().startswith(tuple(f"{scheme}://" for scheme in _DEFAULT_PORTS)):
        raise ValueError("must be sha256:<hex digest> (or an http(s) URL key of the previous version)")
    return legacy_url_key(key)


def is_content_key(key: str) -> bool:
    """Whether a canonical key is a `sha256:<hex>` content key (else a previous version's URL key)."""
    return _DIGEST.fullmatch(key) is not None


def key_digest(key: str) -> str:
    """The SHA-256 (hex) of a canonical key's text: how the server indexes keys, and how a client
    names a legacy key to adopt without sending it."""
    return hashlib.sha256(key.encode()).hexdigest()


def legacy_key_hash(url: str) -> str:
    """What `POST /images/{key}/adopt` is given for a URL opened with the previous version."""
    return key_digest(legacy_url_key(url))


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
    return legacy_url_key(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))


def legacy_source(key: str) -> str:
    """The source to show for a previous version's URL key: without user info, query string or
    fragment (credentials and signatures live there)."""
    parts = urlsplit(key)
    return image_source(urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", "")))


def data_image_key(data: bytes) -> str:
    """The content key of image bytes: the SHA-256 of exactly these bytes."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def file_image_key(path: Path) -> str:
    """The key of a local file: the SHA-256 of its bytes, so equal files share conversations."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"

