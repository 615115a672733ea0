"""tests/reports/browser.py's PNG decoder against PNGs written here with every scanline filter."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from tests.reports.browser import decode_png

pytestmark = pytest.mark.unit


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filtered(row: np.ndarray, prev: np.ndarray, kind: int, bpp: int) -> bytes:
    out = bytearray([kind])
    for i, x in enumerate(row.tolist()):
        a = int(row[i - bpp]) if i >= bpp else 0
        b = int(prev[i])
        c = int(prev[i - bpp]) if i >= bpp else 0
        predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
        out.append((x - predictor) & 0xFF)
    return bytes(out)


def _png(image: np.ndarray) -> bytes:
    height, width, channels = image.shape
    flat = image.reshape(height, width * channels)
    prev = np.zeros(width * channels, dtype=np.uint8)
    raw = b""
    for y in range(height):
        raw += _filtered(flat[y], prev, y % 5, channels)
        prev = flat[y]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    color = {3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("channels", [3, 4])
def test_every_filter_decodes_back_to_the_pixels(channels):
    image = np.random.default_rng(channels).integers(0, 256, (10, 7, channels), dtype=np.uint8)
    assert np.array_equal(decode_png(_png(image)), image)


def test_not_a_png():
    with pytest.raises(ValueError, match="not a PNG"):
        decode_png(b"GIF89a")
