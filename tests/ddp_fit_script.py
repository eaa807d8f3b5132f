"""Run by tests/test_distributed.py under ``python -m torch.distributed.run --nproc-per-node 2``.

Each rank trains the same tiny linear model through rnnlab.train.fit on its half of every batch, with its
own run directory (``OUT/run-<rank>``, so the test can see which ranks wrote files), then dumps its final
parameters to ``OUT/rank<rank>.safetensors`` and its result to ``OUT/rank<rank>.json``.
Rank 1 gets one extra batch per epoch, which fit must drop so both ranks take the same steps.

Then the same run is interrupted by a SIGINT sent to rank 1 only (fit creates its process group a second
time) and resumed, in a process group the script creates itself, from the checkpoint in the shared
directory ``OUT/resume``; the resumed weights go to ``OUT/rank<rank>-resumed.safetensors``.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
from pathlib import Path

import torch
from torch import nn


class HalfBatches:
    """64 samples; step j of an epoch uses perm[16j:16j+16]: rank r takes its 8-sample half.

    With world_size=1 it yields the whole 16-sample batch: the single-process run DDP must reproduce.
    """

    def __init__(self, sigint_rank=None, sigint_at=None):
        self.sigint_rank, self.sigint_at, self.calls = sigint_rank, sigint_at, 0
        g = torch.Generator().manual_seed(3)
        self.x = torch.randn(64, 3, generator=g)
        self.y = self.x @ torch.tensor([1.0, -1.0, 2.0]) + 0.1 * torch.randn(64, generator=g)

    def batches(self, epoch, generator, rank=0, world_size=1):
        self.rank = rank
        perm = torch.randperm(64, generator=generator)
        size = 16 // world_size
        out = [perm[16 * j + size * rank:16 * j + size * (rank + 1)] for j in range(4)]
        if rank == 1:
            out.append(perm[:size])  # unequal batch counts: must not make the ranks disagree
        return out

    def loss(self, model, idx, state):
        self.calls += 1
        if self.rank == self.sigint_rank and self.calls == self.sigint_at:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C reaching one rank only
        return ((model(self.x[idx]).squeeze(-1) - self.y[idx]) ** 2).mean(), None

    def evaluate(self, model):
        return float(((model(self.x).squeeze(-1) - self.y) ** 2).mean())


CONFIG = dict(epochs=3, lr=0.05, eval_every=5, schedule="cosine", device="cpu", quiet=True)


def main(out: Path) -> None:
    import torch.distributed as dist
    from safetensors.torch import save_file

    from rnnlab.train import TrainConfig, TrainingInterrupted, fit

    rank = int(os.environ["RANK"])
    torch.manual_seed(100 + rank)  # different initial weights: DDP must broadcast rank 0's
    model = nn.Linear(3, 1)
    result = fit(model, HalfBatches(), TrainConfig(**CONFIG), run_dir=out / f"run-{rank}")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
    (out / f"rank{rank}.json").write_text(json.dumps({"steps": result.steps, "history": result.history}))
    assert not dist.is_initialized()  # fit destroyed the group it created

    torch.manual_seed(100 + rank)
    try:
        fit(nn.Linear(3, 1), HalfBatches(sigint_rank=1, sigint_at=8), TrainConfig(**CONFIG), run_dir=out / "resume")
        raise AssertionError("not interrupted")
    except TrainingInterrupted:
        pass
    assert not dist.is_initialized()

    # now fit joins a group it did not create (and leaves it alone)
    dist.init_process_group("gloo", store=dist.FileStore(str(out / "store"), 2), rank=rank, world_size=2)
    torch.manual_seed(999)  # other initial weights: only the checkpoint can make the result equal
    resumed = nn.Linear(3, 1)
    fit(resumed, HalfBatches(), TrainConfig(**CONFIG), run_dir=out / "resume", resume=True)
    save_file({k: v.contiguous() for k, v in resumed.state_dict().items()},
              str(out / f"rank{rank}-resumed.safetensors"))
    assert dist.is_initialized()
    dist.destroy_process_group()


if __name__ == "__main__":
    faulthandler.dump_traceback_later(120, exit=True)  # a hang shows where, instead of a silent timeout
    main(Path(sys.argv[1]))
