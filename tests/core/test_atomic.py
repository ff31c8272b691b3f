import os
import threading

import pytest

from apn_core.utils import atomic
from apn_core.utils.atomic import atomic_path, write_bytes_atomic, write_text_atomic


def test_atomic_write_replaces_whole_file_and_uses_normal_permissions(tmp_path):
    target = tmp_path / "a.csv"
    write_text_atomic(target, "old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.csv"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_writes_never_touch_the_umask(tmp_path, monkeypatch):
    """Setting the umask (even to restore it) races with other threads creating files."""

    def forbidden(mask):
        raise AssertionError("os.umask called during a write")

    monkeypatch.setattr(os, "umask", forbidden)
    threads = [
        threading.Thread(target=write_text_atomic, args=(tmp_path / f"{i}.txt", "x"))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    write_text_atomic(tmp_path / "main.txt", "x")
    modes = {(tmp_path / f"{i}.txt").stat().st_mode & 0o777 for i in range(4)}
    assert modes == {atomic.FILE_MODE}


def test_file_is_synced_before_it_is_renamed_and_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("replace") or real_replace(a, b))
    write_text_atomic(tmp_path / "a.txt", "x")
    expected = ["fsync", "replace"] + (["fsync"] if os.name != "nt" else [])
    assert events == expected


def test_writer_that_recreates_the_file_still_gets_the_normal_mode(tmp_path):
    """safetensors' save_file replaces the file it is given with a new 0600 one."""
    with atomic_path(tmp_path / "w.bin") as tmp:
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"weights")
        os.close(fd)
    assert (tmp_path / "w.bin").stat().st_mode & 0o777 == atomic.FILE_MODE


def test_bytes_are_written_exactly(tmp_path):
    write_bytes_atomic(tmp_path / "a.csv", b"a,b\r\nc,d")
    assert (tmp_path / "a.csv").read_bytes() == b"a,b\r\nc,d"
