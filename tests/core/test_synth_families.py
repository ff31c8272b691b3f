"""Style families: selection and exclusion (the data side of the held-out-family protocol),
recorded per case, validated settings, the ``apn synth`` options, and ``apn check`` on a
folder mixing every family and file format."""

from __future__ import annotations

import json

import pytest

from apn_core.cli.main import main
from apn_core.synth import SynthConfig, generate_case, write_synthetic_folder
from apn_core.synth.families import FAMILIES
from apn_core.synth.storage import FORMATS


def _families(folder) -> list[str]:
    lines = (folder / "phantoms.jsonl").read_text().splitlines()
    return [json.loads(line)["family"] for line in lines]


def test_cases_cycle_through_the_chosen_families_and_record_them():
    cfg = SynthConfig(spacing_mm=2.0, families=("postop", "cr-film"))
    cases = [generate_case(0, i, cfg) for i in range(4)]
    assert [c.family for c in cases] == ["postop", "cr-film", "postop", "cr-film"]
    assert [c.meta["family"] for c in cases] == [c.family for c in cases]


def test_a_family_draws_its_own_style():
    """The CR family stores MONOCHROME1 or DICOM at 10-12 bits; the export family 8-bit
    JPEG/PNG/TIFF (or a 16-bit PNG)."""
    for i in range(4):
        cr = generate_case(1, i, SynthConfig(spacing_mm=2.0, families=("cr-film",)))
        assert cr.file_format in ("dicom", "dicom-mono1") and cr.bits in (10, 12)
        ex = generate_case(1, i, SynthConfig(spacing_mm=2.0, families=("export-8bit",)))
        assert ex.file_format in ("jpeg", "png", "tiff") and (
            ex.bits == 8 or ex.file_format == "png"
        )


def test_held_out_protocol_folders_contain_only_what_they_should(tmp_path):
    held_out = "export-8bit"
    train = SynthConfig(spacing_mm=2.0, families=tuple(f for f in FAMILIES if f != held_out))
    test = SynthConfig(spacing_mm=2.0, families=(held_out,))
    a = write_synthetic_folder(tmp_path / "train", 8, seed=1, config=train)
    b = write_synthetic_folder(tmp_path / "test", 3, seed=2, config=test)
    assert held_out not in _families(a) and set(_families(a)) == set(FAMILIES) - {held_out}
    assert set(_families(b)) == {held_out}


def test_unknown_families_and_settings_are_refused():
    with pytest.raises(ValueError, match="unknown family nope"):
        SynthConfig(families=("nope",))
    with pytest.raises(ValueError, match="no family chosen"):
        SynthConfig(families=())
    with pytest.raises(ValueError, match=r"unknown generator setting 'hardware\.bogus'"):
        SynthConfig(overrides={"hardware.bogus": 1})
    with pytest.raises(ValueError, match="probability"):
        SynthConfig(overrides={"hardware.nail": 1.5})
    with pytest.raises(ValueError, match="not among"):
        SynthConfig(overrides={"anatomy.foot_styles": "hoof"})
    with pytest.raises(ValueError, match="runs backwards"):
        SynthConfig(overrides={"anatomy.size": "1.2,0.9"})
    with pytest.raises(ValueError, match="not like its default"):
        SynthConfig(overrides={"acquisition.exposures": "two"})


def test_settings_apply_to_every_family_after_the_fractions():
    cfg = SynthConfig(hip_prosthesis_fraction=0.5, overrides={"hardware.knee_replacement": 0.25})
    for i in range(len(FAMILIES)):
        fam = cfg.family_for(i)
        assert fam.hardware.hip_replacement == 0.5 and fam.hardware.knee_replacement == 0.25
    assert (
        SynthConfig().family_for(3).hardware.hip_replacement
        == FAMILIES["postop"].hardware.hip_replacement
    )


def test_check_passes_on_a_folder_mixing_every_family_and_format(tmp_path, capsys):
    cfg = SynthConfig(spacing_mm=2.0, overrides={"storage.formats": ",".join(FORMATS)})
    out = write_synthetic_folder(tmp_path / "mix", 15, seed=4, config=cfg, workers=2)
    assert set(_families(out)) == set(FAMILIES)
    suffixes = {p.suffix for p in out.iterdir()} - {".csv", ".jsonl"}
    photometric = {json.loads(line)["photometric"] for line in (out / "phantoms.jsonl").open()}
    assert suffixes == {".dcm", ".tif", ".png", ".jpg"} and photometric == {
        "MONOCHROME1",
        "MONOCHROME2",
    }
    assert main(["check", str(out)]) == 0
    assert "OK: ready for training" in capsys.readouterr().out


def test_cli_families_exclusion_and_settings(tmp_path, capsys):
    out = tmp_path / "o"
    args = [
        "synth",
        str(out),
        "-n",
        "4",
        "--spacing",
        "2",
        "--workers",
        "1",
        "--exclude-family",
        "postop",
        "--exclude-family",
        "cr-film",
        "--set",
        "storage.formats=png",
        "--set",
        "overlays.text=1",
    ]
    assert main(args) == 0
    assert _families(out) == ["dr-clinic", "export-8bit", "paeds-deformity", "dr-clinic"]
    assert len(list(out.glob("*.png"))) == 4
    assert "families: dr-clinic 2, export-8bit 1, paeds-deformity 1" in capsys.readouterr().out
    assert (
        main(["synth", str(tmp_path / "p"), "-n", "2", "--spacing", "2", "--families", "postop"])
        == 0
    )
    assert _families(tmp_path / "p") == ["postop", "postop"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0"], "must be at least 1"),
        (["--families", "dr-clinic,nope"], "unknown or no family"),
        (["--exclude-family", "nope"], "unknown or no family"),
        (["--families", "postop", "--exclude-family", "postop"], "leaves none"),
        (["--set", "hardware.nail=2"], "probability"),
        (["--set", "hardware.nail"], "section.field=value"),
        (["--formats", "gif"], "choose formats"),
        (["--spacing", "0"], "greater than 0"),
        (["--seed", "-1"], "0 or more"),
        (["--workers", "0"], "at least 1"),
    ],
)
def test_cli_refuses_bad_options_with_a_usage_error(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", str(tmp_path / "x"), *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_spacing_outside_the_generator_range_is_one_line_error(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "x"), "--spacing", "9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("apn: error: ") and "outside 0.05-5" in err and "Traceback" not in err


def test_cli_lists_the_families(capsys):
    assert main(["synth", "--list-families"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in FAMILIES)
