"""``rnnlab forecast --backtest K [--refit]``: a rolling-origin backtest of one series or a panel, written as a run.

One series goes to the single-series :class:`~rnnlab.forecast.estimator.Forecaster` (with ``--quantiles`` or
``--mode global``: the global model, as a panel of one), a panel to the
:class:`~rnnlab.forecast.panel.PanelForecaster`. The forecaster is fitted on each series up to its first
origin, ``K`` horizons before its end, and forecasts ``H`` points from each of the ``K`` origins
(:mod:`rnnlab.forecast.backtest`); ``--refit`` fits it again at every origin. The run directory holds
``config.json``, the last fit's weights, ``metrics.json`` (``backtest``: per origin, mean and sd over the
origins; ``test`` and ``baselines``: the means over origins), ``backtest_forecasts.csv`` (long: origin, id,
time, step, actual, model, quantiles, naive, seasonal_naive), ``backtest_origins.csv`` (one row per origin
and method) and ``report.html`` with ``backtest.png`` (every origin's forecast against the actual values).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rnnlab import rundir
from rnnlab.config import to_dict
from rnnlab.forecast.backtest import Backtest, panel_backtest, series_backtest
from rnnlab.forecast.estimator import ForecastConfig, Forecaster, resolve_sizes
from rnnlab.forecast.panel import PanelForecaster
from rnnlab.forecast.quantiles import quantile_column
from rnnlab.metrics import METRICS

METHODS = ("model", "naive", "seasonal_naive")


def prepare(config: ForecastConfig) -> tuple[dict, dict, str, dict]:
    """Read the data and check the sizes; raise ``ValueError`` before anything is written.

    Returns:
        ``(series, sizes, description, data info)``: ``series`` maps each id to its whole ``pandas.Series``.
    """
    from rnnlab.forecast import panel_run

    k = config.backtest
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"forecast: backtest must be a positive number of origins, got {k!r}")
    panel = panel_run.read(config)
    if len(panel) == 1 and not panel_run.is_panel(config):  # the single-series Forecaster
        series = panel.series(0)
        sizes = resolve_sizes(config, series)
        need = k * sizes["horizon"] + sizes["lookback"] + sizes["horizon"] + sizes["val_size"] + 1
        if len(series) < need:
            raise ValueError(f"forecast: the series has {len(series)} points, too few for a backtest of {k} origins "
                             f"of horizon {sizes['horizon']} after lookback {sizes['lookback']} + horizon + "
                             f"validation {sizes['val_size']}: need at least {need}")
        sizes = {**sizes, "mode": "series"}
    else:
        forecaster = PanelForecaster(config)
        sizes = forecaster.resolve(panel)
        forecaster.check_lengths(panel, sizes, k * sizes["horizon"])
    sizes["covariate_frames"] = panel_run.read_covariates(config, panel)
    return {name: panel.series(i) for i, name in enumerate(panel.ids)}, sizes, panel.describe_line(), panel.describe()


def run(config: ForecastConfig, run_dir: Path, writer: bool):
    """Backtest as ``config`` says (``config.backtest`` origins) and write ``run_dir`` on the writing rank."""
    from rnnlab.forecast.panel_run import PanelRun

    series, sizes, description, info = prepare(config)
    frames = sizes.pop("covariate_frames")
    if writer:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.atomic_write_json(run_dir / "config.json", {
            "task": "forecast", "config": to_dict(config), "data": info, "sizes": sizes, "versions": rundir.versions()})
    start, cpu = time.perf_counter(), time.process_time()
    if sizes["mode"] == "series":
        result = series_backtest(Forecaster.from_config(config), next(iter(series.values())), config.backtest,
                                 config.refit)
    else:
        result = panel_backtest(PanelForecaster(config), series, config.backtest, config.refit, frames)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    metrics = _metrics(result, sizes, len(series), seconds, cpu)
    if writer:
        result.fitted.save(run_dir)
        rundir.atomic_write_json(run_dir / "metrics.json", metrics)
        rundir.atomic_write_text(run_dir / "backtest_forecasts.csv", result.forecasts.to_csv(index=False))
        rundir.atomic_write_text(run_dir / "backtest_origins.csv", result.per_origin.to_csv(index=False))
        write_report(run_dir, series, result, metrics, description)
    mode = sizes["mode"] if sizes["mode"] != "series" else "one series"
    table = [{"model": f"{config.cell} ({mode}, this model)" if m == "model" else m,
              **{k: v["mean"] for k, v in result.summary(m).items()}} for m in METHODS]
    return PanelRun(run_dir, metrics, table, description, result.fitted, result.forecasts, result.per_origin, writer)


def _metrics(result: Backtest, sizes: dict, count: int, seconds: float, cpu_seconds: float) -> dict:
    """``metrics.json``: the means over origins as ``test``/``baselines``, and ``backtest`` in full."""
    summary = {m: result.summary(m) for m in METHODS}
    means = {m: {k: _json(v["mean"]) for k, v in s.items()} for m, s in summary.items()}
    return {
        "task": "forecast", "test": means["model"],
        "baselines": {"naive": means["naive"], "seasonal_naive": means["seasonal_naive"]},
        "horizon": result.horizon, "lookback": sizes["lookback"], "mode": sizes["mode"], "series": count,
        "train_seconds": seconds,
        "backtest": {
            "origins": result.origins, "refit": result.refit, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "quantiles": list(result.quantiles) if result.quantiles else None,
            "mean": means, "sd": {m: {k: _json(v["sd"]) for k, v in s.items()} for m, s in summary.items()},
            "per_origin": [{k: (_json(v) if isinstance(v, float) else v) for k, v in row.items()}
                           for row in result.per_origin.to_dict("records")],
        },
    }


def _json(value: float):
    return float(value) if value is not None and np.isfinite(value) else None


def summary_lines(result) -> list[str]:
    """The printed summary: mean ± sd over the origins of every method, one line each."""
    b = result.metrics["backtest"]
    lines = [f"backtest: {b['origins']} origins, horizon {result.metrics['horizon']}, "
             f"{'refit at every origin' if b['refit'] else 'fitted once'}; {b['seconds']:.1f} s "
             f"({b['cpu_seconds']:.1f} s CPU); mean ± sd over the origins"]
    names = [k for k in (*METRICS, "coverage", "msis", "scaled_pinball") if k in b["mean"]["model"]]
    width = max(len(row["model"]) for row in result.table)
    for row, method in zip(result.table, METHODS):
        cells = [f"{n}{'%' if n in ('mape', 'smape', 'coverage') else ''} {_pm(b, method, n)}" for n in names
                 if b["mean"][method].get(n) is not None]
        lines.append(f"{row['model']:<{width}}  " + "  ".join(cells))
    from rnnlab.forecast.panel_run import covariate_notes

    return lines + covariate_notes(result.forecaster)


def _pm(b: dict, method: str, name: str) -> str:
    mean, sd = b["mean"][method].get(name), b["sd"][method].get(name)
    return f"{mean:.4g} ± {sd:.2g}" if sd is not None else f"{mean:.4g}"


def origins_figure(series: dict, result: Backtest, max_series: int = 3):
    """Every origin's forecast (and interval) against the actual values, for the first ``max_series`` series."""
    import matplotlib.pyplot as plt

    names = list(series)[:max_series]
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.8 * len(names)), squeeze=False)
    frame = result.forecasts
    for ax, name in zip(axes[:, 0], names):
        s, rows = series[name], frame[frame["id"] == name]
        before = s[s.index < rows["time"].iloc[0]].iloc[-2 * result.horizon:]
        ax.plot(before.index, before.to_numpy(), color="0.5", lw=1)
        ax.plot(rows["time"], rows["actual"], color="k", lw=1.5, label="actual")
        for origin, block in rows.groupby("origin"):
            color = f"C{origin % 10}"
            ax.plot(block["time"], block["model"], color=color, lw=1.3, label=f"origin {origin + 1}")
            if result.quantiles:
                low, high = quantile_column(result.quantiles[0]), quantile_column(result.quantiles[-1])
                ax.fill_between(block["time"], block[low], block[high], color=color, alpha=0.15, lw=0)
        ax.set_title(f"series '{name}': {result.origins} origins a horizon apart", fontsize=9)
        ax.legend(loc="upper left", fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def write_report(run_dir: Path, series: dict, result: Backtest, metrics: dict, description: str) -> Path:
    """``report.html``: the table of every origin's metrics and ``backtest.png``."""
    import matplotlib

    matplotlib.use("Agg")
    from rnnlab.report import Section, save_figure
    from rnnlab.report import write_report as write_page

    figure = save_figure(origins_figure(series, result), run_dir, "backtest.png")
    rows = result.per_origin.copy()
    rows["cutoff"] = rows["cutoff"].astype(str).str.replace(" 00:00:00", "")
    table = [{k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()}
             for row in rows.to_dict("records")]
    b = metrics["backtest"]
    text = (f"{description}. {b['origins']} origins a horizon ({metrics['horizon']}) apart, ending at each series' "
            f"end; {'refit at every origin' if b['refit'] else 'fitted once, on the values before the first origin'}"
            ". Metrics per origin are means over series (MASE and MSIS scaled by each series' values before the "
            "origin); their mean ± sd over the origins is in metrics.json.")
    return write_page(run_dir, f"rnnlab forecast --backtest: {description}", [
        Section("Backtest", text, table=table, figures=[figure])])
