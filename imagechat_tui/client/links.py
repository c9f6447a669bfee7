"""Links to an image and one of its markers: `imagechat-tui sha256:<hex>#12`, what `y` and `Y` copy
and what the command line and the inbox open."""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMAND = "imagechat-tui"
_LINK = re.compile(r"(?:imagechat-tui\s+)?(sha256:[0-9a-fA-F]{64})(?:#(\d{1,9}))?")


@dataclass(frozen=True, slots=True)
class Link:
    key: str
    """`sha256:<hex>`, lower-cased."""
    marker: int | None = None
    """The marker number after `#`, to select and show."""


def parse_link(target: str) -> Link | None:
    """The link `target` is (with or without the command in front), or None if it is no link."""
    match = _LINK.fullmatch(target.strip())
    if match is None:
        return None
    return Link(match[1].lower(), int(match[2]) if match[2] else None)


def format_link(key: str, marker: int | None = None) -> str:
    """The command that opens `key` (at marker `marker`), as copied and printed by `--share`."""
    return f"{COMMAND} {key}" + (f"#{marker}" if marker is not None else "")
