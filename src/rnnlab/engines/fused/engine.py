"""The ``fused`` engine: the whole recurrence of one layer-direction in one compiled call, on the CPU.

Small recurrent layers (hidden 20–256) spend their time in per-step framework dispatch, not arithmetic:
``torch.nn.RNN`` on a CPU runs a native loop of small operators, each step a handful of dispatches and
allocations. This engine does what can be done in bulk in bulk, with torch — the input projection
``W_ih x_t + b_ih (+ b_hh)`` of every step as one matrix product, and after the backward pass ``dx``,
``dW_ih``, ``dW_hh`` as one matrix product each — and runs only the recurrence itself, forward and
backward through time, in numba kernels (:mod:`rnnlab.engines.fused.kernels`) with no dispatch per step
(the Elman RNN's kernels also add ``b_hh`` and sum the bias gradient as they go). One
``torch.autograd.Function`` per layer-direction holds it together, so the layer trains like any other;
double backward (``create_graph=True``) is refused with a ``RuntimeError`` rather than silently wrong.
Where every row runs the whole length, the RNN's output is a view of the states the backward pass keeps
(no second copy); autograd then refuses an in-place change of it, as it does for cuDNN's layers.

Why numba. The engine must install from wheels on a user's machine with no compiler. numba ships as
wheels, compiles the kernels at first use and caches them on disk (``cache=True``: a later process loads
them in well under a second). A C++ extension would be the fastest to write against ATen but needs a
compiler at install time (``torch.utils.cpp_extension.load``), or prebuilt wheels per platform and torch
version. ``torch.jit.script`` still dispatches every operator of every step (it removes Python overhead,
not the per-op cost that dominates here), and ``torch.compile`` on CPU needs a C++ compiler for its
inductor backend and recompiles for every new length. Plain torch is the ``torch`` engine itself.

Inside the kernels, the product ``h_{t-1} W_hhᵀ`` of the whole batch per step goes to the BLAS that torch
is built with (MKL's ``sgemm_``, called by address: :mod:`rnnlab.engines.fused.blas`) where torch exports it
and the product is big enough to pay for the call (:func:`_gemm`), else to the kernels' own vectorised
loop; small products run on the kernel's own thread (:func:`_serial`: MKL would spread a 64 × 64 × 64
product over both cores, at 4.2–4.5 µs a step against 3.5 µs on one). The nonlinearity: libm's ``tanh``
costs 18 ns a call, the kernels' vectorised rational fp32 tanh about 0.3 ns.

Threads. The rows of a batch are independent through time, so the RNN's kernels split them into parts
and run one part on each of torch's own OpenMP threads (:mod:`rnnlab.engines.fused.team`, through
``GOMP_parallel``: the workers that run torch's parallel operators, handed a part in 1–2 µs), each part on
one MKL thread (:func:`_rnn_team`). Tried before and dropped: Python threads (the kernels release the GIL)
cost ~200 µs a hand-off on the first development VM and 16 µs at best, 129 µs in the median on the second,
and competed with torch's OpenMP worker, which spins on the other core for milliseconds after every
parallel operator (two half-batch kernels in two threads: 229–237 µs against 281 µs for one); numba's
``prange`` starts a second OpenMP runtime whose threads spin against torch's (``torch.nn`` itself got
1.3× slower in the same process). The GRU's and the LSTM's kernels still run on the calling thread.

Where the time goes (RNN, hidden 64, batch 64, length 50, forward + ``out.sum() + h_n.sum()`` + backward,
each part's fastest of 300 in-process calls on the 2-core development machine, 2026-12-02): the two
recurrence kernels ~210 and ~145 µs on two threads (~300 and ~250 on one: 50 products of 3.5 µs each, the
rest tanh and its derivative); the four bulk matrix products ~145 + 3 × ~130 µs (both cores, MKL);
Python, autograd and the loss ~300 µs; in all ~1.25–1.4 ms against ``torch.nn``'s ~4.2–4.6 ms. Tried and
dropped: MKL's packed GEMM for ``W_hh`` (``cblas_sgemm_pack``/``_compute``: 3.40 against 3.47 µs a step),
a buffer kept across calls for the projection and ``d_pre`` (no change), the projection on one thread
(no change to the kernel after it), MKL on one thread for everything (slower, 2.0–2.4× instead), tanh's
division as a reciprocal estimate (``arcp``: ``vrcpps`` and a Newton step, no faster here).

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

_NOT_LOADED = object()
# the numba kernels module, imported at the first call that could use it (numba adds half a second to
# an import); None where numba is missing or fails to import (e.g. built for another numpy)
kernels = _NOT_LOADED


# the Elman RNN's kernels (:mod:`rnnlab.engines.fused.rnn_kernels`), loaded with the others
rnn_kernels = None


def _kernels():
    global kernels, rnn_kernels
    if kernels is _NOT_LOADED:
        try:
            loaded = importlib.import_module("rnnlab.engines.fused.kernels")
            rnn_kernels = importlib.import_module("rnnlab.engines.fused.rnn_kernels")
        except ImportError:
            loaded = None
        kernels = loaded
    return kernels


_DTYPES = (torch.float32, torch.float64)
_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}


def _np(t: Tensor) -> np.ndarray:
    """A numpy view of a contiguous CPU tensor, detached from autograd (no copy when already contiguous)."""
    return t.detach().contiguous().numpy()


_FULL_LENGTHS: dict[tuple[int, int], np.ndarray] = {}


def _lengths(lengths: Tensor | None, seq_len: int, batch: int) -> tuple[np.ndarray, bool]:
    """Each row's length as int64, and whether every row runs the whole ``seq_len``. The all-full array of
    a shape is made once (a step of training calls the engine with the same shapes again and again)."""
    if lengths is None:
        full = _FULL_LENGTHS.get((seq_len, batch))
        if full is None:
            if len(_FULL_LENGTHS) > 64:
                _FULL_LENGTHS.clear()
            full = _FULL_LENGTHS[seq_len, batch] = np.full(batch, seq_len, dtype=np.int64)
        return full, True
    lengths = lengths.to(torch.int64).contiguous().numpy()
    return lengths, bool((lengths == seq_len).all())


# arrays of length 0 that tell a kernel "none" (no bias, no separate output), one per dtype
_NONE_1D = {torch.float32: np.empty(0, np.float32), torch.float64: np.empty(0, np.float64)}
_NONE_3D = {torch.float32: np.empty((0, 0, 0), np.float32), torch.float64: np.empty((0, 0, 0), np.float64)}


def _project(mode: str, x: Tensor, w_ih: Tensor, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor:
    """``W_ih x_t + b_ih`` of every step as one matrix product ``(L, N, H_in) -> (L, N, G)``, for the GRU and
    the LSTM (the RNN's is in :func:`_rnn_forward`); for the LSTM ``b_hh`` is added here too (it sits
    outside the recurrence's product), for the GRU it cannot be (``b_hn`` is scaled by the reset gate)
    and the kernels add it."""
    seq_len, batch, _ = x.shape
    x_flat = x.reshape(seq_len * batch, -1)
    if b_ih is None:
        x_proj = x_flat @ w_ih.t()
    else:
        bias = b_ih if mode == "gru" else b_ih + b_hh
        x_proj = torch.addmm(bias, x_flat, w_ih.t())
    return x_proj.view(seq_len, batch, -1)


# The BLAS call costs 1–2 µs however small the product; the kernels' own loop costs nothing to start.
# Per step, ``rnnlab``'s loop against MKL's ``sgemm_`` (one core, fp32, µs, loop/BLAS) measured:
# 20×(16 rows) 0.74/1.51, 20×32 1.98/2.01, 20×64 3.96/2.52; 32×16 1.44/2.17, 32×32 2.83/2.47; 64×8
# 1.56/2.00, 64×16 4.00/3.36, 64×64 16.2/6.6; 256×8 25.5/14.6 (hidden × rows, square weights).
# So BLAS from 8 rows and about 24k multiply-adds a step.
BLAS_MIN_ROWS, BLAS_MIN_WORK = 8, 24_000
# MKL threads a product as small as 64 × 64 × 64 over both cores, which costs more than it saves there;
# up to this many weights (inner × cols) the kernels keep it on their own thread (:func:`_serial`). Per
# step, one MKL thread against two (fp32, µs): 64 rows × 64 × 64 3.5/4.5, 256 × 64 × 64 13.8/15.0,
# 32 × 64 × 64 and 16 × 64 × 64 the same; 64 × 64 × 192 (GRU) 9.4/7.4, 64 × 128 × 128 12.2/10.2.
SERIAL_MAX_WEIGHTS = 64 * 64


# torch dtype -> ?gemm_ address; "threads" -> mkl_set_num_threads_local's; "team" -> the OpenMP entry
# points (:func:`rnnlab.engines.fused.team.team_addresses`); ("parts", torch dtype) -> the RNN's part functions
_ADDRESSES: dict = {}


def _address(key):
    """The addresses the kernels take (BLAS: :mod:`rnnlab.engines.fused.blas`; OpenMP:
    :mod:`rnnlab.engines.fused.team`), looked up once per process."""
    address = _ADDRESSES.get(key)
    if address is None:
        from rnnlab.engines.fused import blas  # imports numba: only once the kernels are loaded

        if key == "threads":
            address = blas.threads_address()
        elif key == "team":
            from rnnlab.engines.fused import team

            address = team.team_addresses()
        elif isinstance(key, tuple):
            address = rnn_kernels.part_addresses(np.float32 if key[1] == torch.float32 else np.float64)
        else:
            address = blas.gemm_address(np.float32 if key == torch.float32 else np.float64)
        _ADDRESSES[key] = address
    return address


def _gemm(like: Tensor, rows: int, inner: int, cols: int) -> int:
    """The address of the BLAS product for the kernels' per-step ``(rows, inner) @ (inner, cols)`` on
    tensors like ``like``, or 0 for their own loop (small products, or no BLAS: :mod:`rnnlab.engines.fused.blas`)."""
    if rows < BLAS_MIN_ROWS or rows * inner * cols < BLAS_MIN_WORK:
        return 0
    return _address(like.dtype)


def _serial(inner: int, cols: int) -> int:
    """What the kernels call to keep their per-step product of ``inner × cols`` weights on their own
    thread (:func:`rnnlab.engines.fused.blas.threads_address`): small products (``SERIAL_MAX_WEIGHTS``); 0, MKL's
    own threading, above."""
    return 0 if inner * cols > SERIAL_MAX_WEIGHTS else _address("threads")


# The RNN's kernels split the rows of a batch over torch's threads (:mod:`rnnlab.engines.fused.rnn_kernels`)
# where each part keeps at least this many rows and this many multiply-adds a step (rows × H × H). The
# forward kernel alone, 50 steps, on the 2-core machine, one thread against two parts (µs): 64 rows × 64
# 299/205, 32 × 64 259/160, 64 × 20 115/104, 16 × 64 114/111; ``rnnlab bench layer`` (fused over torch.nn,
# split against not, two runs each): 64 × 20 4.00, 3.29× / 4.70, 2.85×; 256 × 20 2.21, 2.26× / 3.06, 2.43×;
# 16 × 64 3.73, 3.93× / 4.31, 4.01×. The hand-off costs 1–2 µs; smaller parts are not worth it.
PART_MIN_ROWS, PART_MIN_WORK = 8, 32 * 20 * 20


def _rnn_team(like: Tensor, batch: int, hidden: int):
    """How the RNN's kernels run a batch: ``(gemm, threads, team, part_forward, part_backward, parts)``, the
    kernels' last arguments. ``parts`` threads of torch's (at most ``torch.get_num_threads()``), each part on
    one MKL thread; where it is 1, the whole batch on this thread as :func:`_gemm` and :func:`_serial` say."""
    parts = min(batch // PART_MIN_ROWS, batch * hidden * hidden // PART_MIN_WORK, torch.get_num_threads())
    team = _address("team") if parts > 1 else (0, 0, 0)
    part_forward, part_backward = _address(("parts", like.dtype))
    if not team[0]:
        return _gemm(like, batch, hidden, hidden), _serial(hidden, hidden), team, part_forward, part_backward, 1
    return (_gemm(like, batch // parts, hidden, hidden), _address("threads"), team, part_forward, part_backward,
            parts)


def _rnn_forward(relu: bool, x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                 b_hh: Tensor | None, lengths: np.ndarray, full: bool):
    """The Elman RNN's forward: ``W_ih x_t + b_ih`` of every step as one matrix product, then the
    recurrence (:func:`~rnnlab.engines.fused.rnn_kernels.rnn_forward`, which adds ``b_hh`` as it goes).

    Returns ``(out, h_n, hs)``: ``hs`` ``(L + 1, N, H)`` every state from ``h0`` on, kept for the backward
    pass; where every row runs the whole length, ``out`` is ``hs[1:]`` itself rather than a copy (so, as
    with cuDNN's layers, changing the output in place before ``backward()`` is an autograd error).
    """
    seq_len, batch, _ = x.shape
    hidden = w_hh.shape[1]
    x_flat = x.reshape(seq_len * batch, -1)  # grad mode is off here: in the Function's forward, or no_grad
    x_proj = torch.mm(x_flat, w_ih.t()) if b_ih is None else torch.addmm(b_ih, x_flat, w_ih.t())
    hs = torch.empty((seq_len + 1, batch, hidden), dtype=x.dtype)
    out = hs[1:] if full else torch.empty((seq_len, batch, hidden), dtype=x.dtype)
    gemm, threads, team, part, _, parts = _rnn_team(x, batch, hidden)
    rnn_kernels.rnn_forward(x_proj.view(seq_len, batch, hidden).numpy(), _np(h0), _np(w_hh),
                            _NONE_1D[x.dtype] if b_hh is None else _np(b_hh), lengths, relu,
                            _NONE_3D[x.dtype] if full else out.numpy(), hs.numpy(), gemm, threads, team, part, parts)
    return out, hs[seq_len].clone(), hs


def _rnn_backward(ctx, d_out: Tensor, d_hn: Tensor):
    """The Elman RNN's backward: through time in the kernel (which also sums the bias gradient), then
    ``dx``, ``dW_ih`` and ``dW_hh`` as one matrix product each."""
    x, w_ih, w_hh, hs = ctx.saved_tensors
    seq_len, batch, hidden = d_out.shape
    new = lambda *shape: torch.empty(shape, dtype=d_out.dtype)  # noqa: E731
    d_pre, d_h0, d_bias = new(seq_len, batch, hidden), new(batch, hidden), new(hidden) if ctx.bias else None
    gemm, threads, team, _, part, parts = _rnn_team(d_out, batch, hidden)
    rnn_kernels.rnn_backward(_np(w_hh), hs.numpy(), _grad_compact(d_out), _np(d_hn), ctx.lengths,
                             ctx.mode == "rnn_relu", d_pre.numpy(), d_h0.numpy(),
                             _NONE_1D[d_out.dtype] if d_bias is None else d_bias.numpy(), gemm, threads, team, part,
                             parts)
    needs = ctx.needs_input_grad  # (mode, lengths, full, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    d_flat = d_pre.view(seq_len * batch, hidden)  # ∂L/∂(pre-activation) of every step and row
    d_x = torch.mm(d_flat, w_ih).view(seq_len, batch, -1) if needs[3] else None
    d_w_ih = torch.mm(d_flat.t(), x.reshape(seq_len * batch, -1)) if needs[6] else None  # Σ_t dpre_tᵀ x_t
    # Σ_t dpre_tᵀ h_{t-1}
    d_w_hh = torch.mm(d_flat.t(), hs[:seq_len].view(seq_len * batch, hidden)) if needs[7] else None
    return None, None, None, d_x, d_h0, None, d_w_ih, d_w_hh, d_bias, d_bias


def _forward(mode: str, x_proj: Tensor, h0: Tensor, c0: Tensor | None, w_hh: Tensor, b_hh: Tensor | None,
             lengths: np.ndarray):
    """Run the forward kernel of the GRU or the LSTM. Returns ``(out, h_n, c_n or None, saved)``; ``saved``
    is what the backward kernel needs. ``x_proj`` ``(L, N, G)``, states ``(N, H)``, ``w_hh`` ``(G, H)``."""
    seq_len, batch, _ = x_proj.shape
    hidden = w_hh.shape[1]
    new = lambda *shape: torch.empty(shape, dtype=x_proj.dtype)  # noqa: E731
    out, hs = new(seq_len, batch, hidden), new(seq_len + 1, batch, hidden)
    args = (_np(x_proj), _np(h0))
    # (G, H) -> (H, G), rows contiguous for the kernels' matrix-vector loop. Not cached across calls: a
    # weight changed through ``.data`` keeps its version counter, and a stale copy would be silently wrong
    w_hh_t = _np(w_hh.detach().t())
    if mode == "gru":
        gates, h_proj_n = new(seq_len, batch, 3 * hidden), new(seq_len, batch, hidden)
        b_hh = np.zeros(3 * hidden, dtype=args[0].dtype) if b_hh is None else _np(b_hh)
        kernels.gru_forward(*args, w_hh_t, b_hh, lengths, out.numpy(), hs.numpy(), gates.numpy(), h_proj_n.numpy(),
                            _gemm(x_proj, batch, hidden, 3 * hidden), _serial(hidden, 3 * hidden))
        return out, hs[seq_len].clone(), None, (hs, gates, h_proj_n)
    cs, gates = new(seq_len + 1, batch, hidden), new(seq_len, batch, 4 * hidden)
    kernels.lstm_forward(*args, _np(c0), w_hh_t, lengths, out.numpy(), hs.numpy(), cs.numpy(), gates.numpy(),
                         _gemm(x_proj, batch, hidden, 4 * hidden), _serial(hidden, 4 * hidden))
    return out, hs[seq_len].clone(), cs[seq_len].clone(), (hs, cs, gates)


def _grad_in(t: Tensor) -> np.ndarray:
    """An incoming gradient as numpy, as it comes: a loss like ``out.sum()`` hands in a broadcast
    (stride-0) tensor, which the GRU and LSTM kernels read in place rather than copying out."""
    return t.detach().numpy()


def _grad_compact(t: Tensor) -> np.ndarray:
    """An incoming gradient ``(L, N, H)`` as a contiguous array, keeping length 1 along a dimension it is
    broadcast across (stride 0: a loss like ``out.sum()`` hands in one value for every element), which
    the RNN kernel then reads for every step or row instead of a copy of ``L × N`` rows."""
    if t.stride(0) == 0:
        t = t[:1]
    if t.stride(1) == 0:
        t = t[:, :1]
    return _np(t)


_RNN_MODES = ("rnn_tanh", "rnn_relu")


class _FusedLayer(torch.autograd.Function):
    """``(x, h0, c0, w_ih, w_hh, b_ih, b_hh) -> (out, h_n[, c_n])`` for one layer-direction.

    Forward: the input projection of every step (one matrix product), then the recurrence (kernels).
    Backward: the recurrence backward through time (kernels), then every weight gradient as one matrix
    product each; the bias gradient, the same for ``b_ih`` and ``b_hh`` except in the GRU, summed once
    (by the RNN's kernel as it goes). ``c0`` is ``None`` except for an LSTM; biases are ``None`` without
    bias; ``full`` says every row runs the whole length.
    """

    @staticmethod
    def forward(ctx, mode, lengths, full, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        ctx.mode, ctx.lengths, ctx.bias = mode, lengths, b_ih is not None
        if mode in _RNN_MODES:
            out, h_n, hs = _rnn_forward(mode == "rnn_relu", x, h0, w_ih, w_hh, b_ih, b_hh, lengths, full)
            ctx.save_for_backward(x, w_ih, w_hh, hs)
            return out, h_n
        x_proj = _project(mode, x, w_ih, b_ih, b_hh)
        out, h_n, c_n, saved = _forward(mode, x_proj, h0, c0, w_hh, b_hh, lengths)
        ctx.save_for_backward(x, w_ih, w_hh, *saved)
        return (out, h_n) if c_n is None else (out, h_n, c_n)

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn=None):
        # create_graph=True runs the backward with grad mode on: its result would silently miss the
        # recurrence's second derivatives, so refuse. Otherwise grad mode is off here and nothing below
        # records a graph.
        if torch.is_grad_enabled():
            raise RuntimeError("fused engine: double backward (create_graph=True) is not supported; "
                               "build the layer with engine='torch' or engine='loop'")
        if ctx.mode in _RNN_MODES:
            return _rnn_backward(ctx, d_out, d_hn)
        return _FusedLayer._backward(ctx, d_out, d_hn, d_cn)

    @staticmethod
    def _backward(ctx, d_out, d_hn, d_cn):
        """The GRU's and the LSTM's backward."""
        mode, lengths = ctx.mode, ctx.lengths
        x, w_ih, w_hh, hs, *rest = ctx.saved_tensors
        seq_len, batch, hidden = d_out.shape
        new = lambda *shape: torch.empty(shape, dtype=d_out.dtype)  # noqa: E731
        d_h0, d_c0 = new(batch, hidden), None
        incoming = (_grad_in(d_out), _np(d_hn))
        if mode == "gru":
            gates, h_proj_n = rest
            d_proj, d_rec = new(seq_len, batch, 3 * hidden), new(seq_len, batch, 3 * hidden)
            kernels.gru_backward(_np(w_hh), _np(hs), _np(gates), _np(h_proj_n), *incoming, lengths, d_proj.numpy(),
                                 d_rec.numpy(), d_h0.numpy(), _gemm(d_proj, batch, 3 * hidden, hidden),
                                 _serial(3 * hidden, hidden))
        else:
            cs, gates = rest
            d_proj, d_c0 = new(seq_len, batch, 4 * hidden), new(batch, hidden)
            kernels.lstm_backward(_np(w_hh), _np(cs), _np(gates), *incoming, _np(d_cn), lengths, d_proj.numpy(),
                                  d_h0.numpy(), d_c0.numpy(), _gemm(d_proj, batch, 4 * hidden, hidden),
                                  _serial(4 * hidden, hidden))
            d_rec = d_proj
        needs = ctx.needs_input_grad  # (mode, lengths, full, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        d_proj_flat = d_proj.view(seq_len * batch, -1)  # (L*N, G)
        d_rec_flat = d_rec.view(seq_len * batch, -1)
        d_x = d_w_ih = d_w_hh = d_b_ih = d_b_hh = None
        if needs[3]:
            d_x = (d_proj_flat @ w_ih).view(seq_len, batch, -1)  # (L, N, H_in)
        if needs[6]:
            d_w_ih = d_proj_flat.t() @ x.reshape(seq_len * batch, -1)  # Σ_t dpre_tᵀ x_t   (G, H_in)
        if needs[7]:
            # dW_hh = Σ_t dpre_tᵀ h_{t-1}                                              (G, H)
            d_w_hh = d_rec_flat.t() @ hs[:seq_len].view(seq_len * batch, hidden)
        if ctx.bias and (needs[8] or needs[9]):
            d_b_ih = d_proj_flat.sum(0)
            d_b_hh = d_rec_flat.sum(0) if mode == "gru" else d_b_ih
        return None, None, None, d_x, d_h0, d_c0, d_w_ih, d_w_hh, d_b_ih, d_b_hh


class FusedCPUEngine:
    """numba kernels for the recurrence; see the module docstring."""

    name = "fused"

    def supports(self, mode: str, x: Tensor, lengths: Tensor | None) -> bool:
        return mode in _GATES and x.is_cpu and x.dtype in _DTYPES and _kernels() is not None

    def wins(self, mode: str, x: Tensor, hidden_size: int) -> bool:
        """The region where ``rnnlab bench layer`` measured fused clearly faster than ``torch.nn`` (fp32, CPU).

        Measured 2026-12-02 on the 2-core development machine (Intel Xeon, KVM), torch's default 2
        threads, ``rnnlab bench layer --cell rnn|gru --json benchmarks/results/layer-*-cpu.json``: speedup of
        forward + backward over ``torch.nn`` in the same run, length 50, input size = hidden size. The RNN
        with its batch split over both threads (:func:`_rnn_team`); the GRU on one.

        =========  =========  =========  =========  =========  =========
        RNN        hidden 20  hidden 64  hidden 128 hidden 256 hidden 512
        =========  =========  =========  =========  =========  =========
        batch 1    7.07×      6.31×      6.36×      3.31×      2.23×
        batch 16   5.37×      3.10×      3.64×      2.04×      2.00×
        batch 64   3.46×      3.38×      2.25×      1.41×      1.35×
        batch 256  3.04×      2.24×      1.73×      1.41×      1.20×
        GRU
        batch 1    15.3×      12.9×      7.37×      3.54×      1.76×
        batch 16   7.48×      3.34×      2.15×      1.60×      1.65×
        batch 64   3.25×      1.71×      1.38×      1.11×      1.02×
        batch 256  1.78×      1.13×      1.11×      0.76×      0.87×
        =========  =========  =========  =========  =========  =========

        Taken where the win is above 1.2× in this run and in a second one (RNN, split: hidden 256 at batch
        256 1.21×, hidden 512 at batch 64 1.43×, at batch 256 1.21×; GRU, the session's runs before:
        hidden 32 at batch 256 1.09×): closer than that is within run-to-run noise, so RNN 512 at batch
        256 stays with torch. torch keeps the rest, and batches above 256, which were not measured. LSTM:
        0.45–0.88× from batch 16 up (torch runs it through oneDNN) and 0.97–1.59× at batch 1, so never.
        fp64 was not timed.
        """
        seq_len, batch = x.shape[0], x.shape[1]
        if x.dtype != torch.float32 or seq_len < 8:
            return False
        if mode in ("rnn_tanh", "rnn_relu"):
            return batch <= 64 and hidden_size <= 512 or batch <= 256 and hidden_size <= 256
        if mode == "gru":
            return batch <= 16 and hidden_size <= 256 or batch <= 64 and hidden_size <= 64 or (
                batch <= 256 and hidden_size <= 20)
        return False

    def run(self, mode, x, hx, weights, lengths=None):
        """One layer-direction; see :mod:`rnnlab.engines`."""
        w_ih, w_hh, b_ih, b_hh = weights
        seq_len, batch, _ = x.shape
        h0, c0 = (hx if mode == "lstm" else (hx, None))
        lengths, full = _lengths(lengths, seq_len, batch)
        if torch.is_grad_enabled() and (x.requires_grad or h0.requires_grad or w_ih.requires_grad
                                        or w_hh.requires_grad or any(t is not None and t.requires_grad
                                                                     for t in (c0, b_ih, b_hh))):
            result = _FusedLayer.apply(mode, lengths, full, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        elif mode in _RNN_MODES:  # inference (generation): no graph to record, so skip the autograd machinery
            with torch.no_grad():
                result = _rnn_forward(mode == "rnn_relu", x, h0, w_ih, w_hh, b_ih, b_hh, lengths, full)[:2]
        else:
            with torch.no_grad():
                x_proj = _project(mode, x, w_ih, b_ih, b_hh)
            out, h_n, c_n, _ = _forward(mode, x_proj, h0, c0, w_hh, b_hh, lengths)
            result = (out, h_n) if c_n is None else (out, h_n, c_n)
        return (result[0], (result[1], result[2])) if mode == "lstm" else result
