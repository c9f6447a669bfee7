"""The last state seen of each image, so that a viewer started offline still shows it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import platformdirs
from pydantic import TypeAdapter, ValidationError

from ..protocol.models import Marker

_markers = TypeAdapter(list[Marker])


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("imagechat-tui", appauthor=False)) / "images"


def image_cache_dir() -> Path:
    """The image bytes cache (client.imagecache), apart from the markers' state cache."""
    return Path(platformdirs.user_cache_dir("imagechat-tui", appauthor=False)) / "image-cache"


def copies_dir() -> Path:
    """Where copied threads are saved when no clipboard takes them."""
    return Path(platformdirs.user_data_dir("imagechat-tui", appauthor=False)) / "copied"


class StateCache:
    """One JSON file per (server, identity, image): the seq and the markers at that seq."""

    def __init__(self, directory: Path, server: str, token: str) -> None:
        self.directory = directory
        # The token stands for the identity (and tenant); only a digest of it is used.
        self._scope = f"{server.rstrip('/')}|{hashlib.sha256(token.encode()).hexdigest()}"

    def _path(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(f"{self._scope}|{key}".encode()).hexdigest() + ".json")

    def load(self, key: str) -> tuple[int, list[Marker]] | None:
        try:
            data = json.loads(self._path(key).read_text())
            return int(data["seq"]), _markers.validate_python(data["markers"])
        except (OSError, ValueError, KeyError, TypeError, ValidationError):
            return None  # no cache, or one from another version: start without it

    def save(self, key: str, seq: int, markers: list[Marker]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(
            b'{"seq":%d,"markers":' % seq + _markers.dump_json(markers, by_alias=True) + b"}"
        )
        temporary.replace(path)  # atomic: a crash leaves the old file or the new one
