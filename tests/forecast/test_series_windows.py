"""rnnlab.forecast.series_windows: lazy windows equal the built ones; the linear AR from lagged sums equals
least squares on the built windows; the chunked evaluation equals the whole one."""

import numpy as np
import pytest
import torch

from rnnlab.data.series import windows
from rnnlab.forecast.series_windows import SeriesWindows, WindowTask, fit_linear
from rnnlab.metrics import LinearAR


def _series(n=700, noise=0.1, seed=0):
    t = np.arange(n)
    return np.sin(t * 2 * np.pi / 24) + 0.3 * np.sin(t * 0.05) + noise * np.random.default_rng(seed).standard_normal(n)


@pytest.mark.parametrize("first_end,end", [(0, None), (0, 500), (500, None), (31, 32)])
def test_windows_are_the_built_ones(first_end, end):
    z = _series()
    lazy = SeriesWindows(z, 24, 12, first_end=first_end, end=end)
    x, y = windows(z, 24, 12, first_end=first_end, end=end)
    assert len(lazy) == len(x)
    lx, ly = lazy.take(np.arange(len(lazy)))
    np.testing.assert_array_equal(lx, x)
    np.testing.assert_array_equal(ly, y)
    rows = np.array([len(x) - 1, 0]) if len(x) else np.zeros(0, dtype=np.int64)
    np.testing.assert_array_equal(lazy.take(rows)[1], y[rows])


@pytest.mark.parametrize("lookback,outputs,end", [(24, 12, None), (5, 1, 300), (1, 3, 50)])
def test_gram_is_the_blocks_gram(lookback, outputs, end):
    z = _series()
    lazy = SeriesWindows(z, lookback, outputs, first_end=40, end=end)
    x, y = lazy.take(np.arange(len(lazy)))
    blocks = np.concatenate([x, y], axis=1)
    gram, sums = lazy.gram()
    np.testing.assert_allclose(gram, blocks.T @ blocks, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(sums, blocks.sum(axis=0), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("noise", [0.1, 1e-3, 0.0])
def test_linear_from_normal_equations_is_least_squares(noise):
    # noise 0: the lags of a sum of two sines span 4 dimensions of 24, so most singular values are cut off
    z = _series(noise=noise)
    lazy = SeriesWindows(z, 24, 12, end=600)
    direct = LinearAR().fit(*windows(z, 24, 12, end=600))
    normal = fit_linear(lazy, direct_limit=0)
    assert fit_linear(lazy).weight.tolist() == direct.weight.tolist()  # small: the built windows, as before
    x, y = lazy.take(np.arange(len(lazy)))
    np.testing.assert_allclose(normal(x), direct(x), atol=1e-8)
    np.testing.assert_allclose(normal.weight, direct.weight, atol=1e-6)
    assert np.abs(normal.weight).max() < 10  # the cut-off keeps the weights small on collinear lags


def test_chunked_evaluation_is_the_mean_over_every_window(monkeypatch):
    import rnnlab.forecast.series_windows as sw

    z = _series(n=400)
    task = WindowTask(SeriesWindows(z, 12, 3, end=200), SeriesWindows(z, 12, 3, first_end=200), batch_size=8)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    with torch.no_grad():
        whole = task.evaluate(model)
    x, y = (torch.tensor(a, dtype=torch.float32) for a in task.val.take(np.arange(len(task.val))))
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(model(x), y)
    assert whole == float(expected)  # one chunk: exactly the mean
    monkeypatch.setattr(sw, "EVAL_CHUNK", 7)
    with torch.no_grad():
        assert task.evaluate(model) == pytest.approx(whole, rel=1e-6)


def test_a_long_series_fits_without_building_its_windows(monkeypatch):
    # 50,000 points, lookback and horizon 60: 6 million window values, past DIRECT_LIMIT; no gather may take
    # more than one evaluation chunk, and the linear skip still starts at least squares
    import rnnlab.data.series as sd
    from rnnlab.forecast.estimator import Forecaster

    original, largest = SeriesWindows.take, []

    def take(self, rows):
        largest.append(len(rows))
        return original(self, rows)

    monkeypatch.setattr(SeriesWindows, "take", take)
    monkeypatch.setattr(sd, "windows", lambda *a, **k: pytest.fail("every window built"))
    series = _series(n=50_000) + 5
    f = Forecaster(lookback=60, horizon=60, hidden_size=4, steps=2, quiet=True, device="cpu", engine="torch")
    f.fit(series)
    assert max(largest) <= 8192
    train_end = 50_000 - f.val_size_
    z = f.scaler_.transform(series)
    x, y = windows(z, 60, 60, end=train_end)  # the module's own name: not the patched one
    direct = LinearAR().fit(x, y)
    np.testing.assert_allclose(f.linear_(x[::500]), direct(x[::500]), atol=1e-7)
