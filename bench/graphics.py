"""Graphics encoders: time and bytes to draw a 1600 x 960 pane (160 x 48 cells of 10 x 20 pixels).

    python bench/graphics.py [--rounds 5]

Prints, per mode and picture (a screenshot with few colours, a photo with thousands), the best and
median encode time of `rounds` runs and the bytes sent to the terminal; and, for comparison, the
sixel encoder of textual-image when it is installed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter

from imagechat_tui.tui.graphics import iterm2, kitty, sixel

COLS, ROWS, CELL = 160, 48, (10, 20)
SIZE = (COLS * CELL[0], ROWS * CELL[1])


def screenshot() -> Image.Image:
    image = Image.new("RGB", SIZE, (235, 240, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, SIZE[0], 80), fill=(40, 60, 110))
    for n in range(40):
        draw.text((20 + n % 4 * 390, 100 + n // 4 * 80), f"Error 0x{n * 7919:08x} request id {n * 104729}",
                  fill=(20, 20, 20))
    draw.rectangle((1200, 800, 1500, 900), fill=(30, 140, 80))
    return image


def photo() -> Image.Image:
    red = Image.linear_gradient("L").resize(SIZE)
    green = Image.radial_gradient("L").resize(SIZE)
    blue = Image.effect_mandelbrot(SIZE, (-2, -1.2, 1, 1.2), 100)
    return Image.merge("RGB", (red, green, blue)).filter(ImageFilter.GaussianBlur(1))


def encoders() -> dict[str, Callable[[Image.Image], bytes | str]]:
    modes: dict[str, Callable[[Image.Image], bytes | str]] = {
        "sixel": sixel.encode,
        "kitty": lambda image: kitty.encode(image, COLS, ROWS, 1),
        "iterm2": lambda image: iterm2.encode(image, COLS, ROWS),
    }
    try:
        from textual_image._sixel import image_to_sixels
    except ImportError:
        return modes
    modes["textual-image sixel"] = image_to_sixels
    return modes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    pictures = {"screenshot": screenshot(), "photo": photo()}
    print(f"{SIZE[0]} x {SIZE[1]} pixels ({COLS} x {ROWS} cells of {CELL[0]} x {CELL[1]}), best/median of {rounds}")
    for mode, encode in encoders().items():
        for name, image in pictures.items():
            took = []
            for _ in range(rounds):
                start = time.perf_counter()
                data = encode(image)
                took.append(time.perf_counter() - start)
            print(f"{mode:>20} {name:>10}: {min(took) * 1000:6.1f} / {statistics.median(took) * 1000:6.1f} ms"
                  f"  {len(data):>9,} bytes")


if __name__ == "__main__":
    main()
