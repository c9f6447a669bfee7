"""`o`: the image in the desktop's own viewer, for whoever wants it bigger than a terminal."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from .cache import cache_dir
from .loader import LoadedImage

OPENER_ENV = "IMAGECHAT_OPENER"
OPENERS = ("xdg-open", "open")
"""Tried in order when IMAGECHAT_OPENER is not set: Linux and BSD desktops, then macOS."""


class OpenerError(Exception):
    """No viewer could be started, with a message for the user."""


def opener_command() -> list[str]:
    configured = os.environ.get(OPENER_ENV, "").strip()
    if configured:
        try:
            return shlex.split(configured)
        except ValueError as exc:
            raise OpenerError(f"{OPENER_ENV} is not a command line ({exc}): {configured}") from None
    found = next((shutil.which(name) for name in OPENERS if shutil.which(name)), None)
    if found is None:
        raise OpenerError(f"No image viewer found: install xdg-open, or set {OPENER_ENV} to a command "
                          "that opens an image file.")
    return [found]


def local_copy(loaded: LoadedImage) -> Path:
    """A file to hand to the viewer: the file itself, or a downloaded image saved as PNG in the cache
    (the URL, which may carry credentials or a signature, is never handed on)."""
    if loaded.origin is not None and loaded.origin.path is not None:
        return loaded.origin.path.expanduser().resolve()
    folder = cache_dir() / "opened"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(loaded.key.encode()).hexdigest()[:16]}.png"
    if not path.exists():
        loaded.image.save(path)
    return path


def open_externally(loaded: LoadedImage) -> str:
    """Start the desktop's viewer on the image, detached; the command's name."""
    command = opener_command()
    path = local_copy(loaded)
    try:
        subprocess.Popen([*command, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise OpenerError(f"{shlex.join(command)} could not start: {exc.strerror or exc}") from None
    return Path(command[0]).name
