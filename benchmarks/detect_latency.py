"""Click-to-points latency of the Detect widget in a real napari viewer: the first click
right after the widget opens (cold: torch, weights and napari's first layers still to
load) and the clicks after it (warm), on a 0.5 mm/px and a full-size (0.143 mm/px)
synthetic radiograph, alone and with busy-loop processes keeping cores busy.

Each (image, competitors) runs in a fresh process: open the DICOM with napari-apn, dock
the widget (timed: the UI is blocked meanwhile), click *Detect landmarks* at once (the
Qt button), and stop the clock when the worker has finished, the layers are in the
viewer and Qt has processed the events that follow (the repaint); then click again
(warm). Needs a display: run it under ``xvfb-run -a``.

    xvfb-run -a python benchmarks/detect_latency.py --clicks 5 --busy 0,1
    xvfb-run -a python benchmarks/detect_latency.py --profile      # where the time goes
    xvfb-run -a python benchmarks/detect_latency.py --code OTHER_CHECKOUT  # before/after

``--profile`` runs the same steps without the worker thread (``napari_apn.detect``, what
the worker calls) under pyinstrument, cold and warm, and prints the slowest calls.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY_LOOP = "while True: pass"


def _wait(app, done, timeout: float = 120.0) -> None:
    """Process Qt events until ``done()`` (the worker's signals arrive through the loop)."""
    end = time.perf_counter() + timeout
    while not done():
        app.processEvents()
        time.sleep(0.0005)
        if time.perf_counter() > end:
            raise TimeoutError("Detect did not finish")
    app.processEvents()  # the repaint queued by the new layers


def click_times(path: str, clicks: int, warm_up: bool, pause: float = 0.0) -> dict:
    """Runs in the child: cold and warm click-to-points seconds."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_apn._qt.detect_widget import DetectWidget

    viewer = napari.Viewer(show=True)
    viewer.open(path, plugin="napari-apn")
    app = QApplication.instance()
    app.processEvents()
    t_open = time.perf_counter()
    try:
        widget = DetectWidget(viewer, warm_up=warm_up)
    except TypeError:  # a checkout from before the warm-up
        widget = DetectWidget(viewer)
    viewer.window.add_dock_widget(widget)
    app.processEvents()
    opened = time.perf_counter() - t_open  # the UI is blocked this long
    _wait(app, lambda: time.perf_counter() > t_open + opened + pause)  # a user finding the button
    times = []
    for _ in range(clicks + 1):
        t0 = time.perf_counter()
        widget.run_button.native.click()
        _wait(app, lambda: widget.worker is None)
        times.append(time.perf_counter() - t0)
        if not str(widget.status.value).startswith(("5 landmarks", "6 landmarks")):
            raise RuntimeError(f"Detect did not give landmarks: {widget.status.value!r}")
    viewer.close()
    return {
        "open": opened,
        "cold": times[0],
        "warm": statistics.median(times[1:]),
        "warm_max": max(times[1:]),
    }


def profile(path: str) -> str:
    """Runs in the child: pyinstrument of ``napari_apn.detect`` cold and warm."""
    import napari
    from pyinstrument import Profiler
    from qtpy.QtWidgets import QApplication

    from napari_apn import detect

    viewer = napari.Viewer(show=True)
    viewer.open(path, plugin="napari-apn")
    app = QApplication.instance()
    app.processEvents()
    out = []
    for label in ("cold", "warm"):
        profiler = Profiler(interval=0.001)
        profiler.start()
        detect(viewer, viewer.layers[0])
        app.processEvents()
        profiler.stop()
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        out.append(f"--- {label} ---\n" + text)
    viewer.close()
    return "\n".join(out)


def make_images(folder: Path) -> dict[str, Path]:
    """The sample radiograph's anatomy at 0.5 mm/px and at full size, as 16-bit DICOM."""
    from apn_core.io import write_dicom
    from apn_core.synth import SynthConfig, generate_case

    paths = {}
    for name, spacing in (("0.5 mm/px", 0.5), ("full size", 0.143)):
        config = SynthConfig(spacing_mm=spacing, formats=("dicom",), restricted_fraction=0.0)
        case = generate_case(2024, 0, config)
        path = folder / f"{spacing}.dcm"
        write_dicom(path, case.stored, (spacing, spacing), case.photometric, case.bits)
        paths[f"{name} ({case.stored.shape[0]}×{case.stored.shape[1]})"] = path
    return paths


def run_child(args: list[str], code: str | None, busy: int) -> str:
    """One fresh process, with ``busy`` busy-loop processes beside it."""
    env = dict(os.environ)
    if code:
        root = Path(code).resolve()
        env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "src_core")])
    competitors = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(busy)]
    try:
        time.sleep(0.5 if busy else 0)
        res = subprocess.run(
            [sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=False
        )
    finally:
        for p in competitors:
            p.kill()
            p.wait()
    if res.returncode:
        raise RuntimeError(res.stderr[-3000:])
    return res.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clicks", type=int, default=5, help="warm clicks after the first")
    parser.add_argument("--busy", default="0,1", help="busy-loop processes beside (list)")
    parser.add_argument("--no-warm-up", action="store_true", help="widget without warm-up")
    parser.add_argument(
        "--pause", type=float, default=0.0, help="seconds between opening and the first click"
    )
    parser.add_argument("--code", help="run another checkout (its root), e.g. for 'before'")
    parser.add_argument("--profile", action="store_true", help="profile instead of timing")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, clicks, pause = args.child
        if kind == "profile":
            print(profile(path))
        else:
            print(json.dumps(click_times(path, int(clicks), kind == "warm", float(pause))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        images = make_images(Path(tmp))
        if args.profile:
            for name, path in images.items():
                print(f"=== {name} ===")
                print(run_child(["--child", "profile", str(path), "0", "0"], args.code, 0))
            return
        kind = "cold" if args.no_warm_up else "warm"
        rows = []
        for busy in (int(b) for b in args.busy.split(",")):
            for name, path in images.items():
                child = ["--child", kind, str(path), str(args.clicks), str(args.pause)]
                out = run_child(child, args.code, busy)
                rows.append((name, busy, json.loads(out.strip().splitlines()[-1])))
    print(
        f"{os.cpu_count()} CPU cores; code: {args.code or 'this checkout'}; "
        f"warm-up when the widget opens: {'no' if args.no_warm_up else 'yes (if supported)'}; "
        f"first click {args.pause:g} s after opening; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print()
    print(
        "| image | busy-loop processes | open widget (s) | cold: first click (s) "
        "| open + first click (s) | warm: median (s) | warm: worst (s) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, busy, r in rows:
        print(
            f"| {name} | {busy} | {r['open']:.2f} | {r['cold']:.2f} | {r['open'] + r['cold']:.2f} "
            f"| {r['warm']:.2f} | {r['warm_max']:.2f} |"
        )


if __name__ == "__main__":
    main()
