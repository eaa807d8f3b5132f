"""User future columns in the global model: one coefficient each on the covariate relative to its window's
level (by hand, and against least squares), and a column constant over the training part left out with its
note (API, saved state, CLI and predict)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.panel import Panel
from rnnlab.forecast import PanelForecaster
from rnnlab.forecast.windows import GlobalNet, batch_loss


def _net(beta=0.5):
    torch.manual_seed(0)
    # lookback 6 in patches of 3; future columns: one regressor, one calendar-like column
    net = GlobalNet(6, 4, 3, hidden_size=5, covariates=(2, 0, 0), regressors=1)
    with torch.no_grad():
        net.regression.weight.fill_(beta)
    return net


def test_the_regression_effect_by_hand():
    net = _net(beta=0.5)
    assert net.net.rnn.input_size == (2 + 1) * 3  # value, mask bit and the calendar column: not the regressor
    assert net.ahead.in_features == 4 * 1  # W_ahead reads the calendar column of the 4 steps only
    g = torch.Generator().manual_seed(1)
    u, mask = torch.randn(2, 6, generator=g), torch.ones(2, 6)
    mask[1, 4] = 0  # one point of the last season unobserved: its level is the mean of the other two
    cov, ahead = torch.randn(2, 6, 2, generator=g), torch.randn(2, 4, 2, generator=g)
    cov = cov * mask[..., None]
    o = net(u, mask, cov, ahead)
    # o_h = g(u, mask, calendar) + beta (a_h - level), level: the mean of the regressor's observed last season
    bumped = ahead.clone()
    bumped[:, 2, 0] += 1.0
    torch.testing.assert_close(net(u, mask, cov, bumped) - o, torch.tensor([[0, 0, 0.5, 0]] * 2))
    level = torch.stack([cov[0, 3:, 0].mean(), (cov[1, 3, 0] + cov[1, 5, 0]) / 2])
    net.regression.weight.data.zero_()
    base = net(u, mask, cov, ahead)
    torch.testing.assert_close(o - base, 0.5 * (ahead[..., 0] - level[:, None]))
    # the regressor's own level does not matter: only its movement relative to the window's last season
    shifted_cov, shifted_ahead = cov.clone(), ahead.clone()
    shifted_cov[..., 0] += 3.0 * mask
    shifted_ahead[..., 0] += 3.0
    net.regression.weight.data.fill_(0.5)
    torch.testing.assert_close(net(u, mask, shifted_cov, shifted_ahead), o)


def test_the_regression_coefficient_matches_least_squares():
    rng = np.random.default_rng(0)
    n, lookback, horizon, b = 4000, 6, 4, 0.3
    walk = np.cumsum(rng.normal(0, 0.3, (n, lookback + horizon)), axis=1)  # a covariate that drifts
    cov, ahead = walk[:, :lookback, None], walk[:, lookback:, None]
    r = ahead[..., 0] - cov[:, -3:, 0].mean(axis=1, keepdims=True)  # relative to the last season (patch 3)
    o = b * r + 0.02 * rng.standard_normal(r.shape)
    # the oracle: least squares of o on [r, 1] over every target
    design = np.stack([r.ravel(), np.ones(r.size)], axis=1)
    oracle = np.linalg.lstsq(design, o.ravel(), rcond=None)[0][0]
    torch.manual_seed(0)
    net = GlobalNet(lookback, horizon, 3, hidden_size=4, covariates=(1, 0, 0), regressors=1)
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    u = t(0.01 * rng.standard_normal((n, lookback)))  # the target's window says nothing
    batch = (u, torch.ones(n, lookback), t(1 + o), torch.ones(n, horizon), torch.ones(n, 1), torch.ones(n, 1),
             t(cov), t(ahead), torch.zeros(n, 0))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(300):
        optimizer.zero_grad()
        batch_loss(net, batch).backward()
        optimizer.step()
    beta = float(net.regression.weight.detach()[0, 0])
    assert abs(oracle - b) < 0.01
    assert abs(beta - oracle) < 0.03 * abs(oracle), (beta, oracle)


def _frames(series=2, n=60, switch=None):
    """Monthly series driven by x; ``law`` is 0 up to ``switch`` and 1 from there."""
    rng = np.random.default_rng(3)
    dates = pd.date_range("2000-01-01", periods=n, freq="MS")
    values, frames = {}, {}
    for s in range(series):
        x = rng.standard_normal(n)
        values[f"s{s}"] = pd.Series(100 * (1 + 0.1 * x) + rng.standard_normal(n), index=dates)
        frames[f"s{s}"] = pd.DataFrame({"x": x, "law": (np.arange(n) >= (switch or n)).astype(float),
                                        "size": 5.0}, index=dates)
    return Panel.from_dict(values), frames


def test_a_covariate_constant_in_training_is_dropped_with_a_note(tmp_path):
    panel, frames = _frames(switch=54)
    history, test = panel.split(6)  # law is 0 in every training row and 1 in the test part
    f = PanelForecaster(horizon=6, lookback=12, steps=2, hidden_size=4, quiet=True, device="cpu",
                        future_columns="x,law", static_columns="size").fit(history, covariates=frames)
    table = f.covariates_
    assert table.dropped == {"law": 0.0, "size": 5.0}  # size: one value for every series
    assert table.future == ("x", "month_sin", "month_cos") and table.static_names == ()
    assert [n.split("'")[1] for n in table.notes()] == ["law", "size"] and "0 in every training row" in table.notes()[0]
    assert f.model_[0].regressors == 1 and f.sizes_["covariates"]["dropped"] == {"law": 0.0, "size": 5.0}
    given = f.predict(6, covariates={k: v[["x", "law"]] for k, v in frames.items()})
    without = f.predict(6, covariates={k: v[["x"]] for k, v in frames.items()})  # the model does not read law
    pd.testing.assert_frame_equal(given, without)
    loaded = PanelForecaster.load(f.save(tmp_path / "saved"))
    assert loaded.covariates_.dropped == table.dropped
    pd.testing.assert_frame_equal(loaded.predict(6, covariates=frames), given)


def test_a_covariate_that_varies_in_training_is_kept():
    panel, frames = _frames(switch=30)
    f = PanelForecaster(horizon=6, lookback=12, steps=2, hidden_size=4, quiet=True, device="cpu",
                        future_columns="x,law").fit(panel.split(6)[0], covariates=frames)
    assert f.covariates_.dropped == {} and f.covariates_.future[:2] == ("x", "law") and f.model_[0].regressors == 2


@pytest.mark.slow
def test_cli_says_a_constant_covariate_is_not_read(tmp_path, capsys):
    dates = pd.date_range("2000-01-01", periods=48, freq="MS")
    rng = np.random.default_rng(2)
    price = rng.integers(1, 4, 48)
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "y": 100 + 10 * price + rng.standard_normal(48),
                  "price": price, "law": (np.arange(48) >= 42).astype(int)}).to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "run"
    assert main(["forecast", "--data", str(tmp_path / "d.csv"), "--time-column", "date", "--column", "y",
                 "--horizon", "6", "--future-columns", "price,law", "--out", str(out), "--steps", "3", "--quiet",
                 "--device", "cpu", "--hidden", "4", "--lookback", "12"]) == 0
    printed = capsys.readouterr().out
    assert "covariates: 'law' is 0 in every training row" in printed
    state = json.loads((out / "config.json").read_text())["panel"]["covariates"]
    assert state["dropped"] == {"law": 0.0} and state["future"] == ["price", "month_sin", "month_cos"]
    future = tmp_path / "future.csv"  # predict needs the columns the model reads: price, not law
    later = pd.date_range("2004-01-01", periods=6, freq="MS").strftime("%Y-%m-%d")
    pd.DataFrame({"date": later, "price": 2}).to_csv(future, index=False)
    assert main(["predict", "--model", str(out), "--covariates", str(future), "--csv", str(tmp_path / "p.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == 6
