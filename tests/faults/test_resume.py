"""``--resume`` and the flags given with it (kind 3): the settings that may change are applied and recorded,
the others are refused by name, and nothing is changed by a refusal."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from .conftest import TINY_TEXT, Case, assert_refused, run_in_process, snapshot


def _history(run):
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


REFUSED = [
    Case("text-hidden", 3, lambda w, t: ["text", "--resume", t / "run", "--hidden", "32", "--quiet"],
         r"^rnnlab text: error: text: --resume continues the run as it was, so --hidden \(the run has 8, given 32\) "
         r"cannot change; only --lr, --steps, --minutes, --patience, --eval-every, --device, --quiet may"),
    Case("text-cell", 3, lambda w, t: ["text", "--resume", t / "run", "--cell", "gru", "--quiet"],
         r"so --cell \(the run has 'rnn', given 'gru'\) cannot change"),
    Case("text-layers-and-batch", 3, lambda w, t: ["text", "--resume", t / "run", "--layers", "2", "--batch-size",
                                                   "3", "--quiet"],
         r"so --layers \(the run has 1, given 2\), --batch-size \(the run has 2, given 3\) cannot change"),
    Case("text-seq-len", 3, lambda w, t: ["text", "--resume", t / "run", "--seq-len", "5", "--quiet"],
         r"so --seq-len \(the run has 8, given 5\) cannot change"),
    Case("text-data", 3, lambda w, t: ["text", "--resume", t / "run", "--data", w.sine, "--quiet"],
         r"so --data \(the run has .*, given .*\) cannot change"),
    Case("text-seed", 3, lambda w, t: ["text", "--resume", t / "run", "--seed", "5", "--quiet"],
         r"so --seed \(the run has 0, given 5\) cannot change"),
    Case("text-config-file", 3, lambda w, t: ["text", "--resume", t / "run", "--config", t / "c.toml", "--quiet"],
         r"so --embedding \(the run has 4, given 64\) cannot change",
         setup=lambda w, t: (t / "c.toml").write_text("[text]\nembedding_size = 64\n")),
    Case("forecast-lookback", 3, lambda w, t: ["forecast", "--resume", t / "run", "--lookback", "7", "--quiet"],
         r"so --lookback \(the run has None, given 7\) cannot change"),
    Case("forecast-hidden", 3, lambda w, t: ["forecast", "--resume", t / "run", "--hidden", "9", "--quiet"],
         r"so --hidden \(the run has 4, given 9\) cannot change"),
    Case("forecast-data", 3, lambda w, t: ["forecast", "--resume", t / "run", "--data", "airline", "--quiet"],
         r"so --data \(the run has .*, given .*\) cannot change"),
    Case("forecast-horizon", 3, lambda w, t: ["forecast", "--resume", t / "run", "--horizon", "3", "--quiet"],
         r"so --horizon \(the run has None, given 3\) cannot change"),
    Case("forecast-bad-lr", 3, lambda w, t: ["forecast", "--resume", t / "run", "--lr", "-1", "--quiet"],
         r"lr must be > 0"),
]


@pytest.mark.parametrize("case", [c.param() for c in REFUSED])
def test_a_setting_that_cannot_change_is_refused_by_name(case, world, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(world.text_run if case.id.startswith("text") else world.forecast_run, tmp_path / "run")
    if case.setup:
        case.setup(world, tmp_path)
    before = snapshot(world.root, tmp_path)
    code, _, err = run_in_process(case.argv(world, tmp_path), capsys, monkeypatch)
    assert_refused(code, err, case, before, snapshot(world.root, tmp_path))


def test_the_same_value_again_is_not_a_change(world, tmp_path, capsys, monkeypatch):
    run = shutil.copytree(world.text_run, tmp_path / "run")
    code, _, err = run_in_process(["text", "--resume", run, "--hidden", "8", "--cell", "rnn", "--quiet"], capsys,
                                  monkeypatch)
    assert code == 0, err


def test_text_resume_applies_and_records_lr_and_steps(world, tmp_path, capsys, monkeypatch):
    run = shutil.copytree(world.text_run, tmp_path / "run")  # 4 steps at lr 4e-3 (warm-up 100: lr_t = lr (t+1)/100)
    stored = json.loads((run / "config.json").read_text())
    code, _, err = run_in_process(["text", "--resume", run, "--lr", "0.001", "--steps", "9", "--quiet"], capsys,
                                  monkeypatch)
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["lr"] == 0.001 and config["config"]["steps"] == 9
    assert config["resumes"] == [{"step": 4, "changed": {"lr": [stored["config"]["lr"], 0.001],
                                                         "steps": [4, 9]}}]
    rows = _history(run)
    assert int(rows[-1]["step"]) == 9
    assert float(rows[-1]["lr"]) == pytest.approx(0.001 * 9 / 100)  # the new lr, on the warm-up's 9th step
    assert json.loads((run / "metrics.json").read_text())["steps"] == 9


def test_forecast_resume_applies_more_epochs_and_a_lower_lr(world, tmp_path, capsys, monkeypatch):
    run = shutil.copytree(world.forecast_run, tmp_path / "run")
    code, _, err = run_in_process(["forecast", "--resume", run, "--epochs", "4", "--lr", "0.0005", "--quiet"],
                                  capsys, monkeypatch)
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["epochs"] == 4 and config["config"]["lr"] == 0.0005
    assert config["resumes"][-1]["changed"]["epochs"] == [2, 4]
    rows = _history(run)
    assert max(int(r["epoch"]) for r in rows) == 4 and float(rows[-1]["lr"]) == 0.0005
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 4


def test_resume_after_divergence_with_a_lower_lr_gets_past_it(world, tmp_path, capsys, monkeypatch):
    """The issue's example: the advice "try --resume with a lower --lr" must be followable, and followed."""
    from rnnlab.text.estimator import TextTask

    out = tmp_path / "out"
    calls, loss = {"n": 0}, TextTask.loss

    def exploding(self, model, batch, state):  # the loss turns non-finite at step 5, after the checkpoint at 4
        calls["n"] += 1
        value, state = loss(self, model, batch, state)
        return (value * float("nan") if calls["n"] == 5 else value), state

    with monkeypatch.context() as m:
        m.setattr(TextTask, "loss", exploding)
        code, _, err = run_in_process(["text", "--data", world.text, "--steps", "12", "--out", out, *TINY_TEXT,
                                       "--eval-every", "2", "--lr", "0.05"], capsys, monkeypatch)
    assert code == 3 and "try --resume with a lower --lr" in err, err
    code, _, err = run_in_process(["text", "--resume", out, "--lr", "0.001", "--quiet"], capsys, monkeypatch)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["lr"] == 0.001 and config["resumes"] == [{"step": 4, "changed": {"lr": [0.05, 0.001]}}]
    assert json.loads((out / "metrics.json").read_text())["steps"] == 12
