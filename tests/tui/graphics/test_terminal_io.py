"""Asking a terminal through a pty: a fake terminal answers on the master side."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from imagechat_tui.tui.graphics.detect import ATTRIBUTES_QUERY, QUERIES, WAIT, detect
from imagechat_tui.tui.graphics.terminal_io import TerminalIO

from .test_detect import XTERM_VT340

END = b"<end>"


@dataclass
class FakeTerminal:
    """Reads what the program writes; once it has asked for the device attributes, sends `replies`."""

    master: int
    replies: list[bytes]
    delay: float = 0.0
    written: bytearray = field(default_factory=bytearray)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import select

        while not self.stop.is_set():
            if not select.select([self.master], [], [], 0.02)[0]:
                continue
            try:
                self.written += os.read(self.master, 4096)
            except OSError:
                return
            if self.written.endswith(ATTRIBUTES_QUERY):
                for piece in self.replies:  # in pieces, as a slow link delivers them
                    time.sleep(self.delay)
                    os.write(self.master, piece)


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, int]]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 800, 480))
    yield master, slave
    os.close(master)
    os.close(slave)


def answering(master: int, replies: list[bytes], delay: float = 0.0) -> tuple[FakeTerminal, threading.Thread]:
    terminal = FakeTerminal(master, replies, delay)
    thread = threading.Thread(target=terminal.run, daemon=True)
    thread.start()
    return terminal, thread


def finish(terminal: FakeTerminal, thread: threading.Thread, slave: int) -> None:
    """Stop the fake terminal once a last write has reached it, and so has any echo before it."""
    os.write(slave, END)
    deadline = time.monotonic() + 5
    while not terminal.written.endswith(END):
        assert time.monotonic() < deadline, "the fake terminal got nothing"
        threading.Event().wait(0.005)
    terminal.stop.set()
    thread.join(5)
    del terminal.written[-len(END):]


def test_detect_asks_once_reads_the_replies_and_restores_the_tty(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    before = termios.tcgetattr(slave)
    terminal, thread = answering(master, [XTERM_VT340[:7], XTERM_VT340[7:20], XTERM_VT340[20:]], delay=0.01)
    found = detect("auto", {"TERM": "xterm"}, TerminalIO(slave, slave))
    finish(terminal, thread, slave)
    assert (found.mode, found.cell_size_px) == ("sixel", (10, 20))
    assert termios.tcgetattr(slave) == before
    assert bytes(terminal.written) == QUERIES, "the replies were echoed, or something else was written"


def test_a_silent_terminal_costs_the_bounded_wait(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    terminal, thread = answering(master, [])
    start = time.monotonic()
    found = detect(None, {"TERM": "xterm"}, TerminalIO(slave, slave))
    took = time.monotonic() - start
    finish(terminal, thread, slave)
    assert found.mode == "halfblock" and "did not answer" in found.reason
    assert WAIT <= took < WAIT + 0.5


def test_the_kernel_pixel_size_is_read(pty_pair: tuple[int, int]) -> None:
    _, slave = pty_pair
    size = TerminalIO(slave, slave).winsize()
    assert (size.rows, size.cols, size.x_pixels, size.y_pixels) == (24, 80, 800, 480)


def test_half_blocks_forced_asks_nothing(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    terminal, thread = answering(master, [XTERM_VT340])
    assert detect("halfblock", {}, TerminalIO(slave, slave)).mode == "halfblock"
    finish(terminal, thread, slave)
    assert terminal.written == b""
