"""Training tensors from a labelled folder (or a folder of unlabelled images), decoded and
letterboxed once.

Reading a 40 MB DICOM and resizing it costs far more than a training step, so every image
is decoded, intensity-normalised and letterboxed into the network input once (in
DataLoader worker processes), stored as float16 in ``RUN/cache/`` keyed by the file's
path, size, mtime and the input geometry, and kept in memory as one tensor — on the GPU
when training there (:func:`place`), so a step never copies images from the host.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from apn_core.config import GeometryConfig
from apn_core.dataset import LabelledImage
from apn_core.errors import ApnError, FileProblem
from apn_core.geometry import Letterbox, network_input
from apn_core.io import read_radiograph
from apn_core.utils.atomic import atomic_path
from apn_core.utils.workers import data_loader, first

log = logging.getLogger(__name__)
CACHE_VERSION = 2  # 2: letterbox before intensity normalisation (geometry.network_input)
GPU_SHARE = 0.5  # training data moves to the GPU when it takes at most this of its free memory


@dataclass
class TrainingTensors:
    """N letterboxed samples.

    images: ``(N, 1, H, W)`` float16 in 0–1. xy: ``(N, K, 2)`` input px, NaN unless present.
    annotated / present / occluded: ``(N, K)`` bool. mm_per_px: ``(N, 2)`` (row, col) mm per
    input pixel. names: image paths relative to the folder.
    """

    images: torch.Tensor
    xy: torch.Tensor
    annotated: torch.Tensor
    present: torch.Tensor
    occluded: torch.Tensor
    mm_per_px: torch.Tensor
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)

    def to(self, device: torch.device) -> TrainingTensors:
        """The same samples on ``device`` (names stay)."""
        return TrainingTensors(
            self.images.to(device),
            self.xy.to(device),
            self.annotated.to(device),
            self.present.to(device),
            self.occluded.to(device),
            self.mm_per_px.to(device),
            self.names,
        )

    def subset(self, index: list[int] | torch.Tensor) -> TrainingTensors:
        idx = torch.as_tensor(index, dtype=torch.long)
        return TrainingTensors(
            self.images[idx],
            self.xy[idx],
            self.annotated[idx],
            self.present[idx],
            self.occluded[idx],
            self.mm_per_px[idx],
            [self.names[i] for i in idx.tolist()],
        )


def cache_key(path: Path, geometry: GeometryConfig) -> str:
    st = path.stat()
    text = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{geometry.height}x{geometry.width}|v{CACHE_VERSION}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def place(data: TrainingTensors, device: torch.device) -> TrainingTensors:
    """``data`` where training reads it: on the GPU when it takes at most
    :data:`GPU_SHARE` of the free GPU memory, else in pinned host memory (copied per batch
    without blocking); unchanged on a CPU."""
    if device.type != "cuda":
        return data
    free, _ = torch.cuda.mem_get_info(device)
    size = sum(t.numel() * t.element_size() for t in (data.images, data.xy, data.mm_per_px))
    if size <= GPU_SHARE * free:
        return data.to(device)
    log.info("training images (%.1f GB) stay in host memory", size / 1e9)
    return TrainingTensors(
        data.images.pin_memory(),
        data.xy,
        data.annotated,
        data.present,
        data.occluded,
        data.mm_per_px,
        data.names,
    )


class _DecodeSet(Dataset):
    """Decodes and letterboxes one image per path (runs in DataLoader workers)."""

    def __init__(self, paths: list[Path], geometry: GeometryConfig, cache_dir: Path | None) -> None:
        self.paths, self.geometry, self.cache_dir = paths, geometry, cache_dir

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray | tuple[str, str]:
        """The letterboxed image, or ``(path, problem)`` of an :class:`ApnError` (sent back
        as plain data: an exception from a worker process would lose its type)."""
        try:
            return self._decode(self.paths[i])
        except ApnError as exc:
            return str(getattr(exc, "path", self.paths[i])), getattr(exc, "problem", str(exc))
        except OSError as exc:
            return str(self.paths[i]), f"cannot be read ({exc.strerror or exc})"

    def _decode(self, path: Path) -> np.ndarray:
        cached = (
            self.cache_dir / f"{cache_key(path, self.geometry)}.npy" if self.cache_dir else None
        )
        if cached is not None and cached.exists():
            try:
                boxed = np.load(cached, allow_pickle=False)
            except (OSError, ValueError):  # a damaged cache file is rebuilt
                boxed = None
            if boxed is not None and boxed.shape == (self.geometry.height, self.geometry.width):
                return boxed
        boxed, _ = network_input(read_radiograph(path).pixels, self.geometry)
        boxed = _finite(boxed.astype(np.float16), path)
        if cached is not None:
            with atomic_path(cached) as tmp:
                np.save(tmp, boxed)
        return boxed


def decode_images(
    paths: list[Path],
    geometry: GeometryConfig,
    cache_dir: Path | None = None,
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
    skip_unreadable: bool = False,
) -> tuple[list[torch.Tensor], list[int], list[tuple[str, str]]]:
    """Letterboxed float16 ``(H, W)`` images of ``paths`` (cached), the indices of the
    paths they came from, and ``(path, problem)`` for each one skipped — only with
    ``skip_unreadable``; otherwise the first problem raises :class:`FileProblem`."""
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    loader = data_loader(_DecodeSet(paths, geometry, cache_dir), workers, collate_fn=first)
    images, kept, skipped = [], [], []
    for n, boxed in enumerate(loader, start=1):
        problem = boxed if isinstance(boxed, tuple) else None
        if problem is None:
            try:
                images.append(torch.from_numpy(_finite(boxed, paths[n - 1])))
                kept.append(n - 1)
            except FileProblem as exc:
                problem = (str(exc.path), exc.problem)
        if problem is not None:
            if not skip_unreadable:
                raise FileProblem(*problem)
            skipped.append(problem)
        if progress:
            progress(n, len(paths))
    return images, kept, skipped


def _stack(images: list[torch.Tensor], geometry: GeometryConfig) -> torch.Tensor:
    if images:
        return torch.stack(images)[:, None]
    return torch.zeros(0, 1, geometry.height, geometry.width, dtype=torch.float16)


def build_unlabelled(
    paths: list[Path],
    names: list[str],
    n_landmarks: int,
    geometry: GeometryConfig,
    cache_dir: Path | None = None,
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
    skip_unreadable: bool = True,
) -> tuple[TrainingTensors, list[tuple[str, str]]]:
    """Unlabelled images as :class:`TrainingTensors` (every landmark unannotated: NaN,
    absent, weight 0; spacing 1 — unused) and the ``(path, problem)`` of those skipped."""
    images, kept, skipped = decode_images(
        paths, geometry, cache_dir, workers, progress, skip_unreadable
    )
    n = len(kept)
    data = TrainingTensors(
        images=_stack(images, geometry),
        xy=torch.full((n, n_landmarks, 2), float("nan")),
        annotated=torch.zeros(n, n_landmarks, dtype=torch.bool),
        present=torch.zeros(n, n_landmarks, dtype=torch.bool),
        occluded=torch.zeros(n, n_landmarks, dtype=torch.bool),
        mm_per_px=torch.ones(n, 2),
        names=[names[i] for i in kept],
    )
    return data, skipped


def build_tensors(
    items: list[LabelledImage],
    geometry: GeometryConfig,
    cache_dir: Path | None = None,
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TrainingTensors:
    """Letterbox every item (cached) and convert its labels to input pixels."""
    images, _, _ = decode_images(
        [item.path for item in items], geometry, cache_dir, workers, progress
    )
    k = len(items[0].labels.xy) if items else 0
    xy = np.full((len(items), k, 2), np.nan)
    mm = np.zeros((len(items), 2))
    for i, item in enumerate(items):
        box = Letterbox.fit(item.shape, geometry)
        xy[i] = box.to_input(item.labels.xy)
        mm[i] = box.input_spacing(item.spacing)
        present = np.asarray(item.labels.present, bool)
        if not np.isfinite(xy[i][present]).all():
            raise FileProblem(item.path, "a landmark marked present has a non-finite position")
        if not (np.isfinite(mm[i]).all() and (mm[i] > 0).all()):
            raise FileProblem(item.path, f"pixel spacing {item.spacing} is not a positive number")
    labels = [item.labels for item in items]
    return TrainingTensors(
        images=_stack(images, geometry),
        xy=torch.from_numpy(xy).float(),
        annotated=torch.from_numpy(
            np.array([lab.annotated for lab in labels], bool).reshape(len(items), k)
        ),
        present=torch.from_numpy(
            np.array([lab.present for lab in labels], bool).reshape(len(items), k)
        ),
        occluded=torch.from_numpy(
            np.array([lab.occluded for lab in labels], bool).reshape(len(items), k)
        ),
        mm_per_px=torch.from_numpy(mm).float(),
        names=[lab.image for lab in labels],
    )


def _finite(boxed: np.ndarray, path: Path) -> np.ndarray:
    """``boxed`` if every value is finite (a cache file written before this check, too)."""
    bad = int(np.size(boxed) - np.count_nonzero(np.isfinite(boxed)))
    if bad:
        raise FileProblem(
            path,
            f"{bad} non-finite value(s) (NaN or infinity) in the network input made from this "
            "image; training on it would make the loss NaN — fix or remove the image",
        )
    return boxed


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic train/validation split; at least one of each when ``n ≥ 2``."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = 0 if n < 2 or val_fraction <= 0 else min(n - 1, max(1, round(n * val_fraction)))
    return sorted(perm[n_val:]), sorted(perm[:n_val])
