"""rnnlab.forecast.window_net: ForecastNet's output when plain, non-crossing quantiles, covariates read."""

import numpy as np
import pytest
import torch

from rnnlab.forecast.estimator import ForecastNet
from rnnlab.forecast.quantiles import monotone, monotone_inverse
from rnnlab.forecast.window_net import WindowNet


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_plain_window_net_is_forecast_net(cell):
    torch.manual_seed(0)
    reference = ForecastNet(lookback=6, outputs=4, cell=cell, hidden_size=5)
    torch.nn.init.normal_(reference.net.fc.weight)
    net = WindowNet(6, 4, cell=cell, hidden_size=5)
    net.rnn.load_state_dict(reference.net.rnn.state_dict())
    net.fc.load_state_dict(reference.net.fc.state_dict())
    net.skip.load_state_dict(reference.skip.state_dict())
    x = torch.randn(7, 6, 1)
    torch.testing.assert_close(net(x), reference(x))


def test_monotone_inverse_round_trips():
    values = np.sort(np.random.default_rng(0).normal(size=(4, 5)), axis=1)
    raw = monotone_inverse(values, 2)
    np.testing.assert_allclose(monotone(torch.as_tensor(raw), 2).numpy(), values, atol=1e-9)


def test_quantiles_start_at_the_skip_residual_quantiles_and_never_cross():
    torch.manual_seed(0)
    net = WindowNet(5, 3, quantiles=(0.1, 0.5, 0.9), hidden_size=4)
    residuals = np.random.default_rng(0).normal(scale=[1.0, 2.0, 3.0], size=(4000, 3))
    net.init_spread(residuals)
    x = torch.randn(10, 5, 1)
    out = net(x)
    assert out.shape == (10, 3, 3)
    spread = (out - net.skip(x[..., 0]).unsqueeze(-1)).detach().numpy()  # the head alone
    expected = np.quantile(residuals, (0.1, 0.5, 0.9), axis=0).T
    expected -= expected[:, [1]]
    np.testing.assert_allclose(spread, np.broadcast_to(expected, (10, 3, 3)), atol=1e-5)
    torch.nn.init.normal_(net.fc.weight, std=5.0)
    assert (net(x * 10).diff(dim=-1) >= 0).all()


def test_covariates_reach_the_rnn_the_head_and_the_skip():
    torch.manual_seed(0)
    net = WindowNet(4, 2, past_size=1, future_size=2, hidden_size=3)
    assert net.rnn.input_size == 4 and net.fc.in_features == 3 + 2 * 2 and net.skip.in_features == 4 * 4 + 2 * 2
    x, ahead = torch.randn(5, 4, 4), torch.randn(5, 2, 2)
    weight = np.zeros((20, 2))
    weight[16 + 1, 0] = 1.0  # output step 1 <- ahead[:, 0, 1]
    weight[16 + 2, 1] = 2.0  # output step 2 <- ahead[:, 1, 0]
    weight[3 * 4 + 1, 1] = -1.0  # output step 2 <- the past covariate at the last input step
    net.set_skip(weight, np.zeros(2))
    np.testing.assert_array_equal(WindowNet.lags(x.numpy(), ahead.numpy())[:, 16:], ahead.flatten(1).numpy())
    expected = torch.stack([ahead[:, 0, 1], 2 * ahead[:, 1, 0] - x[:, 3, 1]], dim=1)
    torch.testing.assert_close(net(x, ahead), expected)  # the head starts at zero
    with pytest.raises(ValueError, match="x has 1 values per step, expected input_size=4 \\(1 target \\+ 1 past "
                                         "\\+ 2 future\\)"):
        net(torch.randn(5, 4, 1), ahead)


def test_quantile_settings_parse_from_text_or_numbers():
    from rnnlab.forecast.window_net import parse_quantiles

    assert parse_quantiles(None) is None
    assert parse_quantiles("0.05 0.95") == (0.05, 0.5, 0.95)
    assert parse_quantiles("0.1,0.5,0.9") == parse_quantiles([0.9, 0.1]) == (0.1, 0.5, 0.9)
    with pytest.raises(ValueError, match="expected numbers between 0 and 1, got '0.1 x'"):
        parse_quantiles("0.1 x")


def _covariate_panel(series: int = 20, length: int = 150, noise: float = 0.5, seed: int = 0):
    """y_t = level + 2 c_t + 0.3 sin(2 pi t / 12) + eps_t with c_t ~ N(0, 1) known in advance, eps ~ N(0, noise^2).

    Given c_t the best forecast errs by eps alone (MSE noise^2); without c_t at least 4 + noise^2 remains.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    c = rng.normal(size=(series, length))
    y = rng.normal(size=(series, 1)) + 2 * c + 0.3 * np.sin(2 * np.pi * t / 12) + noise * rng.normal(size=c.shape)
    return y, c


def _fit_and_score(y, c, use_covariate: bool, lookback=12, horizon=6, train_end=120):
    from rnnlab.data.covariates import covariate_windows
    from rnnlab.metrics import LinearAR

    def stack(first_end, end):
        parts = [covariate_windows(y[s], None, c[s][:, None] if use_covariate else None, lookback, horizon,
                                   first_end, end) for s in range(len(y))]
        return [torch.as_tensor(np.concatenate(p), dtype=torch.float32) for p in zip(*parts)]

    x, ahead, target = stack(0, train_end)
    x_test, ahead_test, target_test = stack(train_end + horizon - 1, y.shape[1])
    torch.manual_seed(0)
    net = WindowNet(lookback, horizon, future_size=1 if use_covariate else 0, hidden_size=8, engine="torch")
    linear = LinearAR().fit(WindowNet.lags(x.numpy(), ahead.numpy()), target.numpy())
    net.set_skip(linear.weight, linear.bias)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(30):
        index = torch.randint(0, len(x), (64,))
        loss = torch.nn.functional.mse_loss(net(x[index], ahead[index]), target[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(net(x_test, ahead_test), target_test))


def test_a_known_future_covariate_is_read_to_near_the_analytic_best():
    y, c = _covariate_panel()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with_covariate, without = _fit_and_score(y, c, True), _fit_and_score(y, c, False)
    finally:
        torch.set_num_threads(threads)
    best = 0.5 ** 2  # the analytic best MSE: the noise alone
    assert with_covariate <= 1.3 * best  # near the oracle
    assert without >= 4.0  # the covariate's part cannot be forecast without it
    assert with_covariate * 2 <= without  # issue 15's target: at least 2x better
