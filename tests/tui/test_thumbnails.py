"""An inbox row's picture: the thumbnail in half-block cells, its top and bottom pixel in each."""

from __future__ import annotations

import io

from PIL import Image

from imagechat_tui.tui.thumbnails import COLUMNS, LINES, thumbnail_lines


def test_each_cell_holds_two_pixels_of_the_thumbnail() -> None:
    image = Image.new("RGB", (60, 40), (255, 0, 0))
    image.paste((0, 0, 255), (0, 20, 60, 40))  # the bottom half blue
    out = io.BytesIO()
    image.save(out, "PNG")
    lines = thumbnail_lines(out.getvalue())
    assert len(lines) == LINES and all(line.plain == "▀" * COLUMNS for line in lines)
    assert {str(span.style) for span in lines[0].spans} == {"#ff0000 on #ff0000"}
    assert {str(span.style) for span in lines[1].spans} == {"#0000ff on #0000ff"}
