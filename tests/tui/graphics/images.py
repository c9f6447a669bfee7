"""Generated test pictures: a screenshot (few colours, text) and a photo (thousands of colours)."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter


def screenshot(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (235, 240, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, height // 10), fill=(40, 60, 110))
    for line in range(height // 20):
        draw.text((4 + line % 3 * 7, 4 + line * 20), f"Error 0x{line * 7919:08x} request {line}", fill=(20, 20, 20))
    corner = (max(width // 2, width - 5), max(height // 2, height - 5))
    draw.rectangle((width // 2, height // 2, *corner), fill=(30, 140, 80), outline=(255, 0, 0))
    return image


def photo(width: int, height: int) -> Image.Image:
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = Image.effect_mandelbrot((width, height), (-2, -1.2, 1, 1.2), 64)
    return Image.merge("RGB", (red, green, blue)).filter(ImageFilter.GaussianBlur(1))
