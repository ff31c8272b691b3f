"""One background job of a widget at a time: start, stop, progress — the widgets' one
worker helper.

A :class:`Task` runs a function (or generator) in a napari ``thread_worker``, keeps the
widget's Run/Cancel buttons and progress bar in step, and shows the job in napari's
activity dock (``napari.utils.progress``). Results and errors come back through the
worker's signals, to the callbacks given to :meth:`Task.start` — **only while that job is
the task's current one**: after Cancel, or once another job started, a worker that is
still finishing its last step can neither re-enable Run, nor clobber the status line,
nor add its layers (Detect's Cancel-then-Run race).

The function runs in a thread with a :class:`Job`: ``job.report(done, total)`` (progress,
thread-safe) and ``job.cancelled()`` (set by Cancel) — plain values, no viewer access.

napari's activity-dock progress widgets process Qt events whenever they change, which
would deliver the worker's next signals *inside* the slot handling the current one (an
error arriving before the stage that preceded it was shown); :class:`ActivityProgress`
therefore changes them in a later turn of the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from qtpy.QtCore import QObject, QTimer, Signal


class _Relay(QObject):
    """Carries progress from the worker thread to the UI thread (a queued signal)."""

    progressed = Signal(int, int)


class Job:
    """What a worker function gets from its task (thread-safe)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.relay = _Relay()

    def report(self, done: int, total: int) -> None:
        """Progress ``done`` of ``total``, from any thread."""
        self.relay.progressed.emit(int(done), int(total))

    def cancelled(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        self._stop.set()


class ActivityProgress:
    """A job's progress in napari's activity dock (``napari.utils.progress``), created,
    updated and closed in a later turn of the event loop (see the module docstring)."""

    def __init__(self, name: str, total: int = 0) -> None:
        self.name, self.description = name, name
        self.total, self.done, self.closed = int(total), 0, False
        self.pbar = None
        self._scheduled = self._applying = False
        self._schedule()

    def set(self, done: int | None = None, total: int | None = None, text: str | None = None):
        if done is not None:
            self.done = int(done)
        if total is not None:
            self.total = int(total)
        if text is not None:
            self.description = f"{self.name}: {text}"
        self._schedule()

    def close(self) -> None:
        """Closed now (a test or napari may end right after the job): closing is the
        job's last change, so nothing of the job can be delivered inside it any more."""
        self.closed = True
        if self.pbar is not None:
            self.pbar, pbar = None, self.pbar
            pbar.close()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self._apply)

    def _apply(self) -> None:
        self._scheduled = False
        if self._applying:  # called from the events napari processes inside the last one
            return self._schedule()
        self._applying = True
        try:
            return self._apply_now()
        finally:
            self._applying = False

    def _apply_now(self) -> None:
        from napari.utils import progress

        if self.closed:
            if self.pbar is not None:
                self.pbar, pbar = None, self.pbar
                pbar.close()
            return
        if self.pbar is None:
            pbar = progress(total=self.total or None, desc=self.description)  # processes events
            if self.closed:  # the job ended meanwhile
                pbar.close()
                return None
            self.pbar = pbar
            return self._schedule()  # the values set meanwhile, next turn
        pbar = self.pbar
        if self.total and self.total != pbar.total:
            pbar.total = self.total
        if self.done != pbar.n:
            pbar.update(self.done - pbar.n)
        if self.description != pbar.desc:
            pbar.set_description(self.description)


class Task:
    """Start/stop one job at a time for a widget (see the module docstring).

    ``run_button``/``cancel_button``: enabled while idle / while running; ``bar``: the
    widget's progress bar (hidden while idle when ``hide_bar``); ``status``: the status
    line (``"cancelled"`` on Cancel); ``name``: the job's name in napari's activity dock;
    ``owner``: the widget — once it is deleted (its dock closed, napari quit), a job
    still running is cancelled and nothing it sends reaches the deleted controls.
    """

    def __init__(
        self,
        name: str,
        run_button=None,
        cancel_button=None,
        bar=None,
        status=None,
        hide_bar: bool = False,
        owner=None,
    ) -> None:
        self.name = name
        self.run_button, self.cancel_button = run_button, cancel_button
        self.bar, self.status, self.hide_bar = bar, status, hide_bar
        self.worker = None
        self.job: Job | None = None
        self._pbar = None
        self._orphaned = False
        if owner is not None:
            owner.native.destroyed.connect(self._owner_deleted)
        self._busy(False)

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(
        self,
        function: Callable,
        *args,
        job: Job | None = None,
        yielded: Callable | None = None,
        returned: Callable | None = None,
        errored: Callable | None = None,
        finished: Callable | None = None,
        total: int = 0,
        **kwargs,
    ) -> Job:
        """Run ``function(*args, **kwargs)`` in a worker thread (a generator's yields go to
        ``yielded``); ``total``: steps for the progress bars (0: unknown). ``job``: the
        :class:`Job` the function was given (made before, to pass ``job.report``), else
        a new one. A job still running is cancelled first. Returns the job."""
        from napari.qt.threading import create_worker

        self.cancel(quiet=True)
        job = job or Job()
        worker = create_worker(function, *args, _ignore_errors=True, **kwargs)
        current = self._current_only

        job.relay.progressed.connect(current(worker, self.progress))
        if hasattr(worker, "yielded"):
            worker.yielded.connect(current(worker, self._yielded, yielded))
        worker.returned.connect(current(worker, returned))
        worker.errored.connect(current(worker, errored))
        worker.finished.connect(current(worker, self._finished, finished))
        self.worker, self.job = worker, job
        self._busy(True, total)
        worker.start()
        return job

    def cancel(self, quiet: bool = False) -> bool:
        """Stop the current job: its worker is asked to quit (a generator stops at its
        next yield; ``job.cancelled()`` turns True) and everything it still sends is
        ignored. The widget is idle at once. ``False`` when nothing ran."""
        worker, job = self.worker, self.job
        if worker is None:
            return False
        self.worker = self.job = None
        job.cancel()
        worker.quit()
        self._busy(False)
        if self.status is not None and not quiet:
            self.status.value = "cancelled"
        return True

    def progress(self, done: int, total: int | None = None) -> None:
        """Show ``done`` of ``total`` steps (in the dock and in napari's activity dock)."""
        if self.bar is not None:
            if total is not None:
                self.bar.max = max(int(total), 1)
            self.bar.value = min(int(done), self.bar.max)
        if self._pbar is not None:
            self._pbar.set(done, total)

    def describe(self, text: str) -> None:
        """The job's stage, in napari's activity dock."""
        if self._pbar is not None:
            self._pbar.set(text=text)

    # ----- internals -------------------------------------------------------------------
    def _current_only(self, worker, *callbacks) -> Callable:
        """A slot that calls ``callbacks`` only while ``worker`` is the current one."""

        def slot(*values):
            if worker is not self.worker or self._orphaned:
                return
            for callback in callbacks:
                if callback is not None:
                    callback(*values)

        return slot

    def _owner_deleted(self, *_args) -> None:
        self._orphaned = True
        if self.job is not None:
            self.job.cancel()
        if self.worker is not None:
            self.worker.quit()
        if self._pbar is not None:
            self._pbar.close()
        self.worker = self.job = self._pbar = None

    def _yielded(self, *_value) -> None:
        if self.bar is not None:
            self.progress(self.bar.value + 1)

    def _finished(self) -> None:
        self.worker = self.job = None
        self._busy(False)

    def _busy(self, busy: bool, total: int = 0) -> None:
        if self._orphaned:
            return
        if self.run_button is not None:
            self.run_button.enabled = not busy
        if self.cancel_button is not None:
            self.cancel_button.enabled = busy
        if self.bar is not None:
            if busy:  # a finished job's bar keeps its end (done / total) until the next one
                self.bar.max, self.bar.value = max(int(total), 1), 0
            if self.hide_bar:
                self.bar.visible = busy
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        if busy:
            self._pbar = ActivityProgress(self.name, total)
