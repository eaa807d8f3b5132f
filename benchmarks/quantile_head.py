"""Which non-crossing quantile head fits better: cumulative softplus steps around the median, or sorting?

A two-layer network reads 4 Gaussian features and forecasts 3 steps ``y = f W + s(f) eps`` with a
heteroscedastic scale ``s(f) = 0.5 + 0.5 |f_1|``; both heads are trained with the pinball loss for the same
steps and compared by the mean absolute error of their quantiles to the analytic ones ``f W + s(f) z_q``.
Run: ``PYTHONPATH=src python benchmarks/quantile_head.py`` (about a minute on one core).
"""

import time

import numpy as np
import torch

from rnnlab.forecast.quantiles import monotone, normal_quantiles, pinball_loss

QUANTILES = (0.05, 0.1, 0.5, 0.9, 0.95)


def fit(kind: str, seed: int, steps: int = 1500) -> tuple[np.ndarray, float]:
    g = torch.Generator().manual_seed(seed)
    n, features, horizon = 4000, 4, 3
    f = torch.randn(n, features, generator=g)
    w = torch.randn(features, horizon, generator=g)
    y = f @ w + (0.5 + 0.5 * f[:, :1].abs()) * torch.randn(n, horizon, generator=g)
    torch.manual_seed(seed)
    body = torch.nn.Sequential(torch.nn.Linear(features, 32), torch.nn.Tanh())
    out = torch.nn.Linear(32, horizon * len(QUANTILES))
    optimizer = torch.optim.Adam([*body.parameters(), *out.parameters()], lr=1e-2)

    def forward(x):
        raw = out(body(x)).unflatten(-1, (horizon, len(QUANTILES)))
        return monotone(raw, QUANTILES.index(0.5)) if kind == "softplus" else torch.sort(raw, dim=-1).values

    start = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(0, n, (256,), generator=g)
        loss = pinball_loss(forward(f[index]), y[index], QUANTILES)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    fx = torch.randn(2000, features, generator=g)
    z = torch.as_tensor(normal_quantiles(QUANTILES), dtype=torch.float32)
    truth = (fx @ w)[..., None] + (0.5 + 0.5 * fx[:, :1].abs())[..., None] * z
    with torch.no_grad():
        error = (forward(fx) - truth).abs().mean(dim=(0, 1)).numpy()
    return error, seconds


if __name__ == "__main__":
    torch.set_num_threads(1)
    for seed in range(3):
        for kind in ("softplus", "sort"):
            error, seconds = fit(kind, seed)
            print(f"{kind:<9} seed {seed}: mean |error| per quantile {np.round(error, 3)}  "
                  f"(mean {error.mean():.3f}, {seconds:.1f} s)")
