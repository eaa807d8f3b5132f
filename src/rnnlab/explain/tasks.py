"""The small tasks the explanations train on: the adding problem (memory, gradients), delayed recall through
distractors, and the lesson's sine (lookback).

Each task follows the :class:`rnnlab.train.Task` protocol (``batches``, ``loss``, ``evaluate``), so the
explanations train with the library's own loop, :func:`rnnlab.train.fit`. :func:`train` is the one call they make.

Symbols: ``N`` batch, ``L`` sequence length, ``K`` symbols of the recall task, ``W`` lookback (window).
The models for the memory tasks come from :func:`task_model` (with the LSTM's forget-gate bias).
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class DelayedRecall:
    """Delayed recall through distractors: a marked symbol among random ones, named when cued ``delay`` steps later.

    Every step shows a random symbol; one of them carries a marker, and at the end a cue asks which symbol
    was marked. The distractors arrive on the same input channels as the symbol, so a network cannot keep
    its memory by ignoring those channels: it has to decide, step by step, to keep what it holds and let
    the new input pass — the setting of Hochreiter & Schmidhuber's long-time-lag experiments (*Long
    Short-Term Memory*, Neural Computation 9(8), 1997: Experiment 2c, a symbol to recall after random
    distractor symbols, and Experiment 4, the adding problem, whose marked inputs sit among noise on the
    same channel).

    A sequence has ``L = lead + delay + 2`` steps of ``K + 2`` features. Channels ``0..K-1`` hold one random
    symbol per step (one-hot), channel ``K`` the marker, channel ``K + 1`` the cue. Steps ``0..lead-1`` and
    ``lead+1..lead+delay`` are distractors; step ``lead`` is the symbol ``s ∈ {0..K-1}`` with the marker;
    step ``L - 1`` is the cue alone. The target is ``s``, read from the model's last step, so the symbol has
    to survive ``delay + 1`` recurrent steps of input. Knowing nothing, the best guess is uniform: the
    trivial baseline scores accuracy ``1/K`` and cross-entropy ``log K`` (:attr:`chance_accuracy`,
    :attr:`chance_loss`).

    Args:
        delay: distractor steps between the marked symbol and the cue (>= 0).
        num_symbols: ``K`` (>= 2). Default: 4.
        batch_size: sequences per training batch. Default: 64.
        batches_per_epoch: fresh random batches per epoch (an epoch is one evaluation). Default: 50.
        val_size: sequences in the fixed validation set. Default: 512.
        seed: draws the validation set. Default: 0.
        lead: distractor steps before the marked symbol (>= 0), so that it is not simply the first input.
            Default: 5.
        vary: train on distances up to ``delay``: each training batch draws its own delay ``d``
            log-uniformly from ``0..delay`` (``d + 1 = ⌊(delay + 2)^u⌋``, ``u ~ U[0, 1)``), so that short
            distances give a learning signal from the start; validation stays at ``delay``. Default: False.

    Shape:
        x ``(N, L, K + 2)`` float, y ``(N,)`` int64.
    """

    delay: int
    num_symbols: int = 4
    batch_size: int = 64
    batches_per_epoch: int = 50
    val_size: int = 512
    seed: int = 0
    lead: int = 5
    vary: bool = False

    def __post_init__(self) -> None:
        for name in ("delay", "lead"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"delayed recall: {name} must be a non-negative integer, got {value!r}")
        if not isinstance(self.num_symbols, int) or self.num_symbols < 2:
            raise ValueError(f"delayed recall: num_symbols must be an integer >= 2, got {self.num_symbols!r}")

    @property
    def input_size(self) -> int:
        return self.num_symbols + 2

    @property
    def output_size(self) -> int:
        return self.num_symbols

    @property
    def length(self) -> int:
        return self.lead + self.delay + 2

    @property
    def chance_accuracy(self) -> float:
        return 1.0 / self.num_symbols

    @property
    def chance_loss(self) -> float:
        return math.log(self.num_symbols)

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``n`` sequences and their targets: ``x (n, L, K + 2)``, ``y (n,)``."""
        k, length = self.num_symbols, self.length
        y = torch.randint(0, k, (n,), generator=generator)
        symbols = torch.randint(0, k, (n, length - 1), generator=generator)  # a distractor at every step but the cue
        symbols[:, self.lead] = y  # the marked symbol
        x = torch.zeros(n, length, k + 2)
        x[:, :-1].scatter_(2, symbols.unsqueeze(-1), 1.0)  # one-hot symbols, t = 0..L-2
        x[:, self.lead, k] = 1.0  # the marker
        x[:, -1, k + 1] = 1.0  # the cue at t = L - 1
        return x, y

    def validation(self) -> tuple[Tensor, Tensor]:
        return self.sample(self.val_size, torch.Generator().manual_seed(self.seed + 1_000_003))

    # -- the rnnlab.train.Task protocol -------------------------------------------------------------------

    def batch_delay(self, generator: torch.Generator) -> int:
        """The delay of one training batch: ``delay`` itself, or with ``vary`` a log-uniform draw from ``0..delay``."""
        if not self.vary:
            return self.delay
        u = torch.rand((), generator=generator).item()
        return int(math.exp(u * math.log(self.delay + 2))) - 1  # d + 1 = floor((delay + 2)^u) in 1..delay + 1

    def batches(self, epoch: int, generator: torch.Generator, rank: int = 0, world_size: int = 1):
        for _ in range(self.batches_per_epoch):
            at = dataclasses.replace(self, delay=self.batch_delay(generator), vary=False)
            yield at.sample(self.batch_size, generator)

    def loss(self, model: nn.Module, batch, state=None):
        x, y = batch
        device = next(model.parameters()).device
        logits = model(x.to(device))  # (N, L, K+1) -> (N, K)
        return nn.functional.cross_entropy(logits, y.to(device)), None

    def evaluate(self, model: nn.Module) -> float:
        return self.loss(model, self.validation())[0].item()

    def accuracy(self, model: nn.Module, x: Tensor | None = None, y: Tensor | None = None) -> float:
        """Fraction of sequences (default: the validation set) whose symbol the model names."""
        if x is None:
            x, y = self.validation()
        device = next(model.parameters()).device
        with torch.no_grad():
            guess = model(x.to(device)).argmax(dim=1).cpu()
        return (guess == y).float().mean().item()


@dataclass(frozen=True)
class AddingProblem:
    """The adding problem (Hochreiter & Schmidhuber 1997, Experiment 4): add two marked numbers among noise.

    Every step carries a value ``v_t ~ U(0, 1)`` (channel 0) and a marker (channel 1). Two steps among the
    first ``lead`` are marked; ``delay`` more noise steps follow, then the target ``y = v_a + v_b`` is read
    from the model's last output. The marked values arrive on the same channel as the noise, so they must
    be kept by choice, and they are continuous: a memory that decays a little every step loses them.
    The trivial baseline predicts the mean, 1: MSE ``Var(v_a + v_b) = 1/6 ≈ 0.167`` (:attr:`baseline_mse`).

    Args:
        delay: noise steps after the ``lead`` window (the distance: at least ``delay + 1`` steps to remember).
        batch_size: sequences per training batch. Default: 64.
        batches_per_epoch: fresh random batches per epoch. Default: 50.
        val_size: sequences in the fixed validation set. Default: 512.
        seed: draws the validation set. Default: 0.
        lead: the window of the two marked steps (>= 2). Default: 10 (as in the paper: the first ten).
        vary: train on distances up to ``delay``, as :class:`DelayedRecall`. Default: False.

    Shape:
        x ``(N, L, 2)`` float with ``L = lead + delay + 1``, y ``(N, 1)`` float.
    """

    delay: int
    batch_size: int = 64
    batches_per_epoch: int = 50
    val_size: int = 512
    seed: int = 0
    lead: int = 10
    vary: bool = False

    input_size = 2  # the value and the marker
    output_size = 1  # the sum

    def __post_init__(self) -> None:
        if not isinstance(self.delay, int) or isinstance(self.delay, bool) or self.delay < 0:
            raise ValueError(f"adding problem: delay must be a non-negative integer, got {self.delay!r}")
        if not isinstance(self.lead, int) or isinstance(self.lead, bool) or self.lead < 2:
            raise ValueError(f"adding problem: lead must be an integer >= 2, got {self.lead!r}")

    @property
    def length(self) -> int:
        return self.lead + self.delay + 1

    @property
    def baseline_mse(self) -> float:
        return 1.0 / 6.0

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        x = torch.zeros(n, self.length, 2)
        x[..., 0] = torch.rand(n, self.length, generator=generator)
        marked = torch.rand(n, self.lead, generator=generator).argsort(dim=1)[:, :2]  # two distinct steps < lead
        x[torch.arange(n).unsqueeze(1), marked, 1] = 1.0
        y = (x[..., 0] * x[..., 1]).sum(dim=1, keepdim=True)  # v_a + v_b
        return x, y

    def validation(self) -> tuple[Tensor, Tensor]:
        return self.sample(self.val_size, torch.Generator().manual_seed(self.seed + 1_000_003))

    batch_delay = DelayedRecall.batch_delay
    batches = DelayedRecall.batches  # fresh batches, each at its own distance when ``vary``

    def loss(self, model: nn.Module, batch, state=None):
        x, y = batch
        device = next(model.parameters()).device
        return nn.functional.mse_loss(model(x.to(device)), y.to(device)), None

    def evaluate(self, model: nn.Module) -> float:
        return self.loss(model, self.validation())[0].item()


def lesson_sine() -> tuple[Tensor, Tensor]:
    """The lesson's series: ``t = linspace(0, 20, 100)``, ``x = sin t``. Returns ``(t, x)``, each ``(100,)``."""
    t = torch.linspace(0, 20, 100)
    return t, torch.sin(t)


@dataclass(frozen=True)
class SineWindows:
    """Next-value prediction on the lesson's sine from the last ``lookback`` values.

    Window ``i`` reads ``x[i - W .. i - 1]`` and predicts ``x[i]``. So that every lookback is judged on the
    same points and trained on the same targets, the test targets are the last ``test_size`` points and
    the training targets are the points ``first_target .. 99 - test_size`` (``first_target`` is the
    largest lookback compared). The lesson has no validation split; :meth:`evaluate` reports the training
    MSE, so the "best weights" a training loop keeps are the lowest-training-loss ones.

    Args:
        lookback: ``W`` (>= 1); ``W = 1`` is the lesson's setup (sequences of length 1).
        first_target: index of the first training target (>= lookback). Default: 20.
        test_size: points at the end held out for testing. Default: 20.

    Shape:
        windows ``(N, W, 1)``, targets ``(N, 1)``.
    """

    lookback: int
    first_target: int = 20
    test_size: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.lookback, int) or not 1 <= self.lookback <= self.first_target:
            raise ValueError(
                f"lookback: lookback must be an integer in 1..{self.first_target}, got {self.lookback!r}"
            )

    def windows(self, targets: range) -> tuple[Tensor, Tensor]:
        """The windows ending just before each target index, and the targets."""
        _, x = lesson_sine()
        inputs = torch.stack([x[i - self.lookback:i] for i in targets]).unsqueeze(-1)  # -> (N, W, 1)
        return inputs, x[list(targets)].unsqueeze(-1)  # -> (N, 1)

    @property
    def train_targets(self) -> range:
        return range(self.first_target, 100 - self.test_size)

    @property
    def test_targets(self) -> range:
        return range(100 - self.test_size, 100)

    def mse(self, model: nn.Module, targets: range) -> float:
        device = next(model.parameters()).device
        x, y = self.windows(targets)
        with torch.no_grad():
            return nn.functional.mse_loss(model(x.to(device)), y.to(device)).item()

    def predict(self, model: nn.Module, targets: range) -> Tensor:
        """The model's prediction of each target, ``(len(targets),)`` on the CPU."""
        device = next(model.parameters()).device
        with torch.no_grad():
            return model(self.windows(targets)[0].to(device))[:, 0].cpu()

    # -- the rnnlab.train.Task protocol: one full batch per epoch, as in the lesson ------------------------

    def batches(self, epoch: int, generator: torch.Generator, rank: int = 0, world_size: int = 1):
        return [self.windows(self.train_targets)]

    def loss(self, model: nn.Module, batch, state=None):
        x, y = batch
        device = next(model.parameters()).device
        return nn.functional.mse_loss(model(x.to(device)), y.to(device)), None

    def evaluate(self, model: nn.Module) -> float:
        return self.mse(model, self.train_targets)


def task_model(cell: str, task, hidden_size: int, forget_bias: float | str = 1.0) -> nn.Module:
    """A :class:`~rnnlab.models.SequenceRegressor` for ``task`` (outputs read from the last step), seeded by the caller.

    For an LSTM, ``forget_bias`` sets the forget gate's bias: ``b_f = b_ih[H:2H] + b_hh[H:2H]`` becomes
    ``forget_bias`` (``b_ih[H:2H] = forget_bias``, ``b_hh[H:2H] = 0``), so at the start
    ``f_t ≈ σ(forget_bias)`` — 0.73 for 1, the value char-rnn uses and Jozefowicz, Zaremba & Sutskever (2015)
    recommend. ``"torch"`` keeps PyTorch's initialisation: both biases ``U(-1/√H, 1/√H)``, so ``f_t ≈ 0.5``.
    Other cells ignore it.
    """
    from rnnlab.models import SequenceRegressor

    model = SequenceRegressor(task.input_size, hidden_size, task.output_size, cell=cell)
    if cell == "lstm" and forget_bias != "torch":
        h = hidden_size
        with torch.no_grad():
            for name, value in (("bias_ih_l0", forget_bias), ("bias_hh_l0", 0.0)):
                getattr(model.rnn, name)[h:2 * h] = value  # rows H..2H: the forget gate (gate order i, f, g, o)
    return model


def check_forget_bias(who: str, forget_bias) -> None:
    """A forget-gate bias setting is a finite number or ``"torch"`` (PyTorch's initialisation)."""
    number = isinstance(forget_bias, (int, float)) and not isinstance(forget_bias, bool)
    if not (forget_bias == "torch" or (number and math.isfinite(forget_bias))):
        raise ValueError(f"{who}: forget_bias must be a number or 'torch' (PyTorch's initialisation), "
                         f"got {forget_bias!r}")


def train(model: nn.Module, task, epochs: int, lr: float, seed: int = 0, device: str = "cpu",
          quiet: bool = True, clip: float | None = 1.0, threads: int | None = None) -> dict:
    """Train ``model`` on ``task`` with :func:`rnnlab.train.fit` for ``epochs`` epochs (Adam at ``lr``).

    ``threads`` (if given) sets torch's CPU threads for the duration: the explanations' models are small
    enough that one thread is as fast, and it does not stall when other work shares the cores.
    The best-validation weights are in ``model`` afterwards. Returns ``{"steps", "seconds", "best_val"}``.
    """
    from rnnlab.train import TrainConfig, fit

    config = TrainConfig(epochs=epochs, lr=lr, clip=clip, seed=seed, device=device, quiet=quiet)
    with cpu_threads(threads):
        result = fit(model, task, config)
    return {"steps": result.steps, "seconds": result.seconds, "best_val": result.best_val}


@contextmanager
def cpu_threads(threads: int | None):
    """Run the block with ``torch.set_num_threads(threads)`` (``None``: as it is), restored afterwards."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
