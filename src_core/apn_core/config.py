"""The configuration tree of a model/run: one dataclass per concern, saved with every run.

A run folder's ``config.json`` is ``RunConfig.to_dict()``; presets are named
``RunConfig`` instances (:mod:`apn_core.presets`), not copied scripts.

Every setting is checked when a config is built — from a preset, a run's ``config.json``,
an ``apn train --config`` file or ``--set`` — for its type and its allowed range (declared
beside the field with :func:`setting`), and unknown settings are refused. A bad value
raises :class:`ConfigError` naming the setting and what it allows, e.g.
``train.lr must be a finite number > 0 (got nan)``; ``config.json`` is never trusted as is.

Typed ``__post_init__`` checks rather than pydantic/cattrs: the tree is ~40 plain fields,
the core stays free of another dependency (pydantic comes with napari, not with the core),
and the ranges sit next to the fields they guard.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from apn_core.errors import ApnError
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet
from apn_core.utils.files import MAX_JSON_DEPTH, json_depth

MAX_INPUT_SIDE = 2048


class ConfigError(ApnError, ValueError):
    """A configuration value of the wrong type, out of range, or an unknown setting."""


@dataclass(frozen=True)
class Bounds:
    """An allowed interval; ``None`` leaves that side open-ended."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )

    def text(self) -> str:
        low, high = _number_text(self.low), _number_text(self.high)
        if self.low is not None and self.high is not None:
            return (
                f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
            )
        if self.low is not None:
            return f"{'>' if self.low_open else '≥'} {low}"
        if self.high is not None:
            return f"{'<' if self.high_open else '≤'} {high}"
        return "any value"


def _number_text(value: float | None) -> str:
    """``2147483647`` for whole numbers, ``0.5`` otherwise."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def setting(default: Any, low=None, high=None, *, low_open=False, high_open=False, choices=None):
    """A dataclass field with its allowed range (or choices), checked on construction."""
    meta: dict[str, Any] = {}
    if low is not None or high is not None:
        meta["bounds"] = Bounds(low, high, low_open, high_open)
    if choices is not None:
        meta["choices"] = tuple(choices)
    return field(default=default, metadata=meta)


class _WrongType(Exception):
    """Internal: a value is not of the annotated type; the caller words the message."""


_TYPE_NAMES = {int: "a whole number", float: "a finite number", bool: "true or false", str: "text"}


def _coerce(value: Any, hint) -> Any:
    """``value`` as the annotated type (JSON lists → tuples, ints → floats), else _WrongType."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _coerce(value, next(a for a in typing.get_args(hint) if a is not type(None)))
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise _WrongType(f"a list of {len(args)} numbers")
        return tuple(_coerce(v, a) for v, a in zip(value, args, strict=True))
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        raise _WrongType(_TYPE_NAMES.get(hint, str(hint)))
    return value


def _describe(hint, meta) -> str:
    """What a field allows, e.g. ``a finite number > 0`` or ``one of 1, 2, 4, 8``."""
    if "choices" in meta:
        return "one of " + ", ".join(str(c) for c in meta["choices"])
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = args[0] if optional else hint
    if typing.get_origin(base) is tuple:
        each = _TYPE_NAMES.get(typing.get_args(base)[0], "a finite number")
        text = f"[low, high] with low ≤ high, each {each}"
    else:
        text = _TYPE_NAMES.get(base, str(base))
    bounds: Bounds | None = meta.get("bounds")
    if bounds is not None and (base in (int, float) or typing.get_origin(base) is tuple):
        text += f" {bounds.text()}"
    return text + (" or null" if optional else "")


class _Section:
    """Checks every field's type and range after construction (see :func:`setting`)."""

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            name, raw = f"{self.section}.{f.name}", getattr(self, f.name)
            allowed = _describe(hints[f.name], f.metadata)
            try:
                value = _coerce(raw, hints[f.name])
            except _WrongType:
                raise ConfigError(f"{name} must be {allowed} (got {raw!r})") from None
            setattr(self, f.name, value)
            if value is None:
                continue
            choices = f.metadata.get("choices")
            bounds: Bounds | None = f.metadata.get("bounds")
            values = value if isinstance(value, tuple) else (value,)
            if (
                (choices is not None and value not in choices)
                or (
                    bounds is not None
                    and not isinstance(value, bool | str)
                    and not all(v in bounds for v in values)
                )
                or (isinstance(value, tuple) and list(value) != sorted(value))
            ):
                raise ConfigError(f"{name} must be {allowed} (got {raw!r})")
        self.check()

    def check(self) -> None:
        """Checks across fields (override)."""


@dataclass
class GeometryConfig(_Section):
    """Network input. The radiograph is letterboxed (aspect ratio kept, centred, zero
    padded) into ``height × width`` pixels; heatmaps are ``stride`` times smaller.

    height / width: input size in pixels, multiples of the stride, at most 2048, and
        giving heatmaps of at least 4 × 4 pixels.
    stride: input pixels per heatmap pixel: 1, 2, 4 or 8.

    Long-leg radiographs are ~2.6:1, so a tall input (e.g. 512×192) uses its pixels for
    anatomy where a square 256×256 input is mostly padding.
    """

    section: ClassVar[str] = "geometry"
    height: int = setting(512, 1, MAX_INPUT_SIDE)
    width: int = setting(192, 1, MAX_INPUT_SIDE)
    stride: int = setting(4, choices=(1, 2, 4, 8))

    def check(self) -> None:
        for name in ("height", "width"):
            value = getattr(self, name)
            if value % self.stride:
                raise ConfigError(
                    f"geometry.{name} must be a multiple of geometry.stride ({self.stride}); "
                    f"got {value}"
                )
            if value < 4 * self.stride:
                raise ConfigError(
                    f"geometry.{name} must be at least {4 * self.stride} (4 heatmap pixels at "
                    f"stride {self.stride}); got {value}"
                )

    @property
    def heatmap_shape(self) -> tuple[int, int]:
        return self.height // self.stride, self.width // self.stride


@dataclass
class GeneratorConfig(_Section):
    """Stacked hourglass (Newell et al.): ``stacks`` hourglasses (1–16) of ``depth`` levels
    (1–8) with ``channels`` features (8–1024), each supervised (intermediate supervision)."""

    section: ClassVar[str] = "generator"
    stacks: int = setting(2, 1, 16)
    channels: int = setting(64, 8, 1024)
    depth: int = setting(4, 1, 8)


@dataclass
class DiscriminatorConfig(_Section):
    """Pose (heatmaps + image) and confidence (heatmaps only) discriminators: ``layers``
    (1–8) strided conv blocks starting at ``channels`` (4–512) features, then a K-vector of
    sigmoids."""

    section: ClassVar[str] = "discriminator"
    channels: int = setting(32, 4, 512)
    layers: int = setting(4, 1, 8)


@dataclass
class LossConfig(_Section):
    """Heatmap and adversarial losses.

    sigma: Gaussian width of target heatmaps, in heatmap pixels (0–20].
    foreground_weight: γ in the heatmap loss weight (1 + γ·target); 0 = plain MSE.
    alpha / beta: weights (≥ 0) of the confidence / pose adversarial terms in the generator
        loss (the reference used α = 1/220, β = 1/138 … 1/180).
    tolerance_mm: a generated landmark within this distance (> 0 mm) of the truth is
        "correct" (its discriminator target p_fake / c_fake is 1).
    presence_threshold: a heatmap whose maximum is below this (0–1) reports "absent".
    unlabelled_weight: weight (≥ 0) of the adversarial terms on unlabelled images
        (``apn train --unlabelled``): in the adversarial phase the generator also gets
        ``unlabelled_weight · (β·L_adv^P + α·L_adv^C)`` on a batch of unlabelled images —
        it learns to make the discriminators judge its heatmaps there correct; the
        discriminators themselves learn from labelled images only. 0 switches it off.
    consistency_weight: weight (≥ 0) of flip consistency on unlabelled images: the mean
        squared difference between the last stack's heatmaps of an image and those of its
        mirror image (mirrored back, left/right landmarks swapped). Applied in both phases
        when > 0 (one more generator pass per step); 0 (default) switches it off.
    """

    section: ClassVar[str] = "loss"
    sigma: float = setting(1.5, 0, 20, low_open=True)
    foreground_weight: float = setting(10.0, 0, 1000)
    alpha: float = setting(1 / 220, 0, 100)
    beta: float = setting(1 / 180, 0, 100)
    tolerance_mm: float = setting(10.0, 0, 1000, low_open=True)
    presence_threshold: float = setting(0.3, 0, 1, low_open=True, high_open=True)
    unlabelled_weight: float = setting(1.0, 0, 100)
    consistency_weight: float = setting(0.0, 0, 1000)


@dataclass
class AugmentConfig(_Section):
    """Landmark-consistent augmentation of each batch, on the training device, vectorised
    over the batch (:mod:`apn_core.train.augment`). Each operation is drawn per image with
    its probability (``*_prob``, 0–1; 0 switches it off) and its range ``[low, high]``.

    Geometry (one resampling; landmarks follow exactly; a landmark moved out of the frame,
    into a cropped band or under a border becomes *absent*):
    flip_prob: horizontal flip, left/right landmarks swapped. rotation_deg: ± degrees
    (0–180). scale: zoom range (> 0), drawn log-uniformly; < 1 widens the field of view,
    > 1 crops. translate: ± share of the size (0–0.5). anisotropy / anisotropy_prob: extra
    ± share (0–0.5) of opposite width/height scaling. crop_prob / crop_max: cut the top or
    the bottom 0–``crop_max`` (0–0.9) of the height, re-centred like a restricted view
    letterboxed; the band becomes black or flat padding.

    Intensity and processing: gamma / gamma_prob: exponent (> 0), log-uniform.
    contrast: factor about the mean (> 0), every image. tone_prob: a log or S-shaped
    (sigmoid) tone curve instead of linear. window_prob / window_width: clip to a random
    sub-range holding this share (0–1] of 0–1 and stretch it back. unsharp_prob /
    unsharp_amount / unsharp_radius: unsharp masking, amount 0–10, Gaussian radius in px
    (> 0). blur_prob / blur_sigma: Gaussian blur of σ in this range (px, 0–20). noise_std:
    Gaussian noise σ up to this (0–1) on every image; noise_signal: signal-dependent
    (quantum) noise σ·√I up to this (0–1). quantise_prob / quantise_bits: store with
    this many bits (1–16).

    Distractors: text_prob: bright text-like glyph blocks (half of them near a
    landmark). marker_prob: lead side markers (a bright square with a letter). ruler_prob:
    a bright ruler with ticks. grid_prob / grid_amplitude: faint periodic anti-scatter grid
    lines of amplitude up to this (0–1). seam_prob / seam_gain: a stitching seam with a
    gain step (factor range, > 0) below it. border_prob / border_max: flat collimation
    borders or padding (dark or bright) on one to four sides, each 30–100 % of this share
    (0–0.5) of the size. occluder_prob: bright metal-like ellipses over random landmarks, which stay
    *present* (the model must localise under them). enabled: false switches all off.
    """

    section: ClassVar[str] = "augment"
    flip_prob: float = setting(0.5, 0, 1)
    rotation_deg: float = setting(12.0, 0, 180)
    scale: tuple[float, float] = setting((0.75, 1.3), 0, 10, low_open=True)
    translate: float = setting(0.08, 0, 0.5)
    anisotropy: float = setting(0.05, 0, 0.5)
    anisotropy_prob: float = setting(0.3, 0, 1)
    crop_prob: float = setting(0.2, 0, 1)
    crop_max: float = setting(0.25, 0, 0.9)
    gamma: tuple[float, float] = setting((0.4, 2.5), 0, 10, low_open=True)
    gamma_prob: float = setting(0.5, 0, 1)
    contrast: tuple[float, float] = setting((0.8, 1.2), 0, 10, low_open=True)
    tone_prob: float = setting(0.3, 0, 1)
    window_prob: float = setting(0.2, 0, 1)
    window_width: tuple[float, float] = setting((0.5, 1.0), 0, 1, low_open=True)
    unsharp_prob: float = setting(0.2, 0, 1)
    unsharp_amount: tuple[float, float] = setting((0.0, 1.5), 0, 10)
    unsharp_radius: tuple[float, float] = setting((1.0, 8.0), 0, 50, low_open=True)
    blur_prob: float = setting(0.2, 0, 1)
    blur_sigma: tuple[float, float] = setting((0.5, 1.5), 0, 20)
    noise_std: float = setting(0.05, 0, 1)
    noise_signal: float = setting(0.05, 0, 1)
    quantise_prob: float = setting(0.2, 0, 1)
    quantise_bits: tuple[int, int] = setting((6, 8), 1, 16)
    text_prob: float = setting(0.3, 0, 1)
    marker_prob: float = setting(0.3, 0, 1)
    ruler_prob: float = setting(0.15, 0, 1)
    grid_prob: float = setting(0.15, 0, 1)
    grid_amplitude: float = setting(0.04, 0, 1)
    seam_prob: float = setting(0.15, 0, 1)
    seam_gain: tuple[float, float] = setting((0.85, 1.15), 0, 10, low_open=True)
    border_prob: float = setting(0.2, 0, 1)
    border_max: float = setting(0.12, 0, 0.5)
    occluder_prob: float = setting(0.25, 0, 1)
    enabled: bool = True


@dataclass
class TrainConfig(_Section):
    """The training job.

    epochs_pretrain: supervised epochs (heatmap MSE only, ≥ 0) before the adversarial phase.
    epochs_adversarial: epochs (≥ 0) with the pose and confidence discriminators; together
        at least one epoch.
    batch_size: images per step on CPU (≥ 1; fewer when the folder is smaller) — the
        batch the learning rates are given for, and what sets the steps of an epoch
        (training images ÷ batch_size).
    gpu_batch_size: images per step on CUDA; null = automatic: the largest power of two up
        to 128 (and to the training set) whose measured memory fits in 40 % of the GPU.
        A GPU epoch keeps the CPU epoch's steps, each of the larger batch (so it shows
        every image about gpu_batch/batch_size times, augmented differently).
    lr_scaling: how the learning rates follow a device batch B other than batch_size:
        ``sqrt`` (× √(B/batch_size), the rule for Adam), ``linear`` (× B/batch_size) or
        ``none``; a factor > 1 is reached by a linear warm-up over the first epoch.
    lr / lr_discriminator: Adam learning rates at batch_size (finite, > 0; cosine-decayed
        per epoch).
    val_fraction: share of the labelled folder held out for validation, in [0, 1)
        (deterministic by ``seed``), unless a separate validation folder is given.
    seed: 0 ≤ seed < 2³¹; the same seed gives the same initial weights, split and
        augmentations.
    workers: processes decoding images for the cache (0–64; 0 = in the main process).
    validate_every: validate (and consider a new ``best``) every this many epochs (≥ 1);
        the last epoch is always validated.
    max_minutes: stop cleanly (with a checkpoint) after this many minutes (> 0) of this
        invocation; ``--resume`` starts a new budget. ``null``: no limit.
    stop_after_steps: stop as if interrupted after this many steps (tests, debugging).
    adversarial: false trains the supervised baseline only (ablation).
    compile: ``torch.compile`` the networks (pays on a GPU for long runs; the first steps
        wait for compilation). Off by default.
    """

    section: ClassVar[str] = "train"
    epochs_pretrain: int = setting(40, 0, 100_000)
    epochs_adversarial: int = setting(20, 0, 100_000)
    batch_size: int = setting(8, 1, 4096)
    gpu_batch_size: int | None = setting(None, 1, 4096)
    lr_scaling: str = setting("sqrt", choices=("sqrt", "linear", "none"))
    lr: float = setting(2e-3, 0, None, low_open=True)
    lr_discriminator: float = setting(2e-4, 0, None, low_open=True)
    val_fraction: float = setting(0.1, 0, 1, high_open=True)
    seed: int = setting(0, 0, 2**31 - 1)
    workers: int = setting(2, 0, 64)
    validate_every: int = setting(1, 1, 100_000)
    max_minutes: float | None = setting(None, 0, None, low_open=True)
    stop_after_steps: int | None = setting(None, 1, None)
    adversarial: bool = True
    compile: bool = False

    def check(self) -> None:
        if self.epochs_pretrain + (self.epochs_adversarial if self.adversarial else 0) < 1:
            raise ConfigError(
                "train.epochs_pretrain + train.epochs_adversarial must be at least 1 "
                "(nothing to train)"
            )


@dataclass
class InitSource:
    """Where a fine-tuned run's weights came from (``apn train --init``); recorded in its
    ``config.json``.

    model: as given (``"default"`` or a run folder). source: ``bundled:<key>`` or the run
    folder's absolute path. weights / weights_sha256: the file read and its SHA-256.
    reinitialised: networks or layers that started fresh instead (a pose discriminator
    the source does not ship, layers whose shape depends on the landmark count).
    """

    model: str
    source: str
    weights: str
    weights_sha256: str
    reinitialised: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for f in ("model", "source", "weights", "weights_sha256"):
            if not isinstance(getattr(self, f), str):
                raise ConfigError(f"init.{f} must be text (got {getattr(self, f)!r})")
        if not isinstance(self.reinitialised, list | tuple) or not all(
            isinstance(x, str) for x in self.reinitialised
        ):
            raise ConfigError(
                f"init.reinitialised must be a list of names ({self.reinitialised!r})"
            )
        self.reinitialised = tuple(self.reinitialised)


DECODINGS = ("argmax", "quadratic")


@dataclass
class RunConfig:
    """Everything that defines a model; ``config.json`` of a run folder.

    preset: the preset it started from (a label). decoding: ``argmax`` (the reference) or
    ``quadratic`` (sub-pixel). version: napari-apn version that wrote it. init: set when the
    run was fine-tuned from another model (``apn train --init``).
    """

    preset: str = "default"
    landmarks: LandmarkSet = field(default_factory=lambda: DEFAULT_LANDMARKS)
    geometry: GeometryConfig = field(default_factory=GeometryConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decoding: str = "quadratic"
    version: str = ""
    init: InitSource | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.preset, str) or not self.preset:
            raise ConfigError(f"preset must be a name (got {self.preset!r})")
        if self.decoding not in DECODINGS:
            raise ConfigError(
                f"decoding must be one of {', '.join(DECODINGS)} (got {self.decoding!r})"
            )
        if not isinstance(self.version, str):
            raise ConfigError(f"version must be text (got {self.version!r})")
        if not isinstance(self.landmarks, LandmarkSet):
            raise ConfigError("landmarks must be a landmark set")
        for name, cls in SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"{name} must be a {cls.__name__}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, LandmarkSet):
                out[f.name] = value.to_dict()
            elif dataclasses.is_dataclass(value):
                out[f.name] = {
                    k: list(v) if isinstance(v, tuple) else v
                    for k, v in dataclasses.asdict(value).items()
                }
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d: Any) -> RunConfig:
        """A checked config from JSON-like data; :class:`ConfigError` names what is wrong."""
        if not isinstance(d, dict):
            raise ConfigError(f"a configuration must be a JSON object (got {type(d).__name__})")
        _refuse_unknown(d, cls)
        kwargs: dict[str, Any] = {}
        for name, value in d.items():
            if name == "landmarks":
                kwargs[name] = _landmarks(value)
            elif name == "init":
                kwargs[name] = None if value is None else _build(InitSource, value, "init")
            elif name in SECTIONS:
                kwargs[name] = _build(SECTIONS[name], value, name)
            else:
                kwargs[name] = value
        return cls(**kwargs)

    def replace(self, **sections: dict[str, Any]) -> RunConfig:
        """A checked copy with some fields of some sections changed:
        ``cfg.replace(train={"lr": 1e-3})``."""
        d = self.to_dict()
        for section, changes in sections.items():
            if isinstance(d.get(section), dict) and isinstance(changes, dict):
                d[section] = {**d[section], **changes}
            else:
                d[section] = changes
        return RunConfig.from_dict(d)

    def with_settings(self, settings: list[str]) -> RunConfig:
        """A copy with ``["section.key=value", ...]`` applied (``apn train --set``).

        Values are JSON (``1e-3``, ``true``, ``[0.9, 1.1]``, ``null``); anything that is not
        JSON is taken as a string. Raises :class:`ConfigError` naming the bad setting.
        """
        sections: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for item in settings:
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"{item!r} is not SECTION.KEY=VALUE")
            try:
                value = json.loads(text)
            except ValueError:
                value = text
            except RecursionError:
                raise ConfigError(f"{key.strip()}: the value is nested too deeply") from None
            if json_depth(value) > MAX_JSON_DEPTH:
                raise ConfigError(f"{key.strip()}: the value is nested too deeply")
            section, dot, name = key.strip().partition(".")
            if dot:
                if section not in SECTIONS:
                    raise ConfigError(
                        f"{item!r}: unknown section {section!r}; known: {', '.join(SECTIONS)}"
                    )
                sections.setdefault(section, {})[name] = value
            elif section == "decoding":
                top[section] = value
            else:
                raise ConfigError(f"{item!r}: give SECTION.KEY (e.g. train.lr=1e-3)")
        return self.replace(**sections, **top)


def _landmarks(value: Any) -> LandmarkSet:
    if not isinstance(value, dict) or not isinstance(value.get("names"), list):
        raise ConfigError('landmarks must be an object with a "names" list')
    if not all(isinstance(n, str) and n for n in value["names"]):
        raise ConfigError("landmarks.names must be non-empty texts")
    try:
        return LandmarkSet.from_dict(value)
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"landmarks: {exc}") from None


def _refuse_unknown(value: dict, cls, section: str = "") -> None:
    """:class:`ConfigError` naming the keys of ``value`` that are not fields of ``cls``."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(value) - known
    if unknown:
        where = f"{section} " if section else ""
        raise ConfigError(
            f"unknown {where}setting(s): {', '.join(sorted(map(str, unknown)))}; "
            f"known: {', '.join(sorted(known))}"
        )


def _build(cls, value: Any, name: str):
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be an object of settings (got {value!r})")
    _refuse_unknown(value, cls, name)
    try:
        return cls(**value)
    except TypeError as exc:  # a required field missing (init)
        raise ConfigError(f"{name}: {exc}") from None


SECTIONS: dict[str, type] = {
    "geometry": GeometryConfig,
    "generator": GeneratorConfig,
    "discriminator": DiscriminatorConfig,
    "loss": LossConfig,
    "augment": AugmentConfig,
    "train": TrainConfig,
}


def settings_table(config: RunConfig | None = None) -> str:
    """A Markdown table of every ``SECTION.KEY`` setting: its value in ``config`` (default:
    ``RunConfig()``) and what it allows — generated from the checks, for the README."""
    config = config or RunConfig()
    lines = ["| setting | default | allowed |", "| --- | --- | --- |"]
    for name, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        section = getattr(config, name)
        for f in dataclasses.fields(cls):
            value = getattr(section, f.name)
            shown = json.dumps(list(value) if isinstance(value, tuple) else value)
            allowed = _describe(hints[f.name], f.metadata)
            lines.append(f"| `{name}.{f.name}` | `{shown}` | {allowed} |")
    lines.append(
        f"| `decoding` | `{json.dumps(config.decoding)}` | one of {', '.join(DECODINGS)} |"
    )
    return "\n".join(lines)
