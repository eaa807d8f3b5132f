"""Univariate series: load (built-in, bundled or CSV), validate, describe, split, scale, window.

Everything here works on plain values; nothing trains. A loaded series is a float64 ``pandas.Series`` with a
``DatetimeIndex`` (when the data has dates) or a ``RangeIndex``. :func:`describe` says what was loaded in
one line: length, frequency, range, filled values.

Built-in data (``load("<name>")``):
    ``sine``      the lesson's sine wave, generated (:func:`rnnlab.data.synthetic.sine`);
    ``airline``   monthly international airline passengers (thousands), 1949-1960, 144 points;
    ``sunspots``  yearly sunspot numbers, 1700-2008, 309 points;
    ``co2``       monthly mean Mauna Loa CO2 (ppmv), 1958-03 to 2001-12, 526 points;
    ``nile``      yearly Nile flow at Aswan (10^8 m^3), 1871-1970, 100 points.
The bundled CSVs were produced from files shipped inside the ``sktime`` and ``statsmodels`` wheels (not
dependencies); ``data/bundled/SOURCES.md`` gives each file's origin.

Symbols: ``T`` series length, ``L`` lookback, ``H`` horizon, ``N`` windows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data.synthetic import sine

BUNDLED_DIR = Path(__file__).parent / "bundled"

# name -> (file, time column, value column, what it is)
BUNDLED = {
    "airline": ("airline.csv", "month", "passengers", "monthly international airline passengers (thousands)"),
    "sunspots": ("sunspots.csv", "year", "sunspots", "yearly sunspot numbers (NOAA)"),
    "co2": ("co2.csv", "month", "co2", "monthly mean Mauna Loa CO2 (ppmv)"),
    "nile": ("nile.csv", "year", "volume", "yearly Nile flow at Aswan (1e8 m^3)"),
}
BUILTIN = ("sine", *BUNDLED)
MAX_ABS = 1e30  # larger magnitudes overflow float32 (and squares of float64): refused with where

# pandas offset prefix -> (name, season length)
_FREQUENCIES = {
    "Y": ("yearly", 1), "A": ("yearly", 1), "Q": ("quarterly", 4), "M": ("monthly", 12),
    "W": ("weekly", 52), "B": ("business-daily", 5), "D": ("daily", 7), "h": ("hourly", 24),
    "H": ("hourly", 24), "min": ("minutely", 60), "T": ("minutely", 60),
}


def load(data: str = "sine", column: str | None = None, time_column: str | None = None,
         fill: str | None = None, length: int = 400, noise: float = 0.0, seed: int = 0,
         encoding: str | None = None) -> pd.Series:
    """Load a built-in series by name or a CSV file by path.

    Args:
        data: ``"sine"``, a bundled name (``airline``, ``sunspots``, ``co2``, ``nile``) or a CSV path.
        column: CSV only: the value column. Default: the only numeric column other than the time column.
        time_column: CSV only: a column of dates (or years) to index by. Default: none (positions).
        fill: ``"interpolate"`` to fill missing values linearly; ``None`` to reject them.
        length, noise, seed: ``sine`` only (see :func:`rnnlab.data.synthetic.sine`).
        encoding: CSV only: the file's text encoding (default UTF-8, with or without a byte-order mark).

    Returns:
        A validated float64 series, named after its column (``attrs["source"]`` says where it came from).

    Raises:
        ValueError: a missing file, an unknown column (the message lists the columns), non-numeric or
            missing values (the message gives their lines), unparsable dates.
    """
    if data in BUILTIN:
        own = (None, None) if data == "sine" else BUNDLED[data][1:3]
        for given, allowed in ((column, own[1]), (time_column, own[0])):
            if given is not None and given != allowed:
                columns = "none, it is generated" if data == "sine" else ", ".join(own)
                raise ValueError(f"series: unknown column '{given}' for the built-in '{data}'; columns are: {columns}")
    if data == "sine":
        s = sine(length=length, noise=noise, seed=seed)
        s.attrs["source"] = f"sine(length={length}, noise={noise})"
        return s
    if data in BUNDLED:
        file, time_column, column, what = BUNDLED[data]
        s = read_csv(BUNDLED_DIR / file, column, time_column, fill)
        s.attrs["source"] = f"bundled '{data}': {what}"
        return s
    path = Path(data)
    if path.suffix.lower() != ".csv" and not path.exists():
        raise ValueError(f"series: unknown data '{data}'; use one of {', '.join(BUILTIN)} or a CSV file path")
    s = read_csv(path, column, time_column, fill, encoding)
    s.attrs["source"] = str(path)
    return s


def read_frame(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV file into a frame; every way it can fail is a ``ValueError`` naming the file.

    Without ``encoding`` the file is UTF-8 (a UTF-8 byte-order mark is skipped, a UTF-16 one recognised);
    a file that is not gets a message suggesting ``encoding`` (e.g. ``latin-1``).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"series: {path} is a directory, not a CSV file")
    if not path.is_file():
        raise ValueError(f"series: file not found: {path}")
    if encoding is None:
        head = path.open("rb").read(4)
        encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        # blank lines are missing values, so line numbers stay true
        return pd.read_csv(path, skip_blank_lines=False, encoding=encoding)
    except UnicodeDecodeError as e:
        raise ValueError(f"series: {path.name} is not {encoding.replace('-sig', '')} text (byte {e.start}); "
                         f"give its encoding, e.g. `encoding='latin-1'`") from None
    except LookupError:
        raise ValueError(f"series: unknown encoding {encoding!r}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"series: cannot read {path} as CSV: {str(e).splitlines()[0]}") from None


def read_csv(path: str | Path, column: str | None = None, time_column: str | None = None,
             fill: str | None = None, encoding: str | None = None) -> pd.Series:
    """Read one column of a CSV file as a validated series (see :func:`load`).

    Rows whose dates are out of order are sorted (``attrs["notices"]`` says so); duplicate dates are a
    ``ValueError`` naming their lines.
    """
    path = Path(path)
    frame = read_frame(path, encoding)
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    for name, what in ((time_column, "`time_column`"), (column, "`column`")):
        if name is not None and name not in columns:
            raise ValueError(f"series: unknown column '{name}' ({what}) in {path.name}; columns are: "
                             f"{', '.join(columns)}")
    if column is None:
        candidates = [c for c in columns if c != time_column]
        numeric = [c for c in candidates if pd.api.types.is_numeric_dtype(frame[c])]
        if len(candidates) == 1:
            column = candidates[0]
        elif len(numeric) == 1:
            column = numeric[0]
        else:
            raise ValueError(f"series: {path.name} has several columns; choose one with `column`: "
                             f"{', '.join(candidates)}")
    index, rows, values = None, np.arange(len(frame)) + 2, frame[column]
    if time_column is not None:
        index = parse_times(frame[time_column], time_column, path.name, check_order=False)
        del frame  # the dates' text is most of what was read (5M minute stamps: ~400 MB): let it go now
        order = _date_order(index, f"{path.name} line", rows)
        index, rows, values = index[order], rows[order], values.iloc[order]
        index = pd.DatetimeIndex(index, freq=_infer_freq(index))
    s = as_series(values, fill=fill, name=column, index=index, where=f"{path.name} line", rows=rows)
    if time_column is not None and not np.array_equal(order, np.arange(len(order))):
        s.attrs["notices"] = ["rows sorted by date"]
    return s


def _date_order(index: pd.DatetimeIndex, where: str, rows: np.ndarray) -> np.ndarray:
    """The order that sorts ``index``; duplicate dates are a ``ValueError`` naming both rows."""
    order = np.argsort(index.asi8, kind="stable")
    stamps = index.asi8[order]
    same = np.flatnonzero(stamps[1:] == stamps[:-1])
    if len(same):
        a, b = sorted((rows[order[same[0]]], rows[order[same[0] + 1]]))
        raise ValueError(f"series: duplicate date {index[order[same[0]]]} at {where} {a} and {b}; "
                         f"each date must appear once")
    return order


def as_series(values, target: str | None = None, fill: str | None = None, name: str | None = None,
              index: pd.Index | None = None, where: str = "position", first_row: int = 0,
              rows: np.ndarray | None = None) -> pd.Series:
    """Validate a 1-D array, a list, a ``pandas.Series`` or a ``DataFrame`` column (``target``) as a series.

    Args:
        values: the data.
        target: for a ``DataFrame``: the column to forecast (required unless it has one column).
        fill: ``"interpolate"`` to fill missing values linearly (and at the ends, with the nearest value).
        name: the series name. Default: the column's name, else ``"series"``.
        index: the index to use instead of the values' own.
        where, first_row: how to name a bad row in messages (e.g. ``"data.csv line"`` and 2).
        rows: the row number of each value in messages (instead of ``first_row`` + position).

    Returns:
        A float64 ``pandas.Series`` with no missing values; a ``DatetimeIndex`` (sorted, with a notice in
        ``attrs["notices"]``, when it was out of order) keeps its frequency; a ``RangeIndex`` is kept.

    Raises:
        ValueError: not 1-D, non-numeric, missing, non-finite or overflowing values (with their rows),
            duplicate dates, an unknown target column.
        TypeError: an unsupported type.
    """
    if isinstance(values, pd.DataFrame):
        if target is None and values.shape[1] == 1:
            target = values.columns[0]
        if target is None or target not in values.columns:
            got = "no target" if target is None else f"unknown target '{target}'"
            raise ValueError(f"series: {got} for a DataFrame; columns are: "
                             f"{', '.join(str(c) for c in values.columns)}")
        values = values[target]
    notices = []
    if isinstance(values, pd.Series):
        name = name or (str(values.name) if values.name is not None else "series")
        if index is None and isinstance(values.index, pd.DatetimeIndex):
            order = _date_order(values.index, f"'{name}' at", np.arange(len(values)) + first_row)
            if not np.array_equal(order, np.arange(len(order))):
                values, notices = values.iloc[order], ["dates sorted"]
            index = pd.DatetimeIndex(values.index, freq=values.index.freq or _infer_freq(values.index))
        elif index is None and isinstance(values.index, pd.RangeIndex):
            index = values.index
        raw = values.reset_index(drop=True)
    elif isinstance(values, (np.ndarray, list, tuple)):
        array = np.asarray(values, dtype=object)
        if array.ndim != 1:
            raise ValueError(f"series: expected a 1-D array, got shape {array.shape}")
        raw = pd.Series(array)
    else:
        raise TypeError(f"series: expected a 1-D array, a pandas Series or a DataFrame, got {type(values).__name__}")
    name = name or "series"
    row_of = (lambda i: int(rows[i])) if rows is not None else (lambda i: int(i) + first_row)
    lines = lambda found: ", ".join(str(row_of(i)) for i in found[:5]) + (", ..." if len(found) > 5 else "")  # noqa: E731
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = np.flatnonzero(numbers.isna().to_numpy() & raw.notna().to_numpy())
    if len(bad):
        raise ValueError(f"series: non-numeric values in '{name}' at {where} {lines(bad)} "
                         f"(first: {raw.iloc[bad[0]]!r})")
    array = numbers.to_numpy()
    huge = np.flatnonzero(np.isinf(array) | (np.abs(np.nan_to_num(array)) > MAX_ABS))
    if len(huge):
        raise ValueError(f"series: non-finite or overflowing values in '{name}' at {where} {lines(huge)} "
                         f"(first: {raw.iloc[huge[0]]!r}; magnitudes above {MAX_ABS:g} are refused)")
    missing = np.flatnonzero(np.isnan(array))
    if len(missing) == len(numbers):
        raise ValueError(f"series: '{name}' has no values")
    if len(missing) and fill is None:
        raise ValueError(f"series: {len(missing)} missing value(s) in '{name}' at {where} {lines(missing)}; "
                         f"use `fill='interpolate'` to fill them")
    if fill not in (None, "interpolate"):
        raise ValueError(f"series: fill must be 'interpolate' or None, got {fill!r}")
    if len(missing):
        numbers = numbers.replace([np.inf, -np.inf], np.nan).interpolate(limit_direction="both")
    series = pd.Series(numbers.to_numpy(), index=index if index is not None else pd.RangeIndex(len(numbers)),
                       name=name)
    series.attrs["filled"] = int(len(missing))
    series.attrs["notices"] = notices
    return series


def parse_times(col: pd.Series, name: str, file: str, check_order: bool = True) -> pd.DatetimeIndex:
    """Dates (or years, written ``1871`` or ``1871.0``) to a ``DatetimeIndex``; unparsable entries are a
    ``ValueError`` with lines; with ``check_order``, dates out of order too."""
    whole = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) and col.notna().all() \
        and bool((col == np.round(col)).all())
    if whole and col.between(1000, 2999).all():
        times = pd.to_datetime(col.astype(np.int64).astype(str), format="%Y")
    else:
        times = pd.to_datetime(col.astype(str), errors="coerce", format="mixed")
        bad = np.flatnonzero(times.isna().to_numpy())
        if len(bad):
            raise ValueError(f"series: unparsable dates in '{name}' at {file} line "
                             f"{', '.join(str(i + 2) for i in bad[:5])} (first: {col.iloc[bad[0]]!r})")
    index = pd.DatetimeIndex(times)
    if not check_order:
        return index
    if not index.is_monotonic_increasing:
        raise ValueError(f"series: time column '{name}' of {file} is not in increasing order")
    return pd.DatetimeIndex(index, freq=_infer_freq(index))


def frequency(series: pd.Series) -> str | None:
    """The pandas frequency string of a dated series (e.g. ``"MS"``), or ``None``."""
    index = series.index
    if isinstance(index, pd.DatetimeIndex):
        return index.freqstr or _infer_freq(index)
    return None


def _infer_freq(index: pd.DatetimeIndex) -> str | None:
    """``pandas.infer_freq`` as a string (``None`` if irregular or shorter than 3)."""
    if len(index) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces an offset return type
        freq = pd.infer_freq(index)
    return getattr(freq, "freqstr", freq)


def frequency_entry(freq: str | None) -> tuple[str, int] | None:
    """``(name, season length)`` of a pandas frequency string (``("monthly", 12)`` for ``"MS"``), or ``None``."""
    if not freq:
        return None
    base = freq.split("-")[0].lstrip("0123456789")
    for prefix in sorted(_FREQUENCIES, key=len, reverse=True):
        if base.startswith(prefix):
            return _FREQUENCIES[prefix]
    return None


def season_length(freq: str | None) -> int:
    """Points per season for a pandas frequency: 12 monthly, 4 quarterly, 7 daily, ...; 1 when unknown."""
    entry = frequency_entry(freq)
    return entry[1] if entry else 1


def describe(series: pd.Series) -> dict:
    """What was loaded, as JSON-able values: name, source, length, start, end, frequency, range, filled."""
    freq = frequency(series)
    entry = frequency_entry(freq)
    values = series.to_numpy()
    return {
        "name": str(series.name), "source": series.attrs.get("source", "array"), "length": int(len(series)),
        "start": str(series.index[0]), "end": str(series.index[-1]),
        "frequency": entry[0] if entry else (freq or "none (positions)"), "freq": freq,
        "min": float(values.min()), "max": float(values.max()), "filled": int(series.attrs.get("filled", 0)),
        "notices": list(series.attrs.get("notices", [])),
    }


def describe_line(info: dict) -> str:
    """One line, e.g. ``passengers: 144 points, monthly, 1949-01-01 .. 1960-12-01, range 104 .. 622``."""
    start, end = (str(info[k]).replace(" 00:00:00", "") for k in ("start", "end"))
    filled = f", {info['filled']} missing filled" if info["filled"] else ""
    notices = "".join(f"; {notice}" for notice in info.get("notices", []))
    return (f"{info['name']}: {info['length']} points, {info['frequency']}, {start} .. {end}, "
            f"range {info['min']:.4g} .. {info['max']:.4g}{filled}{notices}")


def windows(values: np.ndarray, lookback: int, horizon: int, first_end: int = 0,
            end: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows: ``L`` inputs and the ``H`` values that follow, for every target ending in range.

    A window whose last target sits at index ``e`` reads inputs ``values[e-H-L+1 : e-H+1]`` and targets
    ``values[e-H+1 : e+1]``; windows are made for ``first_end <= e < end`` (where the inputs fit).

    Shape:
        values ``(T,)`` -> inputs ``(N, L)``, targets ``(N, H)``.
    """
    end = len(values) if end is None else end
    ends = np.arange(max(first_end, lookback + horizon - 1), end)
    if len(ends) == 0:
        return np.zeros((0, lookback)), np.zeros((0, horizon))
    starts = ends - horizon - lookback + 1
    # row n holds values[starts[n] : starts[n] + L + H]
    block = values[starts[:, None] + np.arange(lookback + horizon)[None, :]]  # -> (N, L + H)
    return block[:, :lookback], block[:, lookback:]


@dataclass(frozen=True)
class Scaler:
    """``z = (f(y) - mean) / std`` with ``f = log`` (positive series) or the identity, fitted on training data.

    Attributes:
        log: whether ``f`` is the natural log.
        mean, std: of ``f(y)`` over the training part.
    """

    log: bool
    mean: float
    std: float

    def __post_init__(self) -> None:  # also checks a scaler read back from a hand-edited config.json
        if not (np.isfinite(self.mean) and np.isfinite(self.std) and self.std > 0):
            raise ValueError(f"series: a scaler needs a finite mean and a positive deviation, got mean "
                             f"{self.mean!r} and std {self.std!r}")

    @classmethod
    def fit(cls, values: np.ndarray, transform: str = "auto") -> "Scaler":
        """Fit on training values. ``transform``: ``"auto"`` (log when every value is positive), ``"log"``,
        ``"none"``."""
        if transform not in ("auto", "log", "none"):
            raise ValueError(f"forecast: transform must be 'auto', 'log' or 'none', got {transform!r}")
        positive = bool(np.all(values > 0))
        if transform == "log" and not positive:
            raise ValueError(f"forecast: transform 'log' needs a positive series; its minimum is {values.min():.4g}")
        log = transform == "log" or (transform == "auto" and positive)
        f = np.log(values) if log else values
        std = float(np.std(f))
        if not std > 0:
            raise ValueError("series: the training part is constant; there is nothing to learn")
        return cls(log=log, mean=float(np.mean(f)), std=std)

    def transform(self, values: np.ndarray) -> np.ndarray:
        # z = (f(y) - mean) / std
        f = np.log(np.maximum(values, 1e-12)) if self.log else values
        return (f - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        # y = f^-1(z * std + mean)
        f = z * self.std + self.mean
        return np.exp(np.minimum(f, 700.0)) if self.log else f


def split_sizes(length: int, lookback: int, horizon: int, test_size: int, val_size: int) -> tuple[int, int]:
    """Check a series is long enough; return ``(train_end, val_end)``: the chronological split points.

    ``series[:train_end]`` trains, ``series[train_end:val_end]`` validates, ``series[val_end:]`` (the last
    ``test_size`` points) tests. Training needs at least ``L + H`` points (one window).
    """
    for name, value, low in (("lookback", lookback, 1), ("horizon", horizon, 1), ("test_size", test_size, 0),
                             ("val_size", val_size, 0)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"forecast: {name} must be an integer >= {low}, got {value!r}")
    need = lookback + horizon + val_size + test_size
    if length < need:
        raise ValueError(f"series: {length} points are too few for lookback {lookback} + horizon {horizon} + "
                         f"validation {val_size} + test {test_size}: need at least {need}")
    return length - test_size - val_size, length - test_size


def check_not_constant(series: pd.Series) -> None:
    """A constant series has nothing to forecast (and no scale): ``ValueError``."""
    values = series.to_numpy()
    if len(values) and np.all(values == values[0]):
        raise ValueError(f"series: '{series.name}' is constant (every value is {values[0]:.6g}); "
                         f"there is nothing to forecast")
