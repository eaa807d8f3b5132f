"""The global model's covariates: per-series tables keyed by time, scaled, and cut into arrays beside the windows.

Kinds (:mod:`rnnlab.data.covariates`): **future** columns are known ahead (read over the lookback and over
the ``H`` forecast steps), **past** columns only up to the origin (read over the lookback), **static** columns
hold one value per series. **Calendar** features (:mod:`rnnlab.data.calendar`: sin/cos of the month of the
year for monthly data, the quarter for quarterly, ISO week for weekly, day of week and of year for daily,
hour of day and day of week for hourly; none for yearly or undated series) are future columns computed from
the dates, so they never need to be given.

A given column that holds one value in every training row (a static one: the same value for every series)
is left out with a note (:func:`constant_columns`, :meth:`CovariateTable.notes`): nothing fitted on the
training part can tell its effect. A :class:`CovariateTable` keeps each series' columns as a frame indexed
by its time labels (dates or positions), standardised with the means and deviations of the training rows.
:meth:`CovariateTable.arrays` aligns it with a panel, each series' block running ``extra`` points past its
end (the forecast steps): a future column missing there is a ``ValueError`` that names the series and the
first missing time.

Symbols: ``T`` points, ``F`` future (calendar included), ``P`` past and ``K`` static columns, ``C = F + P``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnnlab.data.calendar import calendar_features
from rnnlab.data.covariates import CovariateScaler, check_columns
from rnnlab.data.panel import Panel


def names(text) -> tuple[str, ...]:
    """Column names from a setting: ``None``, ``"a,b"`` or a sequence."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    return tuple(str(p).strip() for p in parts if str(p).strip())


@dataclass
class CovariateTable:
    """Covariates of every series (see the module docstring).

    Attributes:
        frames: id -> a float64 frame indexed by time, columns ``future + past`` (scaled).
        static: id -> ``(K,)`` scaled static values.
        future, past, static_names, calendar: the column names (``future`` holds the calendar's last).
        freq: the panel's frequency (the calendar of the forecast steps is computed from it).
        scaler: the standardisation of the ``future + past`` columns (fitted on the training rows).
        dropped: name -> value of the given columns that were constant over the training part and are not
            read (:func:`constant_columns`).
    """

    frames: dict
    static: dict
    future: tuple
    past: tuple
    static_names: tuple
    calendar: tuple
    freq: str | None
    scaler: CovariateScaler | None = None
    dropped: dict = field(default_factory=dict)

    @property
    def sizes(self) -> tuple[int, int, int]:
        """``(F, P, K)``."""
        return len(self.future), len(self.past), len(self.static_names)

    def state(self) -> dict:
        """The names (the network's input sizes) for ``config.json``; values are not kept."""
        return {"future": list(self.future), "past": list(self.past), "static": list(self.static_names),
                "calendar": list(self.calendar), "dropped": dict(self.dropped)}

    def notes(self) -> list[str]:
        """One line per dropped column: what it was and why the model does not read it."""
        return [f"covariates: '{name}' is {value:g} in every training row, so it carries no information there "
                f"(its effect cannot be estimated, like an aliased coefficient); the model does not read it"
                for name, value in self.dropped.items()]

    def arrays(self, panel: Panel, extra: int, require_future: bool = False) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray]:
        """``(values (T', C) float32, offsets (S + 1,), static (S, K) float32)`` aligned with ``panel``, each
        series' block ``lengths[i] + extra`` rows long (missing rows 0; with ``require_future``, a future
        column missing in the last ``extra`` rows of a series is a ``ValueError``)."""
        f, p, k = self.sizes
        lengths = panel.lengths + extra
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        values = np.zeros((offsets[-1], f + p), dtype=np.float32)
        static = np.zeros((len(panel), k), dtype=np.float32)
        given = [c for c in self.future + self.past + self.static_names if c not in self.calendar]
        for i, name in enumerate(panel.ids):
            if name not in self.frames and given:
                raise ValueError(f"covariates: series '{name}' has no covariates; the model reads "
                                 f"{', '.join(given)}")
            labels = panel.labels(i, 0, int(lengths[i]))
            frame = self.frames.get(name, pd.DataFrame(columns=list(self.future + self.past), dtype=np.float64))
            block = frame.reindex(labels)
            if self.calendar:
                block[list(self.calendar)] = self._scaled_calendar(labels)
            if require_future and f and extra:
                ahead = block.iloc[-extra:, :f]
                missing = ahead.isna().any(axis=1).to_numpy()
                if missing.any():
                    column = ahead.columns[ahead.isna().any()][0]
                    when = str(labels[-extra:][np.flatnonzero(missing)[0]]).replace(" 00:00:00", "")
                    raise ValueError(f"covariates: future covariate '{column}' is missing for series '{name}' at "
                                     f"{when} ({int(missing.sum())} of the {extra} forecast points); a future "
                                     f"covariate is needed for every point forecast (rnnlab predict "
                                     f"--covariates FILE)")
            values[offsets[i]:offsets[i + 1]] = np.nan_to_num(block.to_numpy(np.float64))
            static[i] = self.static.get(name, np.zeros(k))
        return values, offsets, static

    def _scaled_calendar(self, labels: pd.Index) -> np.ndarray:
        """``(n, len(calendar))`` the calendar columns of ``labels``, scaled as in training."""
        raw = calendar_features(pd.DatetimeIndex(labels), self.freq)[list(self.calendar)].to_numpy(np.float64)
        at = [list(self.future + self.past).index(c) for c in self.calendar]
        return (raw - np.asarray(self.scaler.mean)[at]) / np.asarray(self.scaler.std)[at]

    def extend(self, frames: dict) -> "CovariateTable":
        """A copy whose series also hold the rows of ``frames`` (raw values, id -> frame by time; e.g. the
        future columns of the forecast period), scaled as the training rows were."""
        out = {name: frame.copy() for name, frame in self.frames.items()}
        scaler = self.scaler
        for name, frame in frames.items():
            raw = _with_calendar(frame.reindex(columns=[c for c in self.future + self.past if c not in self.calendar]),
                                 self.calendar, self.freq)[list(self.future + self.past)]
            scaled = pd.DataFrame(scaler.transform(raw.to_numpy(np.float64)), index=raw.index, columns=raw.columns)
            old = out.get(name)
            out[name] = scaled if old is None else scaled.combine_first(old)
        return CovariateTable(out, self.static, self.future, self.past, self.static_names, self.calendar, self.freq,
                              scaler, dict(self.dropped))


def build(panel: Panel, frames: dict, future=(), past=(), static=(), calendar: bool = False,
          train_ends: np.ndarray | None = None) -> CovariateTable | None:
    """A :class:`CovariateTable` from raw per-series frames (id -> frame indexed by the series' time labels).

    The scaler is fitted on each series' first ``train_ends[i]`` labels (default: its length in ``panel``).
    ``None`` when there is nothing to read (no columns, no calendar cycle).
    """
    future, past, static = names(future), names(past), names(static)
    cycles = tuple(calendar_features(panel.labels(0, 0, 3), panel.freq).columns) if calendar and panel.dated else ()
    if not (future or past or static or cycles):
        return None
    overlap = set(future) & set(past)
    if overlap:
        raise ValueError(f"covariates: column '{sorted(overlap)[0]}' is given as both a future and a past covariate")
    ends = panel.lengths if train_ends is None else train_ends
    dropped = constant_columns(panel, frames, future + past, static, ends)
    future, past, static = (tuple(c for c in group if c not in dropped) for group in (future, past, static))
    columns = future + cycles + past
    raw, statics, training = {}, {}, []
    for i, name in enumerate(panel.ids):
        frame = frames.get(name) if frames else None
        if frame is None:
            if future or past or static:
                raise ValueError(f"covariates: no covariates for series '{name}'")
            frame = pd.DataFrame(index=panel.labels(i, 0, int(panel.lengths[i])))
        table = _with_calendar(frame.reindex(columns=list(future + past)), cycles, panel.freq)[list(columns)]
        raw[name] = table
        training.append(table.reindex(panel.labels(i, 0, int(ends[i]))).to_numpy(np.float64))
        if static:
            statics[name] = frame[list(static)].iloc[0].to_numpy(np.float64)
    rows = np.concatenate(training)
    scaler = CovariateScaler.fit(rows[np.isfinite(rows).all(axis=1)])
    frames_scaled = {name: pd.DataFrame(scaler.transform(t.to_numpy(np.float64)), index=t.index, columns=t.columns)
                     for name, t in raw.items()}
    static_values = np.stack(list(statics.values())) if static else np.zeros((0, 0))
    static_scaler = CovariateScaler.fit(static_values) if static else None
    return CovariateTable(frames_scaled, {k: static_scaler.transform(v[None])[0] for k, v in statics.items()},
                          future + cycles, past, static, cycles, panel.freq, scaler, dropped)


def constant_columns(panel: Panel, frames: dict, columns: tuple, static: tuple, ends: np.ndarray) -> dict:
    """The given columns that hold one value over the training part: ``{name: value}``.

    A future or past column equal in every training row of every series (say a law that starts after the
    training part), or a static column equal for every series (any static column of a single series), lets
    no fit tell its effect from the intercept: R's ``lm`` reports such a coefficient as aliased (``NA``). Fed
    to the network, it would be a value never seen in training at forecast time, extrapolated arbitrarily;
    it is left out instead (:meth:`CovariateTable.notes` says so).
    """
    out = {}
    if not frames or not (columns or static):
        return out
    rows = [frames[name].reindex(index=panel.labels(i, 0, int(ends[i])), columns=list(columns))
            for i, name in enumerate(panel.ids) if name in frames]
    values = pd.concat(rows) if rows else pd.DataFrame(columns=list(columns))
    statics = pd.DataFrame([frames[name].reindex(columns=list(static)).iloc[0] for name in panel.ids
                            if name in frames and len(frames[name])])
    for group, table in ((columns, values), (static, statics)):
        for name in group:
            seen = table[name].dropna().to_numpy(np.float64) if name in table else np.zeros(0)
            if len(seen) and np.all(seen == seen[0]):
                out[name] = float(seen[0])
    return out


def _with_calendar(frame: pd.DataFrame, cycles: tuple, freq: str | None) -> pd.DataFrame:
    """``frame`` with the calendar columns ``cycles`` of its dates added."""
    if not cycles:
        return frame
    features = calendar_features(pd.DatetimeIndex(frame.index), freq)
    return pd.concat([frame, features[list(cycles)]], axis=1)


def frames_from_csv(frame: pd.DataFrame, panel: Panel, id_column: str | None, time_column: str | None,
                    columns: tuple, source: str) -> dict:
    """Per-series raw covariate frames (id -> frame indexed by time) from a CSV read with pandas.

    Every named column is checked first (numeric, complete: :func:`rnnlab.data.covariates.check_columns`,
    naming the CSV line). Without ``time_column`` rows are positions in file order.

    Raises:
        ValueError: an unknown, non-numeric or incomplete column (named with its first bad line).
    """
    values = check_columns(frame, columns, where=f"{source} line", first_row=2)
    table = pd.DataFrame(values, columns=list(columns))
    ids = frame[id_column].astype(str).to_numpy() if id_column else np.full(len(frame), panel.ids[0])
    if time_column is not None:
        from rnnlab.data import series as sd

        times = sd.parse_times(frame[time_column], time_column, source, check_order=False)
        index = pd.Index(times)
    else:
        index = None
    out = {}
    for name in panel.ids:
        rows = np.flatnonzero(ids == name)
        part = table.iloc[rows]
        if index is not None:
            part = part.set_axis(index[rows]).sort_index()
        else:
            part = part.set_axis(pd.RangeIndex(len(rows)))
        out[name] = part
    return out


def save_state(table: CovariateTable, panel: Panel) -> tuple[dict, dict]:
    """``(json state, tensors)`` of ``table`` over ``panel``'s points: names, scaler, static values, and the
    scaled covariates of every point (what a forecast after the end reads over its lookback)."""
    values, _, static = table.arrays(panel, 0)
    state = {**table.state(), "mean": list(table.scaler.mean), "std": list(table.scaler.std), "freq": table.freq}
    return state, {"covariates": values, "static": static}


def load_state(state: dict, tensors: dict, panel: Panel) -> CovariateTable:
    """The :class:`CovariateTable` that :func:`save_state` wrote for ``panel``."""
    columns = list(state["future"]) + list(state["past"])
    values, static = np.asarray(tensors["covariates"], dtype=np.float64), np.asarray(tensors["static"])
    frames = {name: pd.DataFrame(values[panel.offsets[i]:panel.offsets[i + 1]], columns=columns,
                                 index=panel.labels(i, 0, int(panel.lengths[i]))) for i, name in enumerate(panel.ids)}
    statics = {name: static[i] for i, name in enumerate(panel.ids)} if len(state["static"]) else {}
    return CovariateTable(frames, statics, tuple(state["future"]), tuple(state["past"]), tuple(state["static"]),
                          tuple(state["calendar"]), state["freq"], CovariateScaler(tuple(state["mean"]),
                                                                                   tuple(state["std"])),
                          dict(state.get("dropped", {})))
