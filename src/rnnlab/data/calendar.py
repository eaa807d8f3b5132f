"""Calendar features: where in the year, week or day each point falls, derived from its date.

For a known frequency the features are the position ``p`` in each cycle that frequency has, encoded as a
point on the unit circle so that the end of a cycle sits next to its start (December next to January):

    sin(2 pi p / P),  cos(2 pi p / P)

| frequency               | cycles (``p`` / ``P``)                                |
|-------------------------|--------------------------------------------------------|
| yearly                  | none (a year has no position within a longer cycle)    |
| quarterly               | quarter of the year (0-3 / 4)                          |
| monthly                 | month of the year (0-11 / 12)                          |
| weekly                  | week of the year (ISO week - 1 / 52.18)                |
| daily                   | day of the week (0-6 / 7), day of the year (0-365 / 365.25) |
| business-daily          | day of the week (0-4 / 5)                              |
| hourly                  | hour of the day (0-23 / 24), day of the week (0-6 / 7) |
| minutely                | minute of the hour (0-59 / 60), hour of the day (/ 24)  |

Sin/cos rather than one-hot: two inputs per cycle whatever its length (one-hot would add 52 for weekly
data), on the same ``[-1, 1]`` scale as standardised values, and smooth from one period to the next.

Symbols: ``T`` points, ``C`` features (2 per cycle).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _month(index: pd.DatetimeIndex) -> np.ndarray:
    return index.month.to_numpy() - 1


def _quarter(index: pd.DatetimeIndex) -> np.ndarray:
    return index.quarter.to_numpy() - 1


def _week(index: pd.DatetimeIndex) -> np.ndarray:
    return index.isocalendar().week.to_numpy().astype(np.float64) - 1


def _weekday(index: pd.DatetimeIndex) -> np.ndarray:
    return index.day_of_week.to_numpy()


def _yearday(index: pd.DatetimeIndex) -> np.ndarray:
    return index.day_of_year.to_numpy() - 1


def _hour(index: pd.DatetimeIndex) -> np.ndarray:
    return index.hour.to_numpy() + index.minute.to_numpy() / 60


def _minute(index: pd.DatetimeIndex) -> np.ndarray:
    return index.minute.to_numpy()


# cycle name -> (position in the cycle, cycle length P)
CYCLES = {
    "quarter": (_quarter, 4.0), "month": (_month, 12.0), "week": (_week, 52.18), "weekday": (_weekday, 7.0),
    "yearday": (_yearday, 365.25), "workday": (_weekday, 5.0), "hour": (_hour, 24.0), "minute": (_minute, 60.0),
}

# pandas offset prefix (longest match first) -> the cycles of that frequency
FREQUENCY_CYCLES = {
    "Y": (), "A": (), "Q": ("quarter",), "M": ("month",), "W": ("week",), "B": ("workday",),
    "D": ("weekday", "yearday"), "h": ("hour", "weekday"), "H": ("hour", "weekday"),
    "min": ("minute", "hour"), "T": ("minute", "hour"),
}


def cycles(freq: str | None) -> tuple[str, ...]:
    """The cycles encoded for a pandas frequency string (``"MS"`` -> ``("month",)``); ``()`` when unknown."""
    if not freq:
        return ()
    base = freq.split("-")[0].lstrip("0123456789")
    for prefix in sorted(FREQUENCY_CYCLES, key=len, reverse=True):
        if base.startswith(prefix):
            return FREQUENCY_CYCLES[prefix]
    return ()


def calendar_features(index: pd.Index, freq: str | None = None) -> pd.DataFrame:
    """Sin/cos calendar features of ``index`` for its frequency (see the module docstring).

    Args:
        index: the dates; a non-date index gives no features.
        freq: a pandas frequency string; default: the index's own (``index.freqstr`` or inferred).

    Returns:
        A float64 frame indexed by ``index`` with columns ``<cycle>_sin``, ``<cycle>_cos`` (``(T, C)``; no
        columns where the frequency is unknown or yearly).

    Example:
        >>> f = calendar_features(pd.date_range("2000-01", periods=12, freq="MS"))
        >>> list(f.columns), round(float(f["month_sin"].iloc[3]), 6)
        (['month_sin', 'month_cos'], 1.0)
    """
    if not isinstance(index, pd.DatetimeIndex):
        return pd.DataFrame(index=index)
    if freq is None:
        freq = index.freqstr or (pd.infer_freq(index) if len(index) >= 3 else None)
    columns = {}
    for name in cycles(freq):
        position, period = CYCLES[name]
        angle = 2 * np.pi * position(index) / period
        # sin(2 pi p / P), cos(2 pi p / P)
        columns[f"{name}_sin"], columns[f"{name}_cos"] = np.sin(angle), np.cos(angle)
    return pd.DataFrame(columns, index=index, dtype=np.float64)
