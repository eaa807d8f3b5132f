"""The ``fused`` engine: the whole recurrence of one layer-direction in one compiled call, on the CPU.

Small recurrent layers (hidden 20–256) spend their time in per-step framework dispatch, not arithmetic:
``torch.nn.RNN`` on a CPU runs a native loop of small operators, each step a handful of dispatches and
allocations. This engine does what can be done in bulk in bulk, with torch — the input projection
``W_ih x_t + b_ih`` of every step as one matrix product, and ``dW_hh = Σ_t dpre_tᵀ h_{t-1}`` as one
matrix product after the backward pass — and runs only the recurrence itself, forward and backward
through time, in numba kernels (:mod:`rnnlab.engines.fused_kernels`) with no dispatch per step. The two
are joined by a ``torch.autograd.Function``, so the layer trains like any other; double backward
(``create_graph=True``) is refused with a ``RuntimeError`` rather than silently wrong.

Why numba. The engine must install from wheels on a user's machine with no compiler. numba ships as
wheels, compiles the kernels at first use and caches them on disk (``cache=True``: a later process loads
them in well under a second). A C++ extension would be the fastest to write against ATen but needs a
compiler at install time (``torch.utils.cpp_extension.load``), or prebuilt wheels per platform and torch
version. ``torch.jit.script`` still dispatches every operator of every step (it removes Python overhead,
not the per-op cost that dominates here), and ``torch.compile`` on CPU needs a C++ compiler for its
inductor backend and recompiles for every new length. Plain torch is the ``torch`` engine itself.

Inside the kernels, ``h @ W_hhᵀ`` per step: numba's ``np.dot`` would call BLAS but needs SciPy, which is
not a dependency, so the kernels use a plain loop ordered so that LLVM vectorises it without
``fastmath`` (:func:`fused_kernels._add_matvec`). Measured per step for batch 64 (fp32, one core, loaded
machine): hand loop 3.9 µs at hidden 20, 13.8 µs at 64, ~700 µs at 256; torch's ``addmm`` (MKL/oneDNN,
one thread) 3.9, 9.8 and 181 µs. So the loop matches BLAS at hidden 20, is within 1.4× at 64 and loses
at 256, where the engine leaves the work to torch (see :meth:`FusedCPUEngine.wins`). (The RNN kernels
have since moved to a product over the whole batch per step, four rows per pass over a padded ``W_hhᵀ``:
0.57–0.86× the layer time at batch 16–256; see :mod:`rnnlab.engines.fused_kernels`.) The other half of
the time was the nonlinearity: libm's ``tanh`` costs 18 ns a call, a vectorised rational fp32 tanh
0.6 ns. Threads: a ``prange`` over the batch (rows are independent through time) was 3–100× *slower*
on the shared 2-core machine (OpenMP threads waiting on busy cores), so the kernels are serial and the
torch matrix products around them use torch's own threads.

numba is imported at the first call that could use it. Where it is missing or fails to import (or the
tensors are not fp32/fp64 on the CPU), :meth:`FusedCPUEngine.supports` says no and
:func:`rnnlab.engines.select` falls back to the ``torch`` engine. Variable lengths are
supported: past a sequence's end its state stays put and its output is zero.

Symbols: ``L`` length, ``N`` batch, ``H_in`` input features, ``H`` hidden units, ``G`` gate rows.
"""

from __future__ import annotations

import importlib

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

_NOT_LOADED = object()
# the numba kernels module, imported at the first call that could use it (numba adds half a second to
# an import); None where numba is missing or fails to import (e.g. built for another numpy)
kernels = _NOT_LOADED


def _kernels():
    global kernels
    if kernels is _NOT_LOADED:
        try:
            loaded = importlib.import_module("rnnlab.engines.fused_kernels")
        except ImportError:
            loaded = None
        kernels = loaded
    return kernels


_DTYPES = (torch.float32, torch.float64)
_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}


def _np(t: Tensor) -> np.ndarray:
    """A numpy view of a contiguous CPU tensor, detached from autograd (no copy when already contiguous)."""
    return t.detach().contiguous().numpy()


def _lengths(lengths: Tensor | None, seq_len: int, batch: int) -> np.ndarray:
    if lengths is None:
        return np.full(batch, seq_len, dtype=np.int64)
    return lengths.to(torch.int64).contiguous().numpy()


def _forward(mode: str, x_proj: Tensor, h0: Tensor, c0: Tensor | None, w_hh: Tensor, b_hh: Tensor,
             lengths: np.ndarray):
    """Run the forward kernel of ``mode``. Returns ``(out, h_n, c_n or None, saved)``; ``saved`` is what
    the backward kernel needs. ``x_proj`` ``(L, N, G)``, states ``(N, H)``, ``w_hh`` ``(G, H)``."""
    seq_len, batch, _ = x_proj.shape
    hidden = w_hh.shape[1]
    new = lambda *shape: torch.empty(shape, dtype=x_proj.dtype)  # noqa: E731
    out, hs = new(seq_len, batch, hidden), new(seq_len + 1, batch, hidden)
    args = (_np(x_proj), _np(h0))
    # (G, H) -> (H, G), rows contiguous for the kernels' matrix-vector loop. Not cached across calls: a
    # weight changed through ``.data`` keeps its version counter, and a stale copy would be silently wrong
    w_hh_t = _np(w_hh.detach().t())
    if mode in ("rnn_tanh", "rnn_relu"):
        kernels.rnn_forward(*args, w_hh_t, _np(b_hh), lengths, mode == "rnn_relu", out.numpy(), hs.numpy())
        return out, hs[seq_len].clone(), None, (hs,)
    if mode == "gru":
        gates, h_proj_n = new(seq_len, batch, 3 * hidden), new(seq_len, batch, hidden)
        kernels.gru_forward(*args, w_hh_t, _np(b_hh), lengths, out.numpy(), hs.numpy(), gates.numpy(),
                            h_proj_n.numpy())
        return out, hs[seq_len].clone(), None, (hs, gates, h_proj_n)
    cs, gates = new(seq_len + 1, batch, hidden), new(seq_len, batch, 4 * hidden)
    kernels.lstm_forward(*args, _np(c0), w_hh_t, _np(b_hh), lengths, out.numpy(), hs.numpy(), cs.numpy(),
                         gates.numpy())
    return out, hs[seq_len].clone(), cs[seq_len].clone(), (hs, cs, gates)


class _FusedRecurrence(torch.autograd.Function):
    """``(x_proj, h0, c0, w_hh, b_hh) -> (out, h_n[, c_n])`` for one layer-direction, gradients by BPTT.

    ``x_proj = W_ih x_t + b_ih`` is computed outside (autograd carries its gradient to ``x``, ``W_ih``,
    ``b_ih``); ``c0`` is ``None`` except for an LSTM; ``b_hh`` is zeros (not requiring grad) without bias.
    """

    @staticmethod
    def forward(ctx, mode, x_proj, h0, c0, w_hh, b_hh, lengths):
        out, h_n, c_n, saved = _forward(mode, x_proj, h0, c0, w_hh, b_hh, lengths)
        ctx.mode, ctx.lengths = mode, lengths
        ctx.save_for_backward(w_hh, *saved)
        return (out, h_n) if c_n is None else (out, h_n, c_n)

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn=None):
        # create_graph=True runs the backward with grad mode on: its result would silently miss the
        # recurrence's second derivatives, so refuse
        if torch.is_grad_enabled():
            raise RuntimeError("fused engine: double backward (create_graph=True) is not supported; "
                               "build the layer with engine='torch' or engine='loop'")
        return _FusedRecurrence._backward(ctx, d_out, d_hn, d_cn)

    @staticmethod
    @once_differentiable
    def _backward(ctx, d_out, d_hn, d_cn):
        mode, lengths = ctx.mode, ctx.lengths
        w_hh, hs, *rest = ctx.saved_tensors
        seq_len, batch, hidden = d_out.shape
        new = lambda *shape: torch.empty(shape, dtype=d_out.dtype)  # noqa: E731
        d_h0 = new(batch, hidden)
        d_c0 = None
        grads = (_np(w_hh), _np(hs)) if mode != "lstm" else (_np(w_hh),)
        if mode in ("rnn_tanh", "rnn_relu"):
            d_x = new(seq_len, batch, hidden)
            kernels.rnn_backward(*grads, _np(d_out), _np(d_hn), lengths, mode == "rnn_relu", d_x.numpy(),
                                 d_h0.numpy())
            d_h = d_x
        elif mode == "gru":
            gates, h_proj_n = rest
            d_x, d_h = new(seq_len, batch, 3 * hidden), new(seq_len, batch, 3 * hidden)
            kernels.gru_backward(*grads, _np(gates), _np(h_proj_n), _np(d_out), _np(d_hn), lengths,
                                 d_x.numpy(), d_h.numpy(), d_h0.numpy())
        else:
            cs, gates = rest
            d_x, d_c0 = new(seq_len, batch, 4 * hidden), new(batch, hidden)
            kernels.lstm_backward(*grads, _np(cs), _np(gates), _np(d_out), _np(d_hn), _np(d_cn), lengths,
                                  d_x.numpy(), d_h0.numpy(), d_c0.numpy())
            d_h = d_x
        d_w_hh = d_b_hh = None
        if ctx.needs_input_grad[4] or ctx.needs_input_grad[5]:
            d_h_flat = d_h.reshape(seq_len * batch, -1)  # (L*N, G)
            # dW_hh = Σ_t dpre_tᵀ h_{t-1}                                  -> (G, H)
            d_w_hh = d_h_flat.T @ hs[:seq_len].reshape(seq_len * batch, hidden)
            d_b_hh = d_h_flat.sum(0)
        return None, d_x, d_h0, d_c0, d_w_hh, d_b_hh, None


class FusedCPUEngine:
    """numba kernels for the recurrence; see the module docstring."""

    name = "fused"

    def supports(self, mode: str, x: Tensor, lengths: Tensor | None) -> bool:
        return mode in _GATES and x.device.type == "cpu" and x.dtype in _DTYPES and _kernels() is not None

    def wins(self, mode: str, x: Tensor, hidden_size: int) -> bool:
        """The region where ``rnnlab bench layer`` measured fused faster than ``torch.nn`` (fp32, CPU).

        Measured 2026-11-25 on the idle 2-core development machine (load average < 1.5), torch's default 2
        threads, ``rnnlab bench layer --cell rnn|gru|lstm`` (JSON in ``benchmarks/results/layer-*-cpu.json``):
        speedup of forward + backward over ``torch.nn`` in the same run, length 50.

        =========  =========  =========  =========  =========  =========
        RNN        hidden 20  hidden 64  hidden 128 hidden 256 hidden 512
        =========  =========  =========  =========  =========  =========
        batch 1    4.60×      4.25×      4.22×      5.08×      2.47×
        batch 16   4.77×      3.34×      2.15×      1.43×      1.04×
        batch 64   2.95×      1.83×      1.36×      0.97×      0.75×
        batch 256  1.59×      1.14×      0.96×      0.78×      0.61×
        GRU
        batch 1    12.2×      12.1×      7.60×      4.40×      2.72×
        batch 16   6.35×      2.84×      1.58×      0.81×      0.77×
        batch 64   2.37×      1.18×      0.83×      0.54×      0.59×
        batch 256  1.03×      0.76×      0.57×      0.48×      0.43×
        =========  =========  =========  =========  =========  =========

        (RNN rows: after the batched kernels, 13:42 UTC; three more runs at batch 64 gave 3.11×, 3.05×,
        3.12× at hidden 20 and 1.89×, 1.86×, 1.91× at hidden 64; GRU rows: 13:15 UTC.) Where the win is within
        noise (≤ 1.2×: RNN 64 at batch 256, RNN 512 at batch 16, GRU 64 at batch 64) torch keeps it. LSTM: 0.95–1.13× at batch 1 and 0.5–0.6× at batch 64 (torch runs it through
        oneDNN), so never. Earlier runs on the loaded machine, by length: 1 step 0.63–0.71× (generation: the
        per-call bookkeeping outweighs the saving), 4 steps 0.86–1.07×, 16 steps 1.2–2.2×. fp64 was not timed.
        """
        seq_len, batch = x.shape[0], x.shape[1]
        if x.dtype != torch.float32 or seq_len < 8:
            return False
        if mode in ("rnn_tanh", "rnn_relu"):
            return batch == 1 and hidden_size <= 512 or batch <= 16 and hidden_size <= 256 or (
                batch <= 64 and hidden_size <= 128) or batch <= 256 and hidden_size <= 32
        if mode == "gru":
            return batch == 1 and hidden_size <= 512 or batch <= 16 and hidden_size <= 128 or (
                batch <= 64 and hidden_size <= 32)
        return False

    def run(self, mode, x, hx, weights, lengths=None):
        """One layer-direction; see :mod:`rnnlab.engines`."""
        w_ih, w_hh, b_ih, b_hh = weights
        seq_len, batch, _ = x.shape
        # x_proj = W_ih x_t + b_ih for every step at once          (L, N, H_in) -> (L, N, G)
        x_proj = torch.nn.functional.linear(x, w_ih, b_ih).contiguous()
        if b_hh is None:
            b_hh = w_hh.new_zeros(w_hh.shape[0])
        h0, c0 = (hx if mode == "lstm" else (hx, None))
        lengths = _lengths(lengths, seq_len, batch)
        inputs = (x_proj, h0, c0, w_hh, b_hh)
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
            result = _FusedRecurrence.apply(mode, *inputs, lengths)
        else:  # inference (generation): no graph to record, so skip the autograd machinery
            out, h_n, c_n, _ = _forward(mode, *inputs, lengths)
            result = (out, h_n) if c_n is None else (out, h_n, c_n)
        return (result[0], (result[1], result[2])) if mode == "lstm" else result
