"""The small tasks the explanations train on: delayed recall (memory) and the lesson's sine (lookback).

Each task follows the :class:`rnnlab.train.Task` protocol (``batches``, ``loss``, ``evaluate``), so the
explanations train with the library's own loop, :func:`rnnlab.train.fit`. :func:`train` is the one call they make.

Symbols: ``N`` batch, ``L`` sequence length, ``K`` symbols of the recall task, ``W`` lookback (window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class DelayedRecall:
    """Delayed recall: see a symbol, wait ``delay`` blank steps, then name the symbol when cued.

    A sequence has ``L = delay + 2`` steps of ``K + 1`` features: step 0 is the one-hot symbol
    ``s ∈ {0..K-1}`` (channels ``0..K-1``), steps ``1..delay`` are all zeros, step ``delay + 1`` is the
    recall cue (channel ``K`` set to 1). The target is ``s``, read from the model's last step, so the
    symbol has to survive ``delay + 1`` recurrent steps. Knowing nothing, the best guess is uniform: the
    trivial baseline scores accuracy ``1/K`` and cross-entropy ``log K`` (:attr:`chance_accuracy`,
    :attr:`chance_loss`).

    Args:
        delay: blank steps between the symbol and the cue (>= 0).
        num_symbols: ``K`` (>= 2). Default: 4.
        batch_size: sequences per training batch. Default: 64.
        batches_per_epoch: fresh random batches per epoch (an epoch is one evaluation). Default: 50.
        val_size: sequences in the fixed validation set. Default: 512.
        seed: draws the validation set. Default: 0.

    Shape:
        x ``(N, L, K + 1)`` float, y ``(N,)`` int64.
    """

    delay: int
    num_symbols: int = 4
    batch_size: int = 64
    batches_per_epoch: int = 50
    val_size: int = 512
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.delay, int) or self.delay < 0:
            raise ValueError(f"delayed recall: delay must be a non-negative integer, got {self.delay!r}")
        if not isinstance(self.num_symbols, int) or self.num_symbols < 2:
            raise ValueError(f"delayed recall: num_symbols must be an integer >= 2, got {self.num_symbols!r}")

    @property
    def input_size(self) -> int:
        return self.num_symbols + 1

    @property
    def length(self) -> int:
        return self.delay + 2

    @property
    def chance_accuracy(self) -> float:
        return 1.0 / self.num_symbols

    @property
    def chance_loss(self) -> float:
        return math.log(self.num_symbols)

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``n`` sequences and their targets: ``x (n, L, K + 1)``, ``y (n,)``."""
        y = torch.randint(0, self.num_symbols, (n,), generator=generator)
        x = torch.zeros(n, self.length, self.input_size)
        x[torch.arange(n), 0, y] = 1.0  # the symbol, one-hot, at t = 0
        x[:, -1, self.num_symbols] = 1.0  # the cue at t = L - 1
        return x, y

    def validation(self) -> tuple[Tensor, Tensor]:
        return self.sample(self.val_size, torch.Generator().manual_seed(self.seed + 1_000_003))

    # -- the rnnlab.train.Task protocol -------------------------------------------------------------------

    def batches(self, epoch: int, generator: torch.Generator, rank: int = 0, world_size: int = 1):
        for _ in range(self.batches_per_epoch):
            yield self.sample(self.batch_size, generator)

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


def train(model: nn.Module, task, epochs: int, lr: float, seed: int = 0, device: str = "cpu",
          quiet: bool = True, clip: float | None = 1.0) -> dict:
    """Train ``model`` on ``task`` with :func:`rnnlab.train.fit` for ``epochs`` epochs (Adam at ``lr``).

    The best-validation weights are in ``model`` afterwards. Returns ``{"steps", "seconds", "best_val"}``.
    """
    from rnnlab.train import TrainConfig, fit

    config = TrainConfig(epochs=epochs, lr=lr, clip=clip, seed=seed, device=device, quiet=quiet)
    result = fit(model, task, config)
    return {"steps": result.steps, "seconds": result.seconds, "best_val": result.best_val}
