"""How many threads a prediction, or a training, uses: the cores that are idle now.

torch's CPU operations split their work evenly over the threads of its OpenMP pool and
wait at a barrier for the slowest. When another process keeps a core busy, the thread
that shares that core runs at a fraction of its speed and every one of the network's
~100 operations waits for it; the waiting threads spin and take CPU from the others in
turn. On a 2-core VM with a 1-thread training running beside it, ``predict_file`` of
``default`` on a full-size radiograph took 0.12 s on 1 thread and 1.07 s (median; worst
4.7 s) on torch's default 2; napari's warm Detect with one busy loop beside went from
1.1–1.3 s to 0.30 s with this choice (``benchmarks/detect_latency.py``). One thread per
idle core avoids the collapse and still uses an idle machine fully.

"Idle now" comes from the kernel's count of runnable tasks (``/proc/loadavg``, Linux),
read a few times a millisecond apart (a task always runnable, like a busy loop or a
training, is in every reading); elsewhere from the 1-minute load average, or all cores.
An explicit ``OMP_NUM_THREADS`` is the user's choice and is kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SAMPLES = 5  # readings of the runnable count, ~1 ms apart


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_cores(samples: int = SAMPLES, loadavg: Path = Path("/proc/loadavg")) -> float:
    """Cores kept busy by *other* tasks now: the fewest runnable tasks over ``samples``
    readings of ``loadavg``, less the one reading them (the caller's thread)."""
    try:
        counts = []
        for i in range(samples):
            if i:
                time.sleep(0.001)
            running = loadavg.read_text().split()[3].split("/")[0]
            counts.append(int(running))
        return float(max(0, min(counts) - 1))
    except (OSError, IndexError, ValueError):
        pass
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def inference_threads(limit: int | None = None) -> int:
    """Threads for one interactive prediction: the idle cores (at least 1, at most
    ``limit``), or ``OMP_NUM_THREADS`` when the user set it."""
    user = _user_threads()
    if user is not None:
        return user
    idle = usable_cores() - round(busy_cores())
    return max(1, min(idle, limit or idle))


def training_threads(world: int = 1) -> int:
    """Threads for each of ``world`` training processes on this machine: the idle cores
    shared among them (at least 1 each), or ``OMP_NUM_THREADS`` when the user set it. A
    tiny-preset epoch took 5-250× longer beside one busy process on 2 cores with torch's
    default pool (every core) than with one thread."""
    user = _user_threads()
    if user is not None:
        return user
    return max(1, inference_threads() // max(1, world))


def _user_threads() -> int | None:
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(env) if env.isdigit() and int(env) >= 1 else None


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch's intra-op pool at ``n`` threads, then restore it (the
    setting is process-wide: other torch users in the process see it meanwhile)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
