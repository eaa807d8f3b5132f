"""One training loop for every task: get batch → loss → backward → clip → step → evaluate → checkpoint.

A task (forecast windows, text TBPTT streams, an explain experiment) says how to make one epoch of
batches, the loss of a batch and the validation loss (:class:`Task`); :func:`fit` does the rest: AdamW
(:mod:`rnnlab.optim`, torch's arithmetic without torch.optim's import of torch._dynamo; plain Adam when
``weight_decay`` is 0), an optional warm-up and cosine schedule, gradient clipping,
evaluation now and then, the best weights kept and restored, early stopping, a NaN/inf guard, a progress
bar, checkpoints, Ctrl-C, exact resume and DistributedDataParallel.

Decisions worth knowing:

* **Budgets.** ``epochs``, ``steps`` and ``minutes`` may be combined; training stops at whichever ends
  first (at least one is required). ``minutes`` is wall-clock time, summed across resumes.
* **Schedule.** ``get_lr`` warms up linearly over ``warmup_steps``, then (cosine) decays to
  ``lr * min_lr_ratio`` following the budget nearest to its end: the step budget (``steps``, or
  ``epochs`` × batches per epoch) and, when ``minutes`` is given, the elapsed fraction of the time budget.
* **Exact resume** means: a run interrupted (Ctrl-C or any checkpoint) and continued with ``resume=True``
  ends with bit-identical weights to the same run uninterrupted, on the same machine and device, for
  ``epochs``/``steps`` budgets. It holds because a checkpoint stores, besides model and optimizer: the step,
  the epoch, the position in the epoch (batches done), the generator state at the start of the epoch, the
  torch global RNG state (dropout) at the step boundary, the carried recurrent state, the running train
  loss, the best weights and the patience counter. On resume the epoch's batches are rebuilt from the saved
  generator state and the first ``position`` batches are drawn and skipped, so the task's ``batches`` must
  draw its randomness from the ``generator`` it is given, not from global RNGs. With a ``minutes`` budget
  the stopping point (and a cosine schedule) depend on the clock, so only the state is restored exactly.
  Under DDP every rank restores rank 0's RNG states (only rank 0 writes), which is a correct continuation
  but bit-exact only if the ranks' RNG streams were identical.
* **Checkpoints** are taken at every evaluation and written at most once every ``CHECKPOINT_SECONDS`` (or 20
  times the last write's duration, if longer: writing costs at most a twentieth of the run), the first of a
  session at once; one held back is written at the end, on Ctrl-C/SIGTERM, on divergence (the last good one)
  and on any other error. A run killed outright (SIGKILL, power loss) resumes from the last one written —
  exactly, but up to that many seconds back. (A 3-second forecast wrote 36 checkpoints of 36 epochs before.)
* **Ctrl-C and SIGTERM.** The first SIGINT or SIGTERM (what ``kill``, systemd, Slurm and Kubernetes send) is
  deferred to the next step boundary (checked, on every rank, right after the forward pass: the step in
  progress makes no update and is redone on resume), so the checkpoint is consistent; a second one interrupts
  at once. Either way :class:`TrainingInterrupted` (with the signal's number) is raised after the checkpoint
  (if ``run_dir`` is given) is written.
* **Divergence.** A non-finite loss, gradient norm or validation loss stops training: the model gets back its
  best weights (or its initial ones if nothing was evaluated yet), the last good checkpoint is left as it
  is, and :class:`TrainingDiverged` says so.
* **Distributed.** Under torchrun (``WORLD_SIZE`` > 1) the process group is created if needed (gloo on CPU,
  NCCL on CUDA, one GPU per ``LOCAL_RANK``), the model wrapped in DistributedDataParallel and
  ``task.batches`` given ``rank``/``world_size``. One small all-reduce per step makes every rank agree on
  what happens next (a rank out of batches ends the epoch for all; a NaN, a Ctrl-C or the end of the time
  budget on any rank stops all), so all ranks take the same steps and collectives never hang. The
  validation loss is rank 0's, broadcast, so early stopping agrees. Only rank 0 writes files and shows the
  bar; checkpoint files are read by every rank on resume (one machine or a shared file system). Under DDP
  ``task.loss`` receives the DDP wrapper: call ``model(...)``; the bare module is ``model.module``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from rnnlab import checkpoint as ckpt
from rnnlab import threads
from rnnlab.optim import AdamW
from rnnlab.distributed import Agreement, Distributed, resolve_device
from rnnlab.rundir import check_owned, write_history_csv

CHECKPOINT_SECONDS = 5.0  # the shortest time between two checkpoint writes (the module docstring's "Checkpoints")


@dataclass(frozen=True)
class TrainConfig:
    """How to train; every task's config carries these (see module docstring for the decisions)."""

    epochs: int | None = None  # passes over the training batches (forecast); None = no epoch limit
    steps: int | None = None  # optimizer updates (text); None = no step limit
    minutes: float | None = None  # wall-clock budget; training stops at whichever budget ends first
    lr: float = 1e-3  # peak learning rate (Adam/AdamW)
    schedule: str = "constant"  # "constant" or "cosine" (to lr * min_lr_ratio over the step/time budget)
    min_lr_ratio: float = 0.1  # cosine floor
    warmup_steps: int = 0  # linear warm-up
    weight_decay: float = 0.0  # AdamW decay
    clip: float | None = 1.0  # max gradient norm; None = no clipping
    eval_every: int | None = None  # steps between evaluations; None = after every epoch
    patience: int | None = None  # evaluations without improvement before stopping; None = never stop early
    seed: int = 0  # seeds the batch generator and torch's global RNG (dropout)
    device: str = "auto"  # "auto" (cuda if available), "cpu", "cuda"
    quiet: bool = False  # no progress bar

    def __post_init__(self) -> None:
        if self.epochs is None and self.steps is None and self.minutes is None:
            raise ValueError("train: no budget; give at least one of epochs, steps, minutes")
        for name in ("epochs", "steps", "eval_every", "patience"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"train: {name} must be a positive integer or None, got {value!r}")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"train: minutes must be > 0, got {self.minutes!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"train: schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"train: lr must be > 0, got {self.lr!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"train: min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        if self.warmup_steps < 0 or self.weight_decay < 0:
            raise ValueError("train: warmup_steps and weight_decay must be >= 0, got "
                             f"{self.warmup_steps!r} and {self.weight_decay!r}")
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"train: clip must be > 0 or None, got {self.clip!r}")


class Task(Protocol):
    """What :func:`fit` needs to know about a problem."""

    def batches(self, epoch: int, generator: torch.Generator, rank: int = 0, world_size: int = 1) -> Iterable:
        """This rank's batches of one epoch, deterministic given (epoch, generator state)."""

    def loss(self, model: nn.Module, batch: Any, state: Any) -> tuple[Tensor, Any]:
        """Scalar training loss and the recurrent state to carry into the next batch (or None)."""

    def evaluate(self, model: nn.Module) -> float:
        """Validation loss (lower is better); called in eval mode under no_grad."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM (``signum``) during :func:`fit`; the checkpoint (if any) is in ``checkpoint_dir`` and
    the run in ``run_dir``."""

    def __init__(self, message: str, checkpoint_dir: Path | None = None, run_dir: Path | None = None,
                 signum: int = signal.SIGINT):
        super().__init__(message)
        self.checkpoint_dir = checkpoint_dir
        self.run_dir = run_dir
        self.signum = signum


class TrainingDiverged(RuntimeError):
    """The loss (or gradient norm, or validation loss) became NaN or infinite."""

    def __init__(self, message: str, step: int = 0, checkpoint_dir: Path | None = None):
        super().__init__(message)
        self.step = step
        self.checkpoint_dir = checkpoint_dir


@dataclass
class TrainResult:
    """What :func:`fit` did: one history row per evaluation, the best validation loss, the counters."""

    history: list[dict]  # {step, epoch, train_loss, val_loss, lr, seconds} per evaluation
    best_val: float  # lowest validation loss (its weights are in the model)
    steps: int  # optimizer updates done (over all resumes)
    epochs: int  # epochs completed
    seconds: float  # training wall-clock seconds (over all resumes)
    stopped: str  # "budget" (epochs/steps/minutes) or "early" (patience)


@dataclass
class _Progress:
    """The loop's counters: what a checkpoint stores besides tensors."""

    step: int = 0  # optimizer updates done
    epoch: int = 0  # epochs completed
    position: int = 0  # batches done in the current epoch
    best_val: float = math.inf
    bad_evals: int = 0  # evaluations since the best one
    seconds: float = 0.0  # wall-clock seconds before this (resumed) session started
    loss_sum: float = 0.0  # training loss summed since the last evaluation
    loss_count: int = 0
    history: list = field(default_factory=list)


def get_lr(config: TrainConfig, step: int, total_steps: int | None = None, time_fraction: float | None = None) -> float:
    """Learning rate of update number ``step`` (0-based).

    warm-up:  lr_t = lr · (t + 1) / T_w                          for t < T_w
    cosine:   lr_t = lr_min + ½ (1 + cos(π p)) (lr − lr_min),   lr_min = lr · min_lr_ratio,
              p = max((t − T_w) / (T − T_w), elapsed / budget), clamped to [0, 1]

    Args:
        config: ``lr``, ``schedule``, ``warmup_steps`` (T_w), ``min_lr_ratio``.
        step: updates done before this one (t).
        total_steps: the step budget T, or None if there is none.
        time_fraction: elapsed / time budget, or None if there is no time budget.
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    progress = 0.0
    if total_steps is not None:
        progress = (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps)
    if time_fraction is not None:
        progress = max(progress, time_fraction)
    progress = min(max(progress, 0.0), 1.0)
    lr_min = config.lr * config.min_lr_ratio
    return lr_min + 0.5 * (1.0 + math.cos(math.pi * progress)) * (config.lr - lr_min)


def evaluate(model: nn.Module, task: Task) -> float:
    """``task.evaluate(model)`` in eval mode under no_grad, the model's mode restored after."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        value = float(task.evaluate(model))
    model.train(was_training)
    return value


def fit(model: nn.Module, task: Task, config: TrainConfig, run_dir: str | Path | None = None,
        resume: bool = False) -> TrainResult:
    """Train ``model`` on ``task``; see the module docstring for budgets, schedule, resume, DDP.

    Every evaluation appends a history row ``{step, epoch, train_loss, val_loss, lr, seconds}``; with
    ``run_dir``, rank 0 then writes ``run_dir/checkpoint/`` (atomically) and ``run_dir/history.csv``.
    The best weights (lowest validation loss) are in ``model`` when this returns.

    Raises:
        TrainingInterrupted: on Ctrl-C, after the checkpoint is saved.
        TrainingDiverged: on a NaN/inf loss; the model holds its best weights.
        ValueError: ``resume`` without a checkpoint in ``run_dir``, or one of another model.
    """
    run_dir = Path(run_dir) if run_dir is not None else None
    if resume and run_dir is None:
        raise ValueError("train: resume=True needs the run_dir to continue from")
    world = Distributed.start(resolve_device(config.device))
    threads.choose()  # the cores other processes leave free (rnnlab.threads)
    try:
        loop = _Loop(model, task, config, world, run_dir, resume)
    except BaseException:
        world.finish(barrier=False)
        raise
    with _deferred_interrupt() as interrupt:
        try:
            stopped = _train(loop, interrupt)
            if loop.p.loss_count or not loop.p.history:  # the steps since the last evaluation count too
                loop.evaluate_and_checkpoint()
            loop.write_pending()
        except KeyboardInterrupt as e:
            # this step's graph (DDP prepared its reduction for a backward that will not come) and the DDP
            # wrapper go now, while the process group is alive, not when the caller drops the traceback: once,
            # in a clean-clone CI run, rank 1 of tests/ddp_fit_script.py hung 2 minutes in that late teardown
            traceback.clear_frames(e.__traceback__)
            raise loop.interrupted(interrupt.signum) from None
        except BaseException:
            loop.close(barrier=False)
            raise
    return loop.finish(stopped)


def _train(loop: "_Loop", interrupt: threading.Event) -> str:
    """Steps until a budget ends: get batch → loss → (the ranks agree) → backward → clip → step → evaluate.

    Returns:
        ``"early"`` if patience ran out, else ``"budget"``.
    """
    config, p = loop.config, loop.p
    while True:
        # -- budgets known without asking the other ranks (a resumed run may have spent them)
        if config.steps is not None and p.step >= config.steps:
            loop.end_epoch_if_spent()
            return "budget"
        if config.patience is not None and p.bad_evals >= config.patience:
            return "early"
        if loop.batches is None and config.epochs is not None and p.epoch >= config.epochs:
            return "budget"
        batches = loop.epoch_batches()
        loop.rng = _get_rng(loop.world.device)  # the step boundary a Ctrl-C checkpoint records

        # -- get batch, forward, loss; then all ranks agree on what happens next
        batch = next(batches, _END)
        loss, carried = loop.task.loss(loop.net, batch, loop.state) if batch is not _END else (None, None)
        now = loop.world.agree(batch is _END, loss, interrupt.is_set(), loop.elapsed())
        if now.interrupted:
            loop.agreed = True  # every rank stops here: they can wait for rank 0's checkpoint
            raise KeyboardInterrupt
        if config.minutes is not None and now.elapsed >= 60 * config.minutes:
            return "budget"
        if now.epoch_ended:
            loop.end_epoch()
            if config.eval_every is None and loop.evaluate_and_checkpoint():
                return "early"
            continue
        if not math.isfinite(now.loss):
            loop.diverge(f"the training loss is {now.loss} at step {p.step + 1}")

        # -- backward, clip, step
        loop.step(loss, carried, now)

        # -- evaluation now and then (with its checkpoint)
        if config.eval_every is not None and p.step % config.eval_every == 0 and loop.evaluate_and_checkpoint():
            return "early"


class _Loop:
    """The training loop's state: the model, its optimizer and best weights, the counters a checkpoint stores
    (:class:`_Progress`), the carried recurrent state, where the current epoch's batches stand, the clock."""

    def __init__(self, model: nn.Module, task: Task, config: TrainConfig, world: Distributed,
                 run_dir: Path | None, resume: bool) -> None:
        self.model, self.task, self.config, self.world, self.run_dir = model, task, config, world, run_dir
        model.to(world.device).train()
        self.optimizer = AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.generator = torch.Generator().manual_seed(config.seed)
        torch.manual_seed(config.seed + world.rank)
        self.p, self.state, self.best = _Progress(), None, _copy(model.state_dict())
        self.epoch_generator_state = self.generator.get_state()  # where this epoch's batches start
        self.rng, self.resume_rng = _get_rng(world.device), None
        if resume:
            self.p, self.state, self.best, self.epoch_generator_state, self.resume_rng = _restore(
                run_dir, model, self.optimizer, world.device)
        self.net = world.wrap(model)  # what task.loss calls: the DDP wrapper under torchrun
        self.total_steps = _total_steps(config, task, self.epoch_generator_state, world)
        self.bar = tqdm(total=self.total_steps, initial=self.p.step, disable=config.quiet or world.rank != 0,
                        unit="step", dynamic_ncols=True, leave=False)
        self.clock = time.perf_counter() - self.p.seconds  # counts the seconds of earlier sessions too
        self.skip = self.p.position  # batches of the current epoch already done (resume)
        self.batches: Iterator | None = None
        self.lr = get_lr(config, self.p.step, self.total_steps)
        self.last_postfix = 0.0
        self.agreed = False  # all ranks stopped together on a Ctrl-C
        self.pending: tuple[dict, dict] | None = None  # a checkpoint taken but not written yet: (tensors, meta)
        self.written_at: float | None = None  # perf_counter() of this session's last checkpoint write
        self.write_seconds = 0.0  # how long that write took

    def elapsed(self) -> float:
        return time.perf_counter() - self.clock

    def epoch_batches(self) -> Iterator:
        """This epoch's batches; at an epoch's start, rebuilt from its generator state (skipping those a
        resumed run already trained on)."""
        if self.batches is None:
            self.generator.set_state(self.epoch_generator_state)
            self.batches = iter(self.task.batches(self.p.epoch, self.generator, self.world.rank, self.world.size))
            _skip(self.batches, self.skip, self.p.epoch)
            self.skip = 0
            if self.resume_rng is not None:  # after the skipped batches: dropout continues where it stopped
                _set_rng(self.resume_rng, self.world.device)
                self.resume_rng = None
        return self.batches

    def end_epoch(self) -> None:
        p = self.p
        p.epoch, p.position, self.batches, self.state = p.epoch + 1, 0, None, None
        self.epoch_generator_state = self.generator.get_state()

    def end_epoch_if_spent(self) -> None:
        """At the end of a step budget: count the epoch whose last batch was the last step, as the loop's next
        step would have (else ``steps = epochs × batches`` reported one epoch less, and the last history row
        the epoch before). One batch is drawn to see; the ranks agree as at any epoch's end."""
        if self.batches is None or self.p.position == 0:
            return
        spent = next(self.batches, _END) is _END
        if self.world.agree(spent, None, False, self.elapsed()).epoch_ended:
            self.end_epoch()

    def step(self, loss: Tensor, carried: Any, now: Agreement) -> None:
        """Backward, clip, set the learning rate, step; carry the state (detached); count; show progress."""
        config, p = self.config, self.p
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.clip or math.inf)
        if not math.isfinite(grad_norm):
            self.diverge(f"the gradient norm is {float(grad_norm)} at step {p.step + 1}")
        time_fraction = now.elapsed / (60 * config.minutes) if config.minutes is not None else None
        self.lr = get_lr(config, p.step, self.total_steps, time_fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        self.optimizer.step()
        self.state = _map_state(carried, Tensor.detach)
        p.step, p.position = p.step + 1, p.position + 1
        p.loss_sum, p.loss_count = p.loss_sum + now.loss, p.loss_count + 1
        self.bar.update(1)
        if time.perf_counter() - self.last_postfix > 0.5:
            self.last_postfix = time.perf_counter()
            self.bar.set_postfix(_postfix(self.task, p, now.loss, now.elapsed), refresh=False)

    def evaluate_and_checkpoint(self) -> bool:
        """Evaluate, append a history row, keep the best weights, checkpoint; True if patience ran out."""
        p = self.p
        val = self.world.broadcast(evaluate(self.model, self.task) if self.world.rank == 0 else math.nan)
        p.history.append({"step": p.step, "epoch": p.epoch,
                          "train_loss": p.loss_sum / p.loss_count if p.loss_count else math.nan,
                          "val_loss": val, "lr": self.lr, "seconds": round(self.elapsed(), 3)})
        p.loss_sum, p.loss_count = 0.0, 0
        if not math.isfinite(val):
            self.diverge(f"the validation loss is {val}")
        if val < p.best_val:
            p.best_val, p.bad_evals, self.best = val, 0, _copy(self.model.state_dict())
        else:
            p.bad_evals += 1
        self.checkpoint(_get_rng(self.world.device))
        self.bar.set_postfix(_postfix(self.task, p, val, self.elapsed()), refresh=False)
        return self.config.patience is not None and p.bad_evals >= self.config.patience

    def diverge(self, what: str) -> None:
        """Stop: put the best weights back, leave the last good checkpoint, raise TrainingDiverged."""
        p, run_dir = self.p, self.run_dir
        self.model.load_state_dict(self.best)
        if p.history and math.isfinite(p.best_val):
            kept = f"restored the best weights (val loss {p.best_val:.6g})"
        else:
            kept = "restored the initial weights (nothing was evaluated yet)"
        checkpoint_dir = run_dir / "checkpoint" if run_dir is not None else None
        self.write_pending()  # the last good evaluation's
        if checkpoint_dir is not None and (checkpoint_dir / ckpt.META_FILE).is_file():
            kept += f"; the last good checkpoint is kept in {checkpoint_dir} (try `resume` with a lower `lr`)"
        raise TrainingDiverged(f"train: training diverged: {what}; {kept}", p.step, checkpoint_dir)

    def checkpoint(self, rng: dict[str, Tensor], now: bool = False) -> None:
        """Take a checkpoint (rank 0, with a ``run_dir``); write it ``now``, or if it is this session's first, or
        if the last write is long enough ago (module docstring, "Checkpoints"); else hold it until then."""
        if self.run_dir is None or self.world.rank != 0:
            return
        self.pending = self.snapshot(rng)
        wait = max(CHECKPOINT_SECONDS, 20 * self.write_seconds)
        if now or self.written_at is None or time.perf_counter() - self.written_at >= wait:
            self.write_pending()
        else:
            check_owned(self.run_dir)  # a run directory deleted meanwhile stops the run now, not at the next write

    def write_pending(self) -> None:
        """Write the checkpoint held back (if any) and its history: ``run_dir/checkpoint/``, ``history.csv``."""
        if self.pending is None:
            return
        start = time.perf_counter()
        tensors, meta = self.pending
        ckpt.save_checkpoint(self.run_dir / "checkpoint", tensors, meta)
        write_history_csv(self.run_dir / "history.csv", meta["history"])
        self.pending, self.written_at = None, time.perf_counter()
        self.write_seconds = self.written_at - start

    def snapshot(self, rng: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict]:
        """What run_dir/checkpoint/ holds (see module docstring: what exact resume needs), as copies.

        Tensors: ``model.*`` (weights now), ``best.*`` (weights of the best evaluation), ``optimizer.*`` (AdamW
        moments and step counts), ``state.*`` (the carried recurrent state), ``rng.torch`` / ``rng.cuda``
        (global RNGs at the step boundary), ``rng.generator`` (the batch generator at the start of the epoch).
        Meta: the :class:`_Progress` counters (step, epoch, position, best_val, bad_evals, loss_sum/count,
        history), ``seconds`` trained so far, the JSON skeletons of optimizer and state, and the TrainConfig.
        There is no scheduler state: :func:`get_lr` is a function of the step (and of the elapsed time for
        ``minutes``). The best weights, the RNG and generator states are never changed in place: not copied.
        """
        changing = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        # the counters, and the history as a new list of its rows (a row is never changed once appended):
        # dataclasses.asdict deep-copied every row at every evaluation, quadratic in the evaluations
        meta = {f.name: getattr(self.p, f.name) for f in dataclasses.fields(self.p)} | {
            "history": list(self.p.history),
            "format": 1,
            "seconds": self.elapsed(),
            "optimizer": ckpt.flatten(self.optimizer.state_dict(), "optimizer", changing),
            "state": ckpt.flatten(self.state, "state", changing),
            "config": dataclasses.asdict(self.config),
        }
        tensors = {k: v.detach().to("cpu", copy=True) for k, v in changing.items()}
        tensors.update({f"best.{k}": v for k, v in self.best.items()})
        tensors.update(rng)
        tensors["rng.generator"] = self.epoch_generator_state
        return tensors, meta

    def interrupted(self, signum: int = signal.SIGINT) -> TrainingInterrupted:
        """After Ctrl-C or SIGTERM: rank 0 saves the checkpoint of the step boundary; the ranks part; what to
        raise."""
        self.bar.close()
        self.net = None  # the DDP wrapper goes while the process group is alive
        checkpoint_dir = None
        if self.run_dir is not None:
            checkpoint_dir = self.run_dir / "checkpoint"
            self.checkpoint(self.rng, now=True)
        self.world.finish(barrier=self.agreed)
        where = f"checkpoint saved in {checkpoint_dir}" if checkpoint_dir else "no run directory, nothing saved"
        return TrainingInterrupted(f"train: interrupted at step {self.p.step}; {where}", checkpoint_dir,
                                   self.run_dir, signum)

    def close(self, barrier: bool) -> None:
        """After an error: the checkpoint held back written if it can be (the error is what the caller sees)."""
        self.bar.close()
        with contextlib.suppress(Exception):
            self.write_pending()
        self.world.finish(barrier=barrier)

    def finish(self, stopped: str) -> TrainResult:
        """The best weights back in the model, the ranks parted, what happened."""
        self.bar.close()
        self.model.load_state_dict(self.best)
        self.world.finish(barrier=True)
        p = self.p
        return TrainResult(history=p.history, best_val=p.best_val, steps=p.step, epochs=p.epoch,
                           seconds=self.elapsed(), stopped=stopped)


_END = object()  # marks the end of an epoch's batches


def _skip(batches: Iterator, count: int, epoch: int) -> None:
    """Draw and drop the ``count`` batches an interrupted epoch had already trained on."""
    for done in range(count):
        if next(batches, _END) is _END:
            raise ValueError(f"train: cannot resume: epoch {epoch} now has {done} batches but the checkpoint was "
                             f"taken after {count} (did the data or the batch size change?)")


def _postfix(task: Task, p: _Progress, train_loss: float, seconds: float) -> dict:
    """The bar's postfix: train loss, latest val loss, and whatever the task adds."""
    postfix = {"loss": f"{train_loss:.4f}"}
    if p.history:
        postfix["val"] = f"{p.history[-1]['val_loss']:.4f}"
    describe = getattr(task, "describe_progress", None)
    if describe is not None:
        postfix.update(describe(p.step, seconds))
    return postfix


def _total_steps(config: TrainConfig, task: Task, generator_state: Tensor, world: "Distributed") -> int | None:
    """The step budget: ``steps``, or ``epochs`` × batches per epoch, whichever is smaller (None if neither).

    Batches per epoch are those of epoch 0 (``len`` if the iterable has one, otherwise counted by drawing them
    with a copy of the generator, only when the cosine schedule needs the number).
    """
    candidates = [config.steps] if config.steps is not None else []
    if config.epochs is not None and (config.schedule == "cosine" or config.steps is None):
        generator = torch.Generator()
        generator.set_state(generator_state)
        batches = task.batches(0, generator, world.rank, world.size)
        if hasattr(batches, "__len__"):
            candidates.append(config.epochs * world.minimum(len(batches)))
        elif config.schedule == "cosine":
            candidates.append(config.epochs * world.minimum(sum(1 for _ in batches)))
    return min(candidates) if candidates else None


def _copy(state_dict: dict) -> dict:
    return {k: v.detach().clone() for k, v in state_dict.items()}


def _map_state(state: Any, fn) -> Any:
    """``fn`` applied to every tensor of a carried recurrent state (a tensor, or nested tuples/lists)."""
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, (tuple, list)):
        return type(state)(_map_state(s, fn) for s in state)
    return state


def _get_rng(device: torch.device) -> dict[str, Tensor]:
    """The global RNG states dropout draws from: torch's CPU generator and, on CUDA, the device's."""
    rng = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        rng["rng.cuda"] = torch.cuda.get_rng_state(device)
    return rng


def _set_rng(rng: dict[str, Tensor], device: torch.device) -> None:
    torch.set_rng_state(rng["rng.torch"])
    if device.type == "cuda" and "rng.cuda" in rng:
        torch.cuda.set_rng_state(rng["rng.cuda"], device)


def _restore(run_dir: Path, model: nn.Module, optimizer: AdamW, device: torch.device):
    """Load run_dir/checkpoint/ into model and optimizer; return the loop's counters and states."""
    directory = run_dir / "checkpoint"
    tensors, meta = ckpt.load_checkpoint(directory)
    if meta.get("format") != 1 or "optimizer" not in meta or "rng.generator" not in tensors:
        raise ValueError(f"train: {directory} is not a checkpoint written by rnnlab.train.fit")
    ckpt.load_state_into(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, directory)
    best = {k[5:]: v.to(device) for k, v in tensors.items() if k.startswith("best.")}
    optimizer.load_state_dict(ckpt.unflatten(meta["optimizer"], tensors))
    names = {f.name for f in dataclasses.fields(_Progress)}
    p = _Progress(**{k: v for k, v in meta.items() if k in names})
    state = _map_state(ckpt.unflatten(meta["state"], tensors), lambda t: t.to(device))
    rng = {k: v for k, v in tensors.items() if k in ("rng.torch", "rng.cuda")}
    return p, state, best, tensors["rng.generator"], rng


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # deferred to the step boundary, then a checkpoint


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[threading.Event]:
    """The first SIGINT or SIGTERM sets the event (the loop stops at the step boundary) and records which in
    ``event.signum``; a second one interrupts at once. Signals a process ignores stay ignored."""
    event = threading.Event()
    event.signum = signal.SIGINT
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    handled = [s for s in STOP_SIGNALS if previous[s] not in (None, signal.SIG_IGN)]

    def handler(signum, frame):
        if event.is_set():
            raise KeyboardInterrupt
        event.signum = signum
        event.set()

    for s in handled:
        signal.signal(s, handler)
    try:
        yield event
    finally:
        for s in handled:
            signal.signal(s, previous[s])
