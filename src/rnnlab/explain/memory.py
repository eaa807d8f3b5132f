"""How far back each cell type can remember: the adding problem's error against the distance.

The task is :class:`~rnnlab.explain.tasks.AddingProblem` (Hochreiter & Schmidhuber, *Long Short-Term
Memory*, Neural Computation 9(8), 1997, Experiment 4): two marked numbers among uniform noise on the same
channel, their sum asked for at the end, ``delay`` noise steps after the marked window. For every cell
(RNN, LSTM, GRU, the same hidden size) and every distance ``d``, a fresh model gets the same budget and
settings — Adam, gradient clipping, the same number of updates of the same batch size, the same seed —
training on distances drawn log-uniformly from ``0..d`` (``vary``: short distances teach the task, long
ones test the memory), and is then scored on fresh sequences at exactly ``d``. The LSTM's forget gate
starts at bias 1 (``forget_bias``; the setting of char-rnn and of Jozefowicz, Zaremba & Sutskever 2015),
or at PyTorch's initialisation with ``forget_bias="torch"``.

Knowing nothing, the best one can do is predict the mean: MSE ``1/6``, the trivial baseline. A cell
*stays at the baseline* at a distance when its test MSE is within three standard deviations (of the
baseline's own estimate on the scored set) of ``1/6``, and *remembers* when its MSE is at most
:data:`SOLVED` of the baseline's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from rnnlab.config import to_dict
from rnnlab.explain.tasks import AddingProblem, check_forget_bias, cpu_threads, task_model, train
from rnnlab.models import CELLS

SOLVED = 0.1  # relative MSE (MSE / baseline MSE) up to which a cell counts as remembering at a distance
# Var((v_a + v_b - 1)^2) for v ~ U(0, 1): E[x^4] - E[x^2]^2 = 1/15 - 1/36 (x triangular on [-1, 1])
BASELINE_SPREAD = math.sqrt(1 / 15 - 1 / 36)


@dataclass(frozen=True)
class MemoryConfig:
    """Settings of ``rnnlab explain memory``."""

    cells: tuple | list = CELLS  # cell types compared
    delays: tuple | list = (10, 30, 100, 300)  # distances d: noise steps after the window of the marked numbers
    hidden_size: int = 32  # H, the same for every cell
    lead: int = 10  # the window of the two marked numbers (the paper's "first ten")
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
QUICK = {"delays": (20,), "epochs": 8, "test_size": 500}


def memory_conclusion(rows: list[dict], cells=CELLS) -> str:
    """One sentence on whether the gated cells remember where the plain RNN forgets, from ``rows`` alone.

    The claim holds at a distance where the RNN's row is ``at_baseline`` and the LSTM's and GRU's relative
    MSEs are at most :data:`SOLVED`; the sentence names the first such distance, or says that none exists.
    """
    if not {"rnn", "lstm", "gru"} <= set(cells):
        return "The comparison needs all three cells (rnn, lstm, gru); this run has " + ", ".join(cells) + "."
    row = {(r["cell"], r["delay"]): r for r in rows}
    delays = sorted({r["delay"] for r in rows})

    def reach(cell):  # the longest distance up to which the cell remembers at every distance
        longest = None
        for delay in delays:
            if row[cell, delay]["relative_mse"] > SOLVED:
                break
            longest = delay
        return longest

    told = "; ".join(f"{cell.upper()} {'at no distance' if reach(cell) is None else 'up to ' + str(reach(cell))}"
                     for cell in ("rnn", "lstm", "gru"))
    held = [d for d in delays if row["rnn", d]["at_baseline"]
            and row["lstm", d]["relative_mse"] <= SOLVED and row["gru", d]["relative_mse"] <= SOLVED]
    if held:
        d = held[0]
        return (f"The claim holds: at distance {d} the plain RNN stays at the trivial baseline (MSE "
                f"{row['rnn', d]['relative_mse']:.0%} of it) while the LSTM ({row['lstm', d]['relative_mse']:.1%}) "
                f"and the GRU ({row['gru', d]['relative_mse']:.1%}) still add the two numbers (remembers, MSE ≤ "
                f"{SOLVED:.0%} of the baseline: {told}).")
    return (f"The claim does not hold in this run: at no distance does the plain RNN stay at the baseline while "
            f"both the LSTM and the GRU reach MSE ≤ {SOLVED:.0%} of it (remembers: {told}).")


@dataclass
class MemoryHorizon:
    """Error by cell and distance: ``rows`` of ``{cell, delay, mse, relative_mse, at_baseline, train_seconds}``."""

    config: MemoryConfig
    baseline_mse: float
    rows: list = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Optimizer updates per model (the budget every cell and distance gets)."""
        return self.config.epochs * self.config.batches_per_epoch

    def relative_mse(self, cell: str, delay: int) -> float:
        return next(r["relative_mse"] for r in self.rows if r["cell"] == cell and r["delay"] == delay)

    def at_baseline(self, cell: str, delay: int) -> bool:
        return next(r["at_baseline"] for r in self.rows if r["cell"] == cell and r["delay"] == delay)

    def conclusion(self) -> str:
        return memory_conclusion(self.rows, self.config.cells)

    def settings(self) -> str:
        """The training settings in words, the LSTM's forget-gate bias with PyTorch's default beside it."""
        c = self.config
        bias = ("PyTorch's default init (b_f ≈ 0, f ≈ 0.5)" if c.forget_bias == "torch" else
                f"{c.forget_bias:g} (f ≈ {1 / (1 + math.exp(-c.forget_bias)):.2f}; PyTorch's default ≈ 0, f ≈ 0.5)")
        return (f"hidden {c.hidden_size}, {self.steps} Adam steps (lr {c.lr:g}, batch {c.batch_size}, gradient "
                f"clipping {c.clip:g}) per cell and distance d, trained on distances 0..d; "
                f"LSTM forget-gate bias {bias}")

    def metrics(self) -> dict:
        return {"task": "explain-memory", "problem": "adding", "baseline_mse": self.baseline_mse,
                "hidden_size": self.config.hidden_size, "steps_per_cell": self.steps,
                "forget_bias": self.config.forget_bias, "solved_below_relative_mse": SOLVED, "results": self.rows,
                "conclusion": self.conclusion()}

    def plot(self):
        """MSE relative to the baseline against distance (log scale), one line per cell, baseline and target dashed."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from rnnlab.report import log_scale

        fig, ax = plt.subplots(figsize=(7, 4))
        for cell in self.config.cells:
            ax.plot(self.config.delays, [self.relative_mse(cell, d) for d in self.config.delays], "o-",
                    label=cell.upper())
        ax.axhline(1.0, color="gray", ls="--", label="trivial baseline (predict the mean)")
        ax.axhline(SOLVED, color="gray", ls=":", label=f"remembers (≤ {SOLVED:.0%} of the baseline)")
        ax.set_xscale("log")
        log_scale(ax)  # 1 = knows nothing; the gated cells' errors sit two to three decades lower
        ax.set_xticks(self.config.delays, [str(d) for d in self.config.delays])
        ax.set_ylim(min([5e-4] + [r["relative_mse"] / 2 for r in self.rows]), 3)
        ax.set_xlabel("distance d (noise steps after the two marked numbers)")
        ax.set_ylabel("test MSE / baseline MSE (1/6), log scale")
        bias = "PyTorch default" if self.config.forget_bias == "torch" else f"{self.config.forget_bias:g}"
        ax.set_title(f"Adding problem: hidden {self.config.hidden_size}, {self.steps} steps each, "
                     f"LSTM forget bias {bias}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="center right")
        fig.tight_layout()
        return fig

    def summary(self) -> str:
        lines = ["adding problem: test MSE / baseline MSE (1/6 = 1.00 knows nothing; * = at the baseline)",
                 self.settings(),
                 f"{'cell':<5} " + " ".join(f"{'d=' + str(d):>8}" for d in self.config.delays)]
        for cell in self.config.cells:
            cells = [f"{self.relative_mse(cell, d):.3f}{'*' if self.at_baseline(cell, d) else ' '}"
                     for d in self.config.delays]
            lines.append(f"{cell:<5} " + " ".join(c.rjust(8) for c in cells))
        lines.append(self.conclusion())
        return "\n".join(lines)

    def save(self, run_dir):
        from rnnlab.rundir import write_run
        from rnnlab.report import Section

        text = ("Every step carries a random number in [0, 1]; two of the first ten are marked, and after d more "
                "noise steps the model must give their sum (Hochreiter & Schmidhuber 1997, Experiment 4). The "
                "marked numbers arrive on the same channel as the noise, so memory must be kept by choice, step "
                f"after step. Settings: {self.settings()}. Predicting the mean scores MSE 1/6 (relative MSE 1); "
                f"'at_baseline' marks errors within three standard deviations of it on {self.config.test_size} "
                f"fresh sequences. Conclusion: {self.conclusion()}")
        sections = [Section("Memory horizon", text, table=self.rows, figures=["memory.png"])]
        return write_run(run_dir, "rnnlab explain memory", {"command": "explain memory", **to_dict(self.config)},
                         self.metrics(), {"memory.png": self.plot()}, sections)


def memory_horizon(config: MemoryConfig = MemoryConfig()) -> MemoryHorizon:
    """Train each cell at each distance with the same budget; score it on fresh sequences at that distance."""
    from rnnlab.distributed import resolve_device

    for cell in config.cells:
        if cell not in CELLS:
            raise ValueError(f"explain memory: unknown cell '{cell}'; choose from {', '.join(CELLS)}")
    for delay in config.delays:
        if not isinstance(delay, int) or delay < 0:
            raise ValueError(f"explain memory: delays must be non-negative integers, got {delay!r}")
    check_forget_bias("explain memory", config.forget_bias)
    device = resolve_device(config.device)
    baseline = 1.0 / 6.0
    # at the baseline: MSE >= 1/6 - 3 sd, sd of the baseline's MSE estimate on test_size sequences
    tolerance = 3 * BASELINE_SPREAD / math.sqrt(config.test_size)
    result = MemoryHorizon(config, baseline)
    with cpu_threads(config.threads):  # small models: one thread is as fast, and never stalls on a busy machine
        for cell in config.cells:
            for delay in config.delays:
                task = AddingProblem(delay, config.batch_size, config.batches_per_epoch, seed=config.seed,
                                     lead=config.lead, vary=True)
                torch.manual_seed(config.seed)
                model = task_model(cell, task, config.hidden_size, config.forget_bias).to(device)
                fitted = train(model, task, config.epochs, config.lr, config.seed, config.device, config.quiet,
                               clip=config.clip)
                model.eval()
                x, y = task.sample(config.test_size, torch.Generator().manual_seed(config.seed + 99))
                with torch.no_grad():
                    mse = task.loss(model, (x, y))[0].item()
                result.rows.append({"cell": cell, "delay": delay, "mse": mse, "relative_mse": mse / baseline,
                                    "at_baseline": mse >= baseline - tolerance,
                                    "train_seconds": round(fitted["seconds"], 2)})
    return result
