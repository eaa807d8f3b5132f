"""rnnlab.train: fit against analytic oracles (least squares, the cosine formula, clipping), exact resume,
divergence, early stopping, budgets, and the CLI's handling of training errors."""

from __future__ import annotations

import argparse
import csv
import math
import os
import signal

import pytest
import torch
from torch import nn

from rnnlab import cli
from rnnlab.checkpoint import load_checkpoint, save_checkpoint
from rnnlab.train import TrainConfig, TrainingDiverged, TrainingInterrupted, fit, get_lr


class Regression:
    """y = X w + b + noise, shuffled mini-batches drawn from the generator."""

    def __init__(self, n=200, batch_size=25, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, generator=g)
        self.y = self.x @ torch.tensor([1.5, -2.0, 0.5]) + 0.7 + 0.1 * torch.randn(n, generator=g)
        self.batch_size = batch_size

    def batches(self, epoch, generator, rank=0, world_size=1):
        perm = torch.randperm(len(self.x), generator=generator)
        return [perm[i:i + self.batch_size] for i in range(0, len(perm), self.batch_size)]

    def loss(self, model, idx, state):
        return ((model(self.x[idx]).squeeze(-1) - self.y[idx]) ** 2).mean(), None

    def evaluate(self, model):
        return float(((model(self.x).squeeze(-1) - self.y) ** 2).mean())


class Recurrent(nn.Module):
    """A tiny RNN with dropout, so exact resume must restore the global RNG and the carried state."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(2, 8, batch_first=True)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(8, 1)

    def forward(self, x, h=None):
        out, h = self.rnn(x, h)
        return self.head(self.drop(out)).squeeze(-1), h


class Stream:
    """TBPTT-like task: 4 parallel streams cut into chunks; chunk order shuffled by the generator; the hidden
    state is carried from one batch to the next. ``interrupt_at`` raises KeyboardInterrupt in the loss of that
    (1-based) call; ``sigint_at`` sends this process SIGINT instead (a real Ctrl-C)."""

    def __init__(self, interrupt_at=None, sigint_at=None):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(4, 60, 2, generator=g)
        self.y = torch.sin(self.x.cumsum(1)[..., 0])
        self.calls, self.interrupt_at, self.sigint_at = 0, interrupt_at, sigint_at

    def batches(self, epoch, generator, rank=0, world_size=1):
        for chunk in torch.randperm(6, generator=generator).tolist():
            yield slice(10 * chunk, 10 * chunk + 10)

    def loss(self, model, sl, state):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        if self.calls == self.sigint_at:
            os.kill(os.getpid(), signal.SIGINT)
        out, h = model(self.x[:, sl], state)
        return ((out - self.y[:, sl]) ** 2).mean(), h

    def evaluate(self, model):
        out, _ = model(self.x)
        return float(((out - self.y) ** 2).mean())


def _stream_run(run_dir, interrupt_at=None, sigint_at=None, resume=False, **cfg):
    torch.manual_seed(0)
    model = Recurrent()
    config = TrainConfig(**{"epochs": 4, "lr": 0.01, "eval_every": 7, "schedule": "cosine", "warmup_steps": 3,
                            "quiet": True, **cfg})
    result = fit(model, Stream(interrupt_at, sigint_at), config, run_dir=run_dir, resume=resume)
    return model, result


def _assert_same_weights(a, b):
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_fit_reaches_least_squares_solution():
    task = Regression()
    # oracle: ordinary least squares with an intercept column
    design = torch.cat([task.x, torch.ones(len(task.x), 1)], 1)
    solution = torch.linalg.lstsq(design, task.y.unsqueeze(1)).solution.squeeze(1)
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    result = fit(model, task, TrainConfig(epochs=60, lr=0.05, schedule="cosine", min_lr_ratio=0.01, quiet=True))
    torch.testing.assert_close(model.weight.detach().squeeze(0), solution[:3], atol=2e-3, rtol=0)
    torch.testing.assert_close(model.bias.detach(), solution[3:], atol=2e-3, rtol=0)
    assert result.stopped == "budget" and result.epochs == 60 and result.steps == 60 * 8
    assert len(result.history) == 60  # one evaluation per epoch
    assert result.best_val == min(row["val_loss"] for row in result.history)


def test_get_lr_follows_warmup_and_cosine_formula():
    config = TrainConfig(steps=110, lr=2.0, schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    lr_min = 0.2
    assert get_lr(config, 0, 110) == pytest.approx(2.0 * 1 / 10)
    assert get_lr(config, 9, 110) == pytest.approx(2.0)
    assert get_lr(config, 10, 110) == pytest.approx(2.0)  # cos(0) = 1: the peak
    assert get_lr(config, 60, 110) == pytest.approx(lr_min + 0.5 * (2.0 - lr_min))  # half way: cos(π/2) = 0
    assert get_lr(config, 35, 110) == pytest.approx(lr_min + 0.5 * (1 + math.cos(math.pi / 4)) * (2.0 - lr_min))
    assert get_lr(config, 110, 110) == pytest.approx(lr_min)
    assert get_lr(config, 500, 110) == pytest.approx(lr_min)
    # time budget only: the elapsed fraction drives the same curve
    timed = TrainConfig(minutes=1.0, lr=2.0, schedule="cosine", min_lr_ratio=0.1)
    assert get_lr(timed, 123, None, time_fraction=0.5) == pytest.approx(lr_min + 0.5 * (2.0 - lr_min))
    assert get_lr(TrainConfig(steps=5, lr=0.3), 4, 5) == 0.3  # constant


def test_fit_applies_the_schedule_at_every_step():
    config = TrainConfig(steps=24, lr=0.1, schedule="cosine", warmup_steps=4, eval_every=1, quiet=True)
    torch.manual_seed(0)
    result = fit(nn.Linear(3, 1), Regression(), config)
    for row in result.history:  # row "lr" is the lr of the update that made step row["step"]
        assert row["lr"] == pytest.approx(get_lr(config, row["step"] - 1, 24))


def test_total_steps_from_epochs_drives_cosine_to_its_floor():
    config = TrainConfig(epochs=3, lr=0.1, schedule="cosine", min_lr_ratio=0.25, quiet=True)
    result = fit(nn.Linear(3, 1), Regression(), config)  # 8 batches per epoch: 24 steps in all
    assert result.history[-1]["lr"] == pytest.approx(get_lr(config, 23, 24))
    assert get_lr(config, 24, 24) == pytest.approx(0.025)


@pytest.mark.parametrize("interrupt_at", [2, 11, 19])  # first epoch, mid-epoch after a checkpoint, mid later epoch
def test_interrupted_then_resumed_run_is_bit_identical(tmp_path, interrupt_at):
    reference, ref_result = _stream_run(tmp_path / "ref")
    with pytest.raises(TrainingInterrupted) as info:
        _stream_run(tmp_path / "run", interrupt_at=interrupt_at)
    assert info.value.checkpoint_dir == tmp_path / "run" / "checkpoint"
    assert load_checkpoint(info.value.checkpoint_dir)[1]["step"] == interrupt_at - 1
    resumed, result = _stream_run(tmp_path / "run", resume=True)
    _assert_same_weights(reference, resumed)
    assert result.steps == ref_result.steps == 24
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in ref_result.history]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in result.history] == strip


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler for the test: a shell starts background jobs with SIGINT ignored (as a
    clean-clone CI run launched with ``&`` showed), and then a real Ctrl-C would not reach the process."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_at_the_step_boundary_then_saves_and_resumes_exactly(tmp_path, python_sigint):
    reference, _ = _stream_run(tmp_path / "ref")
    with pytest.raises(TrainingInterrupted):
        _stream_run(tmp_path / "run", sigint_at=9)
    # the signal came during step 9's forward pass: its update is not made, 8 steps are in the checkpoint
    assert load_checkpoint(tmp_path / "run" / "checkpoint")[1]["step"] == 8
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler put back
    resumed, _ = _stream_run(tmp_path / "run", resume=True)
    _assert_same_weights(reference, resumed)


def test_resume_twice_and_resume_of_a_finished_run(tmp_path):
    reference, _ = _stream_run(tmp_path / "ref")
    with pytest.raises(TrainingInterrupted):
        _stream_run(tmp_path / "run", interrupt_at=5)
    with pytest.raises(TrainingInterrupted):
        _stream_run(tmp_path / "run", interrupt_at=8, resume=True)  # 4 done + 7 more, interrupted again
    resumed, _ = _stream_run(tmp_path / "run", resume=True)
    _assert_same_weights(reference, resumed)
    again, result = _stream_run(tmp_path / "run", resume=True)  # nothing left to do: best weights back
    _assert_same_weights(reference, again)
    assert result.steps == 24


def test_checkpoint_and_history_files(tmp_path):
    _, result = _stream_run(tmp_path)
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [row["step"] for row in result.history]
    assert set(rows[0]) == {"step", "epoch", "train_loss", "val_loss", "lr", "seconds"}
    tensors, meta = load_checkpoint(tmp_path / "checkpoint")
    state = {"tensors": tensors, "meta": meta}
    assert state["meta"]["step"] == 24 and "model.rnn.weight_hh_l0" in state["tensors"]
    assert state["tensors"]["rng.torch"].dtype == torch.uint8


def test_resume_errors(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint"):
        fit(nn.Linear(3, 1), Regression(), TrainConfig(steps=2, quiet=True), run_dir=tmp_path, resume=True)
    save_checkpoint(tmp_path / "checkpoint", {"w": torch.zeros(1)}, {"step": 1})
    with pytest.raises(ValueError, match="is not a checkpoint written by rnnlab.train.fit"):
        fit(nn.Linear(3, 1), Regression(), TrainConfig(steps=2, quiet=True), run_dir=tmp_path, resume=True)
    fit(nn.Linear(3, 1), Regression(), TrainConfig(steps=2, quiet=True), run_dir=tmp_path)
    with pytest.raises(ValueError, match=r"another model.*weight is \(2, 3\) in the model but \(1, 3\)"):
        fit(nn.Linear(3, 2), Regression(), TrainConfig(steps=2, quiet=True), run_dir=tmp_path, resume=True)


class Exploding(Regression):
    """The loss becomes NaN on call ``at``."""

    def __init__(self, at):
        super().__init__()
        self.calls, self.at = 0, at

    def loss(self, model, idx, state):
        self.calls += 1
        loss, _ = super().loss(model, idx, state)
        return (loss * math.nan if self.calls == self.at else loss), None


def test_nan_loss_raises_diverged_and_restores_last_good_weights(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    config = TrainConfig(epochs=5, lr=0.05, eval_every=5, quiet=True)
    with pytest.raises(TrainingDiverged, match="diverged: the training loss is nan at step 13") as info:
        fit(model, Exploding(at=13), config, run_dir=tmp_path)
    assert "last good checkpoint is kept" in str(info.value)
    tensors, meta = load_checkpoint(tmp_path / "checkpoint")
    assert meta["step"] == 10  # the evaluation at step 10 was the last good one
    for name, value in model.state_dict().items():  # best = last good here: the loss was still falling
        assert torch.equal(value, tensors[f"best.{name}"]) and torch.equal(value, tensors[f"model.{name}"]), name
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_nan_before_any_evaluation_restores_initial_weights():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(TrainingDiverged, match="initial weights"):
        fit(model, Exploding(at=3), TrainConfig(epochs=1, quiet=True))
    for name, value in model.state_dict().items():
        assert torch.equal(value, initial[name])


class Steep(Regression):
    """Loss 1000·mean(output²) on a fixed batch: a gradient far larger than the clip."""

    def batches(self, epoch, generator, rank=0, world_size=1):
        return [torch.arange(20)]

    def loss(self, model, idx, state):
        return 1000 * (model(self.x[idx]) ** 2).mean(), None


@pytest.mark.parametrize("clip", [0.5, None])
def test_gradient_is_clipped_to_max_norm(clip):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    reference = nn.Linear(3, 1)
    reference.load_state_dict(model.state_dict())
    Steep().loss(reference, torch.arange(20), None)[0].backward()  # oracle: the unclipped gradient
    raw = torch.cat([p.grad.flatten() for p in reference.parameters()])
    fit(model, Steep(), TrainConfig(steps=1, clip=clip, quiet=True))
    grad = torch.cat([p.grad.flatten() for p in model.parameters()])  # left by the last step, after clipping
    assert raw.norm() > 10
    if clip is None:
        torch.testing.assert_close(grad, raw)
    else:
        assert grad.norm() == pytest.approx(clip, rel=1e-5)
        torch.testing.assert_close(grad, raw * clip / raw.norm(), rtol=1e-4, atol=1e-7)


class Scripted(Regression):
    """Validation losses from a list; remembers the weights at each evaluation."""

    def __init__(self, values):
        super().__init__()
        self.values, self.seen = list(values), []

    def evaluate(self, model):
        self.seen.append({k: v.clone() for k, v in model.state_dict().items()})
        return self.values[len(self.seen) - 1]


def test_early_stopping_restores_the_best_weights():
    task = Scripted([5.0, 3.0, 1.0, 2.0, 4.0, 0.5, 9.0, 9.0])
    model = nn.Linear(3, 1)
    result = fit(model, task, TrainConfig(epochs=100, eval_every=2, patience=2, quiet=True))
    assert result.stopped == "early"
    assert [row["val_loss"] for row in result.history] == [5.0, 3.0, 1.0, 2.0, 4.0]
    assert result.best_val == 1.0 and result.steps == 10
    for name, value in model.state_dict().items():
        assert torch.equal(value, task.seen[2][name])


def test_resuming_an_early_stopped_run_stays_stopped(tmp_path):
    config = TrainConfig(epochs=100, eval_every=2, patience=2, quiet=True)
    first = fit(nn.Linear(3, 1), Scripted([5.0, 3.0, 1.0, 2.0, 4.0]), config, run_dir=tmp_path)
    again = fit(nn.Linear(3, 1), Scripted([]), config, run_dir=tmp_path, resume=True)
    assert (again.stopped, again.steps, again.best_val) == ("early", first.steps, 1.0)


def test_budgets_whichever_ends_first():
    assert fit(nn.Linear(3, 1), Regression(), TrainConfig(epochs=2, steps=100, quiet=True)).steps == 16
    result = fit(nn.Linear(3, 1), Regression(), TrainConfig(epochs=100, steps=11, quiet=True))
    assert (result.steps, result.epochs, result.stopped) == (11, 1, "budget")
    assert result.history[-1]["step"] == 11  # the last steps are evaluated too
    # a step budget that ends with an epoch's last batch counts that epoch (Regression: 8 batches an epoch)
    result = fit(nn.Linear(3, 1), Regression(), TrainConfig(steps=16, quiet=True))
    assert (result.steps, result.epochs, result.history[-1]["epoch"]) == (16, 2, 2)
    result = fit(nn.Linear(3, 1), Regression(), TrainConfig(steps=17, quiet=True))
    assert (result.steps, result.epochs, result.history[-1]["epoch"]) == (17, 2, 2)
    timed = fit(nn.Linear(3, 1), Regression(), TrainConfig(minutes=0.002, epochs=100_000, quiet=True))
    assert timed.stopped == "budget" and timed.epochs < 100_000 and timed.seconds >= 0.12


@pytest.mark.parametrize("kwargs, message", [
    ({}, "no budget; give at least one of epochs, steps, minutes"),
    ({"steps": 0}, "steps must be a positive integer or None, got 0"),
    ({"steps": 5, "schedule": "linear"}, "schedule must be 'constant' or 'cosine', got 'linear'"),
    ({"steps": 5, "clip": -1.0}, "clip must be > 0 or None"),
    ({"minutes": 0.0}, "minutes must be > 0"),
])
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def _cli_raising(monkeypatch, error):
    def raising(args):
        raise error

    def parser():
        p = argparse.ArgumentParser(prog="rnnlab")
        sub = p.add_subparsers(dest="command", required=True)
        sub.add_parser("text").set_defaults(func=raising)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)


def test_cli_reports_interrupt_and_divergence(monkeypatch, capsys, tmp_path):
    _cli_raising(monkeypatch, TrainingInterrupted("x", tmp_path / "checkpoint", tmp_path))
    assert cli.main(["text"]) == 130
    assert capsys.readouterr().err == (f"rnnlab text: interrupted; checkpoint saved in {tmp_path / 'checkpoint'}; "
                                       f"continue with --resume {tmp_path}\n")
    _cli_raising(monkeypatch, TrainingDiverged("train: training diverged: the loss is nan\nmore"))
    assert cli.main(["text"]) == 3
    assert capsys.readouterr().err == "rnnlab text: train: training diverged: the loss is nan\n"
    _cli_raising(monkeypatch, RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):  # other errors are not hidden
        cli.main(["text"])


def test_resume_with_changed_data_is_a_clear_error(tmp_path):
    with pytest.raises(TrainingInterrupted):
        _stream_run(tmp_path, interrupt_at=5)  # 4 batches of epoch 0 done

    class Shorter(Stream):
        def batches(self, epoch, generator, rank=0, world_size=1):
            return list(super().batches(epoch, generator))[:2]

    with pytest.raises(ValueError, match="cannot resume: epoch 0 now has 2 batches but the checkpoint was taken "
                                         "after 4"):
        fit(Recurrent(), Shorter(), TrainConfig(epochs=4, eval_every=7, quiet=True), run_dir=tmp_path, resume=True)


def test_progress_bar_quiet_and_describe_progress(capsys):
    calls = []

    class Described(Regression):
        def describe_progress(self, steps_done, seconds):
            calls.append((steps_done, seconds))
            return {"rows/s": f"{steps_done / max(seconds, 1e-9):.0f}"}

    fit(nn.Linear(3, 1), Described(), TrainConfig(epochs=2, quiet=True))
    assert capsys.readouterr().err == ""
    assert {8, 16} <= {steps for steps, _ in calls}  # at every evaluation (and now and then between)
    fit(nn.Linear(3, 1), Described(), TrainConfig(epochs=2, quiet=False))
    assert "step" in capsys.readouterr().err  # tqdm drew its bar on stderr
