"""The thin tty layer under `detect`: ask in raw mode (nothing echoed), read with a deadline, restore."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import sys
import termios
import time
import tty
from collections.abc import Callable

from .detect import WinSize


class TerminalIO:
    def __init__(self, fd_in: int, fd_out: int) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out

    @classmethod
    def open(cls) -> TerminalIO | None:
        """The process's terminal, or None when stdin or stdout is not one."""
        try:
            fd_in, fd_out = sys.stdin.fileno(), sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):
            return None
        return cls(fd_in, fd_out) if os.isatty(fd_in) and os.isatty(fd_out) else None

    def ask(self, queries: bytes, done: Callable[[bytes], bool], timeout: float) -> bytes:
        saved = termios.tcgetattr(self.fd_in)
        try:
            tty.setraw(self.fd_in, termios.TCSANOW)  # no echo: a reply never shows on the screen
            os.write(self.fd_out, queries)
            return self._read(done, time.monotonic() + timeout)
        finally:
            # TCSAFLUSH drops input not read yet, so a late reply can't reach Textual as keys.
            termios.tcsetattr(self.fd_in, termios.TCSAFLUSH, saved)

    def _read(self, done: Callable[[bytes], bool], deadline: float) -> bytes:
        data = b""
        while not done(data):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd_in], [], [], left)[0]:
                break
            chunk = os.read(self.fd_in, 4096)
            if not chunk:
                break
            data += chunk
        return data

    def winsize(self) -> WinSize:
        try:
            packed = fcntl.ioctl(self.fd_out, termios.TIOCGWINSZ, bytes(8))
        except OSError:
            return WinSize(0, 0, 0, 0)
        return WinSize(*struct.unpack("HHHH", packed))
