"""The training process the Train widget and Annotate's fine-tuning share: one ``apn train
… --progress json`` run as a separate process (the same CLI a user would run, as SLEAP's
GUI does), followed through its JSON lines; Stop sends SIGTERM (the CLI saves a checkpoint
and exits). What the events and the exit mean is :mod:`napari_apn._train`'s (no Qt)."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import QObject, QProcess, Signal

from napari_apn._runs import remember
from napari_apn._train import TrainingProgress, outcome


class TrainingRunner(QObject):
    """One ``apn train … --progress json`` as a separate process, followed through its JSON
    lines; what the Train and Annotate widgets share.

    ``event`` carries each JSON event (after :attr:`progress` took it in); ``ended`` the
    :class:`~napari_apn._train.Outcome`. A run that ends with weights is remembered
    (offered in Detect and Batch). Temporary files given to :meth:`start` are removed when
    the process ends. :meth:`stop` sends SIGTERM: the CLI saves a checkpoint and exits.
    """

    event = Signal(dict)
    ended = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.process: QProcess | None = None
        self.progress = TrainingProgress()
        self.run: Path | None = None
        self._buffer = ""
        self._temporary: list[str] = []

    @property
    def running(self) -> bool:
        return self.process is not None

    def start(self, command: list[str], run: Path, temporary: list[str] | None = None) -> None:
        self.progress, self.run, self._buffer = TrainingProgress(), run, ""
        self._temporary = list(temporary or [])
        self.process = QProcess()
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finished)
        self.process.start(command[0], command[1:])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()

    def feed(self, e: dict) -> None:
        """Take in one JSON event (from the process, or a test)."""
        self.progress.feed(e)
        self.event.emit(e)

    def _read(self) -> None:
        import json

        self._buffer += bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.startswith("{"):
                try:
                    self.feed(json.loads(line))
                except ValueError:
                    continue

    def _finished(self, code: int, _status=None) -> None:
        self._read()
        err = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        self.process = None
        for name in self._temporary:
            Path(name).unlink(missing_ok=True)
        self._temporary = []
        result = outcome(code, self.progress.error, err, self.run)
        if result.usable:
            remember(self.run)
        self.ended.emit(result)
