"""The viewer's image cache: image bytes by content key, bounded in size, least recently used
dropped first; and which key a URL opened before had, so reopening it is instant and works offline.

Files only, no index: every write goes to a temporary file renamed into place, so two viewers
sharing the cache see a whole file or none, and a file one of them evicts while the other reads
it is simply a miss. A use touches the file's mtime; eviction drops the oldest mtimes first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import uuid
from pathlib import Path

DEFAULT_MAX_BYTES = 512 * 2**20
_KEY = re.compile(r"sha256:([0-9a-f]{64})")


class ImageCache:
    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._content = directory / "content"
        self._urls = directory / "urls"

    # Content

    def get(self, key: str) -> bytes | None:
        """The bytes stored under `key`, marked as just used; None if not cached."""
        path = self._content_path(key)
        try:
            data = path.read_bytes()
            _touch(path)
        except OSError:
            return None  # never cached, or evicted meanwhile by another viewer
        return data

    def put(self, key: str, data: bytes) -> None:
        """Keep `data` under `key`, then drop the least recently used files past the bound."""
        path = self._content_path(key)
        if not path.exists():
            _write_atomically(path, data)
        with contextlib.suppress(OSError):
            _touch(path)
        self.evict()

    def evict(self) -> None:
        files = []
        for path in self._entries():
            with contextlib.suppress(OSError):
                stat = path.stat()
                files.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            total -= size

    def size(self) -> int:
        return sum(path.stat().st_size for path in self._entries())

    def _entries(self) -> list[Path]:
        """The cached files; another viewer's temporary files (dot names) are not entries yet."""
        return [path for path in self._content.glob("*") if not path.name.startswith(".")]

    # URLs opened before

    def key_for_url(self, url: str) -> str | None:
        try:
            key = (self._urls / _url_name(url)).read_text().strip()
        except OSError:
            return None
        return key if _KEY.fullmatch(key) else None

    def remember_url(self, url: str, key: str) -> None:
        """Map `url` to `key`, stored under a digest of the URL: the URL itself, which may carry a
        password or a signature, is never written down."""
        _write_atomically(self._urls / _url_name(url), key.encode())

    def _content_path(self, key: str) -> Path:
        match = _KEY.fullmatch(key)
        if match is None:
            raise ValueError(f"not a content key: {key!r}")
        return self._content / match[1]


def _touch(path: Path) -> None:
    """Mark `path` as just used, to the nanosecond: uses a moment apart keep their order."""
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _url_name(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        temporary.write_bytes(data)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
