"""Stand-in until the decode branch lands: scaled regions of the full image."""

from __future__ import annotations

from PIL import Image


class Pyramid:
    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.width, self.height = image.size
        self.scaled = 0

    def region(self, box: tuple[float, float, float, float], size: tuple[int, int]) -> Image.Image:
        self.scaled += 1
        return self.image.resize(size, Image.Resampling.BOX, box=box)
