"""Run by tests/forecast/test_panel.py under ``python -m torch.distributed.run --nproc-per-node 2``.

Each rank fits the same global PanelForecaster (ranks take disjoint halves of every batch of windows) and
rank ``r`` writes its weights to ``OUT/rank<r>.safetensors``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SETTINGS = dict(horizon=4, lookback=8, hidden_size=6, batch_size=16, batches_per_epoch=5, steps=12, lr=0.01,
                quiet=True, device="cpu", engine="loop", seed=3)


def fit():
    from rnnlab.data.synthetic import seasonal_panel
    from rnnlab.forecast.panel import PanelForecaster

    return PanelForecaster(**SETTINGS).fit(seasonal_panel(12, 30, season=4, seed=2))


if __name__ == "__main__":
    from safetensors.torch import save_file

    f = fit()
    out = Path(sys.argv[1])
    save_file({k: v.contiguous() for k, v in f.model_.state_dict().items()},
              str(out / f"rank{os.environ['RANK']}.safetensors"))
