"""rnnlab forecast / predict on the command line: the run directory, the table, bad input."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from rnnlab.cli import main

QUICK = ["--epochs", "2", "--quiet", "--device", "cpu"]
METRIC_KEYS = {"mse", "rmse", "mae", "mape", "smape", "mase"}


@pytest.fixture(scope="module")
def airline_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "airline"
    assert main(["forecast", "--data", "airline", "--horizon", "12", "--test-size", "24", "--out", str(out),
                 *QUICK]) == 0
    return out


def test_run_directory_holds_what_design_promises(airline_run):
    names = {p.name for p in airline_run.iterdir()}
    assert {"config.json", "model.safetensors", "metrics.json", "history.csv", "report.html", "checkpoint",
            "series.png", "forecast.png", "loss.png"} <= names
    metrics = json.loads((airline_run / "metrics.json").read_text())
    assert set(metrics) == {"task", "test", "baselines", "horizon", "lookback", "train_seconds", "epochs"}
    assert metrics["task"] == "forecast" and set(metrics["test"]) == METRIC_KEYS
    assert set(metrics["baselines"]) == {"naive", "seasonal_naive", "linear"}
    assert all(set(m) == METRIC_KEYS for m in metrics["baselines"].values())
    assert metrics["horizon"] == 12 and metrics["lookback"] == 12 and metrics["epochs"] == 2
    config = json.loads((airline_run / "config.json").read_text())
    assert config["task"] == "forecast" and config["data"]["length"] == 144 and "torch" in config["versions"]
    assert config["config"]["data"] == "airline" and config["sizes"]["test_size"] == 24
    page = (airline_run / "report.html").read_text()
    for png in ("series.png", "forecast.png", "loss.png"):
        assert png in page and (airline_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pd.read_csv(airline_run / "history.csv")) == 2


def test_seasonal_naive_in_metrics_is_the_last_year_repeated(airline_run):
    # an oracle outside the package: the test months against the same months one year earlier
    values = pd.read_csv(__import__("rnnlab").data.series.BUNDLED_DIR / "airline.csv")["passengers"].to_numpy(float)
    test, previous = values[-24:], values[-36:-12]
    metrics = json.loads((airline_run / "metrics.json").read_text())
    expected = 100 * np.mean(np.abs(test - previous) / test)
    assert metrics["baselines"]["seasonal_naive"]["mape"] == pytest.approx(expected)


def test_forecast_prints_the_table_and_the_run_directory(tmp_path, capsys):
    out = tmp_path / "sine"
    assert main(["forecast", "--out", str(out), *QUICK]) == 0
    text = capsys.readouterr().out
    assert "sine: 400 points" in text
    for row in ("rnn (this model)", "naive", "seasonal_naive", "linear"):
        assert row in text
    assert "mse" in text and "mase" in text and f"run directory: {out}" in text


def test_predict_writes_the_future(airline_run, tmp_path, capsys):
    csv = tmp_path / "future.csv"
    assert main(["predict", "--model", str(airline_run), "--horizon", "5", "--csv", str(csv)]) == 0
    frame = pd.read_csv(csv)
    assert list(frame.columns) == ["time", "passengers"] and len(frame) == 5
    assert frame["time"].iloc[0] == "1961-01-01" and np.all(frame["passengers"] > 0)
    assert "1961-05-01" in capsys.readouterr().out


def test_predict_continues_a_given_csv(airline_run, tmp_path):
    data = tmp_path / "later.csv"
    pd.DataFrame({"month": ["1961-01", "1961-02"] + [f"1961-{m:02d}" for m in range(3, 13)],
                  "passengers": np.linspace(420, 500, 12)}).to_csv(data, index=False)
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(airline_run), "--data", str(data), "--csv", str(out)]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 12 and frame["time"].iloc[0] == "1962-01-01"


def test_config_file_and_flags(tmp_path):
    toml = tmp_path / "f.toml"
    toml.write_text('[forecast]\ndata = "nile"\nhidden_size = 5\nepochs = 1\n')
    out = tmp_path / "run"
    assert main(["forecast", "--config", str(toml), "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["data"] == "nile" and config["hidden_size"] == 5 and config["epochs"] == 2


def test_resume_of_a_finished_run_keeps_its_weights(airline_run, capsys):
    before = json.loads((airline_run / "metrics.json").read_text())["test"]
    assert main(["forecast", "--resume", str(airline_run), "--quiet"]) == 0
    after = json.loads((airline_run / "metrics.json").read_text())["test"]
    assert after == pytest.approx(before)


def _csv(tmp_path, text):
    path = tmp_path / "in.csv"
    path.write_text(text)
    return str(path)


BAD = [
    (lambda p: ["--data", str(p / "nope.csv")], "file not found"),
    (lambda p: ["--data", _csv(p, "a,b\n1,2\n"), "--column", "x"], "unknown column 'x' (--column) in in.csv; "
                                                                    "columns are: a, b"),
    (lambda p: ["--data", _csv(p, "v\n" + "1\n" * 5 + "oops\n" + "2\n" * 60)], "non-numeric values in 'v' at "
                                                                               "in.csv line 7"),
    (lambda p: ["--data", _csv(p, "t,v\n" + "".join(f"{i},{i % 7}\n" for i in range(60)) + "60,\n"), "--column", "v"],
     "1 missing value(s) in 'v' at in.csv line 62; use --fill interpolate"),
    (lambda p: ["--data", _csv(p, "v\n" + "1\n2\n" * 10)], "too few for lookback 20"),
    (lambda p: ["--data", _csv(p, "v\n" + "3\n" * 80)], "'v' is constant"),
    (lambda p: ["--data", "airline", "--horizon", "0"], "horizon must be a positive integer, got 0"),
    (lambda p: ["--data", "sunspots", "--transform", "log"], "transform 'log' needs a positive series"),
    (lambda p: ["--config", _csv(p, "[forecast]\nhiden = 3\n")], "unknown key 'hiden'"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_input_is_one_line_and_leaves_no_run_directory(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    assert main(["forecast", *args(tmp_path), "--out", str(out), *QUICK]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("rnnlab forecast: error: ") and message in err
    assert not out.exists()


def test_fill_interpolate_repairs_missing_values(tmp_path):
    data = _csv(tmp_path, "v\n" + "".join(f"{np.sin(i / 3):.4f}\n" for i in range(40)) + "\n" +
                "".join(f"{np.sin(i / 3):.4f}\n" for i in range(41, 100)))
    assert main(["forecast", "--data", data, "--fill", "interpolate", "--out", str(tmp_path / "r"), *QUICK]) == 0
    assert json.loads((tmp_path / "r" / "config.json").read_text())["data"]["filled"] == 1


def test_predict_bad_inputs(tmp_path, airline_run, capsys):
    assert main(["predict", "--model", str(tmp_path / "none")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    assert main(["predict", "--model", str(airline_run), "--horizon", "-3"]) == 2
    assert "must be a positive integer, got -3" in capsys.readouterr().err


def test_existing_run_directory_is_not_overwritten(airline_run, capsys):
    assert main(["forecast", "--out", str(airline_run), *QUICK]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_module_entry_point(tmp_path):
    done = subprocess.run([sys.executable, "-m", "rnnlab", "forecast", "--out", str(tmp_path / "r"), *QUICK],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "run directory:" in done.stdout and (tmp_path / "r" / "metrics.json").is_file()


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch, capsys):
    from safetensors.torch import load_file

    from rnnlab.forecast.series_windows import WindowTask

    args = ["forecast", "--data", "nile", "--epochs", "6", "--patience", "100", "--quiet", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    original, calls = WindowTask.loss, {"n": 0}

    def interrupt_once(self, model, batch, state):
        calls["n"] += 1
        if calls["n"] == 11:  # during epoch 3 (4 batches per epoch)
            raise KeyboardInterrupt
        return original(self, model, batch, state)

    monkeypatch.setattr(WindowTask, "loss", interrupt_once)
    cut = tmp_path / "cut"
    assert main([*args, "--out", str(cut)]) == 130
    assert "--resume" in capsys.readouterr().err
    assert (cut / "config.json").is_file() and (cut / "checkpoint").is_dir() and not (cut / "metrics.json").exists()
    assert main(["forecast", "--resume", str(cut), "--quiet"]) == 0
    whole, resumed = load_file(tmp_path / "whole" / "model.safetensors"), load_file(cut / "model.safetensors")
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert (whole[key] == resumed[key]).all(), key


@pytest.mark.slow
def test_torchrun_two_ranks_write_one_run_and_print_one_table(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "rnnlab",
               "forecast", "--data", "nile", "--epochs", "3", "--quiet", "--out", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run directory:") == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and set(metrics["test"]) == METRIC_KEYS


def test_predict_with_a_config_file_and_without_a_model(airline_run, tmp_path, capsys):
    toml = tmp_path / "p.toml"
    out = tmp_path / "p.csv"
    toml.write_text(f'[predict]\nmodel = "{airline_run.as_posix()}"\nhorizon = 3\ncsv = "{out.as_posix()}"\n')
    assert main(["predict", "--config", str(toml), "--horizon", "4"]) == 0
    assert len(pd.read_csv(out)) == 4
    assert main(["predict"]) == 2
    assert "give the trained model with --model RUN_DIR" in capsys.readouterr().err
