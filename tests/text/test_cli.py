"""`rnnlab text` and `rnnlab sample`, called in-process (and once as a subprocess)."""

import io
import json
import subprocess
import sys
import types

import pytest

from rnnlab.cli import main

TEXT = "def add(a, b):\n    return a + b\n\n" * 80
SMALL = ["--hidden", "16", "--layers", "1", "--batch-size", "4", "--seq-len", "10", "--eval-every", "3", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_text")
    data = tmp / "code.txt"
    data.write_text(TEXT, encoding="utf-8")
    run = tmp / "run"
    assert main(["text", "--data", str(data), "--steps", "6", "--out", str(run), *SMALL]) == 0
    return run


def test_text_writes_a_run_and_prints_the_table(run_dir, capsys):
    for name in ("config.json", "model.safetensors", "metrics.json", "history.csv", "samples.txt", "report.html"):
        assert (run_dir / name).is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["steps"] == 6
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert (config["hidden_size"], config["seq_len"], config["batch_size"]) == (16, 10, 4)  # flags reached it


def test_text_output(tmp_path, capsys):
    data = tmp_path / "d.txt"
    data.write_text(TEXT)
    assert main(["text", "--data", str(data), "--steps", "2", "--out", str(tmp_path / "r"), *SMALL]) == 0
    out = capsys.readouterr().out
    assert "validation" in out and "bits/char" in out and f"run directory: {tmp_path / 'r'}" in out


def test_config_file_and_flags(tmp_path):
    data = tmp_path / "d.txt"
    data.write_text(TEXT)
    toml = tmp_path / "c.toml"
    toml.write_text('[text]\nhidden_size = 12\ncell = "gru"\n')
    run = tmp_path / "r"
    args = ["text", "--config", str(toml), "--data", str(data), "--steps", "2", "--out", str(run), *SMALL[2:]]
    assert main(args) == 0
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["hidden_size"], config["cell"]) == (12, "gru")


def test_stdin(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(TEXT.encode())))
    run = tmp_path / "r"
    assert main(["text", "--data", "-", "--steps", "2", "--out", str(run), *SMALL]) == 0
    assert json.loads((run / "config.json").read_text())["data"]["source"] == "<stdin>"


@pytest.mark.parametrize("content,message", [
    (b"ok\nstill ok\n\xc3\x28 broken", r"not valid utf-8: byte 0xc3 at byte offset 12 \(line 3\); choose the file's "
                                       r"encoding with --encoding"),
    (b"", "is empty"),
    (b"short text", "too short"),
])
def test_bad_text_is_one_line_and_writes_nothing(tmp_path, capsys, content, message):
    data = tmp_path / "d.txt"
    data.write_bytes(content)
    run = tmp_path / "r"
    assert main(["text", "--data", str(data), "--steps", "2", "--out", str(run), *SMALL]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("rnnlab text: error: text: ")
    assert __import__("re").search(message, err)
    assert not run.exists()


def test_encoding_flag(tmp_path):
    data = tmp_path / "latin.txt"
    data.write_bytes(("café olé\n" * 100).encode("latin-1"))
    run = tmp_path / "r"
    assert main(["text", "--data", str(data), "--encoding", "latin-1", "--steps", "2", "--out", str(run),
                 *SMALL]) == 0
    assert "é" in json.loads((run / "config.json").read_text())["vocab"]


def test_epochs_and_unknown_files_are_errors(tmp_path, capsys):
    assert main(["text", "--epochs", "2", "--out", str(tmp_path / "r")]) == 2
    assert "--epochs does not apply" in capsys.readouterr().err
    assert main(["text", "--data", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "r")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_sample_streams_prime_and_continuation(run_dir, capsys):
    assert main(["sample", "--model", str(run_dir), "--prime", "def ", "--length", "40", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("def ") and len(out) == 4 + 40 + 1
    assert main(["sample", "--model", str(run_dir), "--prime", "def ", "--length", "40", "--seed", "3"]) == 0
    assert capsys.readouterr().out == out  # same seed, same text
    assert main(["sample", "--model", str(run_dir), "--length", "10", "--greedy"]) == 0


def test_sample_bad_input(run_dir, tmp_path, capsys):
    assert main(["sample", "--model", str(run_dir), "--prime", "déf€"]) == 2
    err = capsys.readouterr().err
    assert "prime has 2 character(s) the model has never seen: 'é', '€'" in err and err.count("\n") == 1
    assert main(["sample", "--model", str(run_dir), "--temperature", "0"]) == 2
    assert "temperature must be > 0" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"task": "forecast"}))
    assert main(["sample", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds a forecast model" in err and "Traceback" not in err


@pytest.mark.slow
def test_sample_as_a_subprocess(run_dir):
    done = subprocess.run([sys.executable, "-m", "rnnlab", "sample", "--model", str(run_dir), "--length", "25",
                           "--prime", "def", "--seed", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("def") and len(done.stdout) == 3 + 25 + 1


def test_resume_of_a_finished_run_changes_nothing(run_dir, capsys):
    before = json.loads((run_dir / "metrics.json").read_text())
    assert main(["text", "--resume", str(run_dir), "--quiet"]) == 0
    after = json.loads((run_dir / "metrics.json").read_text())
    assert after["steps"] == before["steps"] and after["val_loss"] == pytest.approx(before["val_loss"])
    assert f"run directory: {run_dir}" in capsys.readouterr().out
