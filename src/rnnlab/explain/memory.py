"""How far back each cell type can remember: delayed-recall accuracy against the delay.

For every cell (RNN, LSTM, GRU, the same hidden size) and every delay, a fresh model is trained on
:class:`~rnnlab.explain.tasks.DelayedRecall` with the same budget (epochs × batches × batch size, the same
learning rate and seed), then scored on a held-out set. Knowing nothing, the best one can do is guess:
accuracy ``1/K`` (cross-entropy ``log K``), the trivial baseline. A cell is *at chance* at a delay when its
accuracy is within three binomial standard deviations of ``1/K`` on the scored set.

The blanks carry no information, so for one delay there are only ``K`` distinct sequences: the score
measures memory, not generalisation (the scored sequences are fresh draws, weighting the ``K`` symbols).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from rnnlab.config import to_dict
from rnnlab.explain.tasks import DelayedRecall, train
from rnnlab.models import CELLS, SequenceRegressor


@dataclass(frozen=True)
class MemoryConfig:
    """Settings of ``rnnlab explain memory``."""

    cells: tuple | list = CELLS  # cell types compared
    delays: tuple | list = (5, 10, 20, 50, 100)  # blank steps between the symbol and the cue
    hidden_size: int = 32  # H, the same for every cell
    num_symbols: int = 4  # K; chance accuracy is 1/K
    epochs: int = 12  # training epochs, the same budget for every cell and delay
    batches_per_epoch: int = 50  # fresh random batches per epoch (an evaluation after each)
    batch_size: int = 64  # sequences per batch
    lr: float = 0.01  # Adam learning rate
    test_size: int = 1000  # held-out sequences scored after training
    seed: int = 0  # seeds initialisation, data and training
    device: str = "auto"  # "auto" (cuda if available), "cpu" or "cuda"
    quiet: bool = False  # no progress bar


@dataclass
class MemoryHorizon:
    """Accuracy by cell and delay: ``rows`` of ``{cell, delay, accuracy, loss, at_chance, train_seconds}``."""

    config: MemoryConfig
    chance_accuracy: float
    chance_loss: float
    rows: list = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Optimizer updates per model (the budget every cell and delay gets)."""
        return self.config.epochs * self.config.batches_per_epoch

    def accuracy(self, cell: str, delay: int) -> float:
        return next(r["accuracy"] for r in self.rows if r["cell"] == cell and r["delay"] == delay)

    def at_chance(self, cell: str, delay: int) -> bool:
        return next(r["at_chance"] for r in self.rows if r["cell"] == cell and r["delay"] == delay)

    def metrics(self) -> dict:
        return {"task": "explain-memory", "chance_accuracy": self.chance_accuracy, "chance_loss": self.chance_loss,
                "hidden_size": self.config.hidden_size, "steps_per_cell": self.steps, "results": self.rows}

    def plot(self):
        """Accuracy against delay (log scale), one line per cell, the chance level dashed."""
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
        ax.set_xlabel("delay (blank steps between the symbol and the cue)")
        ax.set_ylabel("recall accuracy (fresh sequences)")
        ax.set_title(f"Delayed recall, hidden {self.config.hidden_size}, {self.steps} steps per cell")
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        return fig

    def summary(self) -> str:
        lines = [f"delayed recall accuracy (chance {self.chance_accuracy:.2f}; * = at chance), hidden "
                 f"{self.config.hidden_size}, {self.steps} steps each",
                 f"{'cell':<5} " + " ".join(f"{'d=' + str(d):>8}" for d in self.config.delays)]
        for cell in self.config.cells:
            cells = [f"{self.accuracy(cell, d):.3f}{'*' if self.at_chance(cell, d) else ' '}"
                     for d in self.config.delays]
            lines.append(f"{cell:<5} " + " ".join(c.rjust(8) for c in cells))
        return "\n".join(lines)

    def save(self, run_dir):
        from rnnlab.rundir import write_run
        from rnnlab.report import Section

        text = (f"Each model sees a symbol (one of {self.config.num_symbols}), then `delay` blank steps, then a "
                "cue, and must name the symbol. Every cell and delay gets the same training budget. Guessing "
                f"scores {self.chance_accuracy:.2f}; 'at_chance' marks accuracies within three binomial standard "
                f"deviations of it on {self.config.test_size} held-out sequences.")
        sections = [Section("Memory horizon", text, table=self.rows, figures=["memory.png"])]
        return write_run(run_dir, "rnnlab explain memory", {"command": "explain memory", **to_dict(self.config)},
                         self.metrics(), {"memory.png": self.plot()}, sections)


def memory_horizon(config: MemoryConfig = MemoryConfig()) -> MemoryHorizon:
    """Train each cell at each delay with the same budget; score recall on held-out sequences."""
    from rnnlab.distributed import resolve_device

    for cell in config.cells:
        if cell not in CELLS:
            raise ValueError(f"explain memory: unknown cell '{cell}'; choose from {', '.join(CELLS)}")
    for delay in config.delays:
        if not isinstance(delay, int) or delay < 0:
            raise ValueError(f"explain memory: delays must be non-negative integers, got {delay!r}")
    device = resolve_device(config.device)
    chance = 1.0 / config.num_symbols
    # at chance: |accuracy - 1/K| <= 3 sqrt(p (1 - p) / n)
    tolerance = 3 * math.sqrt(chance * (1 - chance) / config.test_size)
    result = MemoryHorizon(config, chance, math.log(config.num_symbols))
    for cell in config.cells:
        for delay in config.delays:
            task = DelayedRecall(delay, config.num_symbols, config.batch_size, config.batches_per_epoch,
                                 seed=config.seed)
            torch.manual_seed(config.seed)
            model = SequenceRegressor(task.input_size, config.hidden_size, config.num_symbols, cell=cell).to(device)
            fitted = train(model, task, config.epochs, config.lr, config.seed, config.device, config.quiet)
            model.eval()
            x, y = task.sample(config.test_size, torch.Generator().manual_seed(config.seed + 99))
            accuracy = task.accuracy(model, x, y)
            with torch.no_grad():
                loss = task.loss(model, (x, y))[0].item()
            result.rows.append({"cell": cell, "delay": delay, "accuracy": accuracy, "loss": loss,
                                "at_chance": abs(accuracy - chance) <= tolerance,
                                "train_seconds": round(fitted["seconds"], 2)})
    return result
