"""Copying text where the user can paste it, and knowing whether it got there.

A terminal's own clipboard sequence (OSC 52) gives no answer, so a desktop clipboard tool is tried
first; when none takes the text, the caller shows it instead of claiming it was copied.
"""

from __future__ import annotations

import shutil
import subprocess

TOOLS: tuple[tuple[str, ...], ...] = (
    ("wl-copy",),
    ("xclip", "-selection", "clipboard"),
    ("xsel", "--clipboard", "--input"),
    ("pbcopy",),
)
"""Wayland, X11 (two tools), macOS: the first that exits 0 has the text."""


def copy(text: str, timeout: float = 2.0) -> str | None:
    """Put `text` on the desktop clipboard; the tool's name, or None if no tool took it."""
    for name, *args in TOOLS:
        path = shutil.which(name)
        if path is None:
            continue
        try:
            done = subprocess.run([path, *args], input=text.encode(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return name
    return None
