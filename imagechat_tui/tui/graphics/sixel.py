"""Sixel: an RGB image to the DCS sequence that draws it at the cursor, encoded with numpy.

The image is reduced to at most 256 colours (exactly when it has that few, as screenshots often do; else
Pillow's fast octree). Then, for every band of six pixel rows and every colour used in it, one row of
sixel characters gives that colour's pixels; rows are run-length encoded. All of it is whole-array work:
a per-pixel Python loop takes seconds for a 1600 x 960 pane, this takes tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

BAND = 6
"""Pixel rows per sixel character."""
ZERO = 0x3F
"""'?': the sixel character with no pixel set; bits are added to it."""
PAD = 256
"""Colour index of pixels never drawn: holes, and the rows added to fill the last band."""
SLOT = 8
"""Bytes reserved for one token: '!' + up to five digits + the character, or '#' + a colour index."""
START = b'\x1bP0;1;0q"1;1;'
"""DCS with P2=1: pixels left at 0 keep what is under them, so colour rows can share a band."""
END = b"\x1b\\"


def encode(image: Image.Image, holes: Iterable[tuple[int, int, int, int]] = ()) -> bytes:
    """The sequence drawing `image` (mode RGB) with its top-left corner at the cursor.

    `holes` are pixel boxes (left, top, right, bottom) left as they are on screen, e.g. under a toast.
    """
    pixels, palette = _indexed(image)
    if holes:
        pixels = pixels.astype(np.uint16)
        for left, top, right, bottom in holes:
            pixels[top:bottom, left:right] = PAD
        if (pixels == PAD).all():  # covered whole (a dialog over the picture): nothing to draw
            return b""
    width, height = image.size
    rows, colours, bands = _colour_rows(pixels)
    body = _tokens(rows, colours, bands, width)
    registers = b"".join(
        b"#%d;2;%d;%d;%d" % (c, *(round(v * 100 / 255) for v in palette[c])) for c in np.unique(colours).tolist())
    return START + b"%d;%d" % (width, height) + registers + body + END


def _indexed(image: Image.Image) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Palette indices and the palette; the exact colours when there are at most 256 of them."""
    colours = image.getcolors(256)
    if colours is None:
        quantized = image.quantize(256, method=Image.Quantize.FASTOCTREE)
        flat = quantized.getpalette() or []
        return np.asarray(quantized), [tuple(flat[at:at + 3]) for at in range(0, len(flat), 3)]  # type: ignore[misc]
    # Pillow's mapping onto a given palette is approximate; a 2**24-entry table of our own is exact.
    palette = [rgb for _, rgb in colours]
    table = np.empty(1 << 24, dtype=np.uint8)
    table[[r | g << 8 | b << 16 for r, g, b in palette]] = np.arange(len(palette))
    packed = np.asarray(image.convert("RGBX")).view(np.uint32)[..., 0] & 0xFFFFFF
    return table[packed], palette


def _colour_rows(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row of sixel bits (0-63) per (band, colour) used, in band order; with each row's colour and band."""
    height, width = pixels.shape
    padded = np.full((-(-height // BAND) * BAND, width), PAD, dtype=np.int64)
    padded[:height] = pixels
    banded = padded.reshape(-1, BAND, width)
    key = banded + (np.arange(banded.shape[0]) * (PAD + 1))[:, None, None]
    used = np.zeros(banded.shape[0] * (PAD + 1), dtype=bool)
    used[key.ravel()] = True
    used[PAD::PAD + 1] = False
    row_of = np.cumsum(used) - 1
    row_count = int(row_of[-1]) + 1
    row_of[PAD::PAD + 1] = row_count  # padding goes to a scratch row, dropped below
    target = row_of[key] * width + np.arange(width)
    bits = np.zeros((row_count + 1) * width, dtype=np.uint8)
    for row in range(BAND):
        # One colour per (band, column) in a pixel row, so no index repeats within this assignment.
        bits[target[:, row]] += 1 << row
    bands, colours = np.divmod(np.flatnonzero(used), PAD + 1)
    return bits.reshape(-1, width)[:row_count], colours, bands


def _counts(prefix: bytes, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`prefix` + each number in decimal, as rows of SLOT bytes, and their lengths."""
    text = np.char.add(prefix, numbers.astype("S5"))
    slots = np.zeros((numbers.size, SLOT), dtype=np.uint8)
    slots[:, :6] = np.frombuffer(text.astype("S6").tobytes(), dtype=np.uint8).reshape(-1, 6)
    return slots, np.char.str_len(text)


MAX_RUN = (1 << 16) - 1
RUNS, RUN_LENGTHS = _counts(b"!", np.arange(MAX_RUN + 1))
"""'!<n>' for every run length."""
SELECT, SELECT_LENGTHS = _counts(b"#", np.arange(PAD))
"""'#<c>' for every colour."""


def _tokens(bits: np.ndarray, colours: np.ndarray, bands: np.ndarray, width: int) -> bytes:
    """Each colour row as '#c' + run-length-encoded characters + '$' (or '-' when the band ends).

    Every piece is a slot of SLOT bytes and a length; the slots are put in order and cut to their lengths.
    """
    row_count = bits.shape[0]
    run_slots, run_lens, row = _runs(bits, width)
    heads, head_lens = SELECT[colours], SELECT_LENGTHS[colours]
    tails = np.zeros((row_count, SLOT), dtype=np.uint8)
    band_ends = np.append(bands[1:] != bands[:-1], False)
    tails[:, 0] = np.where(band_ends, ord("-"), ord("$"))
    tail_lens = np.where(np.arange(row_count) == row_count - 1, 0, 1)  # no '-' below the image: no scrolling

    runs_before_row = np.searchsorted(row, np.arange(row_count + 1))
    total = row.size + 2 * row_count
    slots = np.empty((total, SLOT), dtype=np.uint8)
    lens = np.empty(total, dtype=np.int64)
    rows = np.arange(row_count)
    head_at = runs_before_row[:-1] + 2 * rows
    tail_at = runs_before_row[1:] + 2 * rows + 1
    run_at = np.arange(row.size) + 2 * row + 1
    slots[head_at], lens[head_at] = heads, head_lens
    slots[tail_at], lens[tail_at] = tails, tail_lens
    slots[run_at], lens[run_at] = run_slots, run_lens
    return slots[np.arange(SLOT)[None, :] < lens[:, None]].tobytes()


def _runs(bits: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal characters in each row as slots ('!<n>c' from 4 on) and lengths, and the row of each."""
    chars = (bits + ZERO).ravel()
    starts_mask = np.empty(chars.size, dtype=bool)
    starts_mask[0] = True
    np.not_equal(chars[1:], chars[:-1], out=starts_mask[1:])
    starts_mask[::width] = True
    starts = np.flatnonzero(starts_mask)
    counts = np.diff(np.append(starts, chars.size))
    char = chars[starts]
    row = starts // width
    last_of_row = np.append(row[1:] != row[:-1], True)
    keep = ~(last_of_row & (char == ZERO))  # trailing empty columns are not sent
    counts, char, row = counts[keep], char[keep], row[keep]

    short = counts < 4
    counts = np.minimum(counts, MAX_RUN)  # wider than any screen
    run_slots = RUNS[counts]
    run_slots[short, :3] = char[short, None]
    long_at = np.flatnonzero(~short)
    run_slots[long_at, RUN_LENGTHS[counts[long_at]]] = char[long_at]
    run_lens = np.where(short, counts, RUN_LENGTHS[counts] + 1)
    return run_slots, run_lens, row
