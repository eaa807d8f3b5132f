"""Covariates: the other columns a forecast may read, checked and scaled.

Three kinds (the names of ``rnnlab forecast``'s flags):

- ``future_columns``: known in advance for the forecast period too (prices set ahead, promotions,
  holidays, a law's start date, the calendar). Training reads them over the lookback *and* over the
  horizon; forecasting therefore needs their values for every forecast point: :func:`check_future`.
- ``past_columns``: observed only up to the forecast origin (other measurements); read over the
  lookback only.
- ``static_columns``: one value per series of a panel (its region, its size); constant within a series.

Every covariate is a numeric column without missing values; a column that is not is one ``ValueError``
naming the column and the first bad row. :class:`CovariateScaler` standardises each column with its
training mean and deviation (a constant column is only centred).

The global model cuts them into windows beside the target (:mod:`rnnlab.forecast.panel_covariates`,
:func:`rnnlab.forecast.windows.covariate_window`).

Symbols: ``T`` points, ``P`` past and ``F`` future columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def _names(columns) -> tuple[str, ...]:
    if columns is None:
        return ()
    return (columns,) if isinstance(columns, str) else tuple(str(c) for c in columns)


def check_columns(frame: pd.DataFrame, columns, where: str = "row", first_row: int = 0,
                  kind: str = "covariate") -> np.ndarray:
    """Check covariate columns of ``frame`` and return them as a float64 ``(T, C)`` array.

    Args:
        frame: the data (e.g. a CSV read with pandas).
        columns: the column names.
        where, first_row: how a row is named in messages (e.g. ``"sales.csv line"`` and 2).
        kind: what the columns are, for messages (``"future covariate"``).

    Raises:
        ValueError: an unknown column (the columns are listed), a non-numeric value or a missing one (the
            column and the first row are named).
    """
    names = _names(columns)
    available = [str(c) for c in frame.columns]
    for name in names:
        if name not in available:
            raise ValueError(f"covariates: unknown {kind} column '{name}'; columns are: {', '.join(available)}")
    out = np.empty((len(frame), len(names)))
    for j, name in enumerate(names):
        raw = frame[name].reset_index(drop=True)
        numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = np.flatnonzero(numbers.isna().to_numpy() & raw.notna().to_numpy())
        if len(bad):
            raise ValueError(f"covariates: {kind} column '{name}' is not numeric: {raw.iloc[bad[0]]!r} at "
                             f"{where} {bad[0] + first_row}")
        missing = np.flatnonzero(~np.isfinite(numbers.to_numpy()))
        if len(missing):
            raise ValueError(f"covariates: {kind} column '{name}' has {len(missing)} missing value(s), the "
                             f"first at {where} {missing[0] + first_row}; covariates must be complete")
        out[:, j] = numbers.to_numpy()
    return out


def check_future(frame: pd.DataFrame, columns, forecast_index: pd.Index, where: str = "the data") -> np.ndarray:
    """The future covariates for the forecast period ``forecast_index``, or a ``ValueError`` saying what is missing.

    ``frame`` is indexed by time (dates or positions) and must hold a row with every future column for each
    label of ``forecast_index``.

    Returns:
        ``(len(forecast_index), F)`` float64.

    Raises:
        ValueError: a missing future column, or missing rows for the forecast period (the first missing
            time is named), or a non-numeric / missing value among them.
    """
    names = _names(columns)
    available = [str(c) for c in frame.columns]
    for name in names:
        if name not in available:
            raise ValueError(f"covariates: future covariate '{name}' is missing from {where}; the model was "
                             f"trained with it, so it needs its values for the forecast period "
                             f"{_label(forecast_index[0])} .. {_label(forecast_index[-1])}")
    absent = forecast_index.difference(frame.index)
    if len(absent):
        first = forecast_index[forecast_index.isin(absent)][0]
        raise ValueError(f"covariates: {where} has no row for {_label(first)} ({len(absent)} of the "
                         f"{len(forecast_index)} forecast points missing); future covariates "
                         f"{', '.join(names)} are needed for {_label(forecast_index[0])} .. "
                         f"{_label(forecast_index[-1])}")
    rows = frame.loc[forecast_index]
    return check_columns(rows.reset_index(drop=True), names, where=f"{where} forecast point", first_row=1,
                         kind="future covariate")


def _label(value) -> str:
    return str(value).replace(" 00:00:00", "")


def static_values(frame: pd.DataFrame, id_column: str, columns, where: str = "row",
                  first_row: int = 0) -> pd.DataFrame:
    """One row per series of a long frame: its static covariates, checked constant within the series.

    Returns:
        A float64 frame indexed by series id with one column per static covariate.

    Raises:
        ValueError: as :func:`check_columns`, or a value that changes within a series (named, with the row).
    """
    names = _names(columns)
    values = pd.DataFrame(check_columns(frame, names, where, first_row, kind="static covariate"), columns=names)
    ids = frame[id_column].astype(str).reset_index(drop=True)
    first = values.groupby(ids, sort=False).transform("first")
    for name in names:
        changed = np.flatnonzero(values[name].to_numpy() != first[name].to_numpy())
        if len(changed):
            row = changed[0]
            raise ValueError(f"covariates: static covariate '{name}' changes within series '{ids[row]}' "
                             f"(to {values[name][row]:g} at {where} {row + first_row}); a static column "
                             f"holds one value per series")
    return values.groupby(ids, sort=False).first()


@dataclass(frozen=True)
class CovariateScaler:
    """``c' = (c - mean) / std`` per column, fitted on training rows (``std = 1`` for a constant column).

    Attributes:
        mean, std: one per column.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, values: np.ndarray) -> "CovariateScaler":
        values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        std = values.std(axis=0) if len(values) else np.ones(values.shape[1])
        return cls(mean=tuple(float(v) for v in values.mean(axis=0)) if len(values) else (0.0,) * values.shape[1],
                   std=tuple(float(s) if s > 0 else 1.0 for s in std))

    def transform(self, values: np.ndarray) -> np.ndarray:
        # c' = (c - mean) / std
        return (np.asarray(values, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.std)
