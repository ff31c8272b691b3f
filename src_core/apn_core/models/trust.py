"""Whether a weights file can be trusted for a configuration: checked before any network
is built, and again once its values are read.

**Before building** (:func:`check_fits`): the network a ``config.json`` describes is built
on PyTorch's ``meta`` device — shapes and dtypes, no memory — and compared with the
tensor table in the safetensors header (read alone, bounded by :data:`MAX_HEADER_BYTES`).
A config whose every size is at its maximum beside a one-tensor weights file used to
allocate 7.4 GB and take 28 s before a shape error; now the mismatch is refused at once,
and a network that *is* built can be no larger than the file that fills it.

**After reading** (:func:`check_values`): every tensor has the dtype the network keeps
(float32 parameters; a bf16 or int64 tensor would be silently cast), every floating
value is finite, and none exceeds :data:`MAX_MAGNITUDE` in size (the bundled model's
largest is a BatchNorm running variance of ~1.4e3). Weights with NaN head biases or
heads × 1e30 used to predict "every landmark absent, none needs review" with exit 0.

Both raise :class:`~apn_core.errors.FileProblem` naming the weights file and the reason:
the CLI exits 2, napari shows it.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

from apn_core.config import RunConfig
from apn_core.errors import FileProblem
from apn_core.utils.files import open_regular

MAX_HEADER_BYTES = 16 << 20  # the bundled model's header is 75 kB
MAX_MAGNITUDE = 1e6
STATE_PREFIX = "state/"  # optimizer and loop state in a checkpoint: not network weights
_SHOWN = 4
DTYPES = {  # torch → safetensors header names
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}

Table = dict[str, tuple[tuple[int, ...], str]]  # name → (shape, safetensors dtype)


def expected_tensors(config: RunConfig) -> Table:
    """The ``"<network>.<param>"`` table of ``config``'s networks, built without memory."""
    from apn_core.models.networks import build_networks

    with torch.device("meta"):
        nets = build_networks(config)
    return table_of(nets.state_dict())


def table_of(tensors: dict[str, torch.Tensor]) -> Table:
    """The tensor table (shape, safetensors dtype name) of tensors in memory."""
    return {k: (tuple(v.shape), DTYPES.get(v.dtype, str(v.dtype))) for k, v in tensors.items()}


def file_tensors(path: str | Path) -> Table:
    """The tensor table of a safetensors file's header (nothing else is read); network
    weights only (not a checkpoint's ``state/`` tensors)."""
    path = Path(path)
    with open_regular(path, "weights file") as fh:
        head = fh.read(8)
        if len(head) < 8:
            reason = "empty file" if not head else "too short"
            raise FileProblem(path, f"not a readable safetensors weights file ({reason})")
        (size,) = struct.unpack("<Q", head)
        if size > MAX_HEADER_BYTES:
            raise FileProblem(
                path,
                f"not a readable safetensors weights file (its header declares {size:,} "
                f"bytes; at most {MAX_HEADER_BYTES:,})",
            )
        text = fh.read(size)
    try:
        header = json.loads(text)
        table = {
            name: (tuple(int(n) for n in entry["shape"]), str(entry["dtype"]))
            for name, entry in header.items()
            if name != "__metadata__" and not name.startswith(STATE_PREFIX)
        }
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise FileProblem(
            path, f"not a readable safetensors weights file (header: {str(exc)[:120]})"
        ) from None
    return table


def mismatch(
    expected: Table, got: Table, optional: tuple[str, ...] = ()
) -> tuple[list[str], list[str]]:
    """``(problems, left_out)``: what is missing, unexpected, of another shape or dtype in
    ``got`` against ``expected``; ``optional`` networks may be absent as a whole."""
    missing = set(expected) - set(got)
    unexpected = set(got) - set(expected)
    left_out = [
        name
        for name in optional
        if (own := {k for k in expected if k.startswith(name + ".")})
        and own <= missing
        and not any(k.startswith(name + ".") for k in got)
    ]
    for name in left_out:
        missing -= {k for k in expected if k.startswith(name + ".")}
    common = set(expected) & set(got)
    wrong = {k for k in common if got[k][0] != expected[k][0]}
    dtypes = {k for k in common - wrong if got[k][1] != expected[k][1]}
    problems = []
    if not got:
        problems.append("holds no weights")
    if missing:
        problems.append(f"missing {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected {_names(unexpected)}")
    if wrong:
        k = sorted(wrong)[0]
        problems.append(
            f"wrong shape for {_names(wrong)}, e.g. {k} is {got[k][0]} in the file but "
            f"{expected[k][0]} in the model"
        )
    if dtypes:
        k = sorted(dtypes)[0]
        problems.append(
            f"wrong type for {_names(dtypes)}, e.g. {k} is {got[k][1]} in the file but "
            f"{expected[k][1]} in the model (it would be cast silently)"
        )
    return problems, left_out


def check_fits(path: str | Path, config: RunConfig, optional: tuple[str, ...] = ()) -> None:
    """Refuse, before any network is built, a weights file that does not hold exactly the
    networks of ``config`` (``optional`` ones may be left out whole)."""
    from apn_core.models.networks import strip_ddp_prefix

    got = strip_ddp_prefix(file_tensors(path))  # type: ignore[arg-type]
    problems, _ = mismatch(expected_tensors(config), got, optional)
    if problems:
        raise FileProblem(
            path, "weights do not match the model in its config.json: " + "; ".join(problems)
        )


def check_values(weights: dict[str, torch.Tensor], path: str | Path) -> None:
    """Refuse weights with NaN/infinite values or magnitudes beyond :data:`MAX_MAGNITUDE`."""
    bad, huge = [], []
    peak, where = 0.0, ""
    for name, tensor in weights.items():
        if not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        values = tensor.detach().float()
        if not bool(torch.isfinite(values).all()):
            bad.append(name)
            continue
        top = float(values.abs().max())
        if top > MAX_MAGNITUDE:
            huge.append(name)
            if top > peak:
                peak, where = top, name
    if bad:
        raise FileProblem(
            path, f"untrustworthy weights: NaN or infinite values in {_names(set(bad))}"
        )
    if huge:
        raise FileProblem(
            path,
            f"untrustworthy weights: values up to {peak:.3g} (in {where}) in {_names(set(huge))}; "
            f"a trained network's stay below {MAX_MAGNITUDE:g}",
        )


def _names(keys: set[str]) -> str:
    shown = ", ".join(sorted(keys)[:_SHOWN])
    return f"{len(keys)} ({shown}{', …' if len(keys) > _SHOWN else ''})"
