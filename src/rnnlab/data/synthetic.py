"""Generated series: the lesson's sine wave, longer and optionally noisy; a panel of seasonal series.

The lesson samples ``t = linspace(0, 20, 100)`` and trains on ``x = sin t``: a step of ``20/99`` radians,
about 31 points per period. :func:`sine` keeps that step and lets the series run longer (so there is room
for a lookback, a validation part and a test part) and carry Gaussian noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LESSON_STEP = 20.0 / 99.0  # radians between points in the lesson's linspace(0, 20, 100)


def sine(length: int = 400, noise: float = 0.0, step: float = LESSON_STEP, seed: int = 0) -> pd.Series:
    """The lesson's sine wave ``x_i = sin(i * step) + noise * e_i``, ``e_i ~ N(0, 1)``.

    Args:
        length: number of points. Default: 400 (about 13 periods).
        noise: standard deviation of the added Gaussian noise. Default: 0 (the lesson's clean wave).
        step: radians between consecutive points. Default: ``20/99``, the lesson's.
        seed: seed of the noise. Default: 0.

    Returns:
        A float64 ``pandas.Series`` named ``"sine"`` of ``length`` values on a ``RangeIndex``.

    Example:
        >>> s = sine(100)
        >>> len(s), round(float(s.iloc[1]), 4)
        (100, 0.2006)
    """
    if not isinstance(length, (int, np.integer)) or length < 2:
        raise ValueError(f"sine: length must be an integer >= 2, got {length!r}")
    if noise < 0:
        raise ValueError(f"sine: noise must be >= 0, got {noise!r}")
    t = np.arange(length) * step
    # x_i = sin(t_i) + noise * e_i
    x = np.sin(t)
    if noise > 0:
        x = x + noise * np.random.default_rng(seed).standard_normal(length)
    return pd.Series(x, name="sine")


def seasonal_panel(series: int = 100, length: int = 120, season: int = 12, noise: float = 0.1,
                   seed: int = 0):
    """A panel of positive seasonal series: level x (1 + trend) x (1 + amplitude sin) x (1 + noise).

    ``y_{s,t} = a_s (1 + b_s t / T) (1 + c_s sin(2 pi t / m + p_s)) (1 + noise e_{s,t})``, with levels
    ``a_s`` log-uniform over 1 .. 10^4, trends ``b_s`` in [-0.3, 0.5], amplitudes ``c_s`` in [0.1, 0.5] and
    phases ``p_s`` uniform: series of any level that share one shape, what a global model learns.
    Built straight into the panel's one float32 array (100,000 series x 300 points: 120 MB), without dates.

    Example:
        >>> p = seasonal_panel(3, 24)
        >>> len(p), int(p.lengths.sum())
        (3, 72)
    """
    from rnnlab.data.panel import Panel  # panel.py imports series.py, which imports this module

    rng = np.random.default_rng(seed)
    values = np.empty(series * length, dtype=np.float32)
    t = np.arange(length, dtype=np.float32)
    block = max(1, 2_000_000 // length)  # series generated at once: bounded memory
    for first in range(0, series, block):
        n = min(block, series - first)
        level = (10 ** rng.uniform(0, 4, (n, 1))).astype(np.float32)
        trend = rng.uniform(-0.3, 0.5, (n, 1)).astype(np.float32)
        amplitude = rng.uniform(0.1, 0.5, (n, 1)).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, (n, 1)).astype(np.float32)
        e = rng.standard_normal((n, length), dtype=np.float32)
        # y = a (1 + b t / T) (1 + c sin(2 pi t / m + p)) (1 + noise e)
        y = level * (1 + trend * t / length) * (1 + amplitude * np.sin(2 * np.pi * t / season + phase))
        values[first * length:(first + n) * length] = (y * np.maximum(1 + noise * e, 0.05)).reshape(-1)
    offsets = np.arange(series + 1, dtype=np.int64) * length
    return Panel.from_arrays(values, offsets, source=f"seasonal_panel(series={series}, length={length})")
