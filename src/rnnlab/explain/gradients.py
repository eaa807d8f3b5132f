"""Backpropagation through time made visible: how ``‖∂L/∂h_t‖`` falls (or not) with the distance from the loss.

A model reads a delayed-recall sequence (:class:`~rnnlab.explain.tasks.DelayedRecall`) and is scored on
its last step ``T``. The gradient reaching an earlier state ``h_{T-k}`` is a product of ``k`` step
Jacobians; for a vanilla RNN each is ``diag(1 - h_t²) W_hh``, so its size goes roughly like
``ρ(W_hh)^k`` — it vanishes when the spectral radius ``ρ < 1`` and can explode when ``ρ > 1``. The LSTM's
cell state is carried by addition (``c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t``), so along it the gradient is
scaled by the forget gate ``f_t`` only, which training can hold near 1.

:func:`gradient_flow` measures ``‖∂L/∂h_{T-k}‖`` for every ``k`` — reading the gradients straight off the
graph's own ``h_t`` tensors (:meth:`rnnlab.nn.RNN.trace` + ``retain_grad()``) — for RNN, LSTM and GRU of the
same size, at initialisation and after training on delayed recall, and the spectral radius of each
``W_hh`` block.

Symbols: ``N`` batch, ``L = T + 1`` steps (``t = 0..T``), ``H`` hidden units, ``K`` recall symbols.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnlab.config import to_dict
from rnnlab.explain.tasks import DelayedRecall, train
from rnnlab.models import CELLS, SequenceRegressor

DISTANCES = (10, 50, 100)  # the k at which metrics.json reports ‖∂L/∂h_{T-k}‖ / ‖∂L/∂h_T‖
GATE_BLOCKS = {"rnn": ("hh",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


@dataclass(frozen=True)
class GradientsConfig:
    """Settings of ``rnnlab explain gradients``."""

    cells: tuple | list = CELLS  # cell types compared, each the same size
    hidden_size: int = 32  # H
    delay: int = 100  # blank steps of the recall task (sequence length delay + 2)
    num_symbols: int = 4  # K
    epochs: int = 12  # training epochs (the same for every cell)
    batches_per_epoch: int = 50  # fresh random batches per epoch (an evaluation after each)
    batch_size: int = 64  # sequences per batch
    lr: float = 0.01  # Adam learning rate
    probe_size: int = 256  # sequences the gradients are measured on
    seed: int = 0  # seeds initialisation, data and training
    device: str = "auto"  # "auto" (cuda if available), "cpu" or "cuda"
    quiet: bool = False  # no progress bar


def last_layer_gradients(model: SequenceRegressor, x: Tensor, y: Tensor) -> tuple[list[Tensor], Tensor]:
    """``∂L/∂h_t`` of the last recurrent layer for every step, ``L = cross_entropy(fc(h_T), y)``.

    Runs the layer with :meth:`~rnnlab.nn.RNN.trace`, calls ``retain_grad()`` on each traced ``h_t`` (the
    graph's own nodes) and backpropagates once. The model's parameter gradients are left set.

    Shape:
        x ``(N, L, K+1)``, y ``(N,)`` -> ``L`` gradients of ``(N, H)``, and the scalar loss.
    """
    device = next(model.parameters()).device
    out, _, states = model.rnn.trace(x.to(device))  # out (N, L, H); states[layer][direction][t]
    h = [s[0] if isinstance(s, tuple) else s for s in states[-1][0]]  # (h_t, c_t) pairs for an LSTM
    for h_t in h:
        h_t.retain_grad()
    loss = nn.functional.cross_entropy(model.fc(out[:, -1]), y.to(device))  # (N, H) -> (N, K) -> ()
    model.zero_grad(set_to_none=True)
    loss.backward()
    return [h_t.grad for h_t in h], loss.detach()


def spectral_radius(matrix: Tensor) -> float:
    """``ρ(W) = max |λ_i(W)|`` of a square matrix."""
    return torch.linalg.eigvals(matrix.detach().double().cpu()).abs().max().item()


def gate_spectral_radii(layer: nn.Module, cell: str) -> dict[str, float]:
    """``ρ`` of each ``(H, H)`` block of the first layer's ``W_hh`` (gates i,f,g,o / r,z,n; one block for RNN)."""
    w_hh = layer.weight_hh_l0  # (G, H)
    blocks = w_hh.chunk(len(GATE_BLOCKS[cell]), dim=0)
    return {name: spectral_radius(block) for name, block in zip(GATE_BLOCKS[cell], blocks)}


@dataclass
class GradientFlow:
    """What :func:`gradient_flow` measured.

    ``norms[state][cell][k]`` is ``‖∂L/∂h_{T-k}‖`` (Frobenius over the probe batch, computed in float64 so
    that tiny values do not underflow to 0) for ``k = 0..T``,
    with ``state`` ``"init"`` or ``"trained"``; ``ratios[cell][state][k]`` is that divided by the ``k = 0``
    value, for ``k`` in :data:`DISTANCES` (``None`` where the sequence is shorter).
    """

    config: GradientsConfig
    norms: dict = field(default_factory=dict)
    ratios: dict = field(default_factory=dict)
    spectral: dict = field(default_factory=dict)  # [cell][state][block] -> ρ
    accuracy: dict = field(default_factory=dict)  # [cell][state] -> recall accuracy on the validation set
    train_seconds: dict = field(default_factory=dict)  # [cell] -> seconds
    chance_accuracy: float = 0.0

    def ratio(self, cell: str, state: str, k: int) -> float | None:
        return self.ratios[cell][state].get(str(k))

    def lstm_over_rnn(self, k: int = 50, state: str = "trained") -> float | None:
        """LSTM's gradient ratio at distance ``k`` divided by the vanilla RNN's (``None`` if either is missing)."""
        if "lstm" not in self.ratios or "rnn" not in self.ratios:
            return None
        lstm, rnn = self.ratio("lstm", state, k), self.ratio("rnn", state, k)
        if lstm is None or rnn is None or rnn == 0:
            return None
        return lstm / rnn

    def table(self) -> list[dict]:
        rows = []
        for cell in self.config.cells:
            for state in ("init", "trained"):
                row = {"cell": cell, "state": state, "accuracy": self.accuracy[cell][state]}
                row.update({f"ratio k={k}": self.ratio(cell, state, k) for k in DISTANCES})
                row.update({f"rho({b})": v for b, v in self.spectral[cell][state].items()})
                rows.append(row)
        return rows

    def metrics(self) -> dict:
        return {"task": "explain-gradients", "delay": self.config.delay, "hidden_size": self.config.hidden_size,
                "ratio": self.ratios, "spectral_radius": self.spectral, "accuracy": self.accuracy,
                "chance_accuracy": self.chance_accuracy, "train_seconds": self.train_seconds,
                "lstm_over_rnn_ratio_k50_trained": self.lstm_over_rnn(50, "trained"),
                "lstm_over_rnn_ratio_k50_init": self.lstm_over_rnn(50, "init")}

    def plot(self):
        """Two log-scale panels (at init, after training): ``‖∂L/∂h_{T-k}‖ / ‖∂L/∂h_T‖`` against ``k``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, state in zip(axes, ("init", "trained")):
            for cell in self.config.cells:
                norms = self.norms[state][cell]
                rel = [n / norms[0] if norms[0] > 0 else math.nan for n in norms]
                ax.semilogy(range(len(rel)), [r if r > 0 else math.nan for r in rel], label=cell.upper())
            ax.set_title(f"{'at initialisation' if state == 'init' else 'after training'} (delay {self.config.delay})")
            ax.set_xlabel("k, steps back from the loss")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel(r"$\|\partial L/\partial h_{T-k}\| \;/\; \|\partial L/\partial h_T\|$")
        axes[0].legend()
        fig.tight_layout()
        return fig

    def summary(self) -> str:
        lines = [f"gradient ratio ‖∂L/∂h_(T-k)‖ / ‖∂L/∂h_T‖, delayed recall, delay {self.config.delay}, "
                 f"hidden {self.config.hidden_size} (chance accuracy {self.chance_accuracy:.2f})",
                 f"{'cell':<5} {'state':<8} {'acc':>6} " + " ".join(f"{'k=' + str(k):>10}" for k in DISTANCES)
                 + "  spectral radius of W_hh blocks"]
        for cell in self.config.cells:
            for state in ("init", "trained"):
                ratios = " ".join(_fmt(self.ratio(cell, state, k)).rjust(10) for k in DISTANCES)
                rho = ", ".join(f"{b} {v:.2f}" for b, v in self.spectral[cell][state].items())
                lines.append(f"{cell:<5} {state:<8} {self.accuracy[cell][state]:>6.3f} {ratios}  {rho}")
        ratio = self.lstm_over_rnn(50, "trained")
        if ratio is not None:
            lines.append(f"LSTM / RNN ratio at k=50 after training: {ratio:.3g}")
        return "\n".join(lines)

    def save(self, run_dir) -> Path:
        from rnnlab.rundir import write_run
        from rnnlab.report import Section

        text = ("Each curve is the size of the gradient of the loss (read at the last step T) with respect to "
                "the hidden state k steps earlier, divided by its size at k = 0, on delayed-recall sequences. "
                "A vanilla RNN multiplies by diag(1 - h²) W_hh at every step back, so its curve falls roughly "
                "like ρ(W_hh)^k; the LSTM's cell state passes the gradient on scaled only by the forget gate.")
        sections = [Section("Gradient flow through time", text, figures=["gradients.png"]),
                    Section("Ratios and spectral radii", table=self.table())]
        return write_run(run_dir, "rnnlab explain gradients", {"command": "explain gradients", **to_dict(self.config)},
                         self.metrics(), {"gradients.png": self.plot()}, sections)


def gradient_flow(config: GradientsConfig = GradientsConfig()) -> GradientFlow:
    """Measure ``‖∂L/∂h_{T-k}‖`` for each cell at initialisation and after training on delayed recall."""
    from rnnlab.distributed import resolve_device

    for cell in config.cells:
        if cell not in CELLS:
            raise ValueError(f"explain gradients: unknown cell '{cell}'; choose from {', '.join(CELLS)}")
    device = resolve_device(config.device)
    task = DelayedRecall(config.delay, config.num_symbols, config.batch_size, config.batches_per_epoch,
                         seed=config.seed)
    probe_x, probe_y = task.sample(config.probe_size, torch.Generator().manual_seed(config.seed + 7))
    result = GradientFlow(config, norms={"init": {}, "trained": {}}, chance_accuracy=task.chance_accuracy)
    for cell in config.cells:
        torch.manual_seed(config.seed)
        model = SequenceRegressor(task.input_size, config.hidden_size, config.num_symbols, cell=cell).to(device)
        result.ratios[cell], result.spectral[cell], result.accuracy[cell] = {}, {}, {}
        for state in ("init", "trained"):
            if state == "trained":
                result.train_seconds[cell] = train(model, task, config.epochs, config.lr, config.seed,
                                                   config.device, config.quiet)["seconds"]
            model.eval()
            # measured in float64 on a copy: float32 underflows to 0 below ~1e-45, and these ratios go lower
            grads, _ = last_layer_gradients(copy.deepcopy(model).double(), probe_x.double(), probe_y)
            norms = [g.norm().item() for g in reversed(grads)]  # index k: ‖∂L/∂h_{T-k}‖
            result.norms[state][cell] = norms
            result.ratios[cell][state] = {str(k): (norms[k] / norms[0] if k < len(norms) and norms[0] > 0 else None)
                                          for k in DISTANCES}
            result.spectral[cell][state] = gate_spectral_radii(model.rnn, cell)
            result.accuracy[cell][state] = task.accuracy(model)
    return result


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"
