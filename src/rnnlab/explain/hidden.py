"""The hidden state, step by step: every layer's ``h_t`` for one input sequence.

An RNN layer carries a state through time, ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, with the
same weights at every step; a second layer reads the first layer's ``h_t`` as its input. :func:`hidden_states`
runs a model's recurrent layer with :meth:`rnnlab.nn.RNN.trace`, which returns the graph's own ``h_t``
tensors for every layer, and :class:`HiddenStates` draws them as a heat map (time × unit) and as traces of a
few units against the input, with each tensor's shape spelled out.

By default (:func:`default_model`) the model is the lesson's two-layer sine model (``MultiLayerRNN``:
vanilla RNN, hidden 20), trained on the spot on windows of 20 values, and the input is the lesson's whole
sine (100 values) read in one go. ``--model RUN_DIR`` traces a saved forecaster on its last window instead.

Symbols: ``N`` batch (1 here), ``L`` length, ``H_in`` input features, ``H`` hidden units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnlab.explain.lookback import LookbackConfig, train_sine_model
from rnnlab.explain.tasks import lesson_sine
from rnnlab.models import SequenceRegressor


@dataclass(frozen=True)
class HiddenConfig:
    """Settings of ``rnnlab explain hidden`` (the default model; ignored with ``--model``)."""

    num_layers: int = 2  # the lesson's MultiLayerRNN
    hidden_size: int = 20  # the lesson's
    lookback: int = 20  # windows the default model is trained on
    epochs: int = 200  # full-batch training epochs of the default model
    units: int = 4  # unit traces drawn per layer
    seed: int = 42  # the lesson's seed
    device: str = "auto"  # "auto" (cuda if available), "cpu" or "cuda"
    quiet: bool = False  # no progress bar


@dataclass
class HiddenStates:
    """Every layer's states for one input: ``states[l]`` is ``(L, D*H)`` (directions side by side).

    ``input`` is ``(L, H_in)``; ``source`` says where model and input came from; ``shapes`` spells out
    each tensor's shape.
    """

    input: np.ndarray
    states: list
    shapes: list = field(default_factory=list)
    source: str = ""
    units: int = 4

    def metrics(self) -> dict:
        return {"task": "explain-hidden", "source": self.source, "length": int(self.input.shape[0]),
                "layers": [{"layer": i, "units": int(s.shape[1]), "mean_abs": float(np.abs(s).mean()),
                            "max_abs": float(np.abs(s).max()),
                            "final_state": s[-1].round(6).tolist()} for i, s in enumerate(self.states)],
                "shapes": self.shapes}

    def plot(self):
        """One row per layer: heat map of ``h_t`` (unit × time), and ``units`` traces beside the input."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = len(self.states)
        fig, axes = plt.subplots(rows, 2, figsize=(12, 3.2 * rows), squeeze=False)
        steps = np.arange(self.input.shape[0])
        for layer, states in enumerate(self.states):
            ax = axes[layer][0]
            image = ax.imshow(states.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_title(f"layer {layer}: h_t, {states.shape[0]} steps × {states.shape[1]} units")
            ax.set_xlabel("time step t")
            ax.set_ylabel("unit")
            fig.colorbar(image, ax=ax)
            ax = axes[layer][1]
            ax.plot(steps, self.input[:, 0], color="black", lw=2, label="input x_t")
            for unit in range(min(self.units, states.shape[1])):
                ax.plot(steps, states[:, unit], lw=1, label=f"unit {unit}")
            ax.set_title(f"layer {layer}: a few units against the input")
            ax.set_xlabel("time step t")
            ax.legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        return fig

    def summary(self) -> str:
        return "\n".join([f"hidden states of {self.source}", *self.shapes])

    def save(self, run_dir, config: dict | None = None):
        from rnnlab.rundir import write_run
        from rnnlab.report import Section

        text = ("Each heat map shows one layer's hidden state h_t: one column per time step, one row per unit. "
                "The state is the only thing carried from one step to the next. Shapes:\n\n"
                + "\n\n".join(self.shapes))
        sections = [Section("Hidden states", text, figures=["hidden.png"])]
        return write_run(run_dir, "rnnlab explain hidden", {"command": "explain hidden", **(config or {})},
                         self.metrics(), {"hidden.png": self.plot()}, sections)


def hidden_states(model: SequenceRegressor, x: Tensor, source: str = "", units: int = 4) -> HiddenStates:
    """Trace every layer's ``h_t`` of ``model.rnn`` for one sequence ``x``.

    Args:
        model: a :class:`~rnnlab.models.SequenceRegressor` (its layer is batch-first).
        x: one sequence ``(L, H_in)`` or a batch of one ``(1, L, H_in)``.
        source: a description of model and input, for the report.
        units: unit traces drawn per layer.
    """
    layer = model.rnn
    if x.dim() == 2:
        x = x.unsqueeze(0)  # (L, H_in) -> (1, L, H_in)
    if x.dim() != 3 or x.shape[0] != 1 or x.shape[2] != layer.input_size:
        raise ValueError(f"explain hidden: the input must be one sequence (L, {layer.input_size}) or "
                         f"(1, L, {layer.input_size}), got {tuple(x.shape)}")
    device = next(model.parameters()).device
    with torch.no_grad():
        output, h_n, trace = layer.trace(x.to(device))  # trace[layer][direction][t]: (N, H)
    per_layer = []
    for directions in trace:
        steps = [[s[0] if isinstance(s, tuple) else s for s in direction] for direction in directions]
        if len(steps) == 2:  # the reverse direction's trace runs backwards in time
            steps[1] = steps[1][::-1]
        per_layer.append(torch.cat([torch.stack(d)[:, 0] for d in steps], dim=1).cpu().numpy())  # -> (L, D*H)
    n, length, h_in = x.shape
    hidden, d = layer.hidden_size, layer.num_directions
    h_n_shape = tuple((h_n[0] if isinstance(h_n, tuple) else h_n).shape)
    shapes = [f"input x: (N, L, H_in) = ({n}, {length}, {h_in}), batch_first: batch N={n}, length L={length}, "
              f"H_in={h_in} feature per step",
              *[f"layer {i}: L={length} tensors h_t of shape (N, H) = ({n}, {hidden})"
                + (f" per direction ({d} directions)" if d == 2 else "")
                + f"; stacked over time: (L, {'D*' if d == 2 else ''}H) = {s.shape}"
                + (f"; its input is layer {i - 1}'s h_t" if i else "")
                for i, s in enumerate(per_layer)],
              f"output: (N, L, {'D*' if d == 2 else ''}H) = {tuple(output.shape)}, the last layer's h_t at every t",
              f"h_n: (num_layers{' * D' if d == 2 else ''}, N, H) = {h_n_shape}, every layer's last h_t"]
    return HiddenStates(x[0].detach().cpu().numpy(), per_layer, shapes, source, units)


def default_model(config: HiddenConfig = HiddenConfig()) -> tuple[SequenceRegressor, Tensor, str]:
    """The lesson's two-layer sine model trained on the spot, and the lesson's sine as input ``(100, 1)``."""
    train_config = LookbackConfig(hidden_size=config.hidden_size, epochs=config.epochs, seed=config.seed,
                                  device=config.device, quiet=config.quiet)
    model, _ = train_sine_model(config.lookback, train_config, num_layers=config.num_layers)
    _, x = lesson_sine()
    source = (f"the lesson's sine model ({config.num_layers}-layer RNN, hidden {config.hidden_size}, trained "
              f"{config.epochs} epochs on windows of {config.lookback}) reading the lesson's whole sine, "
              "sin t for t = linspace(0, 20, 100)")
    return model, x.unsqueeze(-1), source


def saved_forecaster(run_dir: str | Path) -> tuple[SequenceRegressor, Tensor, str]:
    """The recurrent part of a saved forecaster and its last window, scaled as the model sees it ``(L, 1)``."""
    import rnnlab

    if hasattr(rnnlab, "load"):
        forecaster = rnnlab.load(run_dir)
    else:  # rnnlab.load not in this build: the forecaster's own loader
        from rnnlab.forecast.estimator import Forecaster

        forecaster = Forecaster.load(run_dir)
    model = getattr(forecaster, "model_", None)
    regressor = next((m for m in model.modules() if isinstance(m, SequenceRegressor)), None) if model else None
    history = getattr(forecaster, "history_", None)
    if regressor is None or history is None:
        raise ValueError(f"explain hidden: {run_dir} holds no recurrent forecaster to trace")
    values = history.to_numpy()[-forecaster.lookback_:]
    window = torch.as_tensor(np.asarray(forecaster.scaler_.transform(values), dtype=np.float32)).reshape(-1, 1)
    source = f"the forecaster in {run_dir}, reading its last window of {len(values)} (scaled) values"
    return regressor.eval(), window, source
