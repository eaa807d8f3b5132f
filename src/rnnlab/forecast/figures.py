"""The single-series forecast report's figures, each on the series' own x (dates or positions).

They import no torch (numpy, pandas, matplotlib only), so the ``rnnlab`` program draws them in its drawing
process (:mod:`rnnlab.drawing`) while the command itself still runs; tests read their line data.
"""

from __future__ import annotations

import pandas as pd

from rnnlab.report import log_scale, new_figure


def series_figure(name: str, history: pd.Series, test: pd.Series, val_size: int):
    """The whole series: train + validation, test, the two spans."""
    val_start = history.index[len(history) - val_size]
    fig, ax = new_figure(9, 3.2)
    ax.plot(history.index, history.to_numpy(), color="C0", lw=1, label="train + validation")
    ax.plot(test.index, test.to_numpy(), color="k", lw=1, label="test")
    ax.axvspan(val_start, history.index[-1], color="C1", alpha=0.15, label="validation")
    ax.axvspan(test.index[0], test.index[-1], color="C2", alpha=0.15, label="test")
    ax.set_title(f"{name}: train / validation / test")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def forecast_figure(history: pd.Series, frame: pd.DataFrame, sizes: dict, cell: str):
    """The points before the test and the test forecasts (``frame``: the test's index, actual, model, baselines)."""
    fig, ax = new_figure(9, 3.6)
    context = history.iloc[-max(2 * sizes["horizon"], sizes["lookback"]):]
    ax.plot(context.index, context.to_numpy(), color="0.5", lw=1, label="before the test")
    ax.plot(frame.index, frame["actual"], color="k", lw=1.5, label="actual")
    for name, style in (("seasonal_naive", ":"), ("linear", "--"), ("naive", "-.")):
        ax.plot(frame.index, frame[name], ls=style, lw=1, label=name)
    ax.plot(frame.index, frame["model"], color="C3", lw=1.5, label=f"{cell} (this model)")
    ax.set_title(f"test forecasts from origins every {sizes['horizon']} steps")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def loss_figure(rows: list[dict]):
    """Training and validation loss per epoch (``rows``: the training history), on a log scale."""
    fig, ax = new_figure(6, 3.2)
    ax.plot([r["epoch"] for r in rows], [r["train_loss"] for r in rows], label="train")
    ax.plot([r["epoch"] for r in rows], [r["val_loss"] for r in rows], label="validation")
    log_scale(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (scaled)")
    ax.legend()
    return fig
