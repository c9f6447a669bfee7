"""Which way to draw pixels: ask the terminal before Textual starts, read its replies, decide.

Parsing replies and deciding are pure functions (`parse_replies`, `choose`); `detect` adds the questions
asked through a `Tty` (see `terminal_io.TerminalIO` for the real one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

Mode = Literal["kitty", "sixel", "iterm2", "halfblock"]
MODES: tuple[str, ...] = ("auto", "kitty", "sixel", "iterm2", "halfblock")
PIXEL_MODES: tuple[Mode, ...] = ("kitty", "sixel", "iterm2")
ASSUMED_CELL = (10, 20)
"""A VT340's cell, for a forced pixel mode in a terminal that does not say its cell size."""
WAIT = 0.5
"""Seconds to wait for the replies, at most: a terminal that answers takes milliseconds."""

KITTY_QUERY = b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
CELL_QUERY = b"\x1b[16t"
AREA_QUERY = b"\x1b[14t"
SIXEL_SIZE_QUERY = b"\x1b[?2;1;0S"
"""XTSMGRAPHICS: the largest Sixel image the terminal draws (xterm: its window, at most maxGraphicSize)."""
ATTRIBUTES_QUERY = b"\x1b[c"
QUERIES = KITTY_QUERY + CELL_QUERY + AREA_QUERY + SIXEL_SIZE_QUERY + ATTRIBUTES_QUERY
"""Every terminal answers the device attributes (DA1), and in order: asked last, its reply ends the wait."""

KITTY_REPLY = re.compile(rb"\x1b_Gi=31;([^\x1b]*)\x1b\\")
ATTRIBUTES_REPLY = re.compile(rb"\x1b\[\?([\d;]*)c")
CELL_REPLY = re.compile(rb"\x1b\[6;(\d+);(\d+)t")
AREA_REPLY = re.compile(rb"\x1b\[4;(\d+);(\d+)t")
SIXEL_SIZE_REPLY = re.compile(rb"\x1b\[\?2;0;(\d+);(\d+)S")


@dataclass(frozen=True, slots=True)
class Terminal:
    """How images are drawn, and why (for the help screen)."""

    mode: Mode
    cell_size_px: tuple[int, int] | None
    """(width, height) of a cell in pixels; None in half-block mode when the terminal does not say."""
    multiplexer: Literal["tmux", "screen"] | None
    reason: str


@dataclass(frozen=True, slots=True)
class Replies:
    kitty: bool
    attributes: tuple[int, ...] | None
    """The DA1 parameters; None when the terminal did not answer at all."""
    cell_px: tuple[int, int] | None
    area_px: tuple[int, int] | None
    """The text area in pixels (CSI 14 t), as (width, height)."""
    sixel_max_px: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class WinSize:
    rows: int
    cols: int
    x_pixels: int
    y_pixels: int


class Tty(Protocol):
    def ask(self, queries: bytes, done: Callable[[bytes], bool], timeout: float) -> bytes:
        """Write `queries` and return what the terminal sends until `done` says so or `timeout` passes."""

    def winsize(self) -> WinSize: ...


NO_REPLIES = Replies(kitty=False, attributes=None, cell_px=None, area_px=None)


def answered(data: bytes) -> bool:
    """The device attributes reply has arrived, so every earlier reply has too."""
    return ATTRIBUTES_REPLY.search(data) is not None


def parse_replies(data: bytes) -> Replies:
    kitty = KITTY_REPLY.search(data)
    attributes = ATTRIBUTES_REPLY.search(data)
    cell = CELL_REPLY.search(data)
    area = AREA_REPLY.search(data)
    sixel_max = SIXEL_SIZE_REPLY.search(data)
    return Replies(
        kitty=bool(kitty and kitty.group(1) == b"OK"),
        attributes=tuple(int(p) for p in attributes.group(1).split(b";") if p) if attributes else None,
        cell_px=_positive(int(cell.group(2)), int(cell.group(1))) if cell else None,
        area_px=_positive(int(area.group(2)), int(area.group(1))) if area else None,
        sixel_max_px=_positive(int(sixel_max.group(1)), int(sixel_max.group(2))) if sixel_max else None,
    )


def multiplexer(env: Mapping[str, str]) -> Literal["tmux", "screen"] | None:
    term = env.get("TERM", "")
    if env.get("TMUX") or term.startswith("tmux"):
        return "tmux"
    if env.get("STY") or term.startswith("screen"):
        return "screen"
    return None


def cell_size(replies: Replies, size: WinSize | None) -> tuple[int, int] | None:
    """From CSI 16 t, else CSI 14 t over the cells, else the kernel's pixel size over the cells."""
    if replies.cell_px:
        return replies.cell_px
    if size is None or not size.cols or not size.rows:
        return None
    if replies.area_px:
        return _positive(replies.area_px[0] // size.cols, replies.area_px[1] // size.rows)
    return _positive(size.x_pixels // size.cols, size.y_pixels // size.rows)


def choose(override: str | None, env: Mapping[str, str], replies: Replies | None, size: WinSize | None) -> Terminal:
    """The mode: the override if there is one, else the best protocol the terminal (or tmux) answers for.

    `replies` is None when nothing was asked (not a terminal). Inside tmux or screen only what the
    multiplexer itself reports is used: tmux 3.4 answers Sixel when built with it and redraws the image
    with its panes; passthrough (`allow-passthrough on`) is not used, because images sent past tmux stay
    on screen when its windows change or scroll.
    """
    mux = multiplexer(env)
    cell = cell_size(replies or NO_REPLIES, size)
    if override and override != "auto":
        if override not in MODES:
            raise ValueError(f"graphics must be one of {', '.join(MODES)}, not {override!r}")
        if override != "halfblock" and cell is None:
            return Terminal(override, ASSUMED_CELL, mux,  # type: ignore[arg-type]
                            f"{override}, as set; cell size unknown, assuming {ASSUMED_CELL[0]}x{ASSUMED_CELL[1]} px")
        return Terminal(override, cell, mux, f"{override}, as set")  # type: ignore[arg-type]
    if replies is None:
        return Terminal("halfblock", cell, mux, "half-blocks: not a terminal")
    mode, why = _protocol(env, replies, mux)
    if mode == "halfblock":
        return Terminal(mode, cell, mux, why)
    if cell is None:
        return Terminal("halfblock", None, mux, f"half-blocks: {why}, but the cell size in pixels is unknown")
    if mode == "sixel" and (small := _sixel_too_small(replies, cell, size)):
        return Terminal("halfblock", cell, mux, f"half-blocks: {why}, but {small}")
    return Terminal(mode, cell, mux, f"{mode}: {why}")


def _sixel_too_small(replies: Replies, cell: tuple[int, int], size: WinSize | None) -> str | None:
    """Why Sixel images can't cover the window, if they can't: xterm drops larger ones (1000 px by default)."""
    if replies.sixel_max_px is None or size is None:
        return None
    (width, height), (max_w, max_h) = (size.cols * cell[0], size.rows * cell[1]), replies.sixel_max_px
    if width <= max_w and height <= max_h:
        return None
    return (f"it draws Sixel images up to {max_w}x{max_h} px, less than its {width}x{height} px window "
            "(xterm: set XTerm*maxGraphicSize, e.g. -xrm 'XTerm*maxGraphicSize: 4096x4096')")


def _protocol(env: Mapping[str, str], replies: Replies, mux: str | None) -> tuple[Mode, str]:
    sixel = replies.attributes is not None and 4 in replies.attributes
    if mux == "screen":
        return "halfblock", "half-blocks: GNU screen passes no graphics"
    if mux == "tmux":
        if sixel:
            return "sixel", "tmux reports Sixel itself"
        return "halfblock", "half-blocks: this tmux reports no Sixel (tmux 3.4 built with sixel does)"
    if replies.kitty:
        return "kitty", "the terminal answered the Kitty graphics query"
    if env.get("TERM_PROGRAM") == "iTerm.app":
        return "iterm2", "TERM_PROGRAM=iTerm.app"
    if sixel:
        return "sixel", "the terminal reports Sixel in its device attributes"
    if replies.attributes is None:
        return _hinted(env)
    return "halfblock", "half-blocks: the terminal reports no graphics protocol"


def _hinted(env: Mapping[str, str]) -> tuple[Mode, str]:
    """No reply at all (a slow link?): trust what the environment says about the terminal."""
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if env.get("KITTY_WINDOW_ID") or term == "xterm-kitty" or program in ("WezTerm", "ghostty"):
        return "kitty", f"no reply to the queries, but the environment names a Kitty-protocol terminal " \
                        f"(TERM={term}, TERM_PROGRAM={program})"
    if term.startswith(("foot", "mlterm")):
        return "sixel", f"no reply to the queries, but TERM={term} draws Sixel"
    return "halfblock", "half-blocks: the terminal did not answer the queries"


def detect(override: str | None, env: Mapping[str, str], tty: Tty | None) -> Terminal:
    """Ask `tty` (None: not a terminal) unless the answer is not needed, then `choose`."""
    if tty is None or override == "halfblock" or multiplexer(env) == "screen":
        return choose(override, env, None if tty is None else NO_REPLIES, tty.winsize() if tty else None)
    replies = parse_replies(tty.ask(QUERIES, answered, WAIT))
    return choose(override, env, replies, tty.winsize())


def _positive(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None
