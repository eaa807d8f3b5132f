"""Run by tests/test_distributed.py under ``python -m torch.distributed.run --nproc-per-node 2``.

Each rank trains the same tiny linear model through rnnlab.train.fit on its half of every batch, with its
own run directory (``OUT/run-<rank>``, so the test can see which ranks wrote files), then dumps its final
parameters to ``OUT/rank<rank>.safetensors`` and its result to ``OUT/rank<rank>.json``.
Rank 1 gets one extra batch per epoch, which fit must drop so both ranks take the same steps.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from torch import nn


class HalfBatches:
    """64 samples; step j of an epoch uses perm[16j:16j+16]: rank r takes its 8-sample half.

    With world_size=1 it yields the whole 16-sample batch: the single-process run DDP must reproduce.
    """

    def __init__(self):
        g = torch.Generator().manual_seed(3)
        self.x = torch.randn(64, 3, generator=g)
        self.y = self.x @ torch.tensor([1.0, -1.0, 2.0]) + 0.1 * torch.randn(64, generator=g)

    def batches(self, epoch, generator, rank=0, world_size=1):
        perm = torch.randperm(64, generator=generator)
        size = 16 // world_size
        out = [perm[16 * j + size * rank:16 * j + size * (rank + 1)] for j in range(4)]
        if rank == 1:
            out.append(perm[:size])  # unequal batch counts: must not make the ranks disagree
        return out

    def loss(self, model, idx, state):
        return ((model(self.x[idx]).squeeze(-1) - self.y[idx]) ** 2).mean(), None

    def evaluate(self, model):
        return float(((model(self.x).squeeze(-1) - self.y) ** 2).mean())


CONFIG = dict(epochs=3, lr=0.05, eval_every=5, schedule="cosine", device="cpu", quiet=True)


def main(out: Path) -> None:
    from safetensors.torch import save_file

    from rnnlab.train import TrainConfig, fit

    rank = int(os.environ["RANK"])
    torch.manual_seed(100 + rank)  # different initial weights: DDP must broadcast rank 0's
    model = nn.Linear(3, 1)
    result = fit(model, HalfBatches(), TrainConfig(**CONFIG), run_dir=out / f"run-{rank}")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
    (out / f"rank{rank}.json").write_text(json.dumps({"steps": result.steps, "history": result.history}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
