"""A real terminal for tests: xterm (as a VT340, so with Sixel) under its own Xvfb, captured as pixels.

    with xterm([sys.executable, "-m", "imagechat_tui.tui.graphics.demo", "--graphics", "sixel", path]) as term:
        shot = term.wait_for(lambda image: ..., 20, "the picture")   # screen captures until true
        term.press("q")

The window sits at the screen's top-left corner with no borders, so cell (x, y) starts at pixel
(x * 10, y * 20) with the 10x20 font (`cell_box`). Each terminal gets its own X server (-displayfd
picks a free display), so tests and other users of X on the machine never see each other's windows.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO

from PIL import Image

from .conftest import services_unavailable

TOOLS = ("Xvfb", "xterm", "xwd", "convert", "xdotool")
CELL = (10, 20)
FONT = "10x20"
RESOURCES = (
    "XTerm*numColorRegisters: 256",  # a VT340 has 16; the encoder sends up to 256 colours
    "XTerm*maxGraphicSize: 4096x4096",
)


@dataclass
class XTerm:
    display: str
    process: subprocess.Popen[bytes]
    cell: tuple[int, int] = CELL

    def capture(self) -> Image.Image:
        """The whole X screen, as RGB."""
        xwd = subprocess.run(["xwd", "-root", "-silent", "-display", self.display], capture_output=True,
                             check=True, timeout=20).stdout
        png = subprocess.run(["convert", "xwd:-", "png:-"], input=xwd, capture_output=True, check=True,
                             timeout=20).stdout
        return Image.open(BytesIO(png)).convert("RGB")

    def cell_box(self, x: int, y: int, cols: int, rows: int) -> tuple[int, int, int, int]:
        """The pixels of cols x rows cells from cell (x, y), as a PIL box."""
        width, height = self.cell
        return x * width, y * height, (x + cols) * width, (y + rows) * height

    def wait_for(self, predicate: Callable[[Image.Image], object], timeout: float, what: str) -> Image.Image:
        """Capture the screen until `predicate` holds for a capture; that capture."""
        deadline = time.monotonic() + timeout
        while True:
            shot = self.capture()
            if predicate(shot):
                return shot
            if self.process.poll() is not None:
                raise AssertionError(f"xterm exited ({self.process.returncode}) before {what}")
            if time.monotonic() > deadline:
                shot.save("/tmp/imagechat-terminal-timeout.png")
                raise AssertionError(f"timed out after {timeout} s waiting for {what} "
                                     "(last capture: /tmp/imagechat-terminal-timeout.png)")

    def press(self, *keys: str) -> None:
        """Type X key names (as xdotool knows them: "q", "plus", "shift+Right") into the terminal."""
        env = os.environ | {"DISPLAY": self.display}
        subprocess.run(["xdotool", "key", "--delay", "20", *keys], env=env, check=True, timeout=20)


@contextmanager
def xterm(command: Sequence[str], cols: int = 100, rows: int = 30,
          env: Mapping[str, str] | None = None) -> Iterator[XTerm]:
    """`command` running in a fresh xterm -ti vt340 of cols x rows cells; both stopped at the end."""
    if missing := [tool for tool in TOOLS if shutil.which(tool) is None]:
        services_unavailable(f"xterm and Xvfb ({', '.join(missing)} missing)")
    with _xvfb((max(1280, cols * CELL[0]), max(800, rows * CELL[1]))) as display:
        resources = [arg for resource in RESOURCES for arg in ("-xrm", resource)]
        process = subprocess.Popen(
            ["xterm", "-ti", "vt340", "-fn", FONT, "-b", "0", "-w", "0", "-geometry", f"{cols}x{rows}+0+0", *resources,
             "-e", *command],
            env=os.environ | dict(env or {}) | {"DISPLAY": display}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            yield XTerm(display, process)
        finally:
            _stop(process)


@contextmanager
def _xvfb(size: tuple[int, int]) -> Iterator[str]:
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size[0]}x{size[1]}x24",
                               "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        if not select.select([read], [], [], 20)[0]:
            raise AssertionError("Xvfb did not say its display within 20 s")
        number = os.read(read, 64).decode().strip()
        if not number:
            raise AssertionError("Xvfb did not start")
        yield f":{number}"
    finally:
        os.close(read)
        _stop(server)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
