"""Training windows of a panel, drawn lazily, and the per-window scaling that lets series share weights.

Window ``k`` of series ``s`` has its targets end (exclusively) at position ``e = m_s + H + k`` of the
series and reads the ``L`` inputs before them, ``x = y[e-H-L : e-H]`` (positions before 0 repeat the first
value: a series shorter than ``L + H`` still gives windows with at least ``m_s`` real inputs). Every
window's targets end at or before the series' training end (its last ``val_size`` points validate).

Scaling (per window, so that a series of level 10 and one of level 10^6 look alike to the network):

    level = mean(|x|)  ("mean")   or   |x_L|  ("last");   level = 1 where it is 0
    u = x / level,  t = y / level          then, with ``log``:  u = log u,  t = log t

and a forecast ``t_hat`` in that space is ``level * t_hat`` (``level * exp(t_hat)`` with ``log``).

An epoch is ``batches_per_epoch`` batches of ``batch_size`` windows drawn uniformly from all windows of
all series (an index into their cumulative counts, resolved by ``searchsorted``): nothing but the batch
in hand is ever built. Under torchrun each rank takes its disjoint slice of every batch, so the ranks
together take the same steps as one process.

Symbols: ``S`` series, ``B`` windows, ``L`` lookback, ``H`` horizon.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.data.panel import Panel

SCALINGS = ("mean", "last")
LOSSES = ("mae", "mse")


def scale(x: np.ndarray, y: np.ndarray | None, scaling: str, log: bool):
    """``(u, t, level)``: the windows in the network's space (see the module docstring).

    Shape:
        x ``(B, L)``, y ``(B, H)`` or None -> u ``(B, L)``, t ``(B, H)`` or None, level ``(B, 1)``.
    """
    x = x.astype(np.float32, copy=False)
    # level = mean(|x|) or |x_L|
    level = np.abs(x).mean(axis=1, keepdims=True) if scaling == "mean" else np.abs(x[:, -1:])
    level = np.where(level > 0, level, np.float32(1.0))
    u = x / level
    t = None if y is None else y.astype(np.float32, copy=False) / level
    if log:
        u = np.log(np.maximum(u, 1e-6))
        t = None if t is None else np.log(np.maximum(t, 1e-6))
    return u, t, level


def unscale(t_hat: np.ndarray, level: np.ndarray, log: bool) -> np.ndarray:
    """Forecasts back in the series' units: ``level * t_hat`` (``level * exp(t_hat)`` with ``log``)."""
    return level * (np.exp(np.minimum(t_hat, 50.0)) if log else t_hat)


class PanelWindows:
    """The training task for :func:`rnnlab.train.fit` over a panel's windows (see the module docstring).

    Args:
        panel: the series (their training part and the validation points after it).
        lookback, horizon: ``L`` and ``H``.
        val_size: the last points of every series that only validate.
        scaling, log: see :func:`scale`.
        loss: ``"mae"`` or ``"mse"`` in the scaled space.
        batch_size, batches_per_epoch: an epoch is this many batches of this many windows.
        max_val_series: the validation loss reads the last window of at most this many series (evenly spaced).
    """

    def __init__(self, panel: Panel, lookback: int, horizon: int, val_size: int, scaling: str, log: bool,
                 loss: str, batch_size: int, batches_per_epoch: int, max_val_series: int = 5000) -> None:
        self.panel, self.lookback, self.horizon = panel, lookback, horizon
        self.scaling, self.log, self.batch_size, self.batches_per_epoch = scaling, log, batch_size, batches_per_epoch
        self.loss_fn = nn.functional.l1_loss if loss == "mae" else nn.functional.mse_loss
        train_end = panel.lengths - val_size  # targets of training windows end at or before here
        self.first_end = np.minimum(lookback, train_end - horizon) + horizon  # e of window 0: m_s + H
        counts = np.maximum(train_end - self.first_end + 1, 0)
        self.cumulative = np.cumsum(counts)
        self.total = int(self.cumulative[-1])
        if self.total == 0:
            raise ValueError("forecast: no series is long enough for one training window")
        rows = np.unique(np.linspace(0, len(panel) - 1, min(len(panel), max_val_series)).round().astype(np.int64))
        if val_size > 0:  # the window whose targets are each series' last H points
            ends = panel.lengths[rows]
            u, t, _ = scale(panel.gather(rows, ends - horizon, lookback), panel.gather(rows, ends, horizon),
                            scaling, log)
        else:
            u, t = self.window(np.linspace(0, self.total - 1, len(rows)).astype(np.int64))
        self.u_val, self.t_val = torch.from_numpy(u)[..., None], torch.from_numpy(t)  # -> (B, L, 1), (B, H)

    def locate(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Window numbers over the whole panel -> (series, end of targets)."""
        series = np.searchsorted(self.cumulative, flat, side="right")
        before = np.where(series > 0, self.cumulative[np.maximum(series - 1, 0)], 0)
        return series, self.first_end[series] + (flat - before)

    def window(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scaled inputs and targets of the windows numbered ``flat``: ``(B, L)``, ``(B, H)``."""
        series, ends = self.locate(flat)
        x = self.panel.gather(series, ends - self.horizon, self.lookback)
        y = self.panel.gather(series, ends, self.horizon)
        u, t, _ = scale(x, y, self.scaling, self.log)
        return u, t

    def batches(self, epoch: int, generator: torch.Generator, rank: int = 0, world_size: int = 1):
        """This rank's share of the epoch's batches: rows ``[r B / W, (r+1) B / W)`` of every batch of ``B``."""
        flat = torch.randint(self.total, (self.batches_per_epoch, self.batch_size), generator=generator).numpy()
        share = self.batch_size // world_size
        return _Batches(self, flat[:, rank * share:(rank + 1) * share])

    def loss(self, model: nn.Module, batch, state):
        u, t = batch
        device = next(model.parameters()).device
        return self.loss_fn(model(u.to(device)), t.to(device)), None

    def evaluate(self, model: nn.Module) -> float:
        device = next(model.parameters()).device
        return float(self.loss_fn(model(self.u_val.to(device)), self.t_val.to(device)))

    def sample(self, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` windows (all when fewer) for the least-squares start of the skip."""
        rng = np.random.default_rng(seed)
        flat = np.arange(self.total) if self.total <= count else rng.integers(0, self.total, count)
        return self.window(flat)


class _Batches:
    """One epoch's batches, built one at a time from their window numbers ``(batches, rows)``."""

    def __init__(self, task: PanelWindows, flat: np.ndarray) -> None:
        self.task, self.flat = task, flat

    def __len__(self) -> int:
        return len(self.flat)

    def __iter__(self):
        for row in self.flat:
            u, t = self.task.window(row)
            yield torch.from_numpy(u)[..., None], torch.from_numpy(t)  # -> (B, L, 1), (B, H)


def forecast_windows(net: nn.Module, x: np.ndarray, steps: int, horizon: int, scaling: str, log: bool) -> np.ndarray:
    """Forecast ``steps`` values after each raw window of ``x``, rolling ``H`` at a time.

    Shape:
        x ``(B, L)`` raw values -> ``(B, steps)`` raw forecasts.
    """
    device = next(net.parameters()).device
    buffer, out, lookback = x.astype(np.float32), [], x.shape[1]
    while sum(block.shape[1] for block in out) < steps:
        u, _, level = scale(buffer[:, -lookback:], None, scaling, log)
        with torch.no_grad():
            t_hat = net(torch.from_numpy(u)[..., None].to(device)).float().cpu().numpy()  # -> (B, H)
        block = unscale(t_hat, level, log)
        out.append(block)
        buffer = np.concatenate([buffer, block.astype(np.float32)], axis=1)
    return np.concatenate(out, axis=1)[:, :steps].astype(np.float64)


def as_tensor(array) -> Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float32))
