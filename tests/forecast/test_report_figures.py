"""Every forecast report figure, read back from the matplotlib axes' line data: history, test and forecasts
sit on one x axis (positions for a series without dates, dates for one with), the test right after the
history, every forecast line on the test's x."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rnnlab.data import load  # noqa: E402
from rnnlab.data.synthetic import seasonal_panel  # noqa: E402
from rnnlab.forecast.estimator import Forecaster  # noqa: E402
from rnnlab.forecast.panel import PanelForecaster  # noqa: E402
from rnnlab.forecast.panel_report import grid_figure  # noqa: E402
from rnnlab.forecast.figures import forecast_figure, series_figure  # noqa: E402
from rnnlab.metrics import panel_scores  # noqa: E402


def _x(line) -> np.ndarray:
    """A line's x as numbers (matplotlib day numbers for dates)."""
    x = np.asarray(line.get_xdata())
    if np.issubdtype(x.dtype, np.datetime64) or (x.dtype == object and isinstance(x[0], pd.Timestamp)):
        return mdates.date2num(pd.DatetimeIndex(x).to_pydatetime())
    return x.astype(float)


def _lines(fig) -> dict:
    return {line.get_label(): _x(line) for ax in fig.axes for line in ax.get_lines()}


@pytest.mark.parametrize("data", ["sine", "airline"])
def test_single_series_figures_line_up(data):
    s = load(data)
    history, test = s.iloc[:-24], s.iloc[-24:]
    f = Forecaster(horizon=12, epochs=1, quiet=True, device="cpu").fit(history)
    frame = f.backtest(test)
    step = 1.0 if data == "sine" else None
    fig = forecast_figure(history, frame, {"horizon": 12, "lookback": f.lookback_}, "rnn")
    lines = _lines(fig)
    before, actual = lines["before the test"], lines["actual"]
    expected = _x(plt.plot(test.index, test.to_numpy())[0])  # the test's own x, the same conversion
    plt.close("all")
    np.testing.assert_array_equal(actual, expected)
    for name in ("seasonal_naive", "linear", "naive", "rnn (this model)"):
        np.testing.assert_array_equal(lines[name], actual)
    assert before[-1] < actual[0] and (step is None or actual[0] - before[-1] == step)
    if data == "sine":
        assert actual[0] == len(history) and before[0] == len(history) - len(before)
    fig = series_figure(data, history, test, f.val_size_)
    lines = _lines(fig)
    assert lines["train + validation"][-1] < lines["test"][0]
    np.testing.assert_array_equal(lines["test"], expected)
    plt.close("all")


@pytest.mark.parametrize("dated", [False, True])
def test_panel_grid_lines_up(dated):
    panel = seasonal_panel(6, 40, season=4, seed=1)
    if dated:
        from rnnlab.data.panel import Panel

        panel = Panel.from_dict({i: pd.Series(panel.series(i).to_numpy()[k:],  # different starts and lengths
                                              index=pd.date_range(f"200{k}-01-01", periods=40 - k, freq="QS"))
                                 for k, i in enumerate(panel.ids)})
    history, test = panel.split(8)
    f = PanelForecaster(horizon=4, lookback=8, epochs=1, batches_per_epoch=2, quiet=True, device="cpu").fit(history)
    frame = f.backtest(test)
    scores = panel_scores(frame, {i: history.series(i).to_numpy() for i in history.ids}, 4)
    fig = grid_figure(history, frame, scores, 4, 8)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        name = ax.get_title().split("'")[1]
        lines = {line.get_label(): _x(line) for line in ax.get_lines()}
        expected = _x(plt.plot(test.series(name).index, test.series(name).to_numpy())[0])
        np.testing.assert_array_equal(lines["actual"], expected)
        np.testing.assert_array_equal(lines["model"], expected)
        np.testing.assert_array_equal(lines["seasonal_naive"], expected)
        assert lines["before the test"][-1] < expected[0]
        gap = expected[0] - lines["before the test"][-1]
        assert gap == 1.0 if not dated else 80 <= gap <= 93  # one step: a position, or a quarter in days
    plt.close("all")
