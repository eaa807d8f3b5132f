"""Numba kernels of the fused CPU engine: the recurrence of one layer-direction, forward and backward in time.

Only the recurrence lives here; the input projection of every step and the weight gradients are one
matrix product each, done by torch in :mod:`rnnlab.engines.fused.engine`. Every kernel goes step by step
over the whole batch, so the recurrence's product ``h_{t-1} W_hhᵀ`` of all rows is one matrix product per
step (:func:`_add_product`): through the BLAS ``?gemm_`` whose address the caller passes
(:mod:`rnnlab.engines.fused.blas`), or, where it passes 0, the kernels' own loop (:func:`_add_matmul`), four
rows at a time sharing each row of a zero-padded ``W_hhᵀ`` loaded from cache. The loop is written as
``Σ_k h_{t-1}[k] · W_hhᵀ[k, :]`` so that its inner loop runs along contiguous memory with no reduction
(vectorised by LLVM; ``fastmath`` only as ``contract``, fusing multiply–adds, and summed in a fixed order,
so the loop's results are deterministic).

Every kernel ends with ``gemm`` (the ``?gemm_`` address, or 0 for the own loop) and ``threads`` (the address
of MKL's ``mkl_set_num_threads_local``, or 0): with it, the kernel runs its per-step products on its own
thread and puts the thread's earlier BLAS setting back before it returns (:func:`_serial_begin`).

This module holds what every cell shares (the products, tanh and σ), the GRU's and the LSTM's kernels and
the compiled sampler (:func:`generate`); the Elman RNN's kernels, which can also split the batch over
torch's threads, are in :mod:`rnnlab.engines.fused.rnn_kernels`.

Symbols: ``L`` length, ``N`` batch, ``H`` hidden units, ``G`` gate rows (``H``, ``3H`` GRU, ``4H`` LSTM).
Every kernel writes into arrays the caller allocates (torch tensors seen through ``.numpy()``), and
``lengths[n]`` is the real length of row ``n`` (``L`` everywhere when none were given): past it the state
stays put, the output is zero and no gradient flows through the step.

When numba is missing, importing this module raises ``ImportError``; when its cache directory is not
writable, the kernels are compiled in memory each process instead of cached on disk.
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
from numba import types
from numba.extending import overload

from rnnlab.engines.fused.blas import call_int, fortran_gemm


def _jit(func, fastmath=False, inline="never"):
    """``numba.njit`` cached on disk; in memory only where no cache directory is writable.

    ``error_model="numpy"``: a division by zero gives inf/nan as in torch instead of raising, which also
    lets LLVM vectorise the elementwise loops (the Python error model puts a branch in every division).
    ``inline="always"`` compiles the function only into its callers (numba's own inlining).
    """
    options = {"fastmath": fastmath, "nogil": True, "error_model": "numpy", "inline": inline}
    try:
        return numba.njit(cache=True, **options)(func)
    except RuntimeError as e:  # numba: "cannot cache function ...: no locator available"
        warnings.warn(f"fused engine: numba cannot cache its kernels ({e}); compiling them each process")
        return numba.njit(cache=False, **options)(func)


def _jit_contract(func):
    """:func:`_jit` that lets LLVM fuse ``a + b * c`` into one FMA instruction (one rounding instead of two;
    no reassociation, so the order of the sums and the results stay fixed). For the products with
    ``W_hh`` and the fp32 tanh's polynomial."""
    return _jit(func, fastmath={"contract"})


# float32 constants: exact in both precisions, and they keep fp32 arithmetic in fp32 (a float64 literal
# would promote it); against fp64 values they promote to fp64
_ZERO, _HALF, _ONE, _MINUS_TWO = np.float32(0.0), np.float32(0.5), np.float32(1.0), np.float32(-2.0)

# tanh on fp32 as a rational function of degree 13/6 on [-c, c] (Eigen's ``generic_fast_tanh_float``),
# tanh(±c) rounding to ±1 in fp32; max |error| 2.6e-7 over [-12, 12] (measured against fp64 tanh). Only
# multiplies, adds and one division: LLVM vectorises it, where libm's tanhf or expf are scalar calls. Its
# Horner steps fuse into FMAs (``contract``): 50 × 4,096 values took 68 µs against 113 µs unfused.
_TANH_CLAMP = np.float32(7.99881172180175781)
_A1, _A3, _A5, _A7 = (np.float32(c) for c in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                                               5.12229709037114e-08))
_A9, _A11, _A13 = (np.float32(c) for c in (-8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16))
_B0, _B2, _B4, _B6 = (np.float32(c) for c in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                                               1.19825839466702e-06))


@_jit_contract
def _tanh_fp32(v):
    x = v if v < _TANH_CLAMP else _TANH_CLAMP
    x = x if x > -_TANH_CLAMP else -_TANH_CLAMP
    x2 = x * x
    p = ((((((_A13 * x2 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2 + _A1) * x
    q = ((_B6 * x2 + _B4) * x2 + _B2) * x2 + _B0
    return p / q


@_jit
def _tanh_fp64(v):
    # tanh(v) = sign(v) (1 - e^{-2|v|}) / (1 + e^{-2|v|}): one exp (a third of libm's tanh here);
    # e^{-2|v|} ∈ (0, 1] cannot overflow, and the absolute error stays within a few ulp
    e = math.exp(_MINUS_TWO * abs(v))
    return math.copysign((_ONE - e) / (_ONE + e), v)


def _tanh(v):
    """tanh in the precision of ``v``; numba picks the implementation by type (see the overload)."""
    return math.tanh(v)


def _sigmoid(v):
    """σ(v) in the precision of ``v``; numba picks the implementation by type (see the overload)."""
    return 1.0 / (1.0 + math.exp(-v))


@overload(_tanh, jit_options={"error_model": "numpy"})
def _tanh_typed(v):
    return (lambda v: _tanh_fp32(v)) if v == types.float32 else (lambda v: _tanh_fp64(v))


@overload(_sigmoid, jit_options={"error_model": "numpy"})
def _sigmoid_typed(v):
    if v == types.float32:
        # σ(v) = (1 + tanh(v / 2)) / 2
        return lambda v: _HALF + _HALF * _tanh_fp32(_HALF * v)
    # σ(v) = 1 / (1 + e^{-v})
    return lambda v: _ONE / (_ONE + math.exp(-v))


@_jit_contract
def _add_matvec(acc, h, w_t):
    """``acc += h @ w_t``: ``h`` ``(K,)``, ``w_t`` ``(K, J)`` contiguous, ``acc`` ``(J,)``.

    Four rows of ``w_t`` per pass over ``acc`` (a quarter of the loads and stores), added in the same order
    as one row at a time, so the result is bit for bit that of the plain loop.
    """
    n_k, n_j = h.shape[0], acc.shape[0]
    k = 0
    while k + 4 <= n_k:
        s0, s1, s2, s3 = h[k], h[k + 1], h[k + 2], h[k + 3]
        w0, w1, w2, w3 = w_t[k], w_t[k + 1], w_t[k + 2], w_t[k + 3]
        for j in range(n_j):
            acc[j] = (((acc[j] + s0 * w0[j]) + s1 * w1[j]) + s2 * w2[j]) + s3 * w3[j]
        k += 4
    while k < n_k:
        s, w = h[k], w_t[k]
        for j in range(n_j):
            acc[j] += s * w[j]
        k += 1


@_jit
def _padded(w):
    """``w`` ``(K, J)`` copied into ``(K, J')`` zeros, ``J'`` the next multiple of 8: the vectorised loop of
    :func:`_add_matmul` then covers every column (at ``J`` = 20 the scalar remainder loop did a fifth of
    the work); the extra columns of the product stay zero and are never read."""
    n_k, n_j = w.shape
    padded = np.zeros((n_k, (n_j + 7) // 8 * 8), dtype=w.dtype)
    padded[:, :n_j] = w
    return padded


@_jit_contract
def _add_matmul(acc, h, w_t):
    """``acc += h @ w_t``: ``h`` ``(N, K)``, ``w_t`` ``(K, J)`` contiguous, ``acc`` ``(N, J)``.

    Four rows of ``acc`` share each pass over two rows of ``w_t`` (each ``w_t[k, j]`` loaded once for four
    rows instead of once per row); the rows left over go through :func:`_add_matvec`.
    """
    n_rows = acc.shape[0]
    n_k, n_j = w_t.shape
    n = 0
    while n + 4 <= n_rows:
        a0, a1, a2, a3 = acc[n], acc[n + 1], acc[n + 2], acc[n + 3]
        h0, h1, h2, h3 = h[n], h[n + 1], h[n + 2], h[n + 3]
        k = 0
        while k + 2 <= n_k:
            w0, w1 = w_t[k], w_t[k + 1]
            s00, s01, s10, s11 = h0[k], h0[k + 1], h1[k], h1[k + 1]
            s20, s21, s30, s31 = h2[k], h2[k + 1], h3[k], h3[k + 1]
            for j in range(n_j):
                x0, x1 = w0[j], w1[j]
                a0[j] = (a0[j] + s00 * x0) + s01 * x1
                a1[j] = (a1[j] + s10 * x0) + s11 * x1
                a2[j] = (a2[j] + s20 * x0) + s21 * x1
                a3[j] = (a3[j] + s30 * x0) + s31 * x1
            k += 2
        while k < n_k:
            w0 = w_t[k]
            s0, s1, s2, s3 = h0[k], h1[k], h2[k], h3[k]
            for j in range(n_j):
                x0 = w0[j]
                a0[j] += s0 * x0
                a1[j] += s1 * x0
                a2[j] += s2 * x0
                a3[j] += s3 * x0
            k += 1
        n += 4
    while n < n_rows:
        _add_matvec(acc[n], h[n], w_t)
        n += 1


@_jit
def _blas_scratch(like):
    """The arguments a Fortran ``?gemm_`` reads through pointers: six int32 sizes, the scalars one and zero
    (alpha, and beta to accumulate or not) in the dtype of ``like``, and the characters ``N`` and ``T``
    (as it is, transposed)."""
    ints = np.zeros(6, dtype=np.int32)
    scalars = np.zeros(2, dtype=like.dtype)
    scalars[0] = 1
    trans = np.array([78, 84], dtype=np.uint8)  # ord("N"), ord("T")
    return ints, scalars, trans


@_jit
def _gemm_into(c, a, b, gemm, scratch, accumulate, transpose_b=False):
    """``c = a @ b``, or ``c += a @ b`` with ``accumulate``, through the BLAS ``?gemm_`` at address ``gemm``
    (:mod:`rnnlab.engines.fused.blas`): ``a`` ``(M, K)``, ``b`` ``(K, J)`` (or ``(J, K)`` with ``transpose_b``, for
    ``a @ bᵀ``), ``c`` ``(M, J)``, each with contiguous rows (any row stride)."""
    ints, scalars, trans = scratch
    # row-major c = a b is column-major cᵀ = bᵀ aᵀ: sizes (J, M, K), leading dimensions the row strides
    ints[0], ints[1], ints[2] = b.shape[0] if transpose_b else b.shape[1], a.shape[0], a.shape[1]
    ints[3], ints[4] = b.strides[0] // b.itemsize, a.strides[0] // a.itemsize
    ints[5] = c.strides[0] // c.itemsize
    beta = scalars[0:1] if accumulate else scalars[1:2]
    op_b = trans[1:2] if transpose_b else trans[0:1]
    # ?gemm_(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), every argument by pointer
    fortran_gemm(gemm, (op_b.ctypes.data, trans.ctypes.data, ints[0:1].ctypes.data, ints[1:2].ctypes.data,
                        ints[2:3].ctypes.data, scalars.ctypes.data, b.ctypes.data, ints[3:4].ctypes.data,
                        a.ctypes.data, ints[4:5].ctypes.data, beta.ctypes.data, c.ctypes.data,
                        ints[5:6].ctypes.data))


@_jit
def _add_product(acc, h, w_t, gemm, scratch):
    """``acc += h @ w_t`` (``h`` ``(M, K)``, ``w_t`` ``(K, J)``, ``acc`` ``(M, J)``, rows contiguous): through
    the BLAS ``?gemm_`` at address ``gemm`` (:func:`_gemm_into`), or :func:`_add_matmul` where it is 0
    (the caller decides, by size: :func:`rnnlab.engines.fused.engine._gemm`)."""
    if gemm == 0:
        _add_matmul(acc, h, w_t)
    else:
        _gemm_into(acc, h, w_t, gemm, scratch, True)


@_jit
def _serial_begin(threads):
    """Where ``threads`` is the address of ``mkl_set_num_threads_local``
    (:func:`rnnlab.engines.fused.blas.threads_address`), set this thread's BLAS to one thread and return the
    earlier setting; 0 does nothing."""
    return call_int(threads, 1) if threads != 0 else 0


@_jit
def _serial_end(threads, previous):
    """Put back the setting :func:`_serial_begin` returned (0: MKL's global one)."""
    if threads != 0:
        call_int(threads, previous)


@_jit
def _operands(w_t, rows, like):
    """What a kernel's per-step product needs: ``w_t`` ``(K, J)`` zero-padded to ``(K, J')`` (:func:`_padded`),
    an accumulator ``(rows, J')`` of zeros in the dtype of ``like``, and the BLAS scratch."""
    w = _padded(w_t)
    return w, np.zeros((rows, w.shape[1]), dtype=like.dtype), _blas_scratch(like)


# -- GRU ---------------------------------------------------------------------------------------------------


@_jit
def gru_forward(x_proj, h0, w_hh_t, b_hh, lengths, out, hs, gates, h_proj_n, gemm, threads):
    """``x_proj`` ``(L, N, 3H)`` = ``W_ih x_t + b_ih``; ``w_hh_t`` ``(H, 3H)`` = ``W_hhᵀ``; ``b_hh`` ``(3H,)``;
    gates r, z, n.

    Writes ``out`` ``(L, N, H)``, ``hs`` ``(L + 1, N, H)``, ``gates`` ``(L, N, 3H)`` = ``(r_t, z_t, n_t)`` and
    ``h_proj_n`` ``(L, N, H)`` = ``W_hn h_{t-1} + b_hn``, all kept for the backward pass.
    """
    previous = _serial_begin(threads)
    seq_len, batch, _ = x_proj.shape
    hidden = hs.shape[2]
    w_t, acc, scratch = _operands(w_hh_t, batch, hs)  # acc: W_hh h_{t-1} + b_hh of every row
    hs[0] = h0
    for t in range(seq_len):
        h_prev, h_t = hs[t], hs[t + 1]
        for n in range(batch):
            for j in range(3 * hidden):
                acc[n, j] = b_hh[j]
        _add_product(acc, h_prev, w_t, gemm, scratch)
        for n in range(batch):
            if t >= lengths[n]:
                h_t[n] = h_prev[n]
                out[t, n] = 0.0
                gates[t, n] = 0.0
                h_proj_n[t, n] = 0.0
                continue
            for j in range(hidden):
                # r_t = σ(x_r + h_r), z_t = σ(x_z + h_z), n_t = tanh(x_n + r_t ⊙ (W_hn h_{t-1} + b_hn))
                r = _sigmoid(x_proj[t, n, j] + acc[n, j])
                z = _sigmoid(x_proj[t, n, hidden + j] + acc[n, hidden + j])
                n_t = _tanh(x_proj[t, n, 2 * hidden + j] + r * acc[n, 2 * hidden + j])
                # h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
                h_t[n, j] = (_ONE - z) * n_t + z * h_prev[n, j]
                out[t, n, j] = h_t[n, j]
                gates[t, n, j], gates[t, n, hidden + j], gates[t, n, 2 * hidden + j] = r, z, n_t
                h_proj_n[t, n, j] = acc[n, 2 * hidden + j]
    _serial_end(threads, previous)


@_jit
def gru_backward(w_hh, hs, gates, h_proj_n, d_out, d_hn, lengths, d_x, d_h, d_h0, gemm, threads):
    """``w_hh`` ``(3H, H)``; saved tensors from :func:`gru_forward`; ``d_out`` ``(L, N, H)``, ``d_hn`` ``(N, H)``.

    Writes ``d_x`` ``(L, N, 3H)`` = ∂loss/∂x_proj, ``d_h`` ``(L, N, 3H)`` = ∂loss/∂(W_hh h_{t-1} + b_hh) (from
    which torch forms ``dW_hh`` and ``db_hh``) and ``d_h0`` ``(N, H)``.
    """
    previous = _serial_begin(threads)
    seq_len, batch, hidden = d_out.shape
    w, dh, scratch = _operands(w_hh, batch, hs)
    dh[:, :hidden] = d_hn
    for t in range(seq_len - 1, -1, -1):
        for n in range(batch):
            if t >= lengths[n]:
                d_x[t, n] = 0.0
                d_h[t, n] = 0.0
                continue
            for j in range(hidden):
                g = dh[n, j] + d_out[t, n, j]
                r, z, n_t = gates[t, n, j], gates[t, n, hidden + j], gates[t, n, 2 * hidden + j]
                d_n = g * (_ONE - z)
                d_z = g * (hs[t, n, j] - n_t)
                d_pre_n = d_n * (_ONE - n_t * n_t)
                d_r = d_pre_n * h_proj_n[t, n, j]
                d_pre_r = d_r * r * (_ONE - r)
                d_pre_z = d_z * z * (_ONE - z)
                d_x[t, n, j], d_x[t, n, hidden + j], d_x[t, n, 2 * hidden + j] = d_pre_r, d_pre_z, d_pre_n
                d_h[t, n, j], d_h[t, n, hidden + j], d_h[t, n, 2 * hidden + j] = d_pre_r, d_pre_z, d_pre_n * r
                # the direct path h_t = ... + z_t ⊙ h_{t-1}
                dh[n, j] = g * z
        # ∂L/∂h_{t-1} += W_hhᵀ d_h_t; rows past their length keep dh (their d_h is zero)
        _add_product(dh, d_h[t], w, gemm, scratch)
    d_h0[:] = dh[:, :hidden]
    _serial_end(threads, previous)


# -- LSTM --------------------------------------------------------------------------------------------------


@_jit
def lstm_forward(x_proj, h0, c0, w_hh_t, lengths, out, hs, cs, gates, gemm, threads):
    """``x_proj`` ``(L, N, 4H)`` = ``W_ih x_t + b_ih + b_hh``; ``w_hh_t`` ``(H, 4H)`` = ``W_hhᵀ``; gates i, f, g, o.

    Writes ``out`` ``(L, N, H)``, ``hs`` and ``cs`` ``(L + 1, N, H)`` (index 0 the initial state) and
    ``gates`` ``(L, N, 4H)`` = ``(i_t, f_t, g_t, o_t)`` after their nonlinearities.
    """
    previous = _serial_begin(threads)
    seq_len, batch, _ = x_proj.shape
    hidden = hs.shape[2]
    w_t, acc, scratch = _operands(w_hh_t, batch, hs)  # acc: the gates' pre-activations of every row
    hs[0] = h0
    cs[0] = c0
    for t in range(seq_len):
        for n in range(batch):
            for j in range(4 * hidden):
                acc[n, j] = x_proj[t, n, j]
        _add_product(acc, hs[t], w_t, gemm, scratch)
        for n in range(batch):
            if t >= lengths[n]:
                hs[t + 1, n] = hs[t, n]
                cs[t + 1, n] = cs[t, n]
                out[t, n] = 0.0
                gates[t, n] = 0.0
                continue
            for j in range(hidden):
                i = _sigmoid(acc[n, j])
                f = _sigmoid(acc[n, hidden + j])
                g = _tanh(acc[n, 2 * hidden + j])
                o = _sigmoid(acc[n, 3 * hidden + j])
                # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t;  h_t = o_t ⊙ tanh(c_t)
                c_t = f * cs[t, n, j] + i * g
                cs[t + 1, n, j] = c_t
                hs[t + 1, n, j] = o * _tanh(c_t)
                out[t, n, j] = hs[t + 1, n, j]
                gates[t, n, j], gates[t, n, hidden + j] = i, f
                gates[t, n, 2 * hidden + j], gates[t, n, 3 * hidden + j] = g, o
    _serial_end(threads, previous)


@_jit
def lstm_backward(w_hh, cs, gates, d_out, d_hn, d_cn, lengths, d_pre, d_h0, d_c0, gemm, threads):
    """``w_hh`` ``(4H, H)``; saved tensors from :func:`lstm_forward`; incoming ``d_out``, ``d_hn``, ``d_cn``.

    Writes ``d_pre`` ``(L, N, 4H)`` = ∂loss/∂(gate pre-activations) (the gradient of ``x_proj`` and, summed,
    of both biases), ``d_h0`` and ``d_c0`` ``(N, H)``.
    """
    previous = _serial_begin(threads)
    seq_len, batch, hidden = d_out.shape
    w, dh, scratch = _operands(w_hh, batch, cs)
    dc = np.empty((batch, hidden), dtype=cs.dtype)
    dh[:, :hidden] = d_hn
    dc[:] = d_cn
    for t in range(seq_len - 1, -1, -1):
        for n in range(batch):
            if t >= lengths[n]:
                d_pre[t, n] = 0.0
                continue
            for j in range(hidden):
                g_h = dh[n, j] + d_out[t, n, j]
                i, f = gates[t, n, j], gates[t, n, hidden + j]
                g, o = gates[t, n, 2 * hidden + j], gates[t, n, 3 * hidden + j]
                tanh_c = _tanh(cs[t + 1, n, j])
                d_c = dc[n, j] + g_h * o * (_ONE - tanh_c * tanh_c)
                d_pre[t, n, j] = d_c * g * i * (_ONE - i)
                d_pre[t, n, hidden + j] = d_c * cs[t, n, j] * f * (_ONE - f)
                d_pre[t, n, 2 * hidden + j] = d_c * i * (_ONE - g * g)
                d_pre[t, n, 3 * hidden + j] = g_h * tanh_c * o * (_ONE - o)
                dc[n, j] = d_c * f
            dh[n] = 0.0
        # ∂L/∂h_{t-1} = W_hhᵀ dpre_t; rows past their length keep dh and dc (their d_pre is zero)
        _add_product(dh, d_pre[t], w, gemm, scratch)
    d_h0[:] = dh[:, :hidden]
    d_c0[:] = dc
    _serial_end(threads, previous)


# -- generation: a whole network, one character at a time -------------------------------------------------


@_jit
def _argmax_plus(z, noise):
    """The index of the largest ``z[v] + noise[v]`` (the first of equals, as numpy's argmax)."""
    best, best_v = -np.inf, 0
    for v in range(z.shape[0]):
        s = z[v] + noise[v]
        if s > best:
            best, best_v = s, v
    return best_v


@_jit
def generate(kind, table, w_ih_t, b_ih, w_hh_t, b_hh, w_fc_t, b_fc, h, c, logits, noise, temperature, top_k,
             greedy, ids):
    """Sample ``len(ids)`` tokens from a stacked recurrent network with a linear head, in one call.

    Each token ``i`` is drawn from the current ``logits`` — the likeliest when ``greedy``, else
    ``argmax(z + noise[j])`` with ``z = logits / temperature`` kept to the ``top_k`` largest (the
    Gumbel-max trick: ``noise`` holds Gumbel draws, one row per token) — and then fed through one step of
    every layer and the head, which gives the next ``logits``.

    ``kind``: 0 tanh RNN, 1 relu RNN, 2 GRU, 3 LSTM. ``table`` ``(V, G)``: the first layer's input term
    ``W_ih e_i + b_ih`` for every token. ``w_ih_t`` ``(max(1, layers - 1), H, G)``, ``b_ih`` ``(layers, G)``:
    the other layers' ``W_ihᵀ`` and biases; ``w_hh_t`` ``(layers, H, G)``, ``b_hh`` ``(layers, G)``;
    ``w_fc_t`` ``(H, V)``, ``b_fc`` ``(V,)``. ``h`` and ``c`` ``(layers, H)`` (``c`` unused but for the LSTM)
    and ``logits`` ``(V,)`` are updated in place; ``ids`` ``(m,)`` receives the tokens. All float32 but
    ``noise`` (float64, as numpy's Gumbel draws; the sum is taken in float64, as numpy would).
    """
    layers, hidden, gates = w_hh_t.shape
    vocab = table.shape[0]
    gi = np.empty(gates, dtype=table.dtype)
    gh = np.empty(gates, dtype=table.dtype)
    z = np.empty(vocab, dtype=table.dtype)
    for j in range(ids.shape[0]):
        if greedy:
            i = np.argmax(logits)
        else:
            for v in range(vocab):
                z[v] = logits[v] / temperature
            if top_k < vocab:
                kth = np.partition(z, vocab - top_k)[vocab - top_k]
                for v in range(vocab):
                    if z[v] < kth:
                        z[v] = -np.inf
            i = _argmax_plus(z, noise[j])
        ids[j] = i
        for k in range(layers):
            if k == 0:
                gi[:] = table[i]
            else:
                gi[:] = b_ih[k]
                _add_matvec(gi, h[k - 1], w_ih_t[k - 1])
            gh[:] = b_hh[k]
            _add_matvec(gh, h[k], w_hh_t[k])
            for u in range(hidden):
                if kind == 3:
                    # c' = σ(f) c + σ(i) tanh(g);  h' = σ(o) tanh(c')
                    c[k, u] = _sigmoid(gi[hidden + u] + gh[hidden + u]) * c[k, u] + (
                        _sigmoid(gi[u] + gh[u]) * _tanh(gi[2 * hidden + u] + gh[2 * hidden + u]))
                    h[k, u] = _sigmoid(gi[3 * hidden + u] + gh[3 * hidden + u]) * _tanh(c[k, u])
                elif kind == 2:
                    # r, z = σ(...);  n = tanh(x_n + r (W_hn h + b_hn));  h' = (1 - z) n + z h
                    r = _sigmoid(gi[u] + gh[u])
                    update = _sigmoid(gi[hidden + u] + gh[hidden + u])
                    n_t = _tanh(gi[2 * hidden + u] + r * gh[2 * hidden + u])
                    h[k, u] = (_ONE - update) * n_t + update * h[k, u]
                else:
                    pre = gi[u] + gh[u]
                    h[k, u] = (_ZERO if pre < _ZERO else pre) if kind == 1 else _tanh(pre)
        logits[:] = b_fc
        _add_matvec(logits, h[layers - 1], w_fc_t)
