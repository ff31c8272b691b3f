"""Small crafted hostile files, shared by the ``tests/hostile`` suite and
``benchmarks/hostile_limits.py`` (which runs each through the ``apn`` commands and
measures their peak memory and time).

Each builder writes one file of a few kB at most (except where said) whose *header* or
*codestream* lies: it declares a small image in one place and a huge one in another, or
inflates far beyond what it declares. Nothing here decodes what it writes.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from pathlib import Path

import numpy as np


def small_image(rows: int = 24, cols: int = 16) -> np.ndarray:
    """A small non-blank uint16 image."""
    return (np.arange(rows * cols, dtype=np.uint16) * 37 % 4000).reshape(rows, cols)


# ---------------------------------------------------------------- PNG


def png_bytes(
    pixels: np.ndarray, color_type: int = 0, declare: tuple[int, int] | None = None
) -> bytes:
    """A PNG of ``pixels`` (rows × cols [× channels], uint8 or big-endian uint16) built by
    hand, with the IHDR colour type given (0 gray, 2 RGB, 6 RGBA); ``declare``: the
    ``(rows, cols)`` its IHDR says instead (the data stays that of ``pixels``)."""
    rows, cols = declare or pixels.shape[:2]
    depth = pixels.dtype.itemsize * 8
    raw = b"".join(b"\0" + np.ascontiguousarray(row).tobytes() for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", cols, rows, depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- TIFF


def tiff_bytes(
    width: int,
    height: int,
    strips: list[bytes],
    compression: int = 1,
    bits: int = 16,
    sample_format: int = 1,
    rows_per_strip: int | None = None,
    extra: tuple[tuple[int, int, int], ...] = (),
) -> bytes:
    """A little-endian one-page grayscale TIFF built by hand: the tags say what the caller
    says, whatever the strips hold. ``extra``: more (tag, SHORT/LONG type, value) entries."""
    rows_per_strip = rows_per_strip or height
    data_start = 8
    offsets, blob = [], b""
    for strip in strips:
        offsets.append(data_start + len(blob))
        blob += strip + b"\0" * (len(strip) % 2)
    ifd_at = data_start + len(blob)
    arrays = b""
    n_tags = 10 + len(extra)
    arrays_at = ifd_at + 2 + 12 * n_tags + 4

    def long_array(values: list[int]) -> tuple[int, int]:
        nonlocal arrays
        if len(values) == 1:
            return 1, values[0]
        at = arrays_at + len(arrays)
        arrays += struct.pack(f"<{len(values)}I", *values)
        return len(values), at

    count_o, value_o = long_array(offsets)
    count_c, value_c = long_array([len(s) for s in strips])
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, bits),
        (259, 3, 1, compression),
        (262, 3, 1, 1),  # MINISBLACK
        (273, 4, count_o, value_o),
        (277, 3, 1, 1),
        (278, 4, 1, rows_per_strip),
        (279, 4, count_c, value_c),
        (339, 3, 1, sample_format),
        *((tag, kind, 1, value) for tag, kind, value in extra),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in sorted(entries):
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 and count == 1 else None
        ifd += struct.pack("<HHI", tag, kind, count) + (packed or struct.pack("<I", value))
    ifd += b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", ifd_at) + blob + ifd + arrays


def tiff_zlib_bomb(path, inflated: int, side: int = 64) -> None:
    """A ``side``² uint16 TIFF whose one zlib strip inflates to ``inflated`` bytes."""
    strip = zlib.compress(b"\0" * inflated, 9)
    path.write_bytes(tiff_bytes(side, side, [strip], compression=8))


def tiff_lzma_bomb(path, inflated: int, side: int = 64) -> None:
    """The same with an LZMA strip (TIFF compression 34925)."""
    strip = lzma.compress(b"\0" * inflated)
    path.write_bytes(tiff_bytes(side, side, [strip], compression=34925))


# ---------------------------------------------------------------- DICOM


def dicom_dataset(rows: int, cols: int, bits: int = 8, **tags):
    """A minimal single-frame grayscale DX dataset (no pixel data yet); ``tags`` on top."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelRepresentation = 0
    ds.PixelSpacing = ["0.5", "0.5"]
    for key, value in tags.items():
        setattr(ds, key, value)
    return ds


def _encapsulated(path, ds, frame: bytes, syntax) -> None:
    from pydicom.encaps import encapsulate

    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)


def jpeg_stream(rows: int = 16, cols: int = 16, declare: tuple[int, int] | None = None) -> bytes:
    """A real ``rows`` × ``cols`` 8-bit gray baseline JPEG; with ``declare`` its SOF0
    frame header is patched to say ``(rows, cols)`` = ``declare``."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((small_image(rows, cols) % 251).astype(np.uint8)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    if declare is not None:
        sof = data.index(b"\xff\xc0")
        struct.pack_into(">HH", data, sof + 5, *declare)
    return bytes(data)


def j2k_stream(rows: int = 16, cols: int = 16, declare: tuple[int, int] | None = None) -> bytes:
    """A real J2K codestream; with ``declare`` its SIZ marker says that size instead."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((small_image(rows, cols) % 251).astype(np.uint8)).save(buf, "JPEG2000")
    data = bytearray(buf.getvalue())
    if declare is not None:
        siz = data.index(b"\xff\x4f\xff\x51") + 4
        struct.pack_into(">II", data, siz + 4, declare[1], declare[0])  # Xsiz, Ysiz
    return bytes(data)


def jpeg_in_dicom(path, header=(16, 16), codestream=(20_000, 20_000)) -> None:
    """A JPEG Baseline DICOM whose header says ``header`` and whose JPEG says ``codestream``."""
    from pydicom.uid import JPEGBaseline8Bit

    ds = dicom_dataset(*header)
    _encapsulated(path, ds, jpeg_stream(16, 16, codestream), JPEGBaseline8Bit)


def j2k_in_dicom(path, header=(16, 16), codestream=(20_000, 20_000)) -> None:
    """The same with JPEG 2000 (the SIZ marker lies)."""
    from pydicom.uid import JPEG2000Lossless

    ds = dicom_dataset(*header)
    _encapsulated(path, ds, j2k_stream(16, 16, codestream), JPEG2000Lossless)


def deflated_dicom(
    path, pixels: np.ndarray, padding: int = 0, padding_tag: int = 0x00091001
) -> None:
    """A valid Deflated Explicit VR Little Endian DICOM of ``pixels`` (uint16); with
    ``padding`` bytes of zeros in a private element (they deflate ~1000:1: a bomb whose
    header declares only the small image), in group 0009 (before the image description)
    or, with ``padding_tag=0x00291001``, after it."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = dicom_dataset(*pixels.shape, bits=16)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    if padding:
        ds.add_new(padding_tag, "OB", b"\0" * padding)
    ds.PixelData = np.ascontiguousarray(pixels, "<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


# ---------------------------------------------------------------- measuring a command


def measured(argv: list[str], timeout: float = 60.0, env: dict | None = None):
    """Run ``argv`` (e.g. ``[sys.executable, "-m", "apn_core", "info", path]``) and return
    ``(exit code, stdout + stderr, peak RSS in MB, seconds)``; a run past ``timeout`` is
    killed and reported with exit code ``None``.

    The peak is that of the command's whole process tree (``apn predict`` reads images in
    DataLoader worker processes): every 10 ms, the larger of the tree's summed ``Pss``
    (``/proc/PID/smaps_rollup``: pages two processes share, such as torch's libraries,
    counted once) and any one process's ``VmHWM`` (``/proc/PID/status``). Not ``wait4``'s ``ru_maxrss``:
    Linux carries the parent's size across fork + exec into it, so it says more about the
    test runner than about ``apn``. Without ``/proc`` it falls back to ``ru_maxrss``."""
    import resource
    import subprocess
    import tempfile
    import time

    with tempfile.TemporaryFile() as log:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        peak_kb, code = 0, None
        while True:
            peak_kb = max(peak_kb, _tree_kb(proc.pid))
            code = proc.poll()
            if code is not None:
                break
            if time.monotonic() - start > timeout:
                proc.kill()
                proc.wait()
                code = None
                break
            time.sleep(0.01)
        seconds = time.monotonic() - start
        if not peak_kb:
            peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    return code, output, peak_kb / 1024, seconds


def _tree_kb(root: int) -> int:
    """max(summed Pss, largest VmHWM) over ``root`` and its descendants, in kB."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    pss = hwm = 0
    for pid in tree:
        pss += _field_kb(f"/proc/{pid}/smaps_rollup", "Pss:")
        hwm = max(hwm, _field_kb(f"/proc/{pid}/status", "VmHWM:"))
    return max(pss, hwm)


def _field_kb(path: str, key: str) -> int:
    """A ``key: N kB`` field of a /proc file (0 when absent or unreadable)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
