"""rnnlab forecast / predict on panels: the run directory, metrics anyone can recompute, predict on unseen
series, bad input as one line; and the series-input faults of issue 16."""

import json

import numpy as np
import pandas as pd
import pytest

from rnnlab.cli import main
from rnnlab.metrics import forecast_metrics

QUICK = ["--epochs", "1", "--batches-per-epoch", "2", "--quiet", "--device", "cpu"]


def _panel_csv(path, series=6, shuffle=True):
    rng = np.random.default_rng(0)
    rows = []
    for s in range(series):
        n = 40 + 3 * s
        dates = pd.date_range(pd.Timestamp("2000-01-01") + pd.DateOffset(months=s), periods=n, freq="MS")
        y = 10 ** (s % 3 + 1) * (2 + np.sin(2 * np.pi * np.arange(n) / 12 + s)) * (1 + 0.05 * rng.standard_normal(n))
        rows += [(f"s{s}", d.strftime("%Y-%m-%d"), v) for d, v in zip(dates, y)]
    frame = pd.DataFrame(rows, columns=["unique_id", "ds", "y"])
    (frame.sample(frac=1, random_state=0) if shuffle else frame).to_csv(path, index=False)
    return str(path)


@pytest.mark.slow
def test_panel_run_writes_what_anyone_can_recompute(tmp_path, capsys):
    data, out = _panel_csv(tmp_path / "long.csv"), tmp_path / "run"
    assert main(["forecast", "--data", data, "--id-column", "unique_id", "--time-column", "ds", "--column", "y",
                 "--horizon", "6", "--out", str(out), *QUICK]) == 0
    text = capsys.readouterr().out
    assert "panel of 6 series" in text and "rows sorted by series and date" in text
    assert "rnn (global, this model)" in text and "model beats naive on" in text and "median" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"task", "test", "baselines", "horizon", "lookback", "train_seconds", "epochs"} <= set(metrics)
    assert metrics["series"] == 6 and metrics["mode"] == "global" and set(metrics["beats"]) == {
        "naive", "seasonal_naive", "linear"}
    # one epoch of 2 batches for each of the 3 members: "epochs" per network, "steps" all members' together
    assert (metrics["lookbacks"], metrics["epochs"], metrics["steps"]) == ([24, 36, 48], 1, 6)
    forecasts = pd.read_csv(out / "test_forecasts.csv")
    assert list(forecasts.columns) == ["id", "time", "actual", "model", "naive", "seasonal_naive", "linear"]
    assert len(forecasts) == 36 and forecasts.groupby("id").size().eq(6).all()
    series = pd.read_csv(out / "series_metrics.csv")
    source = pd.read_csv(data)
    # recompute one series' MASE from the files alone: its history is every point before its test times
    name = "s4"
    rows = forecasts[forecasts["id"] == name]
    history = source[(source["unique_id"] == name) & ~source["ds"].isin(rows["time"])].sort_values("ds")["y"]
    mase = forecast_metrics(rows["actual"].to_numpy(), rows["model"].to_numpy(), history.to_numpy(), 12)["mase"]
    assert series.loc[series["id"] == name, "model_mase"].iloc[0] == pytest.approx(mase)
    assert metrics["test"]["mase"] == pytest.approx(series["model_mase"].mean())
    for png in ("grid.png", "mase.png", "loss.png"):
        assert png in (out / "report.html").read_text()

    # predict every series, then a new panel with a series the model never saw
    csv = tmp_path / "future.csv"
    assert main(["predict", "--model", str(out), "--csv", str(csv)]) == 0
    future = pd.read_csv(csv)
    assert list(future.columns) == ["id", "time", "forecast"] and len(future) == 36
    last = pd.to_datetime(source.groupby("unique_id")["ds"].max())  # forecasts follow each series' last point
    first = pd.to_datetime(future.groupby("id")["time"].min())
    assert (first == last + pd.DateOffset(months=1)).all(), (first, last)
    new = tmp_path / "new.csv"
    pd.DataFrame({"unique_id": "fresh", "ds": pd.date_range("2010-01", periods=30, freq="MS").strftime("%Y-%m-%d"),
                  "y": np.linspace(5, 9, 30)}).to_csv(new, index=False)
    assert main(["predict", "--model", str(out), "--data", str(new), "--csv", str(csv)]) == 0
    future = pd.read_csv(csv)
    assert set(future["id"]) == {"fresh"} and future["time"].iloc[0] == "2012-07-01"
    assert main(["predict", "--model", str(out), "--data", str(new), "--column", "ds"]) == 2
    assert "trained on column 'y', not 'ds'" in capsys.readouterr().err


@pytest.mark.slow
def test_local_mode_says_what_each_series_kept(tmp_path, capsys):
    data, out = _panel_csv(tmp_path / "long.csv", series=3), tmp_path / "run"
    assert main(["forecast", "--data", data, "--id-column", "unique_id", "--time-column", "ds", "--mode", "local",
                 "--horizon", "6", "--hidden", "4", "--out", str(out), *QUICK]) == 0
    assert "per-series mode: validation error / the seasonal naive's on the same points: model " in \
        capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mode"] == "local" and sum(metrics["choices"].values()) == 3
    assert set(pd.read_csv(out / "series_metrics.csv")["choice"]) <= {"model", "linear", "seasonal_naive"}


@pytest.mark.slow
def test_an_interrupted_ensemble_run_resumes_to_the_same_members(tmp_path, monkeypatch, capsys):
    from safetensors.torch import load_file

    from rnnlab.forecast.windows import PanelWindows

    data = _panel_csv(tmp_path / "long.csv")
    args = ["forecast", "--data", data, "--id-column", "unique_id", "--time-column", "ds", "--horizon", "6",
            "--steps", "6", "--batches-per-epoch", "2", "--quiet", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0  # 3 members (lookbacks 24, 36, 48)
    original, calls = PanelWindows.loss, {"n": 0}

    def interrupt_once(self, model, batch, state):
        calls["n"] += 1
        if calls["n"] == 10:  # member 1's fourth step (member 0 took 6)
            raise KeyboardInterrupt
        return original(self, model, batch, state)

    monkeypatch.setattr(PanelWindows, "loss", interrupt_once)
    cut = tmp_path / "cut"
    assert main([*args, "--out", str(cut)]) == 130
    assert f"--resume {cut}" in capsys.readouterr().err
    assert (cut / "member-0" / "checkpoint").is_dir() and (cut / "member-1" / "checkpoint").is_dir()
    assert not (cut / "member-2").exists() and not (cut / "metrics.json").exists()
    assert main(["forecast", "--resume", str(cut), "--quiet"]) == 0
    whole, resumed = load_file(tmp_path / "whole" / "model.safetensors"), load_file(cut / "model.safetensors")
    assert whole.keys() == resumed.keys() and any(key.startswith("2.") for key in whole)
    for key in whole:
        assert (whole[key] == resumed[key]).all(), key
    assert json.loads((cut / "metrics.json").read_text())["steps"] == 18


def _csv(tmp_path, text, name="in.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


BAD = [
    (lambda p: ["--data", _csv(p, "id,y\na,1\na,2\na,x\n"), "--id-column", "id"], "non-numeric values in 'a'"),
    (lambda p: ["--data", _csv(p, "id,y\n" + "a,1\na,2\n" * 20 + "b,3\nb,4\n"), "--id-column", "id",
                "--horizon", "2"], "'b' has 2 points: too short"),
    (lambda p: ["--data", _csv(p, "t,v\n1871.0,1\n1872.0,2\n1872.0,3\n"), "--time-column", "t"],
     "duplicate date 1872-01-01 00:00:00 at in.csv line 3 and 4"),
    (lambda p: ["--data", _csv(p, "v\n" + "1\n2\n" * 40 + "1e308\n")], "overflowing values in 'v' at in.csv line 82"),
    (lambda p: ["--data", _csv(p, "v\n" + "1\n2\n" * 40 + "inf\n")], "non-finite or overflowing values"),
    (lambda p: ["--data", _csv(p, "v;w\n" + "é;1\n" * 40, encoding="latin-1")], "--encoding latin-1"),
    (lambda p: ["--data", _csv(p, "v\n3\n")], "too few"),
    (lambda p: ["--data", str(p)], "is a directory"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_input_is_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    assert main(["forecast", *args(tmp_path), "--out", str(out), *QUICK]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and message in err, err
    assert not out.exists()


def test_years_written_as_floats_and_rows_out_of_order(tmp_path):
    from rnnlab.data import load

    rows = "".join(f"{1871 + i}.0,{np.sin(i / 3):.4f}\n" for i in range(60))
    s = load(_csv(tmp_path, "year,v\n" + rows), time_column="year")
    assert s.index[0] == pd.Timestamp("1871-01-01") and s.index.freqstr.startswith("YS")
    lines = rows.splitlines()
    shuffled = load(_csv(tmp_path, "year,v\n" + "\n".join(lines[30:] + lines[:30]) + "\n", "b.csv"),
                    time_column="year")
    pd.testing.assert_series_equal(shuffled, s, check_freq=False)
    assert shuffled.attrs["notices"] == ["rows sorted by date"]


def test_a_series_with_shuffled_dates_keeps_them(tmp_path):
    from rnnlab.forecast.estimator import Forecaster

    s = pd.Series(np.sin(np.arange(60) / 3) + 2, index=pd.date_range("2000-01", periods=60, freq="MS"))
    f = Forecaster(epochs=1, quiet=True, device="cpu", horizon=3).fit(s.sample(frac=1, random_state=0))
    assert f.history_.index.equals(s.index) and f.predict(2).index[0] == pd.Timestamp("2005-01-01")


def test_a_hand_edited_scaler_with_zero_deviation_is_refused(tmp_path):
    from rnnlab.forecast.estimator import Forecaster

    f = Forecaster(epochs=1, quiet=True, device="cpu").fit(np.sin(np.arange(80) / 3))
    f.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["forecaster"]["scaler"]["std"] = 0.0
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="positive deviation"):
        Forecaster.load(tmp_path / "m")
