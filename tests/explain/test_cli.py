"""rnnlab explain ...: run directories with metrics, valid PNG figures and a report naming them; one-line errors."""

import json
import re
import subprocess
import sys

import matplotlib.image
import pytest

from rnnlab.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_run_dir(run_dir, task, figure):
    """config.json, metrics.json (with ``task``), and a report whose every <img> is a valid PNG beside it."""
    assert json.loads((run_dir / "metrics.json").read_text())["task"] == task
    config = json.loads((run_dir / "config.json").read_text())
    assert config["command"] == task.replace("-", " ") and "torch" in config["versions"]
    page = (run_dir / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert figure in images
    assert "http://" not in page and "https://" not in page  # readable offline
    for name in images:
        data = (run_dir / name).read_bytes()
        assert data[:8] == PNG_MAGIC
        assert matplotlib.image.imread(run_dir / name).ndim == 3  # decodes as an image


def test_explain_lookback_writes_its_run_directory(tmp_path, capsys):
    out = tmp_path / "lookback"
    assert main(["explain", "lookback", "--lookbacks", "1,2", "--epochs", "2", "--quiet", "--device", "cpu",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lookback" in printed and f"run directory: {out}" in printed
    assert_run_dir(out, "explain-lookback", "lookback.png")
    assert [r["lookback"] for r in json.loads((out / "metrics.json").read_text())["results"]] == [1, 2]
    assert json.loads((out / "config.json").read_text())["lookbacks"] == [1, 2]


def test_explain_memory_and_gradients_write_their_run_directories(tmp_path):
    settings = tmp_path / "small.toml"  # flags override the file; the file sets what has no flag
    settings.write_text("batches_per_epoch = 3\nepochs = 9\n")
    small = ["--cells", "rnn", "--epochs", "1", "--hidden", "4", "--quiet", "--device", "cpu",
             "--config", str(settings)]
    assert main(["explain", "memory", "--delays", "2", *small, "--out", str(tmp_path / "m")]) == 0
    assert_run_dir(tmp_path / "m", "explain-memory", "memory.png")
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["steps_per_cell"] == 3  # 1 epoch x 3 batches
    assert main(["explain", "gradients", "--delay", "11", *small, "--out", str(tmp_path / "g")]) == 0
    assert_run_dir(tmp_path / "g", "explain-gradients", "gradients.png")
    metrics = json.loads((tmp_path / "g" / "metrics.json").read_text())
    ratios = metrics["ratio"]["rnn"]["init"]
    assert ratios["10"] > 0 and ratios["50"] is None
    assert metrics["conclusion"] in (tmp_path / "g" / "report.html").read_text()


def test_explain_memory_quick_preset_and_forget_bias_flag(tmp_path, capsys):
    settings = tmp_path / "small.toml"  # under --quick, the file still sets what the flags do not
    settings.write_text("batches_per_epoch = 2\nhidden_size = 3\n")
    argv = ["explain", "memory", "--quick", "--epochs", "1", "--forget-bias", "torch", "--quiet", "--device", "cpu",
            "--config", str(settings), "--out", str(tmp_path / "m")]
    assert main(argv) == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["delays"] == [20] and config["epochs"] == 1 and config["batches_per_epoch"] == 2
    assert config["forget_bias"] == "torch" and config["hidden_size"] == 3
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    printed = capsys.readouterr().out
    assert metrics["conclusion"] in printed and "PyTorch's default init" in printed


def test_explain_hidden_default_model(tmp_path):
    assert main(["explain", "hidden", "--epochs", "1", "--quiet", "--device", "cpu", "--out", str(tmp_path / "h")]) == 0
    assert_run_dir(tmp_path / "h", "explain-hidden", "hidden.png")
    metrics = json.loads((tmp_path / "h" / "metrics.json").read_text())
    assert [layer["units"] for layer in metrics["layers"]] == [20, 20] and metrics["length"] == 100


def test_explain_hidden_traces_a_saved_forecaster(tmp_path):
    import numpy as np

    from rnnlab.forecast.estimator import Forecaster

    series = np.sin(np.linspace(0, 20, 120))
    forecaster = Forecaster(hidden_size=5, lookback=8, horizon=1, epochs=1, device="cpu", quiet=True)
    forecaster.fit(series).save(tmp_path / "f")
    assert main(["explain", "hidden", "--model", str(tmp_path / "f"), "--quiet", "--out", str(tmp_path / "h")]) == 0
    metrics = json.loads((tmp_path / "h" / "metrics.json").read_text())
    assert metrics["length"] == 8 and [layer["units"] for layer in metrics["layers"]] == [5]


@pytest.mark.parametrize("argv,message", [
    (["explain", "memory", "--cells", "rnn,tcn"], "rnnlab explain: error: explain memory: unknown cell 'tcn'"),
    (["explain", "lookback", "--lookbacks", "0"], "rnnlab explain: error: explain lookback: lookbacks must be"),
    (["explain", "hidden", "--model", "no/such/run"], "rnnlab explain: error: "),
])
def test_bad_input_is_one_line_and_leaves_no_run_directory(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert main([*argv, "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_an_occupied_out_directory_is_refused(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["explain", "lookback", "--lookbacks", "1", "--epochs", "1", "--quiet", "--out", str(tmp_path)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_python_dash_m_explain_help():
    done = subprocess.run([sys.executable, "-m", "rnnlab", "explain", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert all(word in done.stdout for word in ("hidden", "gradients", "memory", "lookback"))
