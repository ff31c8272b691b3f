"""Peak memory and time of every ``apn`` command on every crafted hostile input.

Each case builds its input (``tests/hostile/crafted.py``, at the size of the finding
that motivated it), runs the relevant ``apn`` commands in subprocesses and measures
each one alone: its peak RSS (``VmHWM``, see ``crafted.measured``) and wall time until it ends — with a result,
or with its clear error. The bar (issue 19): no input makes a command exceed 600 MB or
10 s before a clear error, on 2 cores.

    OMP_NUM_THREADS=1 python benchmarks/hostile_limits.py \
        > benchmarks/results/cpu_<date>/hostile_limits.md

``--code DIR`` runs another checkout's ``apn`` (``DIR/src_core`` first on PYTHONPATH) on
the same inputs, e.g. the code before the fixes; ``--only`` / ``--skip`` pick cases by name
(comma-separated parts of it); ``--timeout`` kills a command that runs longer (reported as
"killed"). Before the fixes, the config at every maximum builds 11 GB of networks and
``/dev/zero`` as an option file reads until memory runs out: skip them with ``--code``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
import tifffile  # noqa: E402

from tests.hostile import crafted  # noqa: E402

LIMIT_MB, LIMIT_S = 600, 10


def _labelled(folder: Path, image: Path) -> Path:
    """``folder`` holding ``image`` and a landmarks.csv naming it (for ``apn check``)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / image.name
    if not target.exists():
        target.symlink_to(image)
    (folder / "landmarks.csv").write_text(f"image,landmark,x,y\n{image.name},knee_left,4,4\n")
    return folder


def _dicom(path: Path, pixels: np.ndarray, **tags) -> Path:
    from apn_core.io import write_dicom

    write_dicom(path, pixels, (2.0, 2.0))
    if tags:
        ds = pydicom.dcmread(path)
        for key, value in tags.items():
            setattr(ds, key, value)
        ds.save_as(path)
    return path


def _leg(root: Path) -> Path:
    """One honest synthetic radiograph (2 mm/px) to run beside the hostile ones."""
    from apn_core.synth import SynthConfig, write_synthetic_folder

    data = write_synthetic_folder(
        root / "legs", 1, seed=21, config=SynthConfig(spacing_mm=2.0, formats=("dicom",))
    )
    return next(data.glob("*.dcm"))


def build(root: Path) -> list[tuple[str, list[list[str]]]]:
    """``(case, [apn arguments, ...])`` for every crafted input, built under ``root``."""
    from safetensors.torch import save_file

    from apn_core import runs
    from apn_core.presets import get_preset

    leg = _leg(root)
    small = crafted.small_image(64, 32)
    out = str(root / "out")
    cases: list[tuple[str, list[list[str]]]] = []
    folder = _labelled(root / "data_honest", leg)
    cases.append(  # the baseline: what an honest radiograph costs the same commands
        (
            "honest radiograph (baseline)",
            [
                ["info", str(leg)],
                ["check", str(folder)],
                ["predict", str(leg), "--out", f"{out}_0"],
            ],
        )
    )

    def image_case(name: str, path: Path, predict: bool = True) -> None:
        folder = _labelled(root / f"data_{name}", path)
        commands = [["info", str(path)], ["check", str(folder)]]
        if predict:
            commands.append(["predict", str(path), "--out", f"{out}_{name}"])
        cases.append((name, commands))

    # --- decoders bounded by what they allocate
    p = root / "jpeg_sof.dcm"
    crafted.jpeg_in_dicom(p, (16, 16), (20_000, 20_000))
    image_case("JPEG-in-DICOM, header 16², SOF 20000²", p)
    p = root / "j2k_siz.dcm"
    crafted.j2k_in_dicom(p, (16, 16), (20_000, 20_000))
    image_case("J2K-in-DICOM, header 16², SIZ 20000²", p)
    p = root / "deflate_bomb.dcm"
    crafted.deflated_dicom(p, crafted.small_image(16, 16), 1 << 30, padding_tag=0x00291001)
    image_case(f"Deflated DICOM {p.stat().st_size / 1e6:.1f} MB → 1 GB", p)
    p = root / "tiff_zlib.tif"
    crafted.tiff_zlib_bomb(p, 1 << 30)
    image_case(f"TIFF 64², zlib strip {p.stat().st_size / 1e6:.1f} MB → 1 GB", p)
    p = root / "tiff_lzma.tif"
    crafted.tiff_lzma_bomb(p, 256 << 20)
    image_case(f"TIFF 64², LZMA strip {p.stat().st_size / 1e3:.0f} kB → 256 MB", p)
    p = root / "png_ihdr.png"
    p.write_bytes(crafted.png_bytes(np.zeros((1, 1), np.uint8), declare=(100_000, 100_000)))
    image_case("PNG declaring 100000² (IHDR)", p, predict=False)
    p = _dicom(root / "frames.dcm", small, NumberOfFrames=100_000)
    image_case("DICOM declaring 100000 frames", p, predict=False)

    # --- numbers where they enter
    p = _dicom(root / "spacing_huge.dcm", pydicom.dcmread(leg).pixel_array)
    ds = pydicom.dcmread(p)
    ds.PixelSpacing = ds.ImagerPixelSpacing = ["1e300", "1e300"]
    ds.save_as(p)
    batch = root / "batch"
    batch.mkdir()
    for source in (leg, p):
        (batch / source.name).symlink_to(source)
    cases.append(("PixelSpacing 1e300 in a batch", [["predict", str(batch), "--out", f"{out}_b"]]))
    cases.append(
        ("--override-spacing 1e38", [["predict", str(leg), "--out", f"{out}_s", "--override-spacing", "1e38"]])
    )  # fmt: skip
    ds = pydicom.dcmread(_dicom(root / "f64.dcm", small))
    del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    ds.BitsAllocated = 64
    ds.DoubleFloatPixelData = (np.linspace(0, 1, small.size) * 1e303).tobytes()
    ds.save_as(root / "f64.dcm")
    image_case("float64 DICOM, pixels near 1e303", root / "f64.dcm")
    pixels = pydicom.dcmread(leg).pixel_array.astype(np.float32)
    p = root / "f32_extreme.tif"
    extreme = (pixels.astype(np.float64) / pixels.max() - 0.5) * 6e38  # in float64: no overflow
    tifffile.imwrite(p, extreme.astype(np.float32))
    cases.append(("float32 TIFF, finite ±3e38", [["predict", str(p), "--out", f"{out}_f", "--spacing", "2"]]))  # fmt: skip

    # --- option files and run folders
    fifo = root / "fifo.json"
    os.mkfifo(fifo)
    deep = root / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    folder = _labelled(root / "data_leg", leg)
    for name, path in (("FIFO", fifo), ("/dev/zero", Path("/dev/zero")), ("JSON 100k deep", deep)):
        cases.append(
            (
                f"{name} as an option file",
                [
                    ["predict", str(leg), "--out", f"{out}_c", "--calibration", str(path)],
                    ["train", str(folder), "--out", str(root / "r"), "--config", str(path)],
                    ["check", str(folder), "--landmarks", str(path)],
                ],
            )
        )
    huge = root / "huge_run"
    huge.mkdir()
    config = get_preset("tiny").to_dict()
    config["generator"].update(stacks=16, channels=1024, depth=8)
    config["discriminator"].update(channels=512, layers=8)
    (huge / "config.json").write_text(json.dumps(config))
    import torch

    save_file({"generator.stem.0.weight": torch.zeros(1)}, str(huge / "best.safetensors"))
    cases.append(("config at every maximum, one-tensor weights", [["predict", str(leg), "--model", str(huge), "--out", f"{out}_h"]]))  # fmt: skip
    nan = root / "nan_run"
    nan.mkdir()
    runs.save_config(nan, get_preset("tiny"))
    from apn_core.models import build_networks

    weights = build_networks(get_preset("tiny")).state_dict()
    next(v for k, v in weights.items() if k.startswith("generator.heads.") and k.endswith("bias"))[:] = float("nan")  # fmt: skip
    runs.save_checkpoint(nan, "best", weights)
    cases.append(("NaN head bias in the weights", [["predict", str(leg), "--model", str(nan), "--out", f"{out}_n"]]))  # fmt: skip

    # --- names
    named = root / "names"
    named.mkdir()
    shutil.copy(leg, named / ("L" * 240 + ".dcm"))  # copies: one file given twice is read once
    shutil.copy(leg, os.path.join(os.fsencode(named), b"leg\xff.dcm"))
    cases.append(("240-byte and non-UTF-8 file names", [["predict", str(named), "--out", f"{out}_x"]]))  # fmt: skip
    taken = root / "taken"
    (taken / "predictions").mkdir(parents=True)
    (taken / "predictions").rmdir()
    (taken / "predictions").write_text("a file")
    cases.append(("OUT/predictions is a file", [["predict", str(leg), "--out", str(taken)]]))

    # --- reinterpretations refused
    for name, path in (
        ("PALETTE COLOR DICOM", _dicom(root / "palette.dcm", small, PhotometricInterpretation="PALETTE COLOR")),
        ("BitsStored 0", _dicom(root / "bits0.dcm", small, BitsStored=0)),
    ):  # fmt: skip
        cases.append((name, [["info", str(path)]]))
    p = root / "complex.tif"
    tifffile.imwrite(p, small.astype(np.complex64))
    cases.append(("complex TIFF", [["info", str(p)]]))
    p = root / "rgb16.png"
    p.write_bytes(crafted.png_bytes(np.dstack([small] * 3).astype(">u2"), color_type=2))
    cases.append(("16-bit RGB PNG", [["info", str(p)]]))
    return cases


def _lock_holder(run: Path) -> subprocess.Popen:
    """Another apn process holding ``run``'s lock (as a running training does)."""
    code = textwrap.dedent(
        f"""
        import time
        from apn_core.utils.locks import folder_lock
        with folder_lock({str(run)!r}, "run folder"):
            print("locked", flush=True)
            time.sleep(600)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()
    return holder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--code", type=Path, help="run this checkout's apn (default: this one)")
    parser.add_argument(
        "--only", default="", help="cases whose name contains one of these texts (comma-separated)"
    )
    parser.add_argument(
        "--skip", default="", help="cases whose name contains one of these texts (comma-separated)"
    )
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    code = (args.code or REPO).resolve()
    env = {
        **os.environ,
        "PYTHONPATH": f"{code / 'src_core'}{os.pathsep}{code}",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases = build(root)
        from apn_core import runs
        from apn_core.presets import get_preset

        locked = root / "locked_run"
        locked.mkdir()
        runs.save_config(locked, get_preset("tiny"))
        folder = _labelled(root / "data_lock", next((root / "legs").glob("*.dcm")))
        cases.append(("second writer of a run folder", [["train", str(folder), "--out", str(locked), "--resume"]]))  # fmt: skip
        holder = _lock_holder(locked)
        print(f"# hostile_limits.py — {os.cpu_count()}-core CPU, code {code}\n")
        print(f"load average at the start: {_load()} (other processes on the machine)\n")
        print(f"bar: ≤ {LIMIT_MB} MB peak RSS and ≤ {LIMIT_S} s before a clear error\n")
        print("| input | command | exit | peak RSS (MB) | time (s) | outcome |")
        print("| --- | --- | ---: | ---: | ---: | --- |")
        worst_mb = worst_s = 0.0
        try:
            for name, commands in cases:
                only = [t for t in args.only.split(",") if t]
                skip = [t for t in args.skip.split(",") if t]
                if (only and not any(t in name for t in only)) or any(t in name for t in skip):
                    continue
                for argv in commands:
                    status, output, mb, seconds = crafted.measured(
                        [sys.executable, "-m", "apn_core", *argv], args.timeout, env
                    )
                    worst_mb, worst_s = max(worst_mb, mb), max(worst_s, seconds)
                    outcome = _outcome(status, output, root)
                    shown = "killed" if status is None else str(status)
                    flag = " ⚠" if mb > LIMIT_MB or seconds > LIMIT_S else ""
                    print(
                        f"| {name} | `apn {argv[0]}` | {shown} | {mb:.0f}{flag} | {seconds:.1f} "
                        f"| {outcome} |",
                        flush=True,
                    )
        finally:
            holder.kill()
        print(f"\nworst: {worst_mb:.0f} MB, {worst_s:.1f} s; load average at the end: {_load()}")


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _outcome(status, output: str, root: Path) -> str:
    """The command's error (or per-file failure, or summary) line, shortened, with the
    temporary folder hidden."""
    if status is None:
        return "killed at the timeout"
    output = output.replace("\r", "\n")  # progress bars redraw their line with \r
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    wanted = ("apn: error:", "apn predict: error:", "failed: ", "error [", "apn train: error:")
    errors = [line for line in lines if line.startswith(wanted)]
    if any(line.startswith("Traceback") for line in lines):
        text = "TRACEBACK: " + lines[-1]
    else:
        summary = [line for line in lines if " predicted, " in line or line.startswith("OK")]
        text = (errors or summary or lines[-1:] or [""])[0]
    text = text.replace(str(root) + "/", "").replace("|", "/")
    return text if len(text) <= 150 else text[:149] + "…"


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"(the whole benchmark: {time.monotonic() - started:.0f} s)")
