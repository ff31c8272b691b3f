"""What a compressed stream will allocate, read before any decoder runs.

A container's header (DICOM Rows/Columns, TIFF ImageWidth/ImageLength) is not what a
decoder allocates: a JPEG decoder allocates what the JPEG's own frame header (SOF) says,
an OpenJPEG decoder what the J2K SIZ marker says, and ``zlib.decompress`` whatever the
stream inflates to. A 1.3 kB JPEG-in-DICOM whose header says 16 × 16 but whose SOF says
20 000² cost 2 GB and 15 s before the mismatch was noticed. So the readers ask the
codestream first:

- :func:`jpeg_size` — rows, columns and components from the first SOF marker of a JPEG
  or JPEG-LS stream (the segments before it are walked by their lengths);
- :func:`j2k_size` — the same from the SIZ marker of a JPEG 2000 codestream (raw, or in
  a JP2 file's ``jp2c`` box);
- :func:`inflate_within` — a zlib/deflate or LZMA stream inflated in bounded steps: the
  output beyond ``limit`` bytes is never produced (:class:`InflateLimitError`).
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections.abc import Iterable

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}
_STANDALONE = {0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8}
_J2K_SIZ = b"\xff\x4f\xff\x51"  # SOC then SIZ: the start of every J2K codestream


class CodestreamError(ValueError):
    """The stream's own header is missing or damaged; the message says what."""


class InflateLimitError(ValueError):
    """The stream inflates to more than the limit; ``produced`` bytes were seen."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"inflates to more than {limit:,} bytes")


def jpeg_size(data: bytes) -> tuple[int, int, int]:
    """``(rows, cols, components)`` from a JPEG (or JPEG-LS) stream's frame header."""
    if data[:2] != b"\xff\xd8":
        raise CodestreamError("the JPEG stream does not start with SOI (FF D8)")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise CodestreamError(f"no JPEG marker at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        (length,) = struct.unpack_from(">H", data, i + 2)
        if marker in _SOF:
            if i + 10 > len(data):
                break
            _, rows, cols, components = struct.unpack_from(">BHHB", data, i + 4)
            return rows, cols, components
        if marker == 0xDA or length < 2:  # scan data before any frame header
            break
        i += 2 + length
    raise CodestreamError("no JPEG frame header (SOF) before the image data")


def j2k_size(data: bytes) -> tuple[int, int, int]:
    """``(rows, cols, components)`` from a JPEG 2000 codestream's SIZ marker."""
    start = data.find(_J2K_SIZ, 0, 1 << 20)
    if start < 0:
        raise CodestreamError("no JPEG 2000 size marker (SOC, SIZ)")
    fields = data[start + 4 : start + 4 + 38]
    if len(fields) < 38:
        raise CodestreamError("the JPEG 2000 size marker is cut short")
    _, _, xsiz, ysiz, xosiz, yosiz, _, _, _, _, components = struct.unpack(">HHIIIIIIIIH", fields)
    if xosiz > xsiz or yosiz > ysiz:
        raise CodestreamError("the JPEG 2000 image offset lies beyond its size")
    return ysiz - yosiz, xsiz - xosiz, components


def inflate_within(data: bytes, limit: int, codec: str = "zlib") -> bytes:
    """``data`` decompressed, at most ``limit`` bytes of it: :class:`InflateLimitError` when
    the stream holds more. ``codec``: ``zlib`` (with header), ``deflate`` (raw, as in
    Deflated DICOM) or ``lzma``. Memory: at most ``limit`` + 1 bytes of output."""
    return inflate_stream([data], limit, codec)


def inflate_stream(
    chunks: Iterable[bytes], limit: int, codec: str = "zlib", *, cut: bool = False
) -> bytes:
    """:func:`inflate_within` over compressed input arriving in ``chunks`` (a file read
    piece by piece: the compressed file is not held whole either). ``cut``: return the
    first ``limit`` bytes instead of refusing a longer stream (to read a header)."""
    if codec == "lzma":
        lz = lzma.LZMADecompressor()

        def step(piece: bytes, room: int) -> bytes:
            return b"" if lz.eof else lz.decompress(piece, max_length=room)

        def pending() -> bool:
            return not lz.needs_input and not lz.eof

    else:
        z = zlib.decompressobj(-zlib.MAX_WBITS if codec == "deflate" else zlib.MAX_WBITS)

        def step(piece: bytes, room: int) -> bytes:
            return z.decompress(z.unconsumed_tail + piece, room)

        def pending() -> bool:
            return bool(z.unconsumed_tail)

    out = bytearray()
    for chunk in chunks:
        piece = chunk
        while True:
            room = limit + 1 - len(out)  # one byte more than allowed: enough to know
            out += step(piece, room)
            piece = b""
            if len(out) > limit:
                if cut:
                    return bytes(out[:limit])
                raise InflateLimitError(limit)
            if not pending():
                break
    while more := step(b"", limit + 1 - len(out)):  # what the codec still holds
        out += more
        if len(out) > limit:
            if cut:
                return bytes(out[:limit])
            raise InflateLimitError(limit)
    return bytes(out)
