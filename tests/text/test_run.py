"""rnnlab.text.run: the run directory of ``rnnlab text`` (files, metrics, samples), loading it back, and an
interrupted run resumed exactly."""

import json
import math

import pytest
import torch

from rnnlab.text import estimator as text
from rnnlab.text import run as text_run
from rnnlab.text.estimator import CharModel, TextConfig

TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 60
SMALL = dict(hidden_size=16, num_layers=1, embedding_size=8, batch_size=4, seq_len=12, eval_every=4, quiet=True)


@pytest.mark.slow
def test_fit_writes_the_run_directory_and_loads_back(tmp_path):
    run = tmp_path / "run"
    m = text_run.run(TextConfig(**SMALL, steps=8), out=run, data=TEXT).model
    assert m is not None and m.vocab_.chars == sorted(set(TEXT))
    for name in ("config.json", "model.safetensors", "metrics.json", "history.csv", "samples.txt", "report.html",
                 "loss.png", "corpus.bin"):
        assert (run / name).is_file(), name
    assert (run / "checkpoint").is_dir()
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("task", "val_loss", "val_bpc", "test_bpc", "train_seconds", "steps", "chars_per_second"):
        assert key in metrics
    assert metrics["task"] == "text" and metrics["steps"] == 8
    assert metrics["val_bpc"] == pytest.approx(metrics["val_loss"] / math.log(2))
    val = m.corpus_.vocab.decode(m.corpus_.part("val"))
    assert metrics["val_loss"] == pytest.approx(m.evaluate(val)["loss"], rel=1e-5)
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "text" and config["vocab"] == m.vocab_.chars
    assert config["config"]["data"] == "<string>"  # a name, not the text
    samples = (run / "samples.txt").read_text()
    assert all(f"temperature {t}" in samples for t in (0.5, 0.8, 1.0))
    rows = (run / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + 2  # header + evaluations at steps 4 and 8
    loaded = CharModel.load(run)
    assert loaded.sample(60, prime="the ", seed=2) == m.sample(60, prime="the ", seed=2)
    assert loaded.metrics_["val_loss"] == metrics["val_loss"]


@pytest.mark.slow
def test_resume_after_interrupt_matches_uninterrupted(tmp_path, monkeypatch):
    full = text_run.run(TextConfig(**SMALL, steps=8), out=tmp_path / "full", data=TEXT).model
    calls = {"n": 0}
    original = text.TextTask.loss

    def interrupted_loss(self, model, batch, state):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(self, model, batch, state)

    monkeypatch.setattr(text.TextTask, "loss", interrupted_loss)
    with pytest.raises(KeyboardInterrupt):
        text_run.run(TextConfig(**SMALL, steps=8), out=tmp_path / "cut", data=TEXT)
    monkeypatch.setattr(text.TextTask, "loss", original)
    resumed = text_run.run(TextConfig(), resume=tmp_path / "cut").model
    for key, value in full.model_.state_dict().items():
        torch.testing.assert_close(resumed.model_.state_dict()[key], value, rtol=0, atol=0)
    assert resumed.metrics_["steps"] == 8


def test_load_refuses_an_incomplete_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"task": "text", "config": {}}))
    with pytest.raises(ValueError, match="config.json is incomplete: no vocab"):
        CharModel.load(tmp_path)
    with pytest.raises(ValueError, match="encoded corpus not found"):
        (tmp_path / "config.json").write_text(json.dumps({"task": "text", "config": {}, "vocab": ["a", "b"]}))
        text_run.run(TextConfig(), resume=tmp_path)

