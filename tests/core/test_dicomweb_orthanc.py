"""The PACS round trip against a real PACS (issue 22): Orthanc with its DICOMweb plugin,
started here with its own configuration on a free port and a temporary storage folder,
loaded with synthetic DICOM studies; ``apn predict --dicomweb`` retrieves (WADO-RS),
predicts and stores SR + presentation state back (STOW-RS); Orthanc's own REST API is
then asked what arrived where. A re-run — from the same or from an empty output
folder — stores nothing twice.

Skipped, with the reason, only where the Debian packages ``orthanc`` and
``orthanc-dicomweb`` are not installed (``.ci/install-system.sh`` installs them)."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("highdicom", reason="the [dicom] extra (highdicom) is not installed")
pytest.importorskip(
    "dicomweb_client", reason="the [dicom] extra (dicomweb-client) is not installed"
)
import pydicom
import requests

from apn_core.cli.main import main
from apn_core.synth import SynthConfig, write_synthetic_folder

PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc", "/usr/local/share/orthanc/plugins")
USER, PASSWORD = "apn", "not-a-real-secret"
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.34"
GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"


def _plugin() -> Path | None:
    for folder in PLUGIN_DIRS:
        found = sorted(Path(folder).glob("libOrthancDicomWeb.so*")) if Path(folder).is_dir() else []
        if found:
            return found[0]
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Orthanc:
    """A running Orthanc: its REST base URL, credentials, and small REST helpers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dicomweb = f"{url}/dicom-web"
        self.session = requests.Session()
        self.session.auth = (USER, PASSWORD)

    def get(self, path: str):
        response = self.session.get(f"{self.url}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def upload(self, path: Path) -> dict:
        response = self.session.post(f"{self.url}/instances", data=path.read_bytes(), timeout=60)
        response.raise_for_status()
        return response.json()

    def instances(self) -> list[dict]:
        """Every instance with its main tags (simplified)."""
        return [self.get(f"/instances/{i}/simplified-tags") for i in self.get("/instances")]

    def lookup(self, uid: str, kind: str) -> str:
        """Orthanc's identifier of a study/instance UID (its /tools/lookup)."""
        found = self.session.post(f"{self.url}/tools/lookup", data=uid, timeout=30).json()
        return next(i["ID"] for i in found if i["Type"] == kind)

    def study_of(self, study_uid: str) -> list[dict]:
        """The main tags of every instance of the study."""
        study = self.lookup(study_uid, "Study")
        return [
            self.get(f"/instances/{i['ID']}/simplified-tags")
            for i in self.get(f"/studies/{study}/instances")
        ]

    def file(self, sop_uid: str) -> pydicom.Dataset:
        """The stored DICOM file of an instance, parsed."""
        response = self.session.get(
            f"{self.url}/instances/{self.lookup(sop_uid, 'Instance')}/file", timeout=30
        )
        response.raise_for_status()
        return pydicom.dcmread(io.BytesIO(response.content))


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    binary = shutil.which("Orthanc")
    if binary is None:
        pytest.skip("the Orthanc binary is not installed (Debian package 'orthanc')")
    plugin = _plugin()
    if plugin is None:
        pytest.skip(
            "the Orthanc DICOMweb plugin is not installed (Debian package 'orthanc-dicomweb')"
        )
    root = tmp_path_factory.mktemp("orthanc")
    port = _free_port()
    config = {
        "Name": "apn-test",
        "HttpPort": port,
        "DicomServerEnabled": False,
        "StorageDirectory": str(root / "db"),
        "IndexDirectory": str(root / "db"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [str(plugin)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (root / "orthanc.json").write_text(json.dumps(config))
    log = open(root / "orthanc.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen([binary, str(root / "orthanc.json")], stdout=log, stderr=log)
    server = Orthanc(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if "dicom-web" in server.get("/plugins"):
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Orthanc did not start:\n{(root / 'orthanc.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def studies(orthanc, tmp_path_factory) -> list[pydicom.Dataset]:
    """Three synthetic DX studies (one image each, 2 mm/px) uploaded to Orthanc."""
    data = write_synthetic_folder(
        tmp_path_factory.mktemp("pacs") / "data",
        3,
        seed=31,
        config=SynthConfig(spacing_mm=2.0, formats=("dicom", "dicom-mono1")),
    )
    headers = []
    for path in sorted(data.glob("*.dcm")):
        orthanc.upload(path)
        headers.append(pydicom.dcmread(path, stop_before_pixels=True))
    assert len({h.StudyInstanceUID for h in headers}) == 3
    return headers


def _predict(orthanc, out: Path, *extra: str) -> int:
    return main(
        [
            "predict",
            "--dicomweb",
            orthanc.dicomweb,
            "--dicomweb-user",
            USER,
            "--out",
            str(out),
            *extra,
        ]
    )


def _outputs(instances: list[dict]) -> list[dict]:
    return [i for i in instances if i.get("SOPClassUID") in (SR_CLASS, GSPS_CLASS)]


def test_round_trip_stores_sr_and_presentation_state_in_each_study_once(
    orthanc, studies, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("APN_DICOMWEB_PASSWORD", PASSWORD)
    first, second, third = studies
    query = ["--study", first.StudyInstanceUID, "--study", second.StudyInstanceUID]
    assert _predict(orthanc, tmp_path / "out", *query) == 0
    out = capsys.readouterr().out
    assert "2 image(s) matched; 2 retrieved" in out and "4 object(s) stored, 0 already" in out

    for source in (first, second):
        made = _outputs(orthanc.study_of(source.StudyInstanceUID))
        assert sorted(i["SOPClassUID"] for i in made) == [GSPS_CLASS, SR_CLASS]
        for instance in made:
            # the stored object, read back from Orthanc: it references this study's image
            ds = orthanc.file(instance["SOPInstanceUID"])
            assert ds.StudyInstanceUID == source.StudyInstanceUID
            assert ds.PatientID == source.PatientID
            if ds.SOPClassUID == SR_CLASS:
                ref = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
                assert (
                    ref.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
                )
            else:
                ref = ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0]
                assert ref.ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert _outputs(orthanc.study_of(third.StudyInstanceUID)) == []  # not asked for
    total = len(orthanc.get("/instances"))
    assert total == 3 + 4

    # the same command again: nothing retrieved, predicted or stored
    assert _predict(orthanc, tmp_path / "out", *query) == 0
    out = capsys.readouterr().out
    assert "0 retrieved, 2 already retrieved; 0 object(s) stored, 4 already on the server" in out
    assert "0 predicted, 2 already done" in out
    # from an empty output folder: predicted again, but the server already holds the result
    assert _predict(orthanc, tmp_path / "fresh", *query) == 0
    assert "0 object(s) stored, 4 already on the server" in capsys.readouterr().out
    assert len(orthanc.get("/instances")) == total

    # a modality query finds the third study too, and its own SRs are never inputs
    assert _predict(orthanc, tmp_path / "out", "--modality", "DX") == 0
    out = capsys.readouterr().out
    assert "3 image(s) matched" in out and "2 object(s) stored, 4 already on the server" in out
    assert len(_outputs(orthanc.study_of(third.StudyInstanceUID))) == 2
    assert len(orthanc.get("/instances")) == total + 2


def test_credentials_come_from_the_environment_and_errors_say_so(
    orthanc, studies, tmp_path, monkeypatch, capsys
):
    study = ["--study", studies[0].StudyInstanceUID]
    monkeypatch.delenv("APN_DICOMWEB_PASSWORD", raising=False)
    assert _predict(orthanc, tmp_path / "a", *study) == 2
    err = capsys.readouterr().err
    assert "APN_DICOMWEB_PASSWORD" in err and "never taken from the command line" in err
    monkeypatch.setenv("APN_DICOMWEB_PASSWORD", "wrong")
    assert _predict(orthanc, tmp_path / "b", *study) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "--dicomweb-user" in err and "wrong" not in err
    monkeypatch.setenv("MY_PACS_SECRET", PASSWORD)
    assert (
        _predict(
            orthanc,
            tmp_path / "c",
            *study,
            "--dicomweb-password-env",
            "MY_PACS_SECRET",
            "--no-store",
        )
        == 0
    )
    assert "0 object(s) stored" in capsys.readouterr().out


def test_a_query_must_name_something(orthanc, tmp_path, capsys):
    assert main(["predict", "--dicomweb", orthanc.dicomweb, "--out", str(tmp_path / "o")]) == 2
    assert "an empty query would retrieve the whole archive" in capsys.readouterr().err
    assert (
        main(
            ["predict", "--dicomweb", orthanc.dicomweb, "--study", "1.2;rm", "--out", str(tmp_path)]
        )
        == 2
    )
    assert "not a DICOM UID" in capsys.readouterr().err
