"""One ``rnnlab forecast`` run: load and split the series, fit, backtest against the baselines, write the run.

The test part (the last ``test_size`` points) is never seen by the fit: the forecaster fits on the points
before it (its last ``val_size`` points validating), then forecasts the test points from rolling origins
every ``horizon`` steps, using only actual values before each origin; the baselines forecast the same points
from the same origins. Everything a user can get wrong is checked before the run directory is created, and
a run that fails on bad input removes what it wrote.

The run directory (DESIGN.md): ``config.json`` (settings, data description, sizes, versions, and after
training the forecaster's state), ``model.safetensors``, ``metrics.json``, ``history.csv``,
``report.html`` with ``series.png``, ``forecast.png``, ``loss.png``, and ``checkpoint/``.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from rnnlab import distributed, drawing, rundir
from rnnlab.config import resume_with, to_dict
from rnnlab.data import series as sd
from rnnlab.forecast import figures, panel_run
from rnnlab.forecast.estimator import Forecaster
from rnnlab.forecast.settings import ForecastConfig, resolve_sizes, train_config
from rnnlab.metrics import METRICS, forecast_metrics

BASELINES = ("naive", "seasonal_naive", "linear")


RESUMABLE = ("lr", "steps", "minutes", "epochs", "patience", "eval_every", "device", "quiet")  # may change on resume


@dataclass
class ForecastRun:
    """What a run produced: its directory, ``metrics.json``'s content, the printed table, the forecaster."""

    run_dir: Path
    metrics: dict
    table: list[dict]
    description: str
    forecaster: Forecaster
    backtest: pd.DataFrame
    writer: bool = True  # False on the ranks other than 0 under torchrun: they neither write nor print


def prepare(config: ForecastConfig) -> tuple[pd.Series, dict]:
    """Load the series and resolve every size; raise ``ValueError`` before anything is written."""
    series = sd.load(config.data, config.column, config.time_column, config.fill, config.length, config.noise,
                     config.seed, config.encoding)
    sizes = resolve_sizes(config, series)
    test_size = config.test_size if config.test_size is not None else max(sizes["horizon"], round(0.2 * len(series)))
    if config.val_size is None:  # Forecaster.fit takes 10% of what it is given: the part before the test
        sizes["val_size"] = max(1, round(0.1 * (len(series) - test_size)))
    if test_size < 1:
        raise ValueError(f"forecast: test_size must be >= 1, got {test_size}")
    sd.split_sizes(len(series), sizes["lookback"], sizes["horizon"], test_size, sizes["val_size"])
    sd.check_not_constant(series)
    distributed.resolve_device(config.device)
    train_config(config)
    return series, {**sizes, "test_size": int(test_size)}


def run(config: ForecastConfig, out: str | Path | None = None, resume: str | Path | None = None,
        given: Mapping[str, Any] | None = None) -> ForecastRun:
    """Train and evaluate a forecaster as ``config`` says and write its run directory.

    A panel (``id_column`` or ``columns``) goes to :func:`rnnlab.forecast.panel_run.run`.

    Args:
        config: the resolved settings.
        out: the run directory (default ``runs/forecast-<timestamp>``); it must not hold a run already.
        resume: a run directory to continue from its checkpoint, with its stored settings (``config`` is not
            used).
        given: with ``resume``, settings given again: those that may change (:data:`RESUMABLE`) are applied
            and recorded in ``config.json``; any other that differs from the run is a ``ValueError`` naming it.
    """
    changed = {}
    if resume is not None:
        stored = rundir.read_run_config(resume)
        if stored.get("task") != "forecast":
            raise ValueError(f"forecast: {resume} is not a forecast run (task {stored.get('task')!r})")
        config, changed = resume_with(ForecastConfig, stored["config"], given or {}, "forecast", RESUMABLE)
        run_dir = Path(resume)
    else:
        run_dir = rundir.new_run_dir("forecast", out)
        if _rank() == 0:  # other ranks: rank 0 may have begun
            rundir.check_new(run_dir)  # an existing run is never overwritten
    writer = _rank() == 0
    if config.backtest is not None:  # rolling origins instead of one split (one series or a panel)
        from rnnlab.forecast import backtest_run

        with rundir.claim(run_dir, resume=resume is not None) if writer else nullcontext():
            return backtest_run.run(config, run_dir, writer)
    if panel_run.is_panel(config):  # a panel (id_column or columns): loaded inside, under the claim
        with rundir.claim(run_dir, resume=resume is not None) if writer else nullcontext():
            if changed and writer:
                rundir.record_resume(run_dir, to_dict(config), changed)
            return panel_run.run(config, run_dir, resume is not None, writer)
    series, sizes = prepare(config)
    with rundir.claim(run_dir, resume=resume is not None) if writer else nullcontext():  # this process's now
        if changed and writer:
            rundir.record_resume(run_dir, to_dict(config), changed)
        return _run(config, run_dir, resume, series, sizes, writer)


def _run(config: ForecastConfig, run_dir: Path, resume, series: pd.Series, sizes: dict, writer: bool) -> ForecastRun:
    """:func:`run` once the data is loaded and the run directory is this process's."""
    test_size = sizes["test_size"]
    history, test = series.iloc[:-test_size], series.iloc[-test_size:]
    info = sd.describe(series)
    if writer and resume is None:
        rundir.atomic_write_json(run_dir / "config.json", {
            "task": "forecast", "config": to_dict(config), "data": info, "sizes": sizes,
            "versions": rundir.versions()})
    pngs = {}  # each figure sent as soon as its data exists: drawn meanwhile by the program's drawing process
    if writer:
        pngs["series"] = drawing.draw(figures.series_figure, (info["name"], history, test, sizes["val_size"]),
                                      run_dir, "series.png")
    forecaster = Forecaster.from_config(replace(config, val_size=sizes["val_size"]))
    try:
        forecaster.fit(history, run_dir=run_dir, resume=resume is not None)
    except BaseException:
        drawing.stop()  # nothing more is drawn into a run that is being removed, or kept for --resume
        raise
    if writer:
        pngs["loss"] = drawing.draw(figures.loss_figure, (forecaster.result_.history,), run_dir, "loss.png")
    frame = forecaster.backtest(test)
    if writer:
        pngs["forecast"] = drawing.draw(figures.forecast_figure, (history, frame, sizes, config.cell), run_dir,
                                        "forecast.png")
    train_values = history.to_numpy()
    scores = {name: forecast_metrics(frame["actual"], frame[name], train_values, forecaster.season_)
              for name in ("model", *BASELINES)}
    metrics = {
        "task": "forecast", "test": _clean(scores["model"]),
        "baselines": {name: _clean(scores[name]) for name in BASELINES},
        "horizon": forecaster.horizon_, "lookback": forecaster.lookback_,
        "train_seconds": float(forecaster.result_.seconds), "epochs": int(forecaster.result_.epochs),
    }
    label = f"{config.cell} (this model)"
    table = [{"model": label if name == "model" else name, **scores[name]} for name in ("model", *BASELINES)]
    forecaster.append(test)
    if writer:
        forecaster.save(run_dir)
        rundir.atomic_write_json(run_dir / "metrics.json", metrics)
        rundir.write_history_csv(run_dir / "history.csv", forecaster.result_.history)
        long = frame.rename_axis("time").reset_index()
        long.insert(0, "id", str(series.name))
        rundir.atomic_write_text(run_dir / "test_forecasts.csv", long.to_csv(index=False))
        write_report(run_dir, config, info, sizes, table, forecaster, pngs)
    return ForecastRun(run_dir, metrics, table, sd.describe_line(info), forecaster, frame, writer)


def _rank() -> int:
    """This process's rank under torchrun (0 otherwise); only rank 0 writes the run directory."""
    return distributed.rank()


def format_table(rows: list[dict]) -> str:
    """The metrics table as aligned text (4 significant digits; MAPE and sMAPE in percent)."""
    header = ["model", *METRICS]
    cells = [[str(row["model"]), *(_number(row[k]) for k in METRICS)] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    line = lambda values: "  ".join(v.ljust(w) if i == 0 else v.rjust(w)  # noqa: E731
                                    for i, (v, w) in enumerate(zip(values, widths)))
    return "\n".join([line([h if h not in ("mape", "smape") else h + "%" for h in header]),
                      *(line(c) for c in cells)])


def _number(value: float) -> str:
    return "nan" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _clean(scores: dict) -> dict:
    """JSON has no NaN: undefined metrics become null."""
    return {k: (float(v) if math.isfinite(v) else None) for k, v in scores.items()}


def write_report(run_dir: Path, config: ForecastConfig, info: dict, sizes: dict, table: list[dict],
                 forecaster: Forecaster, pngs: dict[str, str]) -> Path:
    """``report.html`` with the series and its split, the forecast against the baselines, the loss curves (the
    figures drawn by :mod:`rnnlab.drawing`, in the program's drawing process where it has one; ``pngs``: the
    ``series``, ``loss`` and ``forecast`` figures' names, each sent as soon as its data existed)."""
    from rnnlab.report import Section
    from rnnlab.report import write_report as write_page

    drawing.wait()

    skip = ("an RNN learning the residual of a least-squares linear autoregression (the linear skip starts "
            "at the linear baseline)" if config.skip == "linear" else "a plain RNN")
    return write_page(run_dir, f"rnnlab forecast: {info['name']}", [
        Section("Data", sd.describe_line(info) + f". Source: {info['source']}.\n\n"
                f"Lookback {sizes['lookback']}, horizon {sizes['horizon']}, season {sizes['season']}; the last "
                f"{sizes['test_size']} points test, the {sizes['val_size']} before them validate.",
                figures=[pngs["series"]]),
        Section("Test metrics", f"Model: {skip}, {config.cell} hidden {forecaster.model_.net.rnn.hidden_size} x "
                f"{config.num_layers}, strategy {config.strategy}. MAPE and sMAPE in percent; MASE scaled by "
                "the in-sample seasonal-naive error. Every row forecasts the same test points from the same "
                "origins.", table=[{k: row[k] for k in ("model", *METRICS)} for row in table],
                figures=[pngs["forecast"]]),
        Section("Training", f"{forecaster.result_.epochs} epochs in {forecaster.result_.seconds:.1f} s "
                f"(stopped: {forecaster.result_.stopped}); the weights of the best validation loss are kept.",
                figures=[pngs["loss"]]),
    ])


@dataclass(frozen=True)
class PredictConfig:
    """The settings of ``rnnlab predict`` (``[predict]`` in a TOML file)."""

    model: str | None = None  # run directory of rnnlab forecast (required)
    horizon: int | None = None  # steps to forecast; None: the model's horizon
    data: str | None = None  # a CSV (or built-in series) continuing the series: forecast after its end
    column: str | None = None  # CSV: the value column (default: the model's; another one is refused)
    time_column: str | None = None  # CSV: the dates column (default: the model's)
    id_column: str | None = None  # panel CSV: the series ids column (default: the model's)
    encoding: str | None = None  # CSV text encoding (default UTF-8)
    fill: str | None = None  # "interpolate" to fill missing values
    csv: str | None = None  # also write the forecast to this CSV file
    covariates: str | None = None  # a CSV of the model's future covariates for the forecast period (id, time, columns)


def predict(model_dir: str | Path, horizon: int | None = None, data: str | None = None, column: str | None = None,
            time_column: str | None = None, fill: str | None = None, id_column: str | None = None,
            encoding: str | None = None, covariates: str | None = None):
    """Forecast ``horizon`` steps after a saved forecaster's series, or after ``data`` (a CSV continuing it).

    For a CSV, the value, time and id columns default to those the run was trained with; a value column
    other than the model's is refused (the model's scaler and weights belong to its column). A model that
    reads future covariates needs them for every forecast point: ``covariates``, a CSV with the time (and id)
    column and those columns (``data``'s own covariate columns are read over its history).

    Returns:
        One series: a ``pandas.Series`` of the forecasts. A panel: a long frame ``id, time, forecast``.
    """
    stored = rundir.read_run_config(model_dir)
    settings = stored.get("config", {})
    if "panel" in stored:
        from rnnlab.data.panel import read_panel_csv
        from rnnlab.forecast.panel import PanelForecaster

        forecaster = PanelForecaster.load(model_dir)
        panel = None
        if data is not None:
            trained = settings.get("column")
            _check_column(column, trained)
            panel = read_panel_csv(data, id_column or settings.get("id_column"),
                                   time_column or settings.get("time_column"), column or trained,
                                   _split(settings.get("columns")) if not settings.get("id_column") else None,
                                   fill, encoding)
        frames = _covariate_frames(forecaster, settings, panel, data, covariates, encoding)
        return forecaster.predict(horizon, panel, covariates=frames)
    if covariates is not None:
        raise ValueError("predict: this model reads no covariates; --covariates does not apply")
    forecaster = Forecaster.load(model_dir)
    series = None
    if data is not None:
        if data in sd.BUILTIN:
            series = sd.load(data)
        else:
            path = Path(data)
            header = [str(c) for c in sd.read_frame(path, encoding).columns]
            trained = settings.get("column") or str(forecaster.history_.name)
            _check_column(column, trained)
            if trained not in header:
                raise ValueError(f"predict: {path.name} has no column '{trained}', the one the model was trained "
                                 f"on; columns are: {', '.join(header)}")
            times = [stored.get("config", {}).get("time_column"),
                     sd.BUNDLED.get(settings.get("data"), (None, None))[1]]
            time_column = time_column or next((c for c in times if c in header), None)
            series = sd.load(str(path), trained, time_column, fill, encoding=encoding)
    return forecaster.predict(horizon, series)


def _covariate_frames(forecaster, settings: dict, panel, data: str | None, covariates: str | None,
                      encoding: str | None) -> dict | None:
    """The raw covariates ``predict`` reads: ``data``'s covariate columns over its history, then the
    ``covariates`` CSV's future columns (later rows win); ``None`` when neither applies."""
    table = getattr(forecaster, "covariates_", None)
    if table is None or (data is None and covariates is None):
        if covariates is not None:
            raise ValueError("predict: this model reads no covariates; --covariates does not apply")
        return None
    from rnnlab.forecast.panel_covariates import frames_from_csv

    target = panel if panel is not None else forecaster.panel_
    id_column, time_column = settings.get("id_column"), settings.get("time_column")
    user = [c for c in table.future if c not in table.calendar]
    frames = {}
    for path, columns in ((data, [*user, *table.past, *table.static_names]), (covariates, user)):
        if path is not None and columns:
            found = frames_from_csv(sd.read_frame(path, encoding), target, id_column, time_column, tuple(columns),
                                    Path(path).name)
            frames = {k: v if k not in frames else v.combine_first(frames[k]) for k, v in found.items()}
    return frames or None


def _check_column(given: str | None, trained: str | None) -> None:
    if given is not None and trained is not None and given != trained:
        raise ValueError(f"predict: the model was trained on column '{trained}', not '{given}'; its scaling and "
                         f"weights belong to that column")


def _split(columns: str | None) -> list[str] | None:
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    return None if names == ["all"] else names
