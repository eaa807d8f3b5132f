"""How far back each cell type can remember: recall accuracy against the distance, through distractors.

The task is :class:`~rnnlab.explain.tasks.DelayedRecall`: a marked symbol among random distractor symbols
on the same channels, to be named ``delay`` steps later (Hochreiter & Schmidhuber, *Long Short-Term
Memory*, 1997, Experiments 2c and 4). For every cell (RNN, LSTM, GRU, the same hidden size) and every
distance ``d``, a fresh model gets the same budget and settings — Adam, gradient clipping, the same
updates of the same batch size, seed — training on distances drawn log-uniformly from ``0..d``
(``vary``; short distances teach the task, long ones test the memory), and is then scored on fresh
sequences at exactly ``d``. The LSTM's forget gate starts at bias 1 (``forget_bias``; char-rnn's and
Jozefowicz et al.'s 2015 setting), or at PyTorch's initialisation with ``forget_bias="torch"``.

Knowing nothing, the best one can do is guess: accuracy ``1/K``, the trivial baseline. A cell is *at
chance* at a distance when its accuracy is within three binomial standard deviations of ``1/K`` on the
scored set, and *remembers* when it names at least :data:`REMEMBERS` of the symbols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from rnnlab.config import to_dict
from rnnlab.explain.tasks import DelayedRecall, check_forget_bias, cpu_threads, recall_model, train
from rnnlab.models import CELLS

REMEMBERS = 0.9  # accuracy from which a cell counts as remembering at a distance


@dataclass(frozen=True)
class MemoryConfig:
    """Settings of ``rnnlab explain memory``."""

    cells: tuple | list = CELLS  # cell types compared
    delays: tuple | list = (5, 10, 20, 50, 100, 200)  # distances d: distractor steps between the symbol and the cue
    hidden_size: int = 32  # H, the same for every cell
    num_symbols: int = 4  # K; chance accuracy is 1/K
    lead: int = 5  # distractor steps before the marked symbol
    epochs: int = 16  # training epochs, the same budget for every cell and distance
    batches_per_epoch: int = 50  # fresh random batches per epoch (an evaluation after each)
    batch_size: int = 64  # sequences per batch
    lr: float = 0.01  # Adam learning rate
    clip: float = 1.0  # gradient-norm clipping
    forget_bias: float | str = 1.0  # LSTM forget-gate bias at init; "torch" = PyTorch's init (≈ 0, so f ≈ 0.5)
    test_size: int = 1000  # fresh sequences scored at each distance after training
    threads: int | None = 1  # torch CPU threads while training (None: leave as set)
    seed: int = 0  # seeds initialisation, data and training
    device: str = "auto"  # "auto" (cuda if available), "cpu" or "cuda"
    quiet: bool = False  # no progress bar


# ``--quick``: the smallest run that still shows the direction (used by the tests; a few seconds).
QUICK = {"delays": (5, 40), "epochs": 8, "batches_per_epoch": 50, "test_size": 500}


def memory_conclusion(rows: list[dict], chance: float, cells=CELLS) -> str:
    """One sentence on whether the gated cells remember where the plain RNN forgets, from ``rows`` alone.

    The claim holds at a distance where the RNN's row is ``at_chance`` and the LSTM's and GRU's accuracies
    are ``>=`` :data:`REMEMBERS`; the sentence names the first such distance, or says that none exists.
    """
    def accuracy(cell, delay):
        return next(r["accuracy"] for r in rows if r["cell"] == cell and r["delay"] == delay)

    def reach(cell):  # the longest distance up to which the cell remembers at every distance
        longest = None
        for delay in delays:
            if accuracy(cell, delay) < REMEMBERS:
                break
            longest = delay
        return longest

    delays = sorted({r["delay"] for r in rows})
    if not {"rnn", "lstm", "gru"} <= set(cells):
        return "The comparison needs all three cells (rnn, lstm, gru); this run has " + ", ".join(cells) + "."
    reaches = {cell: reach(cell) for cell in ("rnn", "lstm", "gru")}
    told = "; ".join(f"{cell.upper()} {'at no distance' if d is None else 'up to ' + str(d)}"
                     for cell, d in reaches.items())
    held = [d for d in delays if next(r["at_chance"] for r in rows if r["cell"] == "rnn" and r["delay"] == d)
            and accuracy("lstm", d) >= REMEMBERS and accuracy("gru", d) >= REMEMBERS]
    if held:
        d = held[0]
        return (f"The claim holds: at distance {d} the plain RNN is at chance ({accuracy('rnn', d):.2f}, "
                f"chance {chance:.2f}) while the LSTM ({accuracy('lstm', d):.2f}) and the GRU "
                f"({accuracy('gru', d):.2f}) still recall the symbol (≥ {REMEMBERS:.0%} recall: {told}).")
    return (f"The claim does not hold in this run: at no distance is the plain RNN at chance while both the "
            f"LSTM and the GRU recall ≥ {REMEMBERS:.0%} ({told}).")


@dataclass
class MemoryHorizon:
    """Accuracy by cell and distance: ``rows`` of ``{cell, delay, accuracy, loss, at_chance, train_seconds}``."""

    config: MemoryConfig
    chance_accuracy: float
    chance_loss: float
    rows: list = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Optimizer updates per model (the budget every cell and distance gets)."""
        return self.config.epochs * self.config.batches_per_epoch

    def accuracy(self, cell: str, delay: int) -> float:
        return next(r["accuracy"] for r in self.rows if r["cell"] == cell and r["delay"] == delay)

    def at_chance(self, cell: str, delay: int) -> bool:
        return next(r["at_chance"] for r in self.rows if r["cell"] == cell and r["delay"] == delay)

    def conclusion(self) -> str:
        return memory_conclusion(self.rows, self.chance_accuracy, self.config.cells)

    def settings(self) -> str:
        """The training settings in words, the LSTM's forget-gate bias with PyTorch's default beside it."""
        c = self.config
        bias = ("PyTorch's default init (b_f ≈ 0, f ≈ 0.5)" if c.forget_bias == "torch" else
                f"{c.forget_bias:g} (f ≈ {1 / (1 + math.exp(-c.forget_bias)):.2f}; PyTorch's default ≈ 0, f ≈ 0.5)")
        return (f"hidden {c.hidden_size}, {self.steps} Adam steps (lr {c.lr:g}, batch {c.batch_size}, gradient "
                f"clipping {c.clip:g}) per cell and distance, trained on distances 0..d; LSTM forget-gate bias {bias}")

    def metrics(self) -> dict:
        return {"task": "explain-memory", "chance_accuracy": self.chance_accuracy, "chance_loss": self.chance_loss,
                "hidden_size": self.config.hidden_size, "steps_per_cell": self.steps,
                "forget_bias": self.config.forget_bias, "remembers_from": REMEMBERS, "results": self.rows,
                "conclusion": self.conclusion()}

    def plot(self):
        """Accuracy against distance (log scale), one line per cell, the chance level dashed."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for cell in self.config.cells:
            ax.plot(self.config.delays, [self.accuracy(cell, d) for d in self.config.delays], "o-",
                    label=cell.upper())
        ax.axhline(self.chance_accuracy, color="gray", ls="--", label=f"chance (1/{self.config.num_symbols})")
        ax.set_xscale("log")
        ax.set_xticks(self.config.delays, [str(d) for d in self.config.delays])
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("distance d (distractor steps between the marked symbol and the cue)")
        ax.set_ylabel("recall accuracy (fresh sequences)")
        bias = "PyTorch default" if self.config.forget_bias == "torch" else f"{self.config.forget_bias:g}"
        ax.set_title(f"Recall through distractors: hidden {self.config.hidden_size}, {self.steps} steps each, "
                     f"LSTM forget bias {bias}", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        return fig

    def summary(self) -> str:
        lines = [f"recall accuracy through distractors (chance {self.chance_accuracy:.2f}; * = at chance)",
                 self.settings(),
                 f"{'cell':<5} " + " ".join(f"{'d=' + str(d):>8}" for d in self.config.delays)]
        for cell in self.config.cells:
            cells = [f"{self.accuracy(cell, d):.3f}{'*' if self.at_chance(cell, d) else ' '}"
                     for d in self.config.delays]
            lines.append(f"{cell:<5} " + " ".join(c.rjust(8) for c in cells))
        lines.append(self.conclusion())
        return "\n".join(lines)

    def save(self, run_dir):
        from rnnlab.explain.rundir import write_run
        from rnnlab.report import Section

        text = (f"Every step shows a random symbol (one of {self.config.num_symbols}); one is marked, and at the "
                "end a cue asks for it. The distractors arrive on the same channels as the symbol, so memory must "
                "be kept by choice, step after step (Hochreiter & Schmidhuber 1997, Experiments 2c and 4). "
                f"Settings: {self.settings()}. Guessing scores {self.chance_accuracy:.2f}; 'at_chance' marks "
                f"accuracies within three binomial standard deviations of it on {self.config.test_size} fresh "
                f"sequences. Conclusion: {self.conclusion()}")
        sections = [Section("Memory horizon", text, table=self.rows, figures=["memory.png"])]
        return write_run(run_dir, "rnnlab explain memory", {"command": "explain memory", **to_dict(self.config)},
                         self.metrics(), {"memory.png": self.plot()}, sections)


def memory_horizon(config: MemoryConfig = MemoryConfig()) -> MemoryHorizon:
    """Train each cell at each distance with the same budget; score recall on fresh sequences at that distance."""
    from rnnlab.train import resolve_device

    for cell in config.cells:
        if cell not in CELLS:
            raise ValueError(f"explain memory: unknown cell '{cell}'; choose from {', '.join(CELLS)}")
    for delay in config.delays:
        if not isinstance(delay, int) or delay < 0:
            raise ValueError(f"explain memory: delays must be non-negative integers, got {delay!r}")
    check_forget_bias("explain memory", config.forget_bias)
    device = resolve_device(config.device)
    chance = 1.0 / config.num_symbols
    # at chance: |accuracy - 1/K| <= 3 sqrt(p (1 - p) / n)
    tolerance = 3 * math.sqrt(chance * (1 - chance) / config.test_size)
    result = MemoryHorizon(config, chance, math.log(config.num_symbols))
    with cpu_threads(config.threads):  # small models: one thread is as fast, and never stalls on a busy machine
        for cell in config.cells:
            for delay in config.delays:
                task = DelayedRecall(delay, config.num_symbols, config.batch_size, config.batches_per_epoch,
                                     seed=config.seed, lead=config.lead, vary=True)
                torch.manual_seed(config.seed)
                model = recall_model(cell, task, config.hidden_size, config.forget_bias).to(device)
                fitted = train(model, task, config.epochs, config.lr, config.seed, config.device, config.quiet,
                               clip=config.clip)
                model.eval()
                x, y = task.sample(config.test_size, torch.Generator().manual_seed(config.seed + 99))
                accuracy = task.accuracy(model, x, y)
                with torch.no_grad():
                    loss = task.loss(model, (x, y))[0].item()
                result.rows.append({"cell": cell, "delay": delay, "accuracy": accuracy, "loss": loss,
                                    "at_chance": abs(accuracy - chance) <= tolerance,
                                    "train_seconds": round(fitted["seconds"], 2)})
    return result
