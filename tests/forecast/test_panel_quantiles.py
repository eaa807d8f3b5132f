"""The global model's quantiles: the head never crosses, its loss is the pinball loss scaled as the point loss,
a fitted model covers about its nominal share, and the CLI writes coverage, MSIS and one column per level."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.panel import Panel
from rnnlab.forecast.panel import PanelForecaster
from rnnlab.forecast.windows import GlobalNet, batch_loss

QUICK = ["--steps", "4", "--batches-per-epoch", "2", "--quiet", "--device", "cpu", "--hidden", "8"]


def _batch(n=16, lookback=24, horizon=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n, lookback, generator=g) * 0.1
    mask = (torch.rand(n, lookback, generator=g) > 0.2).float()
    y = 100 + 10 * torch.randn(n, horizon, generator=g)
    y_mask = (torch.rand(n, horizon, generator=g) > 0.1).float()
    return u, mask, y, y_mask, torch.full((n, 1), 100.0), torch.rand(n, 1, generator=g) + 0.5


def test_quantile_head_never_crosses_and_shifts_by_the_skip():
    torch.manual_seed(0)
    net = GlobalNet(24, 6, 12, hidden_size=8, quantiles=(0.05, 0.1, 0.5, 0.9, 0.95))
    for p in net.parameters():  # any weights, however wild
        torch.nn.init.normal_(p, std=3.0)
    u, mask = _batch()[:2]
    o = net(u, mask)
    assert o.shape == (16, 6, 5) and bool((o.diff(dim=-1) >= 0).all())


def test_median_alone_is_exactly_the_point_model_and_its_loss():
    torch.manual_seed(0)
    point = GlobalNet(24, 6, 12, hidden_size=8)
    median = GlobalNet(24, 6, 12, hidden_size=8, quantiles=(0.5,))
    median.load_state_dict(point.state_dict())
    batch = _batch()
    assert torch.allclose(median(*batch[:2])[..., 0], point(*batch[:2]))
    # (2 / Q) rho_0.5(e) = |e| for Q = 1: the MASE-scaled absolute error
    with torch.no_grad():
        assert float(batch_loss(median, batch)) == pytest.approx(float(batch_loss(point, batch)), rel=1e-6)


def test_pinball_loss_by_hand():
    torch.manual_seed(1)
    net = GlobalNet(24, 6, 12, hidden_size=8, quantiles=(0.1, 0.5, 0.9))
    u, mask, y, y_mask, level, scale = batch = _batch()
    with torch.no_grad():
        p = (level[..., None] * (1 + net(u, mask))).numpy()
    e = y.numpy()[..., None] - p
    q = np.array([0.1, 0.5, 0.9])
    rho = np.maximum(q * e, (q - 1) * e) / scale.numpy()[..., None] * y_mask.numpy()[..., None]
    with torch.no_grad():
        assert float(batch_loss(net, batch)) == pytest.approx(rho.sum() * 2 / 3 / y.numel(), rel=1e-5)


def _noisy_panel(series=30, n=96, sigma=0.1, seed=0):
    """Seasonal series times (1 + N(0, sigma^2)) noise: the q-quantile of a point is known analytically."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = [10 * (s + 1) * (1 + 0.3 * np.sin(2 * np.pi * t / 12 + s)) * (1 + sigma * rng.standard_normal(n))
              for s in range(series)]
    return Panel.from_list(values, [f"s{s}" for s in range(series)])


@pytest.mark.slow
def test_fitted_quantiles_cover_about_their_nominal_share():
    panel = _noisy_panel()
    history, test = panel.split(12)
    f = PanelForecaster(horizon=12, season=12, lookback=24, quantiles="0.1 0.5 0.9", steps=400, quiet=True,
                        device="cpu").fit(history)
    frame = f.backtest(test)
    assert list(frame.columns[3:7]) == ["model", "q0.1", "q0.5", "q0.9"] and np.allclose(frame["model"], frame["q0.5"])
    assert (frame["q0.1"] <= frame["q0.5"]).all() and (frame["q0.5"] <= frame["q0.9"]).all()
    inside = ((frame["q0.1"] <= frame["actual"]) & (frame["actual"] <= frame["q0.9"])).mean()
    print(f"coverage {inside:.3f}")
    assert 0.65 <= inside <= 0.95  # nominal 80%, 360 test points
    # the analytic 80% interval's width is 2 * 1.2816 * sigma * mean: the model's is within a factor 1.6
    mean = 10 * (np.arange(30) + 1)
    truth = 2 * 1.2816 * 0.1 * np.repeat(mean, 12)  # on average over the season
    width = (frame["q0.9"] - frame["q0.1"]).to_numpy()
    assert 1 / 1.6 <= width.mean() / truth.mean() <= 1.6
    forecast = f.predict(5)
    assert list(forecast.columns) == ["id", "time", "forecast", "q0.1", "q0.5", "q0.9"]
    assert np.allclose(forecast["forecast"], forecast["q0.5"])


def _csv(path, series=4):
    rng = np.random.default_rng(0)
    rows = []
    for s in range(series):
        dates = pd.date_range("2000-01-01", periods=48, freq="MS")
        y = 100 * (2 + np.sin(2 * np.pi * np.arange(48) / 12 + s)) * (1 + 0.05 * rng.standard_normal(48))
        rows += [(f"s{s}", d.strftime("%Y-%m-%d"), v) for d, v in zip(dates, y)]
    pd.DataFrame(rows, columns=["unique_id", "ds", "y"]).to_csv(path, index=False)
    return str(path)


@pytest.mark.slow
def test_cli_quantiles_metrics_columns_predict(tmp_path, capsys):
    data, out = _csv(tmp_path / "long.csv"), tmp_path / "run"
    assert main(["forecast", "--data", data, "--id-column", "unique_id", "--time-column", "ds", "--column", "y",
                 "--horizon", "6", "--quantiles", "--out", str(out), *QUICK]) == 0
    text = capsys.readouterr().out
    assert "80% interval: coverage" in text and "scaled pinball loss over 3 quantiles" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quantiles"] == [0.1, 0.5, 0.9] and metrics["interval"] == 80
    for key in ("coverage", "msis", "scaled_pinball"):
        assert metrics["test"][key] is not None and metrics["baselines"]["seasonal_naive"][key] is not None
    frame = pd.read_csv(out / "test_forecasts.csv")
    assert {"q0.1", "q0.5", "q0.9"} <= set(frame.columns)
    inside = ((frame["q0.1"] <= frame["actual"]) & (frame["actual"] <= frame["q0.9"])).groupby(frame["id"]).mean()
    assert metrics["test"]["coverage"] == pytest.approx(100 * inside.mean())
    assert "0.1-0.9 quantiles" in (out / "report.html").read_text() or (out / "grid.png").exists()
    csv = tmp_path / "future.csv"
    assert main(["predict", "--model", str(out), "--csv", str(csv)]) == 0
    future = pd.read_csv(csv)
    assert list(future.columns) == ["id", "time", "forecast", "q0.1", "q0.5", "q0.9"] and len(future) == 24
    assert (future["q0.1"] <= future["q0.9"]).all()


@pytest.mark.slow
def test_cli_one_series_with_quantiles_runs_as_a_panel_of_one(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["forecast", "--data", "airline", "--quantiles", "0.05", "0.95", "--out", str(out), *QUICK]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["series"] == 1 and metrics["quantiles"] == [0.05, 0.5, 0.95] and metrics["interval"] == 90
    assert len(pd.read_csv(out / "test_forecasts.csv")) == 29  # max(horizon 12, 20% of 144), as before


def test_local_mode_refuses_quantiles(tmp_path, capsys):
    with pytest.raises(ValueError, match="quantiles are forecast by the global network"):
        PanelForecaster(mode="local", quantiles="0.1 0.9").resolve(_noisy_panel(2, 40))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        PanelForecaster(quantiles="0.1 1.5").resolve(_noisy_panel(2, 40))
