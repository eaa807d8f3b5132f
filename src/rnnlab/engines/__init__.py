"""Engines: interchangeable ways to run one recurrent layer-direction over a whole sequence.

An engine takes the time-major input of one layer and one direction, the initial state and that
layer-direction's weights, and returns every step's output and the final state::

    engine.run(mode, x, hx, weights, lengths=None) -> (output, hx_n)

Symbols, used across every engine:
    L: sequence length, N: batch, H_in: input features, H: hidden units, G: gate rows
    (H for an RNN, 3H for a GRU, 4H for an LSTM).

Args of ``run``:
    mode: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` or ``"gru"``.
    x: ``(L, N, H_in)``.
    hx: ``(N, H)``; for ``"lstm"`` a pair ``(h, c)`` of ``(N, H)``.
    weights: ``(w_ih (G, H_in), w_hh (G, H), b_ih (G,) or None, b_hh (G,) or None)``.
    lengths: ``None`` when every sequence has length ``L``, else an int64 CPU tensor ``(N,)``: step ``t`` of
        sequence ``n`` is real when ``t < lengths[n]``; past its end a sequence's state stays put and its
        output is zero.

Returns ``output (L, N, H)`` and ``hx_n`` shaped like ``hx`` (the state after each sequence's last real step).

An engine may also run a whole stack — every layer and direction, with the dropout between layers — in
one call (``run_stack``, as ``torch.nn`` hands the stack to cuDNN); one that cannot returns ``None`` and
the layer calls ``run`` per layer-direction.

Engines register themselves here; :func:`select` resolves a name (or ``"auto"``) to an engine that
supports the call. ``"auto"`` asks each registered engine, fastest first, whether it *wins* for this
device, dtype and size (:meth:`Engine.wins`), and falls back to ``"torch"``.
"""

from __future__ import annotations

from typing import Protocol

import torch

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")


class Engine(Protocol):
    """What an engine provides; see the module docstring for ``run``'s contract."""

    name: str

    def supports(self, mode: str, x: torch.Tensor, lengths: torch.Tensor | None) -> bool:
        """Whether this engine can run the call at all (device, dtype, mode, variable lengths)."""

    def wins(self, mode: str, x: torch.Tensor, hidden_size: int) -> bool:
        """Whether ``auto`` should pick this engine: only where ``rnnlab bench layer`` shows it is faster."""

    def run(self, mode, x, hx, weights, lengths=None):
        """Run one layer-direction over the whole sequence."""

    def run_stack(self, mode, x, hx, flat_weights, has_biases, num_layers, dropout, training, bidirectional,
                  lengths=None):
        """Run every layer and direction in one call, or return ``None`` where this engine runs layer by layer.

        ``x`` ``(L, N, H_in)``; ``hx`` ``(num_layers * D, N, H)`` (a pair for ``"lstm"``); ``flat_weights`` every
        layer-direction's ``w_ih, w_hh[, b_ih, b_hh]`` in ``torch.nn``'s order; ``lengths`` as for ``run``.
        Returns ``(output (L, N, D * H), hx_n)`` like ``hx``.
        """


_REGISTRY: dict[str, Engine] = {}
_AUTO_ORDER: list[str] = []


def register(engine: Engine, auto_priority: bool = False) -> Engine:
    """Add ``engine`` under ``engine.name``; with ``auto_priority`` it is asked first by ``auto``."""
    _REGISTRY[engine.name] = engine
    if auto_priority:
        _AUTO_ORDER.insert(0, engine.name)
    return engine


def names() -> list[str]:
    """The registered engine names, plus ``"auto"``."""
    return ["auto", *sorted(_REGISTRY)]


def get(name: str) -> Engine:
    """The engine registered as ``name``; an unknown name is a ``ValueError`` listing the valid ones."""
    if name not in _REGISTRY:
        raise ValueError(f"engine: unknown engine '{name}'; choose one of {', '.join(names())}")
    return _REGISTRY[name]


def select(name: str, mode: str, x: torch.Tensor, hidden_size: int, lengths: torch.Tensor | None = None) -> Engine:
    """Resolve ``name`` (or ``"auto"``) to an engine for this call.

    A named engine that cannot run the call falls back to ``torch`` (the reference for speed), so a
    model built with ``engine="fused"`` still runs where that engine is unavailable.
    """
    if name == "auto":
        for candidate in _AUTO_ORDER:
            engine = _REGISTRY[candidate]
            # wins first: it is cheap, where supports may load an engine's code (the fused kernels: numba)
            if engine.wins(mode, x, hidden_size) and engine.supports(mode, x, lengths):
                return engine
        return _REGISTRY["torch"]
    engine = get(name)
    if engine.supports(mode, x, lengths):
        return engine
    return _REGISTRY["torch"]


def _register_builtin() -> None:
    from rnnlab.engines import loop, native

    register(loop.LoopEngine())
    register(native.TorchEngine())
    try:
        from rnnlab.engines.fused import engine as fused_cpu
    except ImportError:  # not built yet
        return
    # registered even where numba is missing: its supports() then says no and select() falls back
    register(fused_cpu.FusedCPUEngine(), auto_priority=True)


_register_builtin()
