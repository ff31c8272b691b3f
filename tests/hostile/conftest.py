"""Fixtures for hostile-input tests: each case must end within seconds, never hang."""

from __future__ import annotations

import signal
import sys

import pytest


@pytest.fixture
def deadline():
    """Call ``deadline(seconds)`` to fail the test (instead of hanging) past that time.

    A hostile file that makes apn block (a FIFO, ``/dev/zero``) would otherwise stall the
    suite forever. POSIX only (SIGALRM, main thread); a no-op elsewhere.
    """

    def expired(signum, frame):
        raise TimeoutError("hostile input: took longer than the deadline (a hang?)")

    def arm(seconds: float) -> None:
        if sys.platform != "win32":
            signal.signal(signal.SIGALRM, expired)
            # Repeats every 0.5 s: code under test that catches Exception may swallow one.
            signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)

    yield arm
    if sys.platform != "win32":
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
