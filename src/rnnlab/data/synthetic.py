"""Generated series: the lesson's sine wave, longer and optionally noisy.

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
