"""The report of a panel run: the aggregate table, the MASE of every series against the seasonal naive's,
a grid of the best, median and worst series' test forecasts, and the loss curves (global mode)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data.panel import Panel
from rnnlab.metrics import METRICS
from rnnlab.report import log_scale, new_figure


def pick_series(series_metrics: pd.DataFrame) -> list[tuple[str, str]]:
    """``[(label, id)]`` of the best, median and worst series by the model's MASE (NaN last)."""
    ranked = series_metrics.sort_values("model_mase", na_position="last", kind="stable")["id"].tolist()
    picks = [("best", ranked[0]), ("median", ranked[(len(ranked) - 1) // 2]), ("worst", ranked[-1])]
    seen, out = set(), []
    for label, name in picks:
        if name not in seen:
            seen.add(name)
            out.append((label, name))
    return out


def grid_figure(history: Panel, frame: pd.DataFrame, series_metrics: pd.DataFrame, horizon: int, lookback: int):
    """The best, median and worst series: the points before the test, the test, the model, seasonal naive."""
    plt = _pyplot()
    picks = pick_series(series_metrics)
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 2.6 * len(picks)), squeeze=False)
    for ax, (label, name) in zip(axes[:, 0], picks):
        before = history.series(name).iloc[-max(2 * horizon, lookback):]
        rows = frame[frame["id"] == name]
        ax.plot(before.index, before.to_numpy(), color="0.5", lw=1, label="before the test")
        ax.plot(rows["time"], rows["actual"], color="k", lw=1.5, label="actual")
        ax.plot(rows["time"], rows["seasonal_naive"], ls=":", lw=1, label="seasonal_naive")
        ax.plot(rows["time"], rows["model"], color="C3", lw=1.5, label="model")
        band = [c for c in rows.columns if c.startswith("q")]  # quantile columns, in level order
        if len(band) >= 2:  # the widest interval, and the next one inside it
            pairs = [(band[0], band[-1], 0.15)] + ([(band[1], band[-2], 0.25)] if len(band) >= 5 else [])
            for low, high, alpha in pairs:
                ax.fill_between(rows["time"], rows[low], rows[high], color="C3", alpha=alpha, lw=0,
                                label=f"{low[1:]}-{high[1:]} quantiles")
        mase = series_metrics.loc[series_metrics["id"] == name, "model_mase"].iloc[0]
        ax.set_title(f"{label}: series '{name}' (MASE {mase:.3g})", fontsize=9)
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig


def mase_figure(series_metrics: pd.DataFrame):
    """Each series' MASE: the model's against the seasonal naive's (below the diagonal: the model wins)."""
    plt = _pyplot()
    x, y = series_metrics["seasonal_naive_mase"].to_numpy(), series_metrics["model_mase"].to_numpy()
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.scatter(x[ok], y[ok], s=8, alpha=0.6)
    if ok.any():
        low, high = min(x[ok].min(), y[ok].min()), max(x[ok].max(), y[ok].max())
        left.plot([low, high], [low, high], color="k", lw=1, label="equal")
        log_scale(left, "x")  # plain-text labels: matplotlib's own (mathtext) ran into each other here
        log_scale(left, "y")
        right.hist(np.log2(y[ok] / x[ok]), bins=30, color="C0")
    left.set_xlabel("seasonal naive MASE")
    left.set_ylabel("model MASE")
    left.set_title("per series (below the line: the model wins)", fontsize=9)
    right.axvline(0, color="k", lw=1)
    right.set_xlabel("log2(model MASE / seasonal naive MASE)")
    right.set_ylabel("series")
    fig.tight_layout()
    return fig


def write_report(run_dir: Path, config, panel: Panel, history: Panel, frame: pd.DataFrame,
                 series_metrics: pd.DataFrame, metrics: dict, table: list[dict], forecaster) -> Path:
    """``report.html`` with ``mase.png``, ``grid.png`` and (global) ``loss.png`` (the figures drawn by
    :mod:`rnnlab.drawing`: in the program's drawing process where it has one)."""
    from rnnlab import drawing
    from rnnlab.report import Section
    from rnnlab.report import write_report as write_page

    grid_png = drawing.draw(grid_figure, (history, frame, series_metrics, forecaster.horizon_, forecaster.lookback_),
                            run_dir, "grid.png")
    mase_png = drawing.draw(mase_figure, (series_metrics,), run_dir, "mase.png")
    sections = [
        Section("Data", f"{panel.describe_line()}. Source: {panel.source}.\n\nLookback {forecaster.lookback_}, "
                f"horizon {forecaster.horizon_}, season {forecaster.season_}; each series' last "
                f"{len(frame) // max(1, len(panel))}+ points test, the {forecaster.val_size_} before them validate."),
        Section("Test metrics", f"Mode {forecaster.mode_}: {config.cell} hidden {forecaster.sizes_['hidden_size']} "
                f"x {config.num_layers}" + (f", a median of {len(forecaster.lookbacks_)} members with lookbacks "
                f"{', '.join(map(str, forecaster.lookbacks_))}" if forecaster.mode_ == "global" else "") +
                ". Means over series; MASE scaled per series by its in-sample seasonal-naive error.\n\n"
                + "\n\n".join(_summary(metrics)),
                table=[{k: row[k] for k in ("model", *METRICS)} for row in table], figures=[mase_png]),
        Section("Forecasts", "The best, median and worst series by the model's MASE.", figures=[grid_png]),
    ]
    if forecaster.result_ is not None:
        result = forecaster.result_
        loss_png = drawing.draw(loss_figure, (result.history, bool(forecaster.val_size_)), run_dir, "loss.png")
        sections.append(Section("Training", f"{result.steps} steps over {len(forecaster.lookbacks_)} member(s) in "
                                f"{result.seconds:.1f} s (stopped: {result.stopped}).", figures=[loss_png]))
    drawing.wait()
    return write_page(run_dir, f"rnnlab forecast: {panel.describe()['name']}", sections)


def loss_figure(rows: list[dict], validated: bool):
    """Every member's training and validation loss per step (``rows``: the training history)."""
    fig, ax = new_figure(6, 3.2)
    for k in sorted({r["member"] for r in rows}):
        mine = [r for r in rows if r["member"] == k]
        ax.plot([r["step"] for r in mine], [r["train_loss"] for r in mine], label=f"member {k}: train")
        ax.plot([r["step"] for r in mine], [r["val_loss"] for r in mine], ls="--",
                label=f"member {k}: {'validation' if validated else 'fixed training windows'}")
    ax.set_xlabel("step")
    ax.set_ylabel("MASE-scaled absolute error")
    ax.legend(fontsize=7)
    return fig


def _pyplot():
    """pyplot on the Agg backend, for the figures of several axes (:func:`rnnlab.report.new_figure` makes one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _summary(metrics: dict) -> list[str]:
    beats = metrics["beats"]
    lines = [f"The model's MASE is below naive's on {beats['naive']}, seasonal naive's on {beats['seasonal_naive']} "
             f"and linear's on {beats['linear']} of {metrics['series']} series."]
    if "quantiles" in metrics:
        from rnnlab.forecast.panel_run import interval_lines

        lines.extend(line[0].upper() + line[1:] + "." for line in interval_lines(metrics))
    if metrics["mode"] == "local":
        lines.append("Per-series mode: each series keeps the best of its model, its linear AR and the seasonal "
                     "naive forecast on its validation points: "
                     + ", ".join(f"{k} on {v}" for k, v in metrics["choices"].items()) + ".")
    return lines
