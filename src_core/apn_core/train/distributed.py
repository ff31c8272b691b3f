"""Process-group set-up for ``torchrun --nproc_per_node=N -m apn_core train ...``.

NCCL on GPUs (each process on its own ``cuda:LOCAL_RANK``), gloo on CPU. Every collective
runs on the training device: NCCL has no CPU backend, so a CPU tensor in an NCCL group
fails (``No backend type associated with device type cpu``). Under torchrun the process
group is started even for one process, so ``--nproc_per_node=1`` runs the same code path
as N. Outside torchrun everything is a single process (rank 0) without a group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place: ``enabled`` when a process group is running (torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def under_torchrun() -> bool:
    """True in a process started by torchrun (it sets these variables for every worker)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"))


def init_distributed(device: torch.device) -> DistInfo:
    """Start the process group under torchrun; pick this process's device (``cuda:LOCAL_RANK``)."""
    if not under_torchrun():
        return DistInfo(device=device)
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl", device_id=device)
    else:
        dist.init_process_group(backend="gloo")
    return DistInfo(
        rank=dist.get_rank(),
        world=dist.get_world_size(),
        local_rank=local_rank,
        device=device,
        enabled=True,
    )


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True if ``flag`` is true on any rank (so all ranks stop together)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def min_over_ranks(value: int, info: DistInfo) -> int:
    """The smallest ``value`` of all ranks (so that all agree, e.g. on a batch size)."""
    if not info.enabled:
        return value
    t = torch.tensor([float(value)], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


def barrier(info: DistInfo) -> None:
    """Wait for every rank (on the training device's backend)."""
    if not info.enabled:
        return
    if info.device.type == "cuda":
        dist.barrier(device_ids=[info.device.index])
    else:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
