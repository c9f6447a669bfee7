"""Fixtures for the viewer: a sample image, apps wired to a real server, quick reconnects."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imagechat_tui.client.engine import Backoff
from imagechat_tui.protocol.imagekey import file_image_key
from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.cache import StateCache
from imagechat_tui.tui.sample import draw_sample

from ..conftest import Harness

os.environ["TEXTUAL_ANIMATIONS"] = "none"  # snapshots and Pilot runs see final states, never mid-animation


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return draw_sample(tmp_path / "shot.png")


@pytest.fixture
def sample_key(sample: Path) -> str:
    return file_image_key(sample)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., ImageChatApp]:
    def make(server: Harness | str, token: str, target: Path | str | None, **kwargs: Any) -> ImageChatApp:
        """`target` None: the inbox."""
        url = server if isinstance(server, str) else server.url
        kwargs.setdefault("backoff", Backoff(0.05, 0.3))
        kwargs.setdefault("cache", StateCache(tmp_path / "cache", url, token))
        return ImageChatApp(None if target is None else str(target), server=url, token=token, **kwargs)

    return make


def tool(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def desktop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH of our own (no clipboard or viewer unless a test puts one there) and
    user directories under tmp_path."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.delenv("IMAGECHAT_OPENER", raising=False)
    return folder
