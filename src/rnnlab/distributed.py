"""This process's place in a torchrun job and its device, and the one all-reduce per step that keeps the
ranks in step.

:func:`resolve_device` turns a ``device`` setting into a ``torch.device``; :func:`rank` and
:func:`world_size` read torchrun's environment (the one place that does: only rank 0 writes a run
directory or prints, and they must answer the same after the process group is gone).

Under torchrun (``WORLD_SIZE`` > 1) :meth:`Distributed.start` joins or creates the process group (gloo on
CPU, NCCL on CUDA, one GPU per ``LOCAL_RANK``); outside it, it is rank 0 of 1 and every method is a
no-op. :meth:`Distributed.agree` makes every rank take the same decision after each forward pass (a rank
out of batches ends the epoch for all; a NaN, a Ctrl-C or the end of the time budget on any rank stops
all), so all ranks take the same steps and collectives never hang. Used by :func:`rnnlab.train.fit`.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor, nn


class Agreement(NamedTuple):
    """What every rank does after this step's forward pass (the same on all ranks)."""

    epoch_ended: bool  # some rank is out of batches
    loss: float  # mean training loss over the ranks (NaN if any rank's is not finite)
    interrupted: bool  # some rank got Ctrl-C
    elapsed: float  # rank 0's training seconds


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> cuda if available else cpu; ``"cpu"``; ``"cuda"`` / ``"cuda:N"`` (must be available)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if isinstance(name, str) and (name == "cuda" or name.startswith("cuda:")):
        if not torch.cuda.is_available():
            raise ValueError(f"train: device {name!r} requested but CUDA is not available; use 'cpu' or 'auto'")
        return torch.device(name)
    raise ValueError(f"train: unknown device {name!r}; expected 'auto', 'cpu' or 'cuda'")


def rank() -> int:
    """This process's rank under torchrun (``RANK``), 0 otherwise; only rank 0 writes files and prints."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """The number of processes under torchrun (``WORLD_SIZE``), 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


_GROUP_NUMBER = itertools.count()  # process groups fit() created in this process


class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when not distributed)."""

    def __init__(self, device: torch.device, rank: int = 0, size: int = 1, created: bool = False):
        self.device, self.rank, self.size, self.created = device, rank, size, created

    @classmethod
    def start(cls, device: torch.device) -> "Distributed":
        """Join (or create, under torchrun) the process group; one GPU per LOCAL_RANK on CUDA."""
        initialised = dist.is_available() and dist.is_initialized()
        size = dist.get_world_size() if initialised else world_size()
        if size <= 1:
            return cls(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not initialised:
            # torchrun's store outlives our groups: a fresh key prefix per group this process creates, or a
            # second fit() in the same job would read the first group's keys and hang
            store, rank, size = next(dist.rendezvous("env://"))
            store = dist.PrefixStore(f"rnnlab.fit.{next(_GROUP_NUMBER)}", store)
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo", store=store, rank=rank,
                                    world_size=size)
        return cls(device, dist.get_rank(), dist.get_world_size(), created=not initialised)

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.size == 1:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def _tensor(self, values: list[float]) -> Tensor:
        return torch.tensor(values, dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")

    def agree(self, epoch_ended: bool, loss: Tensor | None, interrupted: bool, elapsed: float) -> Agreement:
        """One all-reduce: any rank out of batches, interrupted or non-finite counts for all; rank 0's clock."""
        value = float(loss.detach()) if loss is not None else 0.0
        if self.size == 1:
            return Agreement(epoch_ended, value, interrupted, elapsed)
        finite = math.isfinite(value)
        t = self._tensor([float(epoch_ended), value if finite else 0.0, float(not finite), float(interrupted),
                          elapsed if self.rank == 0 else 0.0])
        dist.all_reduce(t)
        ended, total, nonfinite, stop, clock = t.tolist()
        return Agreement(ended > 0, total / self.size if nonfinite == 0 else math.nan, stop > 0, clock)

    def broadcast(self, value: float) -> float:
        """Rank 0's value on every rank."""
        if self.size == 1:
            return value
        t = self._tensor([value])
        dist.broadcast(t, 0)
        return float(t.item())

    def minimum(self, value: int) -> int:
        if self.size == 1:
            return value
        t = self._tensor([float(value)])
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return int(t.item())

    def finish(self, barrier: bool) -> None:
        """Wait until every rank (and rank 0's files) is done, if all ranks got here together (``barrier``);
        destroy the process group if we created it."""
        if self.size > 1 and barrier:
            dist.barrier()
        if self.created and dist.is_initialized():
            dist.destroy_process_group()
