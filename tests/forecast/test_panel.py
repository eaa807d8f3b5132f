"""rnnlab.forecast.panel: lazy windows against a plain loop, the global network, baselines by hand, the
per-series mode's choice, predict on unseen series, save/load, two torchrun ranks = one process."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from rnnlab.data.panel import Panel
from rnnlab.data.synthetic import seasonal_panel
from rnnlab.forecast import baselines
from rnnlab.forecast.estimator import Forecaster
from rnnlab.forecast.panel import PanelForecaster
from rnnlab.forecast.windows import GlobalNet, PanelWindows, level_of, window
from rnnlab.metrics import aggregate, forecast_metrics, panel_scores

QUICK = dict(steps=6, epochs=2, batches_per_epoch=3, quiet=True, device="cpu")


def test_windows_match_a_plain_loop_with_masks():
    p = Panel.from_list([np.arange(1.0, 13.0), np.arange(100.0, 109.0), np.arange(50.0, 55.0)])
    L, H = 4, 3
    ends = np.array([10, 9, 4])  # training parts: targets past them are masked
    series, cuts = np.array([0, 0, 1, 2, 2]), np.array([2, 9, 6, 1, 3])
    x, x_mask, y, y_mask = window(p, series, cuts, L, H, ends)
    for b, (s, c) in enumerate(zip(series, cuts)):
        values = p.series(int(s)).to_numpy()
        for j in range(L):  # input j sits at position c - L + j; before the start: 0, unobserved
            position = c - L + j
            assert (x[b, j], x_mask[b, j]) == ((values[position], 1) if position >= 0 else (0, 0))
        for j in range(H):
            position = c + j
            assert (y[b, j], y_mask[b, j]) == ((values[position], 1) if position < ends[s] else (0, 0))


def test_level_is_the_mean_of_the_last_observed_season():
    x = np.array([[0.0, 0.0, 2.0, 4.0], [1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 0.0, 5.0]])
    mask = np.array([[0, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 1]], dtype=np.float32)
    np.testing.assert_allclose(level_of(x, mask, 3)[:, 0], [3.0, 11 / 3, 5.0], rtol=1e-6)
    np.testing.assert_allclose(level_of(x, mask, 1)[:, 0], [4.0, 6.0, 5.0])


def test_the_rnn_reads_one_season_per_step():
    net = GlobalNet(lookback=5, horizon=2, patch=3, hidden_size=4)
    seen = []
    net.net.rnn.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    u = torch.arange(10.0).view(2, 5)
    mask = torch.ones(2, 5)
    net(u, mask)
    # 5 values in patches of 3: one padded position (0, mask 0) in front; each step [3 values, 3 mask bits]
    assert seen[0].shape == (2, 2, 6)
    torch.testing.assert_close(seen[0][0], torch.tensor([[0.0, 0, 1, 0, 1, 1], [2, 3, 4, 1, 1, 1]]))
    torch.testing.assert_close(net(u, mask), net.net(seen[0]))  # the skip starts at zero


def test_batches_split_each_batch_disjointly_across_ranks():
    task = PanelWindows(seasonal_panel(5, 30), 6, 3, 4, 0, batch_size=8, batches_per_epoch=3)
    whole = list(task.batches(0, torch.Generator().manual_seed(1)))
    halves = [list(task.batches(0, torch.Generator().manual_seed(1), r, 2)) for r in (0, 1)]
    for b in range(3):
        for k in range(6):
            torch.testing.assert_close(torch.cat([halves[0][b][k], halves[1][b][k]]), whole[b][k])


def test_a_global_model_trains_at_most_epochs_times_batches_per_epoch_steps():
    history, _ = seasonal_panel(6, 36, season=6, seed=0).split(6)
    settings = dict(horizon=3, season=6, lookback=12, hidden_size=4, batches_per_epoch=2, quiet=True, device="cpu")
    f = PanelForecaster(epochs=2, **settings).fit(history)
    assert f.sizes_["steps"] == 4 and f.result_.steps == 4  # 2 epochs of 2 batches
    assert PanelForecaster(epochs=2, steps=3, **settings).resolve(history)["steps"] == 3  # whichever ends first
    assert PanelForecaster(**settings).resolve(history)["steps"] == 600  # the default 300 epochs of 2 batches
    assert PanelForecaster(**{**settings, "batches_per_epoch": 50}).resolve(history)["steps"] == 2000  # 2000


@pytest.fixture(scope="module")
def fitted():
    panel = seasonal_panel(12, 48, season=6, seed=0)
    history, test = panel.split(8)
    f = PanelForecaster(horizon=4, season=6, hidden_size=8, **QUICK).fit(history)
    assert f.lookbacks_ == [12, 18, 24] and len(f.model_) == 3  # 2, 3 and 4 seasons
    return f, history, test


def test_backtest_baselines_by_hand_and_metrics_are_means(fitted):
    f, history, test = fitted
    frame = f.backtest(test)
    assert list(frame.columns) == ["id", "time", "actual", "model", "naive", "seasonal_naive", "linear"]
    assert len(frame) == 12 * 8
    h = history.series(3).to_numpy()
    rows = frame[frame["id"] == "3"]
    actual = test.series(3).to_numpy()
    # origins at the end of the history and 4 points later: last value / last season (6) repeated
    np.testing.assert_allclose(rows["naive"], np.r_[np.full(4, h[-1]), np.full(4, actual[3])], rtol=1e-6)
    np.testing.assert_allclose(rows["seasonal_naive"], np.r_[h[-6:-2], np.r_[h[-2:], actual[:4]][:4]], rtol=1e-6)
    assert rows["time"].tolist() == list(range(40, 48))
    series = panel_scores(frame, {i: history.series(i).to_numpy() for i in history.ids}, 6)
    row = series[series["id"] == "3"].iloc[0]
    assert row["model_mase"] == pytest.approx(forecast_metrics(actual, rows["model"].to_numpy(), h, 6)["mase"])
    summary = aggregate(series)
    assert summary["model"]["mase"] == pytest.approx(series["model_mase"].mean())
    assert summary["beats"]["seasonal_naive"] == int((series["model_mase"] < series["seasonal_naive_mase"]).sum())


def test_predict_reads_each_series_last_window_and_takes_unseen_series(fitted):
    f, history, _ = fitted
    out = f.predict(6)
    assert list(out.columns) == ["id", "time", "forecast"] and len(out) == 12 * 6
    assert out[out["id"] == "0"]["time"].tolist() == list(range(40, 46))
    # an unseen series at another level: per-window scaling makes the forecast scale with it
    new = Panel.from_dict({"new": history.series(0).to_numpy() * 1000.0})
    scaled = f.predict(4, new)["forecast"].to_numpy()
    np.testing.assert_allclose(scaled, 1000.0 * f.predict(4)["forecast"].to_numpy()[:4], rtol=1e-4)


def test_append_makes_predict_continue_after_the_new_points(fitted):
    f, history, test = fitted
    before = f.predict(3)
    f.append(test)
    try:
        after = f.predict(3)
        first = after.groupby("id", sort=False)["time"].min().to_numpy()
        np.testing.assert_array_equal(first, history.lengths + test.lengths)  # right after each series' end
        full = Panel.from_list([np.r_[history.series(i).to_numpy(), test.series(i).to_numpy()]
                                for i in range(len(history))], history.ids)
        np.testing.assert_allclose(after["forecast"], f.predict(3, full)["forecast"], rtol=1e-6)
        assert not np.allclose(after["forecast"], before["forecast"])
        with pytest.raises(ValueError, match="append takes the fitted series"):
            f.append(Panel.from_dict({"x": np.arange(3.0)}))
    finally:
        f.panel_ = history  # the fixture is shared


def test_save_and_load_give_the_same_forecasts(fitted, tmp_path):
    f, _, test = fitted
    f.save(tmp_path / "m")
    g = PanelForecaster.load(tmp_path / "m")
    pd.testing.assert_frame_equal(f.predict(), g.predict())
    import rnnlab

    assert isinstance(rnnlab.load(tmp_path / "m"), PanelForecaster)


def test_local_mode_keeps_the_panels_best_on_validation_and_short_series_their_seasonal_naive(tmp_path):
    panel = seasonal_panel(3, 60, season=6, seed=4)
    short = np.arange(1.0, 22.0) % 6 + 10.0  # 21 points: too short for a network (12 + 6 + 6 after the test)
    panel = Panel.from_dict({**{name: panel.series(i).to_numpy() for i, name in enumerate(panel.ids)}, "s": short})
    history, test = panel.split(6)
    f = PanelForecaster(mode="local", horizon=6, lookback=12, season=6, hidden_size=4, **QUICK).fit(history)
    assert f.forecasters_["s"] is None and f.choices_["s"] == "seasonal_naive"
    assert set(f.validation_) == {"model", "linear"}
    kept = {f.choices_[name] for name in panel.ids[:3]}
    assert kept == {baselines.choose([baselines.validation_errors(f.forecasters_[n]) for n in panel.ids[:3]])[0]}
    frame = f.backtest(test)
    for name, choice in f.choices_.items():
        if choice == "seasonal_naive":  # the kept forecast is the baseline's own, from the same origin
            rows = frame[frame["id"] == name]
            np.testing.assert_allclose(rows["model"], rows["seasonal_naive"], rtol=1e-6)
    np.testing.assert_allclose(f.predict(6)["forecast"].to_numpy()[-6:], short[-12:-6])  # the last season
    f.save(tmp_path / "local")
    pd.testing.assert_frame_equal(PanelForecaster.load(tmp_path / "local").predict(), f.predict())
    with pytest.raises(ValueError, match="series 'x' was not fitted"):
        f.predict(3, Panel.from_dict({"x": np.arange(1.0, 30.0)}))


def test_the_panel_leaves_the_seasonal_naive_only_for_a_clearly_better_candidate():
    row = lambda model, linear, snaive=1.0: {"model": (model, snaive), "linear": (linear, snaive)}  # noqa: E731
    assert baselines.choose([row(0.85, 1.2), row(0.85, 1.2)])[0] == "model"  # 15% better
    assert baselines.choose([row(0.95, 1.2), row(0.93, 0.99)])[0] == "seasonal_naive"  # 6%: not clear
    choice, ratios = baselines.choose([row(0.5, 0.7, 2.0), row(2.5, 0.7)])  # the model wins one series only
    assert choice == "linear" and ratios == pytest.approx({"model": 3.0 / 3.0, "linear": 1.4 / 3.0})
    assert baselines.choose([]) == ("seasonal_naive", {})


def test_validation_checks_the_linear_baseline_on_three_windows_and_the_network_on_one():
    f = Forecaster(horizon=4, lookback=8, season=4, val_size=4, hidden_size=4, epochs=1, quiet=True, device="cpu")
    t = np.arange(60.0)
    values = 50 + 10 * np.sin(2 * np.pi * t / 4 + 0.3) + 0.5 * t  # seasonal with a trend
    f.fit(values)
    errors = baselines.validation_errors(f)
    scale = np.mean(np.abs(values[4:56] - values[:52]))  # the in-sample seasonal-naive MAE before validation
    snaive = lambda o: np.mean(np.abs(values[o - 4:o] - values[o:o + 4]))  # noqa: E731
    assert errors["model"][1] == pytest.approx(snaive(56) / scale)
    assert errors["linear"][1] == pytest.approx(np.mean([snaive(o) for o in (48, 52, 56)]) / scale)
    linear = [baselines.fit_linear(values[:o], 8, 4, 4)(values[:o]) - values[o:o + 4] for o in (48, 52, 56)]
    assert errors["linear"][0] == pytest.approx(np.mean(np.abs(linear)) / scale)


def test_short_series_and_bad_settings_are_named():
    p = Panel.from_dict({"long": np.arange(1.0, 40.0), "tiny": np.arange(1.0, 6.0)})
    with pytest.raises(ValueError, match="'tiny' has 5 points: too short"):
        PanelForecaster(horizon=4, val_size=4, **QUICK).fit(p)
    with pytest.raises(ValueError, match="mode must be one of auto, global, local"):
        PanelForecaster(mode="both", **QUICK).fit(p)
    with pytest.raises(ValueError, match="unknown setting 'hidden'"):
        PanelForecaster(hidden=3)


@pytest.mark.slow
def test_two_torchrun_ranks_give_the_one_process_model(tmp_path):
    script = Path(__file__).with_name("ddp_panel_script.py")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2] / "src"), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
               str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1)]
    import importlib.util

    spec = importlib.util.spec_from_file_location("ddp_panel_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    one = module.fit().model_.state_dict()  # one process, whole batches
    for name, value in one.items():
        assert torch.equal(ranks[0][name], ranks[1][name]), name
        torch.testing.assert_close(ranks[0][name], value, rtol=1e-5, atol=1e-6)
