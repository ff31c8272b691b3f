"""DICOM pixel data checked against what its decoder will allocate.

- **Deflated Explicit VR Little Endian**: the whole dataset after the file meta is one
  deflate stream, which pydicom inflates in one call (a 1.1 MB file inflated to 2.1 GB).
  Here it is inflated in two bounded passes: the first :data:`HEADER_BYTES` give the
  image description (Rows, Columns, samples, frames, BitsAllocated), checked against
  :class:`~apn_core.io.limits.ImageLimits`; the whole stream may then take what that
  image needs plus :data:`HEADER_BYTES` for the other elements, and not a byte more.
  The dataset is parsed from the inflated bytes, so the pixel data's extent is checked
  against them, not against the (smaller) file: a valid Deflated DICOM reads.
- **Encapsulated JPEG, JPEG-LS and JPEG 2000**: the codestream's own size (SOF, SIZ;
  :mod:`apn_core.io.codestreams`) must be the header's Rows × Columns × samples: the
  decoder allocates the codestream's, and a 16 × 16 header over a 20 000² JPEG cost 2 GB.
"""

from __future__ import annotations

from pathlib import Path

from apn_core.errors import ImageReadError
from apn_core.io.codestreams import (
    CodestreamError,
    InflateLimitError,
    inflate_stream,
    j2k_size,
    jpeg_size,
)
from apn_core.io.limits import ImageLimits

HEADER_BYTES = 4 << 20  # inflated bytes allowed besides the pixel data
_CHUNK = 1 << 20
_ITEM = b"\xfe\xff\x00\xe0"  # (FFFE,E000) little endian: an encapsulated item


def read_dataset(path: Path, limits: ImageLimits, defer_size: int):
    """``(dataset, size)``: the parsed dataset with pixel data deferred where possible, and
    the byte length its element positions refer to (the file's, or the inflated stream's)."""
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    head = _file_meta(path)
    if head is None or head[1].get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        ds = pydicom.dcmread(path, force=True, defer_size=defer_size)
        return ds, path.stat().st_size
    preamble, meta, start = head
    inflated = _inflate(path, start, limits)
    from pydicom.dataset import FileDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset as parse

    ds = FileDataset(str(path), parse(DicomBytesIO(inflated), False, True), preamble, meta)
    ds.set_original_encoding(False, True, ds._character_set)
    return ds, len(inflated)


def _file_meta(path: Path):
    """``(preamble, file meta, where the dataset starts)``, or None to let pydicom read
    the file as it would (no meta, or a meta it reads its own way)."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    try:
        with open(path, "rb") as fp:
            preamble = read_preamble(fp, True)
            meta = _read_file_meta_info(fp)
            return preamble, meta, fp.tell()
    except Exception:  # damaged meta: pydicom's own reading reports it
        return None


def _chunks(path: Path, start: int):
    with open(path, "rb") as fh:
        fh.seek(start)
        while piece := fh.read(_CHUNK):
            yield piece


def _inflate(path: Path, start: int, limits: ImageLimits) -> bytes:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset as parse

    try:
        prefix = inflate_stream(_chunks(path, start), HEADER_BYTES, "deflate", cut=True)
    except Exception as exc:  # zlib.error on a damaged stream
        raise ImageReadError(path, f"Deflated DICOM: cannot inflate ({exc})") from None
    try:
        head = parse(DicomBytesIO(prefix), False, True, stop_when=_after_image_module)
    except Exception:
        head = {}
    values = {}
    for keyword in ("Rows", "Columns", "SamplesPerPixel", "NumberOfFrames", "BitsAllocated"):
        value = head.get(keyword) if hasattr(head, "get") else None
        values[keyword] = _count(value)
    rows, cols = values["Rows"], values["Columns"]
    if rows is None or cols is None:
        raise ImageReadError(
            path,
            f"Deflated DICOM without Rows/Columns in its first {HEADER_BYTES:,} inflated bytes; "
            "not a radiograph (or a decompression bomb)",
        )
    samples, frames = values["SamplesPerPixel"] or 1, values["NumberOfFrames"] or 1
    limits.check(path, rows, cols, samples, frames)
    bits = min(max(values["BitsAllocated"] or 16, 1), 64)
    need = rows * cols * samples * frames * ((bits + 7) // 8)
    try:
        return inflate_stream(_chunks(path, start), need + HEADER_BYTES, "deflate")
    except InflateLimitError as exc:
        raise ImageReadError(
            path,
            f"Deflated DICOM that {exc}, while its header declares a {rows} × {cols} image "
            f"({need:,} bytes of pixels); refusing to inflate the rest",
        ) from None
    except Exception as exc:
        raise ImageReadError(path, f"Deflated DICOM: cannot inflate ({exc})") from None


def _after_image_module(tag, vr, length) -> bool:
    return tag > 0x0028FFFF  # Rows, Columns & co. are group 0028


def _count(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def check_codestream(path: Path, ds, keyword: str, tsyntax, rows: int, cols: int) -> None:
    """Refuse encapsulated JPEG / JPEG-LS / JPEG 2000 pixel data whose codestream declares
    another size than the header's ``rows`` × ``cols`` (one sample), before decoding."""
    from pydicom import uid

    if tsyntax is None or keyword != "PixelData":
        return
    if tsyntax in uid.JPEG2000TransferSyntaxes:
        name, size_of = "JPEG 2000", j2k_size
    elif tsyntax in uid.JPEGTransferSyntaxes or tsyntax in uid.JPEGLSTransferSyntaxes:
        name, size_of = "JPEG", jpeg_size
    else:
        return  # RLE and native data: the decoder allocates the header's size
    try:
        first = _first_frame(ds.PixelData)
        r, c, n = size_of(first)
    except CodestreamError as exc:
        raise ImageReadError(path, f"{name} pixel data: {exc}") from None
    if (r, c, n) != (rows, cols, 1):
        raise ImageReadError(
            path,
            f"the {name} codestream declares {r} × {c} pixels × {n} component(s), the DICOM "
            f"header {rows} × {cols} × 1; refusing to decode (the decoder would allocate the "
            "codestream's size)",
        )


def _first_frame(data: bytes, want: int = 1 << 20) -> bytes:
    """The start (≤ ``want`` bytes) of the first frame of encapsulated pixel data: the
    fragments after the Basic Offset Table item, concatenated."""
    if data[:4] != _ITEM:
        raise CodestreamError("encapsulated pixel data does not start with an item")
    at = 8 + int.from_bytes(data[4:8], "little")  # skip the Basic Offset Table
    out = b""
    while len(out) < want and data[at : at + 4] == _ITEM:
        length = int.from_bytes(data[at + 4 : at + 8], "little")
        out += data[at + 8 : at + 8 + length]
        at += 8 + length
    if not out:
        raise CodestreamError("encapsulated pixel data without a fragment")
    return out
