"""Two-leg composites from one-leg films: the landmarks move exactly with the pixels."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from apn_core.annotations import ImageLabels, write_landmarks_csv
from apn_core.dataset.bilateral import OneLeg, compose, leg_side
from apn_core.landmarks import DEFAULT_LANDMARKS as LM


def one_leg(side: str, hip_y: float, length: float, seed: int) -> OneLeg:
    """A 128×1024 film with a bright 3×3 dot on each of its leg's three landmarks."""
    ramp = np.linspace(20, 60 + seed, 1024, dtype=np.float32)  # smooth: dots stand out exactly
    pixels = np.repeat(ramp[:, None], 128, axis=1)
    xy = np.full((6, 2), np.nan)
    annotated = np.zeros(6, bool)
    for part, frac, x in (("femur", 0.0, 70.0), ("knee", 0.55, 55.0), ("ankle", 1.0, 62.0)):
        i = LM.index(f"{part}_{side}")
        xy[i] = (x if side == "right" else 127 - x, hip_y + frac * length)
        annotated[i] = True
        cx, cy = np.rint(xy[i]).astype(int)
        pixels[cy - 1 : cy + 2, cx - 1 : cx + 2] = 250
    other = "left" if side == "right" else "right"
    for part in ("femur", "knee", "ankle"):
        annotated[LM.index(f"{part}_{other}")] = True  # absent: not in this film
    return OneLeg(pixels, ImageLabels("x.png", xy, annotated, spacing=(1.3, 1.3)), (1.3, 1.3))


@pytest.mark.parametrize("sides", [("right", "right"), ("left", "right"), ("right", "left")])
def test_landmarks_land_on_their_dots(sides):
    a = one_leg(sides[0], 250.0, 600.0, 1)
    b = one_leg(sides[1], 300.0, 640.0, 2)  # landmarks on whole pixels, like the dots
    pixels, lab = compose(a, b, LM, np.random.default_rng(0), "c.png")
    assert pixels.shape[0] == 1024 and 200 < pixels.shape[1] < 300  # b is scaled to a
    assert lab.present.all()
    for i in range(6):
        x, y = lab.xy[i]
        # the centroid of the bright dot near the labelled position is the position
        y0, x0 = round(float(y)) - 4, round(float(x)) - 4
        patch = pixels[y0 : y0 + 9, x0 : x0 + 9]
        patch = np.clip(patch - np.median(patch), 0, None)
        vv, uu = np.mgrid[0:9, 0:9]
        u, v = (patch * uu).sum() / patch.sum(), (patch * vv).sum() / patch.sum()
        assert abs(x0 + u - x) <= 0.1 and abs(y0 + v - y) <= 0.1, LM.names[i]
    right, left = (lab.xy[LM.index(f"femur_{s}")] for s in ("right", "left"))
    assert right[0] < 128 <= left[0]  # patient's right on the image's left
    assert abs(right[1] - left[1]) < 4 * 4.0 / 1.3  # hips level within ~4 SD
    la = lab.xy[LM.index("ankle_right"), 1] - right[1]
    lb = lab.xy[LM.index("ankle_left"), 1] - left[1]
    assert lb / la == pytest.approx(1.0, abs=0.1)  # the second leg scaled to the first


def test_two_leg_film_is_refused():
    a = one_leg("right", 250.0, 600.0, 1)
    both = OneLeg(a.pixels, ImageLabels("x", np.ones((6, 2)), np.ones(6, bool)), a.spacing)
    assert leg_side(both.labels, LM) is None
    with pytest.raises(ValueError, match="exactly one leg"):
        compose(both, a, LM, np.random.default_rng(0), "c.png")


def test_cli_writes_a_labelled_folder_of_composites(tmp_path):
    from apn_core.cli.main import main
    from apn_core.dataset import load_labelled_folder

    src = _films(tmp_path)
    out = tmp_path / "two"
    assert main(["bilateral", str(src), "--out", str(out), "-n", "4", "--seed", "3"]) == 0
    folder = load_labelled_folder(out, LM)
    assert folder.report.ok and len(folder.items) == 4
    assert all(it.labels.present.all() for it in folder.items)
    rows = list(csv.DictReader((out / "landmarks.csv").open()))
    assert {r["spacing_mm"] for r in rows} == {"1.3"}
    again = tmp_path / "again"
    assert main(["bilateral", str(src), "--out", str(again), "-n", "4", "--seed", "3"]) == 0
    assert (again / "bilateral_0002.png").read_bytes() == (out / "bilateral_0002.png").read_bytes()


def _films(tmp_path):
    """Three one-leg PNG films as a labelled folder."""
    from PIL import Image

    src = tmp_path / "films"
    src.mkdir()
    labels = []
    for n in range(3):
        leg = one_leg("right", 250.0 + 10 * n, 600.0 + 20 * n, n)
        Image.fromarray(leg.pixels.astype(np.uint8)).save(src / f"f{n}.png")
        leg.labels.image = f"f{n}.png"
        labels.append(leg.labels)
    write_landmarks_csv(src / "landmarks.csv", labels, LM)
    return src


def test_cli_never_replaces_a_labelled_folders_labels(tmp_path, capsys):
    """An --out holding a landmarks.csv (someone's labels) is refused unless --force."""
    from apn_core.cli.main import main

    src = _films(tmp_path)
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    hand = "image,landmark,x,y\r\ncase.png,knee_right,10,20\r\n"
    (labelled / "landmarks.csv").write_bytes(hand.encode())
    assert main(["bilateral", str(src), "--out", str(labelled), "-n", "1"]) == 2
    err = capsys.readouterr().err
    assert "already holds a landmarks.csv" in err and "--force" in err
    assert (labelled / "landmarks.csv").read_bytes() == hand.encode()
    assert not list(labelled.glob("bilateral_*"))
    assert main(["bilateral", str(src), "--out", str(labelled), "-n", "1", "--force"]) == 0
    assert (labelled / "bilateral_0000.png").is_file()


def test_cli_refuses_a_landmark_set_without_legs(tmp_path, capsys):
    """A set without femur/knee/ankle right/left: one clear error, not a KeyError."""
    import json

    from apn_core.cli.main import main

    src = _films(tmp_path)  # labelled in the set's names: its films pass the folder check
    (src / "landmarks.csv").write_text(
        "image,landmark,x,y,spacing_mm\n"
        + "".join(f"f{n}.png,a_right,60,300,1.3\n" for n in range(3))
    )
    lm = tmp_path / "set.json"
    lm.write_text(
        json.dumps({"names": ["a_right", "a_left"], "mirror_pairs": [["a_right", "a_left"]]})
    )
    assert main(["bilateral", str(src), "--out", str(tmp_path / "o"), "--landmarks", str(lm)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"apn: error: {lm}: ") and "femur_right" in err, err
    assert not (tmp_path / "o").exists()
