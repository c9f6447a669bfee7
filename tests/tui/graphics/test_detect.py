"""Choosing the graphics mode from recorded replies and the environment (pure: no terminal)."""

from __future__ import annotations

import pytest

from imagechat_tui.tui.graphics.detect import (
    NO_REPLIES,
    Replies,
    WinSize,
    answered,
    choose,
    parse_replies,
)

XTERM_VT340 = b"\x1b[?63;1;2;4;6;9;15;16;22;28c"
"""xterm 379 -ti vt340 -fn 10x20, 100x30 (recorded): only DA1, with Sixel (4); no window-op replies."""
XTERM_VT340_SIZE = WinSize(rows=30, cols=100, x_pixels=1004, y_pixels=604)
"""Its TIOCGWINSZ: the pixels include a 2-pixel border on each side."""
KITTY = b"\x1b_Gi=31;OK\x1b\\\x1b[6;18;9t\x1b[4;864;1440t\x1b[?62;c"
WEZTERM = b"\x1b_Gi=31;OK\x1b\\\x1b[6;16;8t\x1b[4;768;1280t\x1b[?65;4;6;18;22c"
FOOT = b"\x1b_Gi=31;ENOTSUPPORTED:\x1b\\\x1b[6;17;8t\x1b[?62;4;22c"
PLAIN = b"\x1b[?1;2c"
"""A VT100-like terminal: no graphics, and no pixel size either."""
TMUX_SIXEL = b"\x1b[?1;2;4c"
SIZE = WinSize(rows=24, cols=80, x_pixels=0, y_pixels=0)


def test_replies_are_parsed_whatever_their_order_and_split() -> None:
    assert parse_replies(XTERM_VT340) == Replies(kitty=False, attributes=(63, 1, 2, 4, 6, 9, 15, 16, 22, 28),
                                                 cell_px=None, area_px=None)
    assert parse_replies(b"\x1b[6;20;10t\x1b[4;480;800t") == Replies(False, None, (10, 20), (800, 480))
    assert parse_replies(b"\x1b[?2;0;1000;960S").sixel_max_px == (1000, 960)
    assert parse_replies(KITTY).kitty and parse_replies(KITTY).cell_px == (9, 18)
    assert not parse_replies(FOOT).kitty, "an error reply is not support"
    assert parse_replies(b"") == NO_REPLIES
    assert not answered(KITTY[:-1]) and answered(KITTY)


@pytest.mark.parametrize(("replies", "env", "mode", "cell", "why"), [
    (KITTY, {"TERM": "xterm-kitty"}, "kitty", (9, 18), "Kitty graphics query"),
    (WEZTERM, {"TERM_PROGRAM": "WezTerm"}, "kitty", (8, 16), "Kitty graphics query"),
    (XTERM_VT340, {"TERM": "xterm"}, "sixel", None, "device attributes"),
    (FOOT, {"TERM": "foot"}, "sixel", (8, 17), "device attributes"),
    (b"\x1b[?62;4c", {"TERM_PROGRAM": "iTerm.app"}, "iterm2", None, "iTerm.app"),
    (PLAIN, {"TERM": "xterm-256color"}, "halfblock", None, "reports no graphics"),
    (b"", {"KITTY_WINDOW_ID": "3"}, "kitty", None, "no reply"),
    (b"", {"TERM": "foot-extra"}, "sixel", None, "no reply"),
    (b"", {"TERM": "xterm"}, "halfblock", None, "did not answer"),
])
def test_auto_takes_the_best_protocol_reported(replies: bytes, env: dict[str, str], mode: str,
                                               cell: tuple[int, int] | None, why: str) -> None:
    size = WinSize(24, 80, 640, 384)  # the kernel's pixel size: 8 x 16 cells, used when CSI 16 t is not answered
    terminal = choose("auto", env, parse_replies(replies), size)
    assert (terminal.mode, terminal.multiplexer) == (mode, None)
    assert terminal.cell_size_px == (cell or (8, 16))
    assert why in terminal.reason


def test_the_cell_size_comes_from_16t_then_14t_then_the_kernel() -> None:
    assert choose(None, {}, parse_replies(XTERM_VT340), XTERM_VT340_SIZE).cell_size_px == (10, 20)
    area_only = b"\x1b[4;480;800t\x1b[?62;4c"
    assert choose(None, {}, parse_replies(area_only), SIZE).cell_size_px == (10, 20)
    kernel = WinSize(rows=24, cols=80, x_pixels=720, y_pixels=432)
    assert choose(None, {}, parse_replies(b"\x1b[?62;4c"), kernel).cell_size_px == (9, 18)


XTERM_DEFAULT_160X48 = b"\x1b[?2;0;1000;960S\x1b[?63;1;2;4;6;9;15;16;22;28c"
"""xterm 379 -ti vt340 at 160 x 48 cells of 10 x 20 (recorded): Sixel up to 1000 px wide by default."""
XTERM_LARGER_160X48 = b"\x1b[?2;0;1600;960S\x1b[?63;1;2;4;6;9;15;16;22;28c"
"""The same with -xrm 'XTerm*maxGraphicSize: 4096x4096': up to its window."""


def test_sixel_needs_images_as_large_as_the_window() -> None:
    size = WinSize(rows=48, cols=160, x_pixels=1600, y_pixels=960)
    small = choose("auto", {"TERM": "xterm"}, parse_replies(XTERM_DEFAULT_160X48), size)
    assert small.mode == "halfblock" and "1000x960" in small.reason and "maxGraphicSize" in small.reason
    assert choose("auto", {}, parse_replies(XTERM_LARGER_160X48), size).mode == "sixel"
    assert choose("sixel", {}, parse_replies(XTERM_DEFAULT_160X48), size).mode == "sixel", "as set is as set"


def test_a_pixel_mode_without_a_cell_size_falls_back_to_half_blocks() -> None:
    terminal = choose("auto", {}, parse_replies(b"\x1b[?62;4c"), SIZE)
    assert terminal.mode == "halfblock" and "cell size" in terminal.reason


def test_inside_tmux_only_what_tmux_itself_answers_counts() -> None:
    env = {"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "screen-256color", "KITTY_WINDOW_ID": "1"}
    with_sixel = choose("auto", env, parse_replies(b"\x1b[6;20;10t" + TMUX_SIXEL), SIZE)
    assert (with_sixel.mode, with_sixel.multiplexer) == ("sixel", "tmux") and "tmux" in with_sixel.reason
    without = choose("auto", env, parse_replies(b"\x1b[6;20;10t\x1b[?1;2c"), SIZE)
    assert (without.mode, without.multiplexer) == ("halfblock", "tmux") and "tmux" in without.reason


def test_screen_gets_half_blocks() -> None:
    terminal = choose("auto", {"STY": "1234.pts-0"}, parse_replies(XTERM_VT340), SIZE)
    assert (terminal.mode, terminal.multiplexer) == ("halfblock", "screen")


def test_an_override_wins_and_a_missing_cell_size_is_assumed() -> None:
    assert choose("halfblock", {}, parse_replies(KITTY), SIZE).mode == "halfblock"
    forced = choose("sixel", {}, None, None)
    assert (forced.mode, forced.cell_size_px) == ("sixel", (10, 20)) and "assuming" in forced.reason
    assert choose("iterm2", {}, parse_replies(XTERM_VT340), SIZE).cell_size_px == (10, 20)
    with pytest.raises(ValueError, match="graphics must be one of"):
        choose("png", {}, None, None)


def test_not_a_terminal_gets_half_blocks() -> None:
    terminal = choose(None, {"TERM": "xterm-kitty"}, None, None)
    assert terminal.mode == "halfblock" and "not a terminal" in terminal.reason
