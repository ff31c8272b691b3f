"""Decoders are bounded by what they will allocate, not by what the container's header
says: the JPEG frame header inside a JPEG-in-DICOM, the J2K SIZ marker, each TIFF strip's
compressed size and inflated size, a Deflated DICOM's inflated stream. Each bomb here is
a few kB and is refused in milliseconds, having allocated a few MB at most (traced).
(Hardening round 2, issue 19.)"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from apn_core.errors import ImageReadError
from apn_core.io import read_radiograph
from tests.hostile import crafted

PEAK_MB = 40  # what reading a refused bomb may allocate (Python and numpy, traced)


def _refused(path, deadline, *fragments: str) -> str:
    """Read ``path``: it must be refused, naming it and ``fragments``, cheaply."""
    deadline(5)
    tracemalloc.start()
    try:
        with pytest.raises(ImageReadError) as err:
            read_radiograph(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message
    assert peak < PEAK_MB << 20, f"{peak >> 20} MB allocated before refusing"
    return message


@pytest.mark.parametrize("codec", ["jpeg", "j2k"])
def test_a_codestream_larger_than_the_dicom_header_is_refused(tmp_path, codec, deadline):
    path = tmp_path / "bomb.dcm"
    make = crafted.jpeg_in_dicom if codec == "jpeg" else crafted.j2k_in_dicom
    make(path, header=(16, 16), codestream=(20_000, 20_000))
    assert path.stat().st_size < 3_000
    name = "JPEG codestream" if codec == "jpeg" else "JPEG 2000 codestream"
    _refused(path, deadline, f"the {name} declares 20000 × 20000 pixels", "header 16 × 16")


@pytest.mark.parametrize("codec", ["jpeg", "j2k"])
def test_an_honest_compressed_dicom_still_reads(tmp_path, codec):
    path = tmp_path / "ok.dcm"
    make = crafted.jpeg_in_dicom if codec == "jpeg" else crafted.j2k_in_dicom
    make(path, header=(16, 16), codestream=None)
    assert read_radiograph(path).shape == (16, 16)


def test_a_valid_deflated_dicom_reads_exactly(tmp_path):
    """It used to be refused as "truncated": the pixel data's position in the inflated
    stream was compared with the (smaller) file's length."""
    pixels = np.zeros((200, 150), np.uint16)
    pixels[50:150, 40:110] = 3000  # compresses well: the file is shorter than the pixel data
    crafted.deflated_dicom(tmp_path / "d.dcm", pixels)
    assert (tmp_path / "d.dcm").stat().st_size < pixels.nbytes
    radiograph = read_radiograph(tmp_path / "d.dcm")
    assert np.array_equal(radiograph.pixels, pixels)
    assert radiograph.spacing == (0.5, 0.5)
    assert radiograph.meta["transfer_syntax"] == "Deflated Explicit VR Little Endian"


@pytest.mark.parametrize(
    "tag, fragment",
    [
        (0x00091001, "without Rows/Columns in its first 4,194,304 inflated bytes"),
        (0x00291001, "inflates to more than"),
    ],
    ids=["before-the-image-description", "after-it"],
)
def test_a_deflated_dicom_bomb_is_refused_while_inflating(tmp_path, tag, fragment, deadline):
    path = tmp_path / "bomb.dcm"
    crafted.deflated_dicom(path, crafted.small_image(16, 16), padding=16 << 20, padding_tag=tag)
    assert path.stat().st_size < 30_000  # 16 MB of zeros deflate ~1000:1
    _refused(path, deadline, fragment)


def test_a_tiff_strip_far_larger_than_its_pixels_is_refused(tmp_path, deadline):
    """A 64 × 64 TIFF with a 1 MB zlib strip: tifffile inflated all of it (≈ 1 GB, then
    2.1 GB) and reported the image as read. Here a 65 kB strip of 64 MB (the benchmark
    runs the 1 MB one)."""
    path = tmp_path / "bomb.tif"
    crafted.tiff_zlib_bomb(path, inflated=64 << 20)
    _refused(path, deadline, "strip 0 holds 6", "compressed bytes for 8,192 bytes of pixels")


@pytest.mark.parametrize("make", [crafted.tiff_zlib_bomb, crafted.tiff_lzma_bomb])
def test_a_small_tiff_strip_that_inflates_beyond_its_pixels_is_refused(tmp_path, make, deadline):
    path = tmp_path / "bomb.tif"
    make(path, inflated=12 << 20)  # ≤ 12 kB compressed: within the compressed-size check
    _refused(path, deadline, "strip 0 inflates to more than the 8,192 bytes")


def test_honest_hand_made_tiffs_read(tmp_path):
    import zlib

    pixels = crafted.small_image(64, 64)
    raw = np.ascontiguousarray(pixels, "<u2").tobytes()
    for compression, strip in ((1, raw), (8, zlib.compress(raw))):
        path = tmp_path / f"c{compression}.tif"
        path.write_bytes(crafted.tiff_bytes(64, 64, [strip], compression=compression))
        assert np.array_equal(read_radiograph(path).pixels, pixels)
