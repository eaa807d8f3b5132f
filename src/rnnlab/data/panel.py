"""Panels: many series of different lengths and start dates, held as one float32 array and offsets.

A :class:`Panel` of ``S`` series keeps every value in one contiguous float32 array ``values`` (series ``i``
is ``values[offsets[i]:offsets[i+1]]``), its names ``ids``, each series' first label ``starts`` (a date, or
a position) and one shared frequency ``freq``. Nothing per window is ever stored: a window is index
arithmetic over ``values`` (:meth:`Panel.gather`), so a panel of 100,000 series x 300 points costs 120 MB
for its values and training draws windows batch by batch.

Built from a long frame (Nixtla's ``unique_id, ds, y``), a wide frame (one column per series), a dict of
series or arrays, a list of arrays, or a CSV (:func:`read_panel_csv`). Every series is validated like a
single series (:func:`rnnlab.data.series.as_series`'s rules: non-numeric, missing, non-finite or overflowing
values, constant) and the message names the series. Duplicate dates within a series are refused (with
their lines); dates out of order are sorted, and :attr:`Panel.notices` says so.

Symbols: ``S`` series, ``T`` total points, ``L`` lookback, ``H`` horizon, ``B`` windows in a batch.

Example:
    >>> p = Panel.from_dict({"a": [1.0, 2, 3, 4], "b": [5.0, 6, 7]})
    >>> len(p), p.ids, p.lengths.tolist()
    (2, ['a', 'b'], [4, 3])
    >>> p.gather(np.array([0, 1]), np.array([4, 3]), 2).tolist()
    [[3.0, 4.0], [6.0, 7.0]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data import series as sd

MAX_ABS = sd.MAX_ABS  # larger magnitudes overflow float32 sums and squares: refused, with where


@dataclass
class Panel:
    """Series ``i`` is ``values[offsets[i]:offsets[i+1]]``, named ``ids[i]``, first labelled ``starts[i]``.

    Attributes:
        ids: ``S`` series names (strings, unique).
        values: ``(T,)`` float32, every series concatenated.
        offsets: ``(S + 1,)`` int64 start of each series in ``values`` (and the end).
        starts: ``(S,)`` datetime64[ns] first dates, or int64 first positions when the panel has no dates.
        freq: the pandas frequency shared by every series (``None`` without dates).
        source: where the panel came from (for descriptions).
        notices: what was changed on the way in (e.g. dates sorted), one line each.
    """

    ids: list[str]
    values: np.ndarray
    offsets: np.ndarray
    starts: np.ndarray
    freq: str | None = None
    source: str = "arrays"
    notices: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """``(S,)`` points per series."""
        return np.diff(self.offsets)

    @property
    def dated(self) -> bool:
        return np.issubdtype(self.starts.dtype, np.datetime64)

    def index_of(self, key) -> int:
        """The position of a series given by position or by id."""
        if isinstance(key, (int, np.integer)):
            return int(key)
        try:
            return self.ids.index(str(key))
        except ValueError:
            raise ValueError(f"panel: no series '{key}'") from None

    def labels(self, i: int, first: int, n: int) -> pd.Index:
        """Index labels of points ``first .. first + n - 1`` of series ``i`` (past its end too)."""
        if self.dated:
            start = pd.Timestamp(self.starts[i])
            if first == 0:
                return pd.date_range(start, periods=n, freq=self.freq)
            return pd.date_range(start, periods=first + n, freq=self.freq)[first:]
        start = int(self.starts[i]) + first
        return pd.RangeIndex(start, start + n)

    def series(self, key) -> pd.Series:
        """Series ``key`` (a position or an id) as a float64 ``pandas.Series`` with its dates or positions."""
        i = self.index_of(key)
        values = self.values[self.offsets[i]:self.offsets[i + 1]].astype(np.float64)
        index = self.labels(i, 0, len(values))
        if isinstance(index, pd.DatetimeIndex) and self.freq:
            index = pd.DatetimeIndex(index, freq=self.freq)
        return pd.Series(values, index=index, name=self.ids[i])

    def gather(self, series: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
        """Windows of ``width`` points of ``series[b]`` ending (exclusive) at position ``ends[b]``.

        Positions before a series' first point repeat that first point (left padding of short series).

        Shape:
            series, ends ``(B,)`` -> ``(B, width)`` float32.
        """
        # row b reads values[offsets[s_b] + max(e_b - width + j, 0)] for j = 0 .. width-1
        positions = np.maximum(ends[:, None] - width + np.arange(width)[None, :], 0)
        return self.values[self.offsets[series][:, None] + positions]

    def _slice(self, first: np.ndarray, stop: np.ndarray) -> "Panel":
        """Each series ``i`` cut to its points ``first[i]:stop[i]``."""
        lengths = (stop - first).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        pick = np.repeat(self.offsets[:-1] + first - offsets[:-1], lengths) + np.arange(offsets[-1])
        if self.dated:
            starts = np.array([self.labels(i, int(f), 1)[0].to_datetime64() for i, f in enumerate(first)],
                              dtype="datetime64[ns]")
        else:
            starts = self.starts + first
        return Panel(list(self.ids), self.values[pick], offsets, starts, self.freq, self.source, list(self.notices))

    def split(self, test_size: int) -> tuple["Panel", "Panel"]:
        """``(history, test)``: each series without and with only its last ``test_size`` points."""
        n = self.lengths
        short = np.flatnonzero(n <= test_size)
        if len(short):
            raise ValueError(f"panel: series '{self.ids[short[0]]}' has {n[short[0]]} points: too short to hold "
                             f"out {test_size} test points and keep a history"
                             + (f" ({len(short)} series are)" if len(short) > 1 else ""))
        return self._slice(np.zeros_like(n), n - test_size), self._slice(n - test_size, n)

    def tail(self, count: int) -> "Panel":
        """Each series' last ``count`` points (all of a shorter one)."""
        n = self.lengths
        return self._slice(np.maximum(n - count, 0), n)

    def subset(self, keys) -> "Panel":
        """The series ``keys`` (positions or ids), in that order."""
        rows = [self.index_of(k) for k in keys]
        return Panel.from_dict({self.ids[i]: self.series(i) for i in rows}, source=self.source)

    def to_long(self, value_name: str = "y") -> pd.DataFrame:
        """A long frame ``id, time, <value_name>`` (Nixtla's layout)."""
        times = [self.labels(i, 0, int(n)) for i, n in enumerate(self.lengths)]
        return pd.DataFrame({"id": np.repeat(self.ids, self.lengths),
                             "time": np.concatenate([np.asarray(t) for t in times]) if times else [],
                             value_name: self.values.astype(np.float64)})

    def describe(self) -> dict:
        """What was loaded, as JSON-able values: series, points, lengths, frequency, range, notices."""
        n = self.lengths
        entry = sd.frequency_entry(self.freq)
        return {"name": f"panel of {len(self)} series", "source": self.source, "series": len(self),
                "points": int(n.sum()), "min_length": int(n.min()), "max_length": int(n.max()),
                "frequency": entry[0] if entry else (self.freq or "none (positions)"), "freq": self.freq,
                "min": float(self.values.min()), "max": float(self.values.max()), "notices": list(self.notices)}

    def describe_line(self) -> str:
        """One line, e.g. ``panel of 366 series: 100,724 points, lengths 91 .. 333, monthly, range ...``."""
        info = self.describe()
        notices = "".join(f"; {notice}" for notice in self.notices)
        return (f"{info['name']}: {info['points']:,} points, lengths {info['min_length']} .. {info['max_length']}, "
                f"{info['frequency']}, range {info['min']:.4g} .. {info['max']:.4g}{notices}")

    # ------------------------------------------------------------------ building
    @classmethod
    def from_arrays(cls, values: np.ndarray, offsets: np.ndarray, ids: list[str] | None = None,
                    source: str = "arrays") -> "Panel":
        """A panel of positions from concatenated values and offsets (no copy when already float32)."""
        values = np.asarray(values, dtype=np.float32)
        offsets = np.asarray(offsets, dtype=np.int64)
        ids = [str(i) for i in range(len(offsets) - 1)] if ids is None else [str(i) for i in ids]
        panel = cls(ids, values, offsets, np.zeros(len(ids), dtype=np.int64), None, source)
        _check_values(panel, fill=None)
        return panel

    @classmethod
    def from_dict(cls, mapping: dict, fill: str | None = None, source: str = "dict") -> "Panel":
        """A panel from ``{id: series or 1-D array}``; dated when the values are dated Series."""
        items = [(str(k), sd.as_series(v, fill=fill, name=str(k))) for k, v in mapping.items()]
        return cls._from_series(items, source)

    @classmethod
    def from_list(cls, arrays: list, ids: list | None = None, fill: str | None = None) -> "Panel":
        """A panel from a list of 1-D arrays (or Series); ``ids`` default to ``"0", "1", ...``."""
        ids = [str(i) for i in range(len(arrays))] if ids is None else [str(i) for i in ids]
        if len(ids) != len(arrays):
            raise ValueError(f"panel: {len(ids)} ids for {len(arrays)} series")
        return cls.from_dict(dict(zip(ids, arrays)), fill=fill, source="list")

    @classmethod
    def from_wide(cls, frame: pd.DataFrame, columns: list[str] | None = None, time_column: str | None = None,
                  fill: str | None = None, source: str = "DataFrame") -> "Panel":
        """One column per series (``columns``, default every numeric column but the time column).

        Missing values at the start or end of a column are where that series begins or ends (different
        start dates); missing values inside it are refused (or filled with ``fill="interpolate"``).
        """
        names = [str(c) for c in frame.columns]
        for c in (columns or []):
            if c not in names:
                raise ValueError(f"panel: unknown column '{c}' (`columns`); columns are: {', '.join(names)}")
        if columns is None:
            columns = [c for c, col in zip(names, frame.columns) if c != time_column
                       and pd.api.types.is_numeric_dtype(frame[col])]
            if not columns:
                raise ValueError(f"panel: no numeric columns in {source}; columns are: {', '.join(names)}")
        frame = frame.set_axis(names, axis=1)
        index = sd.parse_times(frame[time_column], time_column, source) if time_column else None
        items = []
        for c in columns:
            col = frame[c] if index is None else pd.Series(frame[c].to_numpy(), index=index)
            present = np.flatnonzero(col.notna().to_numpy())
            if not len(present):
                raise ValueError(f"panel: series '{c}' of {source} has no values")
            col = col.iloc[present[0]:present[-1] + 1]
            items.append((c, sd.as_series(col, fill=fill, name=c, where=f"{source} line",
                                          first_row=2 + int(present[0]))))
        return cls._from_series(items, source)

    @classmethod
    def from_long(cls, frame: pd.DataFrame, id_column: str, time_column: str | None, value_column: str | None,
                  fill: str | None = None, source: str = "DataFrame", first_row: int = 0) -> "Panel":
        """A long frame: one row per (series, time); rows of a series need not be together or in order."""
        names = [str(c) for c in frame.columns]
        frame = frame.set_axis(names, axis=1)
        for name, what in ((id_column, "`id_column`"), (time_column, "`time_column`"), (value_column, "`column`")):
            if name is not None and name not in names:
                raise ValueError(f"panel: unknown column '{name}' ({what}) in {source}; columns are: "
                                 f"{', '.join(names)}")
        if value_column is None:
            rest = [c for c in names if c not in (id_column, time_column)]
            numeric = [c for c in rest if pd.api.types.is_numeric_dtype(frame[c])]
            if len(rest) != 1 and len(numeric) != 1:
                raise ValueError(f"panel: {source} has several value columns; choose one with `column`: "
                                 f"{', '.join(rest)}")
            value_column = rest[0] if len(rest) == 1 else numeric[0]
        rows = np.arange(len(frame)) + first_row
        ids = frame[id_column].astype(str).to_numpy()
        if time_column is not None:
            times = sd.parse_times(frame[time_column], time_column, source, check_order=False)
            order = np.lexsort((times.asi8, ids))
        else:
            times, order = None, np.argsort(ids, kind="stable")
        ids, rows = ids[order], rows[order]
        cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        bounds = np.concatenate([[0], cuts, [len(ids)]])
        notices = []
        if times is not None:
            stamps = times.asi8[order]
            same = np.flatnonzero((stamps[1:] == stamps[:-1]) & (ids[1:] == ids[:-1]))
            if len(same):
                raise ValueError(f"panel: duplicate dates in series '{ids[same[0]]}' of {source}: "
                                 f"{pd.Timestamp(stamps[same[0]])} at line {rows[same[0]]} and {rows[same[0] + 1]}")
            if not np.array_equal(order, np.arange(len(order))):
                notices.append("rows sorted by series and date")
        raw = frame[value_column].to_numpy()[order]
        items = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            index = pd.DatetimeIndex(times[order[a:b]]) if times is not None else None
            s = sd.as_series(pd.Series(raw[a:b]), fill=fill, name=ids[a], index=index,
                             where=f"{source} line", rows=rows[a:b])
            items.append((ids[a], s))
        panel = cls._from_series(items, source)
        panel.notices = notices + panel.notices
        return panel

    @classmethod
    def _from_series(cls, items: list[tuple[str, pd.Series]], source: str) -> "Panel":
        if not items:
            raise ValueError(f"panel: {source} holds no series")
        ids = [k for k, _ in items]
        if len(set(ids)) != len(ids):
            raise ValueError(f"panel: series ids must be unique; '{_first_duplicate(ids)}' appears twice")
        dated = [isinstance(s.index, pd.DatetimeIndex) for _, s in items]
        if any(dated) and not all(dated):
            raise ValueError(f"panel: series '{ids[dated.index(False)]}' has no dates while others have")
        freq = None
        if all(dated):
            freq = _shared_freq(items)
            starts = np.array([s.index[0].to_datetime64() for _, s in items], dtype="datetime64[ns]")
        else:
            starts = np.array([int(s.index[0]) if isinstance(s.index, pd.RangeIndex) else 0 for _, s in items],
                              dtype=np.int64)
        lengths = np.array([len(s) for _, s in items], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        values = np.concatenate([s.to_numpy() for _, s in items]).astype(np.float32)
        notices = sorted({n for _, s in items for n in s.attrs.get("notices", [])})
        filled = sum(int(s.attrs.get("filled", 0)) for _, s in items)
        if filled:
            notices.append(f"{filled} missing value(s) filled")
        panel = cls(ids, values, offsets, starts, freq, source, notices)
        _check_values(panel, fill="checked")
        return panel

    @classmethod
    def build(cls, data, id_column: str | None = None, time_column: str | None = None,
              value_column: str | None = None, columns: list[str] | None = None, fill: str | None = None) -> "Panel":
        """A panel from whatever the user has: a Panel, a long or wide DataFrame, a dict, a list of arrays,
        or one series (a 1-D array or ``pandas.Series``: a panel of one)."""
        if isinstance(data, Panel):
            return data
        if isinstance(data, pd.DataFrame):
            if id_column is not None:
                return cls.from_long(data, id_column, time_column, value_column, fill)
            return cls.from_wide(data, columns if columns is not None else
                                 ([value_column] if value_column else None), time_column, fill)
        if isinstance(data, dict):
            return cls.from_dict(data, fill=fill)
        if isinstance(data, pd.Series) or (isinstance(data, np.ndarray) and data.ndim == 1):
            s = sd.as_series(data, fill=fill)
            return cls._from_series([(str(s.name), s)], "series")
        if isinstance(data, (list, tuple)):
            if data and np.ndim(data[0]) == 0:
                return cls.build(np.asarray(data), fill=fill)
            return cls.from_list(list(data), fill=fill)
        raise TypeError(f"panel: expected a Panel, a DataFrame, a dict or list of series, or one series; "
                        f"got {type(data).__name__}")


def read_panel_csv(path: str | Path, id_column: str | None = None, time_column: str | None = None,
                   column: str | None = None, columns: list[str] | None = None, fill: str | None = None,
                   encoding: str | None = None) -> Panel:
    """A panel from a long CSV (``id_column`` given) or a wide one (one column per series).

    Raises:
        ValueError: a missing file or a directory, an undecodable file (the message suggests
            ``encoding``), unknown columns, or a series that fails validation (named).
    """
    frame = sd.read_frame(path, encoding)
    name = Path(path).name
    if id_column is not None:
        return _with_source(Panel.from_long(frame, id_column, time_column, column, fill, source=name, first_row=2),
                          str(path))
    wanted = list(columns) if columns else ([column] if column else None)
    return _with_source(Panel.from_wide(frame, wanted, time_column, fill, source=name), str(path))


def _with_source(panel: Panel, source: str) -> Panel:
    """``panel`` with its source set to the file's path."""
    panel.source = source
    return panel


def _first_duplicate(ids: list[str]) -> str:
    seen = set()
    for i in ids:
        if i in seen:
            return i
        seen.add(i)
    return ""


def _shared_freq(items: list[tuple[str, pd.Series]]) -> str | None:
    """The one frequency of every dated series; series of 1-2 points take the others'."""
    freqs = {}
    for name, s in items:
        f = sd.frequency(s)
        if f is None and len(s) >= 3:
            raise ValueError(f"panel: series '{name}' has irregular dates (no frequency can be inferred)")
        if f is not None:
            freqs.setdefault(f, name)
    if len(freqs) > 1:
        (f1, n1), (f2, n2) = list(freqs.items())[:2]
        raise ValueError(f"panel: series have different frequencies: '{n1}' is {f1}, '{n2}' is {f2}")
    return next(iter(freqs), None)


def _check_values(panel: Panel, fill: str | None) -> None:
    """Non-finite, overflowing and constant series are refused, naming the series (vectorised over all)."""
    values, n = panel.values, panel.lengths
    if (n < 1).any():
        raise ValueError(f"panel: series '{panel.ids[int(np.flatnonzero(n < 1)[0])]}' has no values")
    bad = np.flatnonzero(~np.isfinite(values) | (np.abs(values) > MAX_ABS))
    if len(bad):
        i = int(np.searchsorted(panel.offsets, bad[0], side="right") - 1)
        raise ValueError(f"panel: series '{panel.ids[i]}' has a non-finite or overflowing value "
                         f"({values[bad[0]]!r}) at position {bad[0] - panel.offsets[i]}")
    starts = panel.offsets[:-1]
    low, high = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
    constant = np.flatnonzero((low == high) & (n > 1))
    if len(constant):
        i = int(constant[0])
        more = f" ({len(constant)} series are)" if len(constant) > 1 else ""
        raise ValueError(f"panel: series '{panel.ids[i]}' is constant (every value is {low[i]:.6g}); there is "
                         f"nothing to forecast{more}")
