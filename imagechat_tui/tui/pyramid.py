"""Scaled copies of the full image (an image pyramid), so that zooming and panning never rescale all of it.

Level k is the image reduced 2**k times (a box average, built from level k-1 when first needed and kept).
A region is cut from the smallest level that still has as many pixels as the view needs, so one view
costs about as much as the pixels it shows, whatever the size of the image.
"""

from __future__ import annotations

import math

from PIL import Image

BACKGROUND = (48, 48, 48)
"""Where a view extends past the image: a neutral dark grey, apart from the light checkerboard of transparency."""
REDUCE = Image.Resampling.BOX
"""Reducing from a level by less than 2: an average of the pixels each output pixel covers."""
ENLARGE = Image.Resampling.NEAREST
"""Past one screen pixel per image pixel: each image pixel a sharp block, as image editors zoom."""

SLACK = 1e-9
"""Scales this close to a power of two are that power: boxes computed in floating point land a hair off."""

PIXEL_SLACK = 1e-6
"""A move this close to whole view pixels is a pan by whole pixels."""

Box = tuple[float, float, float, float]


class Pyramid:
    """A full-resolution RGB image and its halvings, from which any view of it is cut.

    Not thread-safe: one thread at a time (levels and the last view are built on demand).
    """

    def __init__(self, image: Image.Image) -> None:
        self._levels = [image]
        self.width, self.height = image.size
        self.scaled = 0
        """How many levels were built (each a pass over a whole level): panning never adds to it."""
        self._last: tuple[tuple[Box, tuple[int, int]], Image.Image] | None = None

    def region(self, box: Box, size: tuple[int, int]) -> Image.Image:
        """The part of the image inside `box` (left, top, right, bottom in full-image pixels, may be
        fractional and may extend past the image: outside is filled with BACKGROUND), scaled to
        `size` (w, h) pixels, RGB. Asking again for the same view (a redraw) cuts nothing again, and
        moving it by whole pixels (a pan) cuts only what comes into view."""
        if self._last is None or self._last[0] != (box, size):
            view = self._panned(box, size)
            self._last = ((box, size), view if view is not None else self._cut(box, size))
        return self._last[1].copy()  # the caller may draw on it

    def _panned(self, box: Box, size: tuple[int, int]) -> Image.Image | None:
        """The last view moved by whole view pixels, with only the strips that come into view cut;
        None unless `box` is such a move (same size and zoom, offset by whole pixels, some of it still in view)."""
        if self._last is None:
            return None
        (last_box, last_size), last_view = self._last
        out_w, out_h = size
        width, height = box[2] - box[0], box[3] - box[1]
        if last_size != size or not (math.isclose(width, last_box[2] - last_box[0], rel_tol=SLACK)
                                     and math.isclose(height, last_box[3] - last_box[1], rel_tol=SLACK)):
            return None
        dx, dy = (box[0] - last_box[0]) * out_w / width, (box[1] - last_box[1]) * out_h / height
        if max(abs(dx - round(dx)), abs(dy - round(dy))) > PIXEL_SLACK:
            return None
        dx, dy = round(dx), round(dy)
        if abs(dx) >= out_w or abs(dy) >= out_h:
            return None
        view = Image.new("RGB", size)
        view.paste(last_view, (-dx, -dy))
        columns = (out_w - dx, out_w) if dx > 0 else (0, -dx)
        rows = (out_h - dy, out_h) if dy > 0 else (0, -dy)
        for (x0, x1), (y0, y1) in [(columns, (0, out_h)), ((0, out_w), rows)]:
            if x1 > x0 and y1 > y0:
                strip = (box[0] + x0 * width / out_w, box[1] + y0 * height / out_h,
                         box[0] + x1 * width / out_w, box[1] + y1 * height / out_h)
                view.paste(self._cut(strip, (x1 - x0, y1 - y0)), (x0, y0))
        return view

    def _cut(self, box: Box, size: tuple[int, int]) -> Image.Image:
        left, top, right, bottom = box
        if right <= left or bottom <= top:
            raise ValueError(f"empty box {box}")
        out_w, out_h = size
        scale_x, scale_y = out_w / (right - left), out_h / (bottom - top)
        x0, x1, src_left, src_right = _shown(left, scale_x, self.width, out_w)
        y0, y1, src_top, src_bottom = _shown(top, scale_y, self.height, out_h)
        if x1 <= x0 or y1 <= y0:
            return Image.new("RGB", size, BACKGROUND)
        level = self._level_for(max(scale_x, scale_y))
        factor = 2**level
        # At a level's own scale or larger, each output pixel copies one level pixel: sharp, never a blend
        # of two neighbours when the box starts between pixels, and 20 times faster than a filter.
        resample = ENLARGE if min(scale_x, scale_y) * factor >= 1 - SLACK else REDUCE
        part = self._levels[level].resize(
            (x1 - x0, y1 - y0), resample, box=(src_left / factor, src_top / factor, src_right / factor,
                                               src_bottom / factor))
        if part.size == size:
            return part
        view = Image.new("RGB", size, BACKGROUND)
        view.paste(part, (x0, y0))
        return view

    def _level_for(self, scale: float) -> int:
        """The smallest level that still has `scale` of its pixels per image pixel or more, built if new."""
        level = 0
        while scale * 2 ** (level + 1) <= 1 + SLACK and min(self._size(level)) > 1:
            level += 1
        while len(self._levels) <= level:
            self._levels.append(self._levels[-1].reduce(2))
            self.scaled += 1
        return level

    def _size(self, level: int) -> tuple[int, int]:
        """Level `level`'s size (Pillow's reduce rounds up), known before it is built."""
        return -(-self.width // 2**level), -(-self.height // 2**level)


def _shown(start: float, scale: float, extent: int, out: int) -> tuple[int, int, float, float]:
    """Along one axis: the view pixels [first, end) that lie wholly on the image, and the image span they show.

    A view pixel the image edge cuts through shows the background: so the span starts and ends on
    view pixel edges, and every view pixel shows exactly the image span the box maps onto it.
    """
    first = min(out, max(0, math.ceil(-start * scale - SLACK)))
    end = min(out, max(0, math.floor((extent - start) * scale + SLACK)))
    return first, end, max(0.0, start + first / scale), min(float(extent), start + end / scale)
