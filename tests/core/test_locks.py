"""Folder locks: a second writer is refused at once; the lock dies with its holder."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from apn_core.utils.locks import FolderBusyError, folder_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX only")


def test_second_holder_in_another_process_is_refused(tmp_path):
    with folder_lock(tmp_path, "output folder"):
        code = textwrap.dedent(
            f"""
            from apn_core.utils.locks import FolderBusyError, folder_lock
            try:
                with folder_lock({str(tmp_path)!r}, "output folder"):
                    print("acquired")
            except FolderBusyError as e:
                print("busy:", e)
            """
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "busy:" in out.stdout, out.stdout + out.stderr
    assert "another apn process (process " in out.stdout
    assert "output folder" in out.stdout


def test_lock_is_released_after_the_block_and_after_a_killed_holder(tmp_path):
    with folder_lock(tmp_path):
        pass
    with folder_lock(tmp_path):  # re-acquired after release
        pass
    # A holder killed with SIGKILL leaves the file but not the lock.
    code = f"from apn_core.utils.locks import folder_lock\nimport os\nwith folder_lock({str(tmp_path)!r}):\n    os.kill(os.getpid(), 9)\n"
    subprocess.run([sys.executable, "-c", code])
    assert (tmp_path / ".apn-lock").exists()
    with folder_lock(tmp_path):
        pass


def test_same_process_second_open_is_refused_too(tmp_path):
    # flock locks are per open file description: a second open in one process conflicts,
    # so a job that re-enters its own folder is caught as well.
    with folder_lock(tmp_path), pytest.raises(FolderBusyError), folder_lock(tmp_path):
        pass
