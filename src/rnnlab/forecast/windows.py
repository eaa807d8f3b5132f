"""The global model's windows, drawn lazily from a panel, their scaling and loss, and its network.

**Windows.** A window of series ``i`` is cut at a point ``c``: its inputs are the ``L`` values before
``c``, its targets the ``H`` values from ``c``. Inputs before the series' start are 0 with an observed-mask
of 0 (so a series shorter than ``L``, e.g. 7 yearly points, still trains), and targets past the end of the
training part are masked out of the loss (so the last points of every series train too). A batch draws
its series uniformly (every series weighs the same, whatever its length) and then its cut point uniformly
in ``[min(max(m, 2), n_i - 1), n_i - 1]``. Only the batch in hand is ever built, by index arithmetic over
the panel's one array (:meth:`rnnlab.data.panel.Panel.gather`).

**Scaling.** Each window is divided by its level, the mean of the observed values of its last season
(``m`` values; the last value when ``m = 1``): ``u = x / level - 1``, and the network's output ``o`` is the
forecast ``y_hat = level (1 + o)``. So series of any level share weights.

**Loss.** MASE-scaled absolute error in the series' own units: ``|y - y_hat| / s_i`` with ``s_i`` series
``i``'s in-sample seasonal-naive MAE (the MASE denominator), summed over unmasked targets and divided by
``B H`` (a constant, so that two torchrun ranks' halves average to the whole batch's loss).

**Network** (:class:`GlobalNet`): the lesson's RNN reading the window **one season per step** (input: the
``m`` scaled values of that season and their ``m`` mask bits; monthly ``L = 36`` is 3 steps of 24 features),
a linear head on its last state, plus a linear skip from the scaled window, started at zero.

**Quantiles** (``quantiles=(0.1, 0.5, 0.9)``): the head gives ``Q`` outputs per step, made non-crossing by
:func:`rnnlab.forecast.quantiles.monotone` (the median plus cumulative softplus steps), and the skip shifts
all of them: ``o_q = monotone(fc(h_P))_q + skip(u)``. The loss is then the pinball loss scaled as the point
loss is, ``(2 / Q) sum_q rho_q(y - level (1 + o_q)) / s_i`` with ``rho_q(e) = max(q e, (q - 1) e)`` (for the
median alone, ``Q = 1``, exactly the absolute error above). Levels are a monotone map of ``o``, so they stay
ordered in the series' units.

**Covariates** (:mod:`rnnlab.forecast.panel_covariates`): each step of the RNN then also reads the
calendar and past covariates of its ``m`` points (``input_size = (2 + C - R) m``: the lesson's ``input_size``
meaning something), and the head and a second linear skip read the calendar columns of the ``H`` forecast
steps ``c`` and the series' static values ``z``. The user's ``R`` future columns (the **regressors**: prices,
distances, a law) enter once, with one coefficient each, as a regression with covariates on top of that
network, each taken relative to its level over the window's last season as the target is:

    o_h = fc([h_P, c, z])_h + (W_skip u)_h + (W_ahead c)_h + b_h + sum_f beta_f r_hf,
    r_hf = a_hf - mean(a_f over the observed points of the window's last season)

(``a`` in units of the column's training standard deviation, ``beta`` started at zero: training starts at
the model without them). So the network learns how far the target moves when a covariate moves away from
its recent level (``R`` weights), not what a covariate's absolute level was (a trending column, like
distance driven, leaves the training range), nor ``H^2`` free weights per column (as many again in the
head), which overfit a short series: on Seatbelts that design scored MASE 2.25 with ``kms`` and
``PetrolPrice`` against 1.81 without them; this one 1.74 (README: Covariates).

Symbols: ``S`` series, ``B`` windows, ``L`` lookback, ``H`` horizon, ``m`` season (patch), ``P = ceil(L/m)``,
``Q`` quantile levels, ``C = F + P_c`` covariates (``F`` future, ``R`` of them regressors, ``P_c`` past),
``K`` static values.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.data.panel import Panel
from rnnlab.forecast.quantiles import median_index, monotone, monotone_inverse, normal_quantiles
from rnnlab.models import SequenceRegressor

START_SPREAD = 0.1  # quantile heads start at the quantiles of N(0, 0.1^2) around the median: 10% of the level


def series_scale(panel: Panel, ends: np.ndarray, season: int) -> np.ndarray:
    """``(S,)`` MASE denominators: mean |y_t - y_{t-m}| over each series' first ``ends[i]`` points (m = 1 if too
    short; 1 where that is 0 or undefined)."""
    out = np.ones(len(panel))
    for i in range(len(panel)):
        y = panel.values[panel.offsets[i]:panel.offsets[i] + ends[i]].astype(np.float64)
        m = season if len(y) > season else 1
        scale = np.mean(np.abs(y[m:] - y[:-m])) if len(y) > m else 0.0
        out[i] = scale if scale > 0 else (np.mean(np.abs(y)) or 1.0)
    return out


def window(panel: Panel, series: np.ndarray, cuts: np.ndarray, lookback: int, horizon: int, ends: np.ndarray):
    """Raw inputs and targets of the windows cut at ``cuts``, with their masks (index arithmetic only).

    Shape:
        series, cuts ``(B,)`` -> x, x_mask ``(B, L)``; y, y_mask ``(B, H)`` (targets past ``ends[series]`` masked).
    """
    first, last = panel.offsets[series][:, None], panel.offsets[series + 1][:, None] - 1
    inputs = cuts[:, None] - lookback + np.arange(lookback)[None, :]  # positions in the series
    targets = cuts[:, None] + np.arange(horizon)[None, :]
    x_mask, y_mask = inputs >= 0, targets < ends[series][:, None]
    x = np.where(x_mask, panel.values[np.clip(first + inputs, first, last)], 0)
    y = np.where(y_mask, panel.values[np.clip(first + targets, first, last)], 0)
    return x.astype(np.float32), x_mask.astype(np.float32), y.astype(np.float32), y_mask.astype(np.float32)


def level_of(x: np.ndarray, x_mask: np.ndarray, season: int) -> np.ndarray:
    """``(B, 1)`` levels: the mean of the observed values of each window's last season (1 where none or 0)."""
    m = max(1, min(season, x.shape[1]))
    count = x_mask[:, -m:].sum(axis=1, keepdims=True)
    level = (x[:, -m:] * x_mask[:, -m:]).sum(axis=1, keepdims=True) / np.maximum(count, 1)
    return np.where(np.abs(level) > 0, level, 1.0).astype(np.float32)


class GlobalNet(nn.Module):
    """The RNN reading a scaled window one season per step, a linear head, and a linear skip (zero at start).

    ``o = fc(h_P) + W_skip u + b_skip``, ``h_P`` the RNN's last state over the ``P`` patches of ``[u, mask]``
    (with covariates, see the module docstring: ``regressors`` is ``R``, the first ``R`` future columns);
    with ``quantiles``, ``o_q = monotone(fc(h_P))_q + W_skip u + b_skip`` (see the module docstring), the
    steps away from the median starting at the quantiles of ``N(0, 0.1^2)``.

    Shape:
        u, mask ``(N, L)`` -> o ``(N, H)``, or ``(N, H, Q)`` with quantiles.
    """

    def __init__(self, lookback: int, horizon: int, patch: int, cell: str = "rnn", hidden_size: int = 64,
                 num_layers: int = 1, dropout: float = 0.0, engine: str = "auto", quantiles=None,
                 covariates: tuple[int, int, int] = (0, 0, 0), regressors: int = 0) -> None:
        super().__init__()
        self.lookback, self.patch, self.horizon = lookback, patch, horizon
        self.quantiles = None if not quantiles else tuple(float(q) for q in quantiles)
        self.future_size, self.past_size, self.static_size = (int(v) for v in covariates)
        self.regressors = int(regressors)  # R: the first R future columns enter through beta only
        channels = 2 + self.future_size - self.regressors + self.past_size  # per point: value, mask bit, covariates
        extra = horizon * (self.future_size - self.regressors) + self.static_size  # what the head reads beside h_P
        levels = 1 if self.quantiles is None else len(self.quantiles)
        self.pad = math.ceil(lookback / patch) * patch - lookback
        self.net = SequenceRegressor(channels * patch, hidden_size, horizon * levels, cell=cell,
                                     num_layers=num_layers, dropout=dropout, engine=engine)
        if extra:  # fc([h_P, a, z]), its covariate columns at zero: training starts at the covariate-free model
            self.net.fc = nn.Linear(hidden_size + extra, horizon * levels)
            with torch.no_grad():
                self.net.fc.weight[:, hidden_size:] = 0
        self.skip = nn.Linear(lookback, horizon)
        nn.init.zeros_(self.skip.weight)
        nn.init.zeros_(self.skip.bias)
        if self.future_size > self.regressors:  # W_ahead a: the calendar of the forecast steps, to the output
            self.ahead = nn.Linear(horizon * (self.future_size - self.regressors), horizon, bias=False)
            nn.init.zeros_(self.ahead.weight)
        if self.regressors:  # beta: o_h += sum_f beta_f r_hf, started at zero
            self.regression = nn.Linear(self.regressors, 1, bias=False)
            nn.init.zeros_(self.regression.weight)
        if self.quantiles is not None:  # start the steps at a modest spread (softplus(0) would be 69% of the level)
            center = median_index(self.quantiles)
            raw = monotone_inverse(normal_quantiles(self.quantiles, START_SPREAD), center)
            with torch.no_grad():
                bias = self.net.fc.bias.view(horizon, levels)
                bias[:, [j for j in range(levels) if j != center]] = torch.as_tensor(
                    np.delete(raw, center), dtype=bias.dtype)

    def forward(self, u: Tensor, mask: Tensor, cov: Tensor | None = None, ahead: Tensor | None = None,
                static: Tensor | None = None) -> Tensor:
        n = u.shape[0]
        effect = None
        if self.regressors:
            cov, ahead, effect = self._regress(cov, ahead, mask)
        steps = torch.stack([u, mask], dim=-1)  # -> (N, L, 2)
        if cov is not None and cov.shape[-1]:
            steps = torch.cat([steps, cov], dim=-1)  # -> (N, L, 2 + C)
        channels = steps.shape[-1]
        padded = nn.functional.pad(steps, (0, 0, self.pad, 0))  # -> (N, P m, 2 + C)
        # one step per season: the m values, then their m mask bits (then each covariate's m values)
        patches = padded.view(n, -1, self.patch, channels).transpose(2, 3).reshape(n, -1, channels * self.patch)
        skip = self.skip(u)  # -> (N, H)
        if effect is not None:
            skip = skip + effect
        if self.future_size > self.regressors or self.static_size:
            out, _ = self.net.rnn(patches)
            features = [out[:, -1]]  # h_P
            if self.future_size > self.regressors:
                features.append(ahead.flatten(1))  # (N, H, F) -> (N, H F)
                skip = skip + self.ahead(ahead.flatten(1))
            if self.static_size:
                features.append(static)
            head = self.net.fc(torch.cat(features, dim=1))
        else:
            head = self.net(patches)  # -> (N, H) or (N, H Q)
        if self.quantiles is None:
            return head + skip  # -> (N, H)
        raw = head.unflatten(1, (self.horizon, len(self.quantiles)))  # -> (N, H, Q)
        return monotone(raw, median_index(self.quantiles)) + skip.unsqueeze(-1)  # -> (N, H, Q)

    def _regress(self, cov: Tensor, ahead: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Split off the regressors: ``sum_f beta_f r_hf`` with ``r_hf = a_hf - mean(a_f over the window's last
        season, observed points)``; the other covariates go on as before.

        Shape:
            cov ``(N, L, C)``, ahead ``(N, H, F)``, mask ``(N, L)`` -> ``(N, L, C - R)``, ``(N, H, F - R)``,
            effect ``(N, H)``.
        """
        r, m = self.regressors, min(self.patch, cov.shape[1])
        weight = mask[:, -m:, None]
        level = (cov[:, -m:, :r] * weight).sum(1, keepdim=True) / weight.sum(1, keepdim=True).clamp(min=1)  # (N, 1, R)
        effect = self.regression(ahead[..., :r] - level).squeeze(-1)  # -> (N, H)
        return cov[..., r:], ahead[..., r:], effect


def covariate_window(covariates: tuple, series: np.ndarray, cuts: np.ndarray, lookback: int, horizon: int,
                     future_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The covariates of the windows cut at ``cuts`` (index arithmetic, as :func:`window`).

    Args:
        covariates: ``(values (T', C), offsets (S + 1,), static (S, K))`` from
            :meth:`rnnlab.forecast.panel_covariates.CovariateTable.arrays`.

    Shape:
        -> inputs ``(B, L, C)`` (0 before a series' start), ahead ``(B, H, F)``, static ``(B, K)``.
    """
    values, offsets, static = covariates
    first, length = offsets[series][:, None], (offsets[series + 1] - offsets[series])[:, None]
    inputs = cuts[:, None] - lookback + np.arange(lookback)[None, :]
    targets = cuts[:, None] + np.arange(horizon)[None, :]
    take = lambda pos: np.where(((pos >= 0) & (pos < length))[..., None],  # noqa: E731
                                values[np.clip(first + pos, first, first + length - 1)], 0)
    return take(inputs), take(targets)[..., :future_size], static[series]


class PanelWindows:
    """The global model's training task for :func:`rnnlab.train.fit` (see the module docstring).

    Args:
        panel: the series; ``val_size`` last points of each validate (0: a fixed sample of training windows
            gives the evaluation loss instead).
        lookback, horizon, season: ``L``, ``H``, ``m``.
        batch_size, batches_per_epoch: an epoch is this many batches of this many windows.
        seed: the fixed evaluation sample (``val_size = 0``).
    """

    def __init__(self, panel: Panel, lookback: int, horizon: int, season: int, val_size: int, batch_size: int,
                 batches_per_epoch: int, seed: int = 0, max_val_series: int = 5000, covariates: tuple | None = None,
                 future_size: int = 0) -> None:
        self.panel, self.lookback, self.horizon, self.season = panel, lookback, horizon, season
        self.covariates, self.future_size = covariates, future_size
        self.batch_size, self.batches_per_epoch = batch_size, batches_per_epoch
        self.ends = panel.lengths - val_size  # training part of each series
        self.scale = series_scale(panel, self.ends, season).astype(np.float32)
        self.first_cut = np.minimum(max(season, 2), self.ends - 1)
        self.eligible = np.flatnonzero(self.ends >= 2)
        if not len(self.eligible):
            raise ValueError("forecast: no series is long enough for one training window")
        rng = np.random.default_rng(seed)
        rows = np.unique(np.linspace(0, len(panel) - 1, min(len(panel), max_val_series)).round().astype(np.int64))
        if val_size > 0:  # the window whose targets are the validation points
            series, cuts, ends = rows, self.ends[rows], panel.lengths
        else:
            series = rng.choice(self.eligible, min(len(self.eligible), max_val_series), replace=False)
            cuts = self._cuts(series, rng.random(len(series)))
            ends = self.ends
        self.val = self.batch(series, cuts, ends)

    def _cuts(self, series: np.ndarray, u: np.ndarray) -> np.ndarray:
        low, high = self.first_cut[series], self.ends[series] - 1
        return low + np.minimum((u * (high - low + 1)).astype(np.int64), high - low)

    def batch(self, series: np.ndarray, cuts: np.ndarray, ends: np.ndarray) -> tuple[Tensor, ...]:
        """``(u, x_mask, y, y_mask, level, scale)`` tensors of the windows cut at ``cuts``, then with covariates
        ``(inputs, ahead, static)``."""
        x, x_mask, y, y_mask = window(self.panel, series, cuts, self.lookback, self.horizon, ends)
        level = level_of(x, x_mask, self.season)
        u = (x / level - 1) * x_mask  # u = x / level - 1 where observed
        arrays = [u, x_mask, y, y_mask, level, self.scale[series][:, None]]
        if self.covariates is not None:  # future covariates past the training part are not shown: a model
            # trained on them would learn "this window ends near the end" from values it has no targets for
            inputs, ahead, static = covariate_window(self.covariates, series, cuts, self.lookback, self.horizon,
                                                     self.future_size)
            arrays.extend([inputs, ahead * y_mask[..., None], static])
        return tuple(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in arrays)

    def batches(self, epoch: int, generator: torch.Generator, rank: int = 0, world_size: int = 1):
        """This rank's share of the epoch's batches: rows ``[r B / W, (r+1) B / W)`` of every batch of ``B``."""
        shape = (self.batches_per_epoch, self.batch_size)
        pick = torch.randint(len(self.eligible), shape, generator=generator).numpy()
        u = torch.rand(shape, generator=generator, dtype=torch.float64).numpy()
        share = self.batch_size // world_size
        rows = slice(rank * share, (rank + 1) * share)
        return _Batches(self, self.eligible[pick[:, rows]], u[:, rows])

    def loss(self, model: nn.Module, batch, state):
        return batch_loss(model, batch), None

    def evaluate(self, model: nn.Module) -> float:
        return float(batch_loss(model, self.val))


def batch_loss(model: nn.Module, batch: tuple[Tensor, ...]) -> Tensor:
    """``sum |y - level (1 + o)| / s`` over unmasked targets, divided by ``B H``; with quantiles
    ``(2 / Q) sum_q rho_q(y - level (1 + o_q)) / s`` (see the module docstring)."""
    device = next(model.parameters()).device
    u, x_mask, y, y_mask, level, scale, *covariates = (t.to(device) for t in batch)
    o = model(u, x_mask, *covariates)  # -> (B, H) or (B, H, Q)
    quantiles = getattr(model, "quantiles", None)
    if quantiles is None:
        y_hat = level * (1 + o)  # -> (B, H)
        return ((y - y_hat).abs() / scale * y_mask).sum() / y.numel()
    y_hat = level.unsqueeze(-1) * (1 + o)  # -> (B, H, Q)
    q = torch.as_tensor(quantiles, dtype=o.dtype, device=device)
    e = y.unsqueeze(-1) - y_hat
    rho = torch.maximum(q * e, (q - 1) * e)  # rho_q(e) = max(q e, (q - 1) e)
    return (rho / scale.unsqueeze(-1) * y_mask.unsqueeze(-1)).sum() * (2 / len(quantiles)) / y.numel()


class _Batches:
    """One epoch's batches, each built when it is reached from its series and uniform draws."""

    def __init__(self, task: PanelWindows, series: np.ndarray, u: np.ndarray) -> None:
        self.task, self.series, self.u = task, series, u

    def __len__(self) -> int:
        return len(self.series)

    def __iter__(self):
        for series, u in zip(self.series, self.u):
            yield self.task.batch(series, self.task._cuts(series, u), self.task.ends)


def forecast_windows(net: GlobalNet, x: np.ndarray, x_mask: np.ndarray, steps: int, season: int,
                     covariates=None) -> np.ndarray:
    """Forecast ``steps`` values after each raw window, ``H`` at a time (forecasts fed back as observed; with
    quantiles, the median is fed back, so later blocks are conditional on it: narrower than the truth).

    Args:
        covariates: with a covariate model, ``(arrays, series, cuts)``: the arrays of
            :meth:`~rnnlab.forecast.panel_covariates.CovariateTable.arrays` (running ``steps`` past each cut)
            and where each window is cut.

    Shape:
        x, x_mask ``(B, L)`` -> ``(B, steps)`` float64, or ``(B, steps, Q)`` with quantiles.
    """
    device = next(net.parameters()).device
    quantiles = getattr(net, "quantiles", None)
    lookback, out, done = x.shape[1], [], 0
    tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)  # noqa: E731
    while done < steps:
        level = level_of(x, x_mask, season)
        u = (x / level - 1) * x_mask
        extra = []
        if covariates is not None:
            arrays, series, cuts = covariates
            extra = [tensor(a) for a in covariate_window(arrays, series, cuts + done, lookback, net.horizon,
                                                         net.future_size)]
            extra[0] = extra[0] * tensor(x_mask)[..., None]  # nothing before a series' start
            if done and net.past_size:  # past covariates are unknown after the origin
                extra[0][:, max(0, lookback - done):, net.future_size:] = 0
        with torch.no_grad():
            o = net(tensor(u), tensor(x_mask), *extra).double().cpu().numpy()
        block = (level if quantiles is None else level[..., None]) * (1 + o)  # y_hat = level (1 + o)
        out.append(block)
        done += block.shape[1]
        point = block if quantiles is None else block[..., median_index(quantiles)]
        x = np.concatenate([x, point], axis=1)[:, -lookback:]
        x_mask = np.concatenate([x_mask, np.ones_like(point)], axis=1)[:, -lookback:]
    return np.concatenate(out, axis=1)[:, :steps].astype(np.float64)
