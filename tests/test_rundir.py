"""rnnlab.rundir: naming a run directory, atomic writes, history.csv, config.json, versions."""

from __future__ import annotations

import csv
import json
import re

import pytest

from rnnlab import rundir


def test_new_run_dir(tmp_path, monkeypatch):
    assert rundir.new_run_dir("text", tmp_path / "mine") == tmp_path / "mine"
    monkeypatch.chdir(tmp_path)
    path = rundir.new_run_dir("forecast", None)
    assert re.fullmatch(r"runs/forecast-\d{8}-\d{6}", path.as_posix())
    assert not path.exists()
    path.mkdir(parents=True)
    assert rundir.new_run_dir("forecast", None) != path  # an existing one is not reused (same second)


def test_history_csv_and_atomic_json(tmp_path):
    history = [{"step": 1, "val_loss": 0.5}, {"step": 2, "val_loss": float("nan"), "extra": "x"}]
    rundir.write_history_csv(tmp_path / "history.csv", history)
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"step": "1", "val_loss": "0.5", "extra": ""}, {"step": "2", "val_loss": "nan", "extra": "x"}]
    rundir.atomic_write_json(tmp_path / "m.json", {"a": [1, 2]})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "m.json"]


def test_read_run_config(tmp_path):
    with pytest.raises(ValueError, match="run directory not found"):
        rundir.read_run_config(tmp_path / "absent")
    with pytest.raises(ValueError, match="is not a run directory \\(no config.json\\)"):
        rundir.read_run_config(tmp_path)
    rundir.atomic_write_json(tmp_path / "config.json", {"task": "text"})
    assert rundir.read_run_config(tmp_path) == {"task": "text"}
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(ValueError, match="config.json is unreadable"):
        rundir.read_run_config(tmp_path)


def test_versions_name_the_libraries_a_run_used():
    import torch

    found = rundir.versions()
    assert found["rnnlab"] == __import__("rnnlab").__version__ and found["python"].count(".") == 2
    assert found["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert set(rundir.RECORDED) <= set(found)


def test_write_run_is_whole_or_absent(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnlab.report import Section

    fig = plt.figure()
    run = rundir.write_run(tmp_path / "run", "t", {"command": "x"}, {"a": 1}, {"f.png": fig},
                           [Section("S", figures=["f.png"])])
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "f.png", "metrics.json", "report.html"]
    assert "torch" in json.loads((run / "config.json").read_text())["versions"]
    with pytest.raises(ValueError, match="is not an empty directory"):
        rundir.write_run(run, "t", {}, {}, {}, [])
    with pytest.raises(ValueError, match="not in"):  # a section naming a missing figure: nothing is left
        rundir.write_run(tmp_path / "bad", "t", {}, {}, {}, [Section("S", figures=["missing.png"])])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
