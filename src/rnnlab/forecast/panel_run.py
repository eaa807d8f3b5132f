"""One ``rnnlab forecast`` run on a panel (``--id-column`` or ``--columns``): fit, backtest, write the run.

Each series' last ``test_size`` points (default: the horizon) are held out; the model fits on the points
before them and forecasts them from rolling origins every ``horizon`` steps; the baselines forecast the same
points per series. The run directory holds, besides ``config.json``, the weights and ``history.csv``:
``metrics.json`` (``test`` and ``baselines`` as means over series, ``beats``: on how many series the model's
MASE is below each baseline's, ``series``, ``mode``), ``series_metrics.csv`` (one row per series),
``test_forecasts.csv`` (long: id, time, actual, model, naive, seasonal_naive, linear) and ``report.html``
with ``mase.png`` (the model's MASE per series against the seasonal naive's) and ``grid.png`` (the best,
median and worst series' forecasts).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab import distributed, rundir
from rnnlab.config import to_dict
from rnnlab.data.panel import Panel, read_panel_csv
from rnnlab.forecast.estimator import ForecastConfig
from rnnlab.forecast.intervals import aggregate_intervals, panel_interval_scores, symmetric_pairs
from rnnlab.forecast import panel_covariates
from rnnlab.forecast.panel import PanelForecaster
from rnnlab.metrics import METRICS, aggregate, panel_scores

BASELINES = ("naive", "seasonal_naive", "linear")


@dataclass
class PanelRun:
    """What a panel run produced (``metrics.json``'s content, the printed lines, the series' metrics)."""

    run_dir: Path
    metrics: dict
    table: list[dict]
    description: str
    forecaster: PanelForecaster
    backtest: pd.DataFrame
    series_metrics: pd.DataFrame
    writer: bool = True


def is_panel(config: ForecastConfig) -> bool:
    """Whether ``config`` asks for a panel: a long CSV (``id_column``) or a wide one (``columns``); quantiles
    and mode "global" also run here (one series as a panel of one: the global network forecasts them)."""
    return (config.id_column is not None or config.columns is not None or config.quantiles is not None
            or config.mode == "global" or bool(config.calendar) or bool(covariate_columns(config)))


def covariate_columns(config: ForecastConfig) -> tuple[str, ...]:
    """Every covariate column the settings name (future, past, static)."""
    return tuple(c for v in (config.future_columns, config.past_columns, config.static_columns)
                 for c in panel_covariates.names(v))


def read_covariates(config: ForecastConfig, panel: Panel) -> dict | None:
    """The covariate columns of the data's CSV, per series (``{id: frame by time}``), checked; ``None`` if none.

    Raises:
        ValueError: covariates of a built-in series or a wide CSV, or a column that is unknown, non-numeric
            or incomplete (named, with its first bad line).
    """
    columns = covariate_columns(config)
    if not columns:
        return None
    if config.columns is not None or not str(config.data).lower().endswith((".csv", ".txt", ".tsv")):
        raise ValueError("covariates: --future-columns, --past-columns and --static-columns read columns of a CSV "
                         "file: one series, or a long panel (--id-column)")
    from rnnlab.data import series as sd

    frame = sd.read_frame(config.data, config.encoding)
    return panel_covariates.frames_from_csv(frame, panel, config.id_column, config.time_column, columns,
                                            Path(config.data).name)


def read(config: ForecastConfig) -> Panel:
    """The panel ``config`` names: a long or wide CSV, or one series (a panel of one)."""
    if config.id_column is None and config.columns is None:
        from rnnlab.data import series as sd

        return Panel.build(sd.load(config.data, config.column, config.time_column, config.fill, config.length,
                                   config.noise, config.seed, config.encoding))
    columns = [c.strip() for c in config.columns.split(",") if c.strip()] if config.columns else None
    columns = None if columns == ["all"] else columns
    return read_panel_csv(config.data, config.id_column, config.time_column, config.column, columns,
                          config.fill, config.encoding)


def prepare(config: ForecastConfig) -> tuple[Panel, dict]:
    """Read the panel (and its covariates: ``sizes["covariate_frames"]``) and resolve every size; raise
    ``ValueError`` before anything is written."""
    panel = read(config)
    frames = read_covariates(config, panel)
    forecaster = PanelForecaster(config)
    sizes = forecaster.resolve(panel)
    test_size = config.test_size if config.test_size is not None else sizes["horizon"]
    if config.test_size is None and len(panel) == 1:  # one series: as rnnlab forecast always did
        test_size = max(sizes["horizon"], round(0.2 * int(panel.lengths[0])))
    if not isinstance(test_size, int) or test_size < 1:
        raise ValueError(f"forecast: test_size must be >= 1, got {test_size}")
    forecaster.check_lengths(panel, sizes, test_size)
    from rnnlab.forecast.estimator import train_config

    distributed.resolve_device(config.device)
    train_config(config)
    return panel, {**sizes, "test_size": int(test_size), "covariate_frames": frames}


def run(config: ForecastConfig, run_dir: Path, resume: bool, writer: bool) -> PanelRun:
    """Fit and evaluate a panel as ``config`` says, writing ``run_dir`` on the writing rank."""
    panel, sizes = prepare(config)
    frames = sizes.pop("covariate_frames")
    info = panel.describe()
    if writer and not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.atomic_write_json(run_dir / "config.json", {
            "task": "forecast", "config": to_dict(config), "data": info, "sizes": sizes, "versions": rundir.versions()})
    history, test = panel.split(sizes["test_size"])
    forecaster = PanelForecaster(config).fit(history, run_dir=run_dir if sizes["mode"] == "global" else None,
                                             resume=resume, covariates=frames)  # several members: one checkpoint each
    frame = forecaster.backtest(test)
    histories = {history.ids[i]: history.values[history.offsets[i]:history.offsets[i + 1]] for i in range(len(history))}
    series_metrics = panel_scores(frame, histories, forecaster.season_)
    if forecaster.mode_ == "local":
        series_metrics.insert(2, "choice", [forecaster.choices_[i] for i in series_metrics["id"]])
    summary = aggregate(series_metrics)
    metrics = _metrics(forecaster, summary, sizes)
    if forecaster.quantiles_:
        scores = panel_interval_scores(frame, histories, forecaster.season_, forecaster.quantiles_,
                                       forecaster.horizon_)
        series_metrics = series_metrics.merge(scores, on="id", how="left")
        add_intervals(metrics, aggregate_intervals(scores), forecaster.quantiles_)
    table = [{"model": f"{config.cell} ({forecaster.mode_}, this model)", **summary["model"]},
             *({"model": name, **summary[name]} for name in BASELINES)]
    forecaster.append(test)  # the saved model forecasts after each series' last point (rnnlab predict)
    if writer:
        forecaster.save(run_dir)
        rundir.atomic_write_json(run_dir / "metrics.json", metrics)
        rundir.atomic_write_text(run_dir / "series_metrics.csv", series_metrics.to_csv(index=False))
        rundir.atomic_write_text(run_dir / "test_forecasts.csv", frame.to_csv(index=False))
        if forecaster.result_ is not None:
            rundir.write_history_csv(run_dir / "history.csv", forecaster.result_.history)
        from rnnlab.forecast.panel_report import write_report

        write_report(run_dir, config, panel, history, frame, series_metrics, metrics, table, forecaster)
    return PanelRun(run_dir, metrics, table, panel.describe_line(), forecaster, frame, series_metrics, writer)


def _metrics(forecaster: PanelForecaster, summary: dict, sizes: dict) -> dict:
    """``metrics.json``: DESIGN's keys (means over series) plus the panel's counts. ``epochs`` is what one
    network trained, as in a single series' run: the mean over the global model's members (its ``steps``
    are all members' together) or over the local models' series."""
    result = forecaster.result_
    if result is not None:  # global: the members' fits summed
        seconds = float(result.seconds)
        epochs = int(round(result.epochs / len(forecaster.lookbacks_)))
    else:  # local: the sum of the per-series fits, their mean epochs
        fits = [f.result_ for f in forecaster.forecasters_.values() if f is not None]
        seconds = float(sum(r.seconds for r in fits))
        epochs = int(round(np.mean([r.epochs for r in fits]))) if fits else 0
    metrics = {
        "task": "forecast", "test": _clean(summary["model"]),
        "baselines": {name: _clean(summary[name]) for name in BASELINES},
        "horizon": forecaster.horizon_, "lookback": forecaster.lookback_, "train_seconds": seconds,
        "epochs": epochs, "mode": forecaster.mode_, "series": summary["series"], "beats": summary["beats"],
        "lookbacks": list(forecaster.lookbacks_), "steps": int(result.steps) if result is not None else None,
    }
    if forecaster.mode_ == "local":
        kept = pd.Series(list(forecaster.choices_.values())).value_counts()
        metrics["choices"] = {k: int(v) for k, v in kept.items()}
        metrics["validation"] = dict(forecaster.validation_)
    return metrics


def add_intervals(metrics: dict, means: dict, quantiles) -> None:
    """``metrics.json``'s interval keys: ``test.coverage``, ``test.msis``, ``test.scaled_pinball`` (means over
    series), the same for the seasonal naive's empirical intervals, ``quantiles``, ``interval`` (the nominal
    percent that ``coverage`` and ``msis`` score) and ``levels`` (coverage and MSIS of every symmetric level,
    ``{"80": {"model": ..., "seasonal_naive": ...}}``)."""
    finite = lambda v: float(v) if np.isfinite(v) else None  # noqa: E731
    for target, method in ((metrics["test"], "model"), (metrics["baselines"]["seasonal_naive"], "seasonal_naive")):
        target.update({k: finite(v) for k, v in means[method].items()})
    pairs = symmetric_pairs(quantiles)
    metrics["quantiles"], metrics["interval"] = list(quantiles), (pairs[0][2] if pairs else None)
    metrics["levels"] = {level: {m: {k: finite(v) for k, v in scores.items()} for m, scores in methods.items()}
                         for level, methods in means["levels"].items()}


def interval_lines(metrics: dict) -> list[str]:
    """Printed lines: each interval's coverage and MSIS, and the scaled pinball loss, model (seasonal naive)."""
    number = lambda v, f: "nan" if v is None else format(v, f)  # noqa: E731
    lines = []
    for level, methods in sorted(metrics["levels"].items(), key=lambda item: -float(item[0])):
        m, b = methods["model"], methods["seasonal_naive"]
        lines.append(f"{level}% interval: coverage {number(m['coverage'], '.1f')}% (seasonal naive "
                     f"{number(b['coverage'], '.1f')}%), MSIS {number(m['msis'], '.4g')} "
                     f"(seasonal naive {number(b['msis'], '.4g')})")
    t, b = metrics["test"], metrics["baselines"]["seasonal_naive"]
    lines.append(f"scaled pinball loss over {len(metrics['quantiles'])} quantiles: "
                 f"{number(t['scaled_pinball'], '.4g')} (seasonal naive {number(b['scaled_pinball'], '.4g')})")
    return lines


def _clean(scores: dict) -> dict:
    return {k: (float(scores[k]) if np.isfinite(scores[k]) else None) for k in METRICS}


def summary_lines(result: PanelRun) -> list[str]:
    """What the command prints besides the table: how often the model wins, MASE spread, local choices."""
    m, s = result.metrics, result.series_metrics
    ratio = (s["model_mase"] / s["seasonal_naive_mase"]).replace([np.inf, -np.inf], np.nan).dropna()
    q = np.percentile(ratio, [10, 50, 90]) if len(ratio) else [np.nan] * 3
    lines = [f"model beats naive on {m['beats']['naive']}, seasonal naive on {m['beats']['seasonal_naive']}, "
             f"linear on {m['beats']['linear']} of {m['series']} series (MASE)",
             f"MASE / seasonal naive's MASE per series: 10% {q[0]:.3f}, median {q[1]:.3f}, 90% {q[2]:.3f}"]
    if "quantiles" in m:
        lines.extend(interval_lines(m))
    if m["mode"] == "local":
        lines.append(local_line(m["choices"], m["validation"]))
    return lines + covariate_notes(result.forecaster)


def covariate_notes(forecaster) -> list[str]:
    """A line for each covariate column the (last) fit left out (:meth:`CovariateTable.notes`); none without."""
    table = getattr(forecaster, "covariates_", None)
    return table.notes() if table is not None else []


def local_line(choices: dict, validation: dict) -> str:
    """The per-series mode's choice in words: what the series kept and the validation ratios behind it."""
    kept = ", ".join(f"{k} on {v}" for k, v in choices.items())
    if not validation:
        return f"per-series mode: kept {kept} series (no validation)"
    scores = ", ".join(f"{k} {v:.3f}" for k, v in validation.items())
    return (f"per-series mode: validation error / the seasonal naive's on the same points: {scores}; the "
            f"seasonal naive is kept unless another is 10% better: kept {kept} series")
