"""Just enough of PNG (RFC 2083) to count a colour's pixels in a browser's screenshot: 8-bit RGB or
RGBA, not interlaced, all five filter types."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

__all__ = ["count_pixels", "read_png"]


def read_png(path: Path) -> tuple[int, int, int, bytes]:
    """``(width, height, channels, raw pixels)``."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, "only 8-bit RGB(A), not interlaced"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        out += line
        previous = line
    return width, height, channels, bytes(out)


def count_pixels(path: Path, rgb: tuple[int, int, int], tolerance: int = 8) -> int:
    width, height, channels, pixels = read_png(path)
    count = 0
    for i in range(0, width * height * channels, channels):
        if all(abs(pixels[i + c] - rgb[c]) <= tolerance for c in range(3)):
            count += 1
    return count
