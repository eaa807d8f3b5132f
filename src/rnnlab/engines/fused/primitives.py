"""What every kernel of the fused CPU engine shares: how they are compiled, tanh and σ in the precision of
their input, and the recurrence's per-step matrix product.

The product ``h_{t-1} W_hhᵀ`` of a whole batch is one matrix product per step (:func:`add_product`):
through the BLAS ``?gemm_`` whose address the caller passes (:mod:`rnnlab.engines.fused.blas`), or, where it
passes 0, the kernels' own loop (:func:`add_matmul`), four rows at a time sharing each row of a
zero-padded ``W_hhᵀ`` loaded from cache. The loop is written as ``Σ_k h_{t-1}[k] · W_hhᵀ[k, :]`` so that
its inner loop runs along contiguous memory with no reduction (vectorised by LLVM; ``fastmath`` only as
``contract``, fusing multiply–adds, and summed in a fixed order, so the loop's results are deterministic).

Every kernel ends with ``gemm`` (the ``?gemm_`` address, or 0 for the own loop) and ``threads`` (the address
of MKL's ``mkl_set_num_threads_local``, or 0): with it, the kernel runs its per-step products on its own
thread and puts the thread's earlier BLAS setting back before it returns (:func:`serial_begin`).

Used by :mod:`rnnlab.engines.fused.kernels` (GRU, LSTM, the sampler) and
:mod:`rnnlab.engines.fused.rnn_kernels` (the Elman RNN). Importing it imports numba (``ImportError`` where
numba is missing).
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
from numba import types
from numba.extending import overload

from rnnlab.engines.fused.blas import call_int, fortran_gemm


def jit(func, fastmath=False, inline="never"):
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


def jit_contract(func):
    """:func:`jit` that lets LLVM fuse ``a + b * c`` into one FMA instruction (one rounding instead of two;
    no reassociation, so the order of the sums and the results stay fixed). For the products with
    ``W_hh`` and the fp32 tanh's polynomial."""
    return jit(func, fastmath={"contract"})


# float32 constants: exact in both precisions, and they keep fp32 arithmetic in fp32 (a float64 literal
# would promote it); against fp64 values they promote to fp64
ZERO, HALF, ONE, _MINUS_TWO = np.float32(0.0), np.float32(0.5), np.float32(1.0), np.float32(-2.0)

# tanh on fp32 as a rational function of degree 13/6 on [-c, c] (Eigen's ``generic_fast_tanh_float``),
# tanh(±c) rounding to ±1 in fp32; max |error| 2.6e-7 over [-12, 12] (measured against fp64 tanh). Only
# multiplies, adds and one division: LLVM vectorises it, where libm's tanhf or expf are scalar calls; its
# Horner steps fuse into FMAs (``contract``). Timings in NOTES.md.
_TANH_CLAMP = np.float32(7.99881172180175781)
_A1, _A3, _A5, _A7 = (np.float32(c) for c in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                                               5.12229709037114e-08))
_A9, _A11, _A13 = (np.float32(c) for c in (-8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16))
_B0, _B2, _B4, _B6 = (np.float32(c) for c in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                                               1.19825839466702e-06))


@jit_contract
def _tanh_fp32(v):
    x = v if v < _TANH_CLAMP else _TANH_CLAMP
    x = x if x > -_TANH_CLAMP else -_TANH_CLAMP
    x2 = x * x
    p = ((((((_A13 * x2 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2 + _A1) * x
    q = ((_B6 * x2 + _B4) * x2 + _B2) * x2 + _B0
    return p / q


@jit
def _tanh_fp64(v):
    # tanh(v) = sign(v) (1 - e^{-2|v|}) / (1 + e^{-2|v|}): one exp (a third of libm's tanh here);
    # e^{-2|v|} ∈ (0, 1] cannot overflow, and the absolute error stays within a few ulp
    e = math.exp(_MINUS_TWO * abs(v))
    return math.copysign((ONE - e) / (ONE + e), v)


def tanh(v):
    """tanh in the precision of ``v``; numba picks the implementation by type (see the overload)."""
    return math.tanh(v)


def sigmoid(v):
    """σ(v) in the precision of ``v``; numba picks the implementation by type (see the overload)."""
    return 1.0 / (1.0 + math.exp(-v))


@overload(tanh, jit_options={"error_model": "numpy"})
def _tanh_typed(v):
    return (lambda v: _tanh_fp32(v)) if v == types.float32 else (lambda v: _tanh_fp64(v))


@overload(sigmoid, jit_options={"error_model": "numpy"})
def _sigmoid_typed(v):
    if v == types.float32:
        # σ(v) = (1 + tanh(v / 2)) / 2
        return lambda v: HALF + HALF * _tanh_fp32(HALF * v)
    # σ(v) = 1 / (1 + e^{-v})
    return lambda v: ONE / (ONE + math.exp(-v))


@jit_contract
def add_matvec(acc, h, w_t):
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


@jit
def padded(w):
    """``w`` ``(K, J)`` copied into ``(K, J')`` zeros, ``J'`` the next multiple of 8: the vectorised loop of
    :func:`add_matmul` then covers every column (at ``J`` = 20 the scalar remainder loop did a fifth of
    the work); the extra columns of the product stay zero and are never read."""
    n_k, n_j = w.shape
    padded = np.zeros((n_k, (n_j + 7) // 8 * 8), dtype=w.dtype)
    padded[:, :n_j] = w
    return padded


@jit_contract
def add_matmul(acc, h, w_t):
    """``acc += h @ w_t``: ``h`` ``(N, K)``, ``w_t`` ``(K, J)`` contiguous, ``acc`` ``(N, J)``.

    Four rows of ``acc`` share each pass over two rows of ``w_t`` (each ``w_t[k, j]`` loaded once for four
    rows instead of once per row); the rows left over go through :func:`add_matvec`.
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
        add_matvec(acc[n], h[n], w_t)
        n += 1


@jit
def blas_scratch(like):
    """The arguments a Fortran ``?gemm_`` reads through pointers: six int32 sizes, the scalars one and zero
    (alpha, and beta to accumulate or not) in the dtype of ``like``, and the characters ``N`` and ``T``
    (as it is, transposed)."""
    ints = np.zeros(6, dtype=np.int32)
    scalars = np.zeros(2, dtype=like.dtype)
    scalars[0] = 1
    trans = np.array([78, 84], dtype=np.uint8)  # ord("N"), ord("T")
    return ints, scalars, trans


@jit
def gemm_into(c, a, b, gemm, scratch, accumulate, transpose_b=False):
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


@jit
def add_product(acc, h, w_t, gemm, scratch):
    """``acc += h @ w_t`` (``h`` ``(M, K)``, ``w_t`` ``(K, J)``, ``acc`` ``(M, J)``, rows contiguous): through
    the BLAS ``?gemm_`` at address ``gemm`` (:func:`gemm_into`), or :func:`add_matmul` where it is 0
    (the caller decides, by size: :func:`rnnlab.engines.fused.engine._gemm`)."""
    if gemm == 0:
        add_matmul(acc, h, w_t)
    else:
        gemm_into(acc, h, w_t, gemm, scratch, True)


@jit
def serial_begin(threads):
    """Where ``threads`` is the address of ``mkl_set_num_threads_local``
    (:func:`rnnlab.engines.fused.blas.threads_address`), set this thread's BLAS to one thread and return the
    earlier setting; 0 does nothing."""
    return call_int(threads, 1) if threads != 0 else 0


@jit
def serial_end(threads, previous):
    """Put back the setting :func:`serial_begin` returned (0: MKL's global one)."""
    if threads != 0:
        call_int(threads, previous)


@jit
def operands(w_t, rows, like):
    """What a kernel's per-step product needs: ``w_t`` ``(K, J)`` zero-padded to ``(K, J')`` (:func:`padded`),
    an accumulator ``(rows, J')`` of zeros in the dtype of ``like``, and the BLAS scratch."""
    w = padded(w_t)
    return w, np.zeros((rows, w.shape[1]), dtype=like.dtype), blas_scratch(like)
