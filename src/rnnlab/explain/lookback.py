"""What the hidden state buys: the lesson's sine model trained on lookback 1, 2, 5, 10, 20.

The lesson's ``SimpleRNN`` reads sequences of length 1: it sees ``x_t = sin t`` and predicts ``x_{t+1}``.
But ``sin(t + Δ) = sin t · cos Δ + cos t · sin Δ``, and from ``sin t`` alone the sign of ``cos t`` — whether
the sine is rising or falling — is unknown. The same input value appears on both sides of every turn and
a one-step model can only hedge between the two continuations. With a window of ``W`` past values the
recurrence can read the direction off the sequence.

:func:`lookback_effect` trains the same model (the lesson's: vanilla RNN, hidden 20, Adam 0.01, MSE, full
batch, seed 42) for each lookback on the same training targets, and scores each on the same held-out
last 20 points (:class:`~rnnlab.explain.tasks.SineWindows`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from rnnlab.config import to_dict
from rnnlab.explain.tasks import SineWindows, lesson_sine, train
from rnnlab.models import CELLS, SequenceRegressor


@dataclass(frozen=True)
class LookbackConfig:
    """Settings of ``rnnlab explain lookback``."""

    lookbacks: tuple | list = (1, 2, 5, 10, 20)  # window lengths compared; 1 is the lesson's setup
    cell: str = "rnn"  # the lesson's vanilla RNN
    hidden_size: int = 20  # the lesson's
    epochs: int = 300  # full-batch epochs, the same for every lookback (the lesson ran 100)
    lr: float = 0.01  # the lesson's Adam learning rate
    seed: int = 42  # the lesson's seed
    device: str = "auto"  # "auto" (cuda if available), "cpu" or "cuda"
    quiet: bool = False  # no progress bar


def train_sine_model(lookback: int, config: LookbackConfig = LookbackConfig(), first_target: int | None = None,
                     num_layers: int = 1) -> tuple[SequenceRegressor, SineWindows]:
    """The lesson's sine model trained on windows of ``lookback`` values; returns the model and its task."""
    task = SineWindows(lookback, first_target=lookback if first_target is None else first_target)
    torch.manual_seed(config.seed)
    model = SequenceRegressor(1, config.hidden_size, 1, cell=config.cell, num_layers=num_layers)
    train(model, task, config.epochs, config.lr, config.seed, config.device, config.quiet)
    return model.eval(), task


@dataclass
class LookbackEffect:
    """Test MSE by lookback (``rows``), and the predictions of the shortest and longest lookbacks.

    ``targets`` are the indices of the sine points predicted (training and test), ``predictions[W]`` the
    model's values there; ``turn_mse``/``slope_mse`` split the squared error of each lookback's predictions
    (all targets) between points near a turn (``|x| > 0.9``) and points on a slope (``|x| < 0.5``).
    """

    config: LookbackConfig
    rows: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    test_start: int = 80
    predictions: dict = field(default_factory=dict)

    def test_mse(self, lookback: int) -> float:
        return next(r["test_mse"] for r in self.rows if r["lookback"] == lookback)

    def improvement(self, lookback: int, reference: int = 1) -> float:
        """``test_mse(reference) / test_mse(lookback)``: how many times smaller the error is."""
        return self.test_mse(reference) / self.test_mse(lookback)

    def metrics(self) -> dict:
        shortest = min(self.config.lookbacks)
        return {"task": "explain-lookback", "results": self.rows,
                "improvement_over_lookback_1": {str(r["lookback"]): self.improvement(r["lookback"], shortest)
                                                for r in self.rows}}

    def plot(self):
        """Three panels: test MSE against lookback; the predictions of the shortest and longest lookbacks
        over the sine; their squared error per point, with the turns of the sine marked."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        t, x = lesson_sine()
        lo, hi = min(self.config.lookbacks), max(self.config.lookbacks)
        fig, axes = plt.subplots(3, 1, figsize=(9, 10))
        ax = axes[0]
        ax.loglog(self.config.lookbacks, [self.test_mse(w) for w in self.config.lookbacks], "o-")
        ax.set_xticks(self.config.lookbacks, [str(w) for w in self.config.lookbacks])
        ax.set_xlabel("lookback (values the model reads)")
        ax.set_ylabel("test MSE (last 20 points)")
        ax.set_title("Test error against lookback")
        ax.grid(True, which="both", alpha=0.3)
        tt = t[self.targets]
        turns = [(k + 0.5) * math.pi for k in range(7) if tt[0] <= (k + 0.5) * math.pi <= tt[-1]]
        ax = axes[1]
        ax.plot(t, x, color="black", lw=1, label="sin t")
        ax.plot(tt, self.predictions[lo], ".-", label=f"lookback {lo}")
        ax.plot(tt, self.predictions[hi], ".-", label=f"lookback {hi}")
        ax.set_ylabel("next value")
        ax2 = axes[2]
        for w in (lo, hi):
            err = (torch.tensor(self.predictions[w]) - x[self.targets]) ** 2
            ax2.semilogy(tt, err.clamp_min(1e-9), ".-", label=f"lookback {w}")
        ax2.set_ylabel("squared error")
        ax2.set_xlabel("t")
        for a in (ax, ax2):
            a.axvspan(t[self.test_start].item(), t[-1].item(), color="gray", alpha=0.15, label="test")
            for i, turn in enumerate(turns):
                a.axvline(turn, color="red", ls=":", lw=1, label="turn of the sine" if i == 0 else None)
            a.legend(loc="lower left", fontsize=8)
        ax.set_title(f"Predictions: from one value the lookback-{lo} model cannot tell rising from falling")
        fig.tight_layout()
        return fig

    def summary(self) -> str:
        shortest = min(self.config.lookbacks)
        lines = [f"lesson's sine, {self.config.cell.upper()} hidden {self.config.hidden_size}, "
                 f"{self.config.epochs} full-batch epochs, seed {self.config.seed}",
                 f"{'lookback':>8} {'train MSE':>10} {'test MSE':>10} {'vs W=' + str(shortest):>8} "
                 f"{'turn MSE':>10} {'slope MSE':>10}"]
        for r in self.rows:
            lines.append(f"{r['lookback']:>8} {r['train_mse']:>10.3g} {r['test_mse']:>10.3g} "
                         f"{self.improvement(r['lookback'], shortest):>7.3g}x {r['turn_mse']:>10.3g} "
                         f"{r['slope_mse']:>10.3g}")
        return "\n".join(lines)

    def _where_it_fails(self) -> str:
        """A sentence on where the shortest lookback's error sits, from the measured numbers."""
        row = min(self.rows, key=lambda r: r["lookback"])
        where = "on the slopes" if row["slope_mse"] > row["turn_mse"] else "near the turns"
        return (f" With lookback {row['lookback']} the squared error is {row['slope_mse']:.3g} on the slopes and "
                f"{row['turn_mse']:.3g} near the turns: it is largest {where}. (The rising and the falling "
                "continuation of a value differ by 2 sin(Δ) |cos t|: most where the sine crosses zero, least at "
                "the turns.)")

    def save(self, run_dir):
        from rnnlab.rundir import write_run
        from rnnlab.report import Section

        text = ("The lesson's sine model (a vanilla RNN, hidden 20) trained on windows of 1, 2, 5, 10 and 20 past "
                "values, every lookback on the same training targets and scored on the same last 20 points. "
                "From one value the model cannot know whether the sine is rising or falling. turn_mse and "
                "slope_mse split each model's squared error between points near a turn (|x| > 0.9) and on a "
                "slope (|x| < 0.5)." + self._where_it_fails())
        sections = [Section("Test error against lookback", text, table=self.rows, figures=["lookback.png"])]
        return write_run(run_dir, "rnnlab explain lookback", {"command": "explain lookback", **to_dict(self.config)},
                         self.metrics(), {"lookback.png": self.plot()}, sections)


def lookback_effect(config: LookbackConfig = LookbackConfig()) -> LookbackEffect:
    """Train the lesson's sine model at each lookback; test MSE on the last 20 points."""
    if config.cell not in CELLS:
        raise ValueError(f"explain lookback: unknown cell '{config.cell}'; choose from {', '.join(CELLS)}")
    if not config.lookbacks or any(not isinstance(w, int) or not 1 <= w <= 60 for w in config.lookbacks):
        raise ValueError(f"explain lookback: lookbacks must be integers in 1..60, got {list(config.lookbacks)!r}")
    first = max(config.lookbacks)  # every lookback trains on targets first..79 and is tested on 80..99
    _, x = lesson_sine()
    result = LookbackEffect(config)
    for lookback in config.lookbacks:
        model, task = train_sine_model(lookback, config, first_target=first)
        targets = list(task.train_targets) + list(task.test_targets)
        predicted = task.predict(model, range(targets[0], targets[-1] + 1))
        err = (predicted - x[targets]) ** 2
        near_turn, on_slope = x[targets].abs() > 0.9, x[targets].abs() < 0.5
        result.targets, result.test_start = targets, task.test_targets[0]
        result.predictions[lookback] = predicted.tolist()
        result.rows.append({"lookback": lookback, "train_mse": task.mse(model, task.train_targets),
                            "test_mse": task.mse(model, task.test_targets),
                            "turn_mse": err[near_turn].mean().item(), "slope_mse": err[on_slope].mean().item()})
    return result
