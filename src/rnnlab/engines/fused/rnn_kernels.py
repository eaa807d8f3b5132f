"""Numba kernels of the fused CPU engine for the Elman RNN: forward and backward in time, over all rows of
the batch on one thread or over parts of it on several.

``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or relu). The input projection ``W_ih x_t + b_ih`` of
every step comes in as ``x_proj``, one matrix product done by torch (:mod:`rnnlab.engines.fused.engine`); the
kernels run the recurrence step by step over the rows they are given: one product ``h_{t-1} W_hhᵀ`` of
those rows per step (through the BLAS ``?gemm_`` whose address the caller passes, or the kernels' own loop
where it passes 0: :mod:`rnnlab.engines.fused.primitives`), then the nonlinearity.

The rows of a batch are independent through time, so :func:`rnn_forward` and :func:`rnn_backward` can
split them into ``parts`` and run one part on each of torch's OpenMP threads (:mod:`rnnlab.engines.fused.team`):
each part is the same kernel (:func:`_forward_rows`, :func:`_backward_rows`) over its own rows, so a row's
arithmetic is the same however many parts there are; the bias gradient is summed per part and the parts
added in order. The caller decides how many parts (:func:`rnnlab.engines.fused.engine._rnn_team`; the
measurements behind it are in ``NOTES.md``).

Symbols: ``L`` length, ``N`` batch, ``H`` hidden units. ``lengths[n]`` is the real length of row ``n``: past
it the state stays put, the output is zero and no gradient flows through the step.
"""

from __future__ import annotations

import functools
import warnings

import numba
import numpy as np
from numba import types

from rnnlab.engines.fused.primitives import (
    ONE,
    ZERO,
    add_matmul,
    add_product,
    gemm_into,
    jit,
    operands,
    serial_begin,
    serial_end,
    tanh,
)
from rnnlab.engines.fused.team import (
    address_of,
    array_at,
    call_int0,
    run_alone,
    run_team,
)

# the row kernels and the parts' plumbing: compiled into their callers only (each part function, and the
# drivers), not also on their own
_inline = functools.partial(jit, inline="always")


@jit
def _rnn_activate(pre, b_hh, h, relu):
    """``h = tanh(pre + b_hh)`` (or relu) over ``(N, H)``; ``b_hh`` of length 0 adds nothing. Its own
    function, free of the per-row length checks: the loops vectorise only this way (with the checks in
    the same loop nest a step took ~20% longer)."""
    batch, hidden = h.shape
    with_bias = b_hh.shape[0] > 0
    for n in range(batch):
        p, h_n = pre[n], h[n]
        if with_bias and relu:
            for j in range(hidden):
                v = p[j] + b_hh[j]
                h_n[j] = ZERO if v < ZERO else v
        elif with_bias:
            for j in range(hidden):
                h_n[j] = tanh(p[j] + b_hh[j])
        elif relu:
            for j in range(hidden):
                h_n[j] = ZERO if p[j] < ZERO else p[j]
        else:
            for j in range(hidden):
                h_n[j] = tanh(p[j])


@jit
def _rnn_d_pre(d_pre, dh, d_out, hs, relu, step_sum):
    """``d_pre = (dh + d_out) ⊙ f'(pre)`` over ``(N, H)``, with ``f'`` read off ``hs`` = ``f(pre)``:
    ``tanh' = 1 - h²``, ``relu' = [h > 0]``; ``step_sum`` (length ``H``, or 0 for none) += its column sums.
    ``d_out`` has ``N`` rows or one, broadcast over the batch; ``dh`` may be wider than ``H`` (padded)."""
    batch, hidden = d_pre.shape
    with_sum = step_sum.shape[0] > 0
    for n in range(batch):
        a, g, o, h = d_pre[n], dh[n], d_out[0 if d_out.shape[0] == 1 else n], hs[n]
        if relu:
            for j in range(hidden):
                a[j] = g[j] + o[j] if h[j] > ZERO else ZERO
        else:
            for j in range(hidden):
                a[j] = (g[j] + o[j]) * (ONE - h[j] * h[j])
        if with_sum:
            for j in range(hidden):
                step_sum[j] += a[j]


@_inline
def _forward_rows(x_proj, h0, w_hh, b_hh, lengths, relu, out, hs, gemm, threads, n0, n1):
    """The forward recurrence of rows ``n0:n1``; arguments as :func:`rnn_forward`'s."""
    previous = serial_begin(threads)
    seq_len, _, hidden = x_proj.shape
    rows = n1 - n0
    blas = gemm != 0
    shortest = lengths[n0:n1].min() if rows > 0 else seq_len
    # the kernels' own loop wants W_hhᵀ and the accumulator padded (:func:`_padded`); BLAS reads W_hh as it is
    w_t, acc, scratch = operands((w_hh[:0] if blas else w_hh).T.copy(), 0 if blas else rows, hs)
    hs[0, n0:n1] = h0[n0:n1]
    for t in range(seq_len):
        h_prev, h_t = hs[t, n0:n1], hs[t + 1, n0:n1]  # (rows, H)
        pre = x_proj[t, n0:n1]
        if blas:
            gemm_into(pre, h_prev, w_hh, gemm, scratch, True, True)
        else:
            for n in range(rows):
                for j in range(hidden):
                    acc[n, j] = pre[n, j]
            add_matmul(acc, h_prev, w_t)
            pre = acc
        # h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)     (or relu)
        _rnn_activate(pre, b_hh, h_t, relu)
        if t >= shortest:  # rows past their length stay put, their output zero
            for n in range(rows):
                if t >= lengths[n0 + n]:
                    h_t[n] = h_prev[n]
        if out.shape[0] > 0:
            out[t, n0:n1] = h_t
            if t >= shortest:
                for n in range(rows):
                    if t >= lengths[n0 + n]:
                        out[t, n0 + n] = 0.0
    serial_end(threads, previous)


@_inline
def _backward_rows(w_hh, hs, d_out, d_hn, lengths, relu, d_pre, d_h0, bias_sum, gemm, threads, n0, n1):
    """Backpropagation through time of rows ``n0:n1``; arguments as :func:`rnn_backward`'s, except
    ``bias_sum`` (float64 ``(H,)``, or length 0 for none), to which the column sums of these rows' ``d_pre``
    over every step are added (per step in the dtype, across steps in float64)."""
    previous = serial_begin(threads)
    seq_len, _, hidden = d_pre.shape
    rows = n1 - n0
    blas = gemm != 0
    # dh: ∂L/∂h_t of each row as t goes down, padded for the loop (through BLAS only its first H columns);
    # the loop wants W_hh padded too, BLAS reads it as it is
    w, dh, scratch = operands(w_hh[:0] if blas else w_hh, rows, hs)
    if blas:
        w = w_hh
    dh[:, :hidden] = d_hn[n0:n1]
    shortest = lengths[n0:n1].min() if rows > 0 else seq_len
    with_bias = bias_sum.shape[0] > 0
    step_sum = np.empty(hidden if with_bias else 0, dtype=d_pre.dtype)
    for t in range(seq_len - 1, -1, -1):
        step_sum[:] = 0.0
        d_pre_t, h_t = d_pre[t, n0:n1], hs[t + 1, n0:n1]  # (rows, H)
        d_out_t = d_out[0 if d_out.shape[0] == 1 else t]
        if d_out_t.shape[0] > 1:
            d_out_t = d_out_t[n0:n1]
        if t < shortest:
            _rnn_d_pre(d_pre_t, dh, d_out_t, h_t, relu, step_sum)
        else:  # no gradient through the steps past a row's length
            _rnn_d_pre(d_pre_t, dh, d_out_t, h_t, relu, step_sum[:0])
            for n in range(rows):
                if t >= lengths[n0 + n]:
                    d_pre_t[n] = 0.0
            if with_bias:
                for n in range(rows):
                    a = d_pre_t[n]
                    for j in range(hidden):
                        step_sum[j] += a[j]
        if with_bias:
            for j in range(hidden):
                bias_sum[j] += step_sum[j]
        # ∂L/∂h_{t-1} = W_hhᵀ dpre_t; rows past their length keep dh (their d_pre is zero)
        if blas and t < shortest:
            gemm_into(dh, d_pre_t, w, gemm, scratch, False)
            continue
        for n in range(rows):
            if t < lengths[n0 + n]:
                dh[n] = 0.0
        add_product(dh, d_pre_t, w, gemm, scratch)
    d_h0[n0:n1] = dh[:, :hidden]
    serial_end(threads, previous)


# A job: the int64 array a part reads its arguments from (addresses, sizes, flags), at these places.
# Both: 0 L, 1 N, 2 H, 3 relu, 4 gemm, 5 threads, 6 omp_get_thread_num, 7 omp_get_num_threads.
# Forward: 8 x_proj, 9 h0, 10 w_hh, 11 b_hh, 12 its length, 13 lengths, 14 out, 15 its length, 16 hs.
# Backward: 8 w_hh, 9 hs, 10 d_out, 11 its length, 12 its rows, 13 d_hn, 14 lengths, 15 d_pre, 16 d_h0,
# 17 the parts' bias sums (float64, (parts, H) or (parts, 0)), 18 their length, 19 parts.
_FORWARD_JOB, _BACKWARD_JOB = 17, 20


@_inline
def _job(like, relu, gemm, threads, team, size):
    """A job of ``size`` with its common head filled in (see above)."""
    job = np.zeros(size, dtype=np.int64)
    seq_len, batch, hidden = like.shape
    job[0], job[1], job[2] = seq_len, batch, hidden
    job[3], job[4], job[5], job[6], job[7] = 1 if relu else 0, gemm, threads, team[1], team[2]
    return job


@_inline
def _rows_of_this_part(job):
    """Rows ``(n0, n1)`` of the thread running this part, and the part's index: the batch split evenly over
    the team's threads (``omp_get_num_threads`` inside the region: the runtime may start fewer than asked
    for); all rows where the job names no OpenMP runtime (run on the calling thread alone)."""
    if job[7] == 0:
        return 0, job[1], 0
    part, parts = call_int0(job[6]), call_int0(job[7])
    return part * job[1] // parts, (part + 1) * job[1] // parts, part


@_inline
def _forward_part_typed(job, dtype):
    seq_len, batch, hidden = job[0], job[1], job[2]
    n0, n1, _ = _rows_of_this_part(job)
    out_len = job[15]
    out = array_at(job[14], (out_len, batch if out_len else 0, hidden if out_len else 0), dtype)
    _forward_rows(array_at(job[8], (seq_len, batch, hidden), dtype), array_at(job[9], (batch, hidden), dtype),
                  array_at(job[10], (hidden, hidden), dtype), array_at(job[11], (job[12],), dtype),
                  array_at(job[13], (batch,), np.int64), job[3] != 0, out,
                  array_at(job[16], (seq_len + 1, batch, hidden), dtype), job[4], job[5], n0, n1)


@_inline
def _backward_part_typed(job, dtype):
    seq_len, batch, hidden = job[0], job[1], job[2]
    n0, n1, part = _rows_of_this_part(job)
    bias_sums = array_at(job[17], (job[19], job[18]), np.float64)
    _backward_rows(array_at(job[8], (hidden, hidden), dtype), array_at(job[9], (seq_len + 1, batch, hidden), dtype),
                   array_at(job[10], (job[11], job[12], hidden), dtype), array_at(job[13], (batch, hidden), dtype),
                   array_at(job[14], (batch,), np.int64), job[3] != 0,
                   array_at(job[15], (seq_len, batch, hidden), dtype), array_at(job[16], (batch, hidden), dtype),
                   bias_sums[part], job[4], job[5], n0, n1)


# One thread's part of rnn_forward / rnn_backward, as ``cfunc``s taking the job's address (``data``); one
# function per dtype, so that a float32 model compiles no float64 part.
def _forward_part_float32(data):
    _forward_part_typed(array_at(address_of(data), (_FORWARD_JOB,), np.int64), np.float32)


def _forward_part_float64(data):
    _forward_part_typed(array_at(address_of(data), (_FORWARD_JOB,), np.int64), np.float64)


def _backward_part_float32(data):
    _backward_part_typed(array_at(address_of(data), (_BACKWARD_JOB,), np.int64), np.float32)


def _backward_part_float64(data):
    _backward_part_typed(array_at(address_of(data), (_BACKWARD_JOB,), np.int64), np.float64)


_PARTS = {np.dtype(np.float32): (_forward_part_float32, _backward_part_float32),
          np.dtype(np.float64): (_forward_part_float64, _backward_part_float64)}


@functools.cache
def part_addresses(dtype) -> tuple[int, int]:
    """The addresses of the compiled ``void part(void *job)`` functions of the forward and the backward for
    ``dtype`` (float32 or float64), which :func:`rnn_forward` and :func:`rnn_backward` hand to the team
    (compiled at the first call, cached on disk as the kernels are)."""
    return tuple(_compile_part(part).address for part in _PARTS[np.dtype(dtype)])


def _compile_part(part):
    """``part`` as a ``cfunc`` ``void (void *)``, cached on disk; in memory where no cache is writable."""
    options = {"nopython": True, "error_model": "numpy"}
    try:
        return numba.cfunc(types.void(types.voidptr), cache=True, **options)(part)
    except RuntimeError as e:  # numba: "cannot cache function ...: no locator available"
        warnings.warn(f"fused engine: numba cannot cache its kernels ({e}); compiling them each process")
        return numba.cfunc(types.void(types.voidptr), cache=False, **options)(part)


@jit
def rnn_forward(x_proj, h0, w_hh, b_hh, lengths, relu, out, hs, gemm, threads, team, part, parts):
    """``x_proj`` ``(L, N, H)`` = ``W_ih x_t + b_ih``; ``w_hh`` ``(H, H)``; ``b_hh`` ``(H,)`` (length 0: none);
    ``gemm`` the BLAS product's address or 0 (:func:`~rnnlab.engines.fused.primitives.add_product`);
    ``threads`` MKL's thread setter or 0 (:func:`~rnnlab.engines.fused.primitives.serial_begin`); ``team``
    :func:`rnnlab.engines.fused.team.team_addresses`, ``part`` the first of :func:`part_addresses`, ``parts``
    how many threads to split the rows over (1: all on this thread).

    Writes ``hs`` ``(L + 1, N, H)``, with ``hs[0] = h0`` and ``hs[t + 1]`` the state after step ``t`` (kept for
    the backward pass), and ``out`` ``(L, N, H)``; an ``out`` of length 0 is not written (where every row
    runs the whole length, the output is ``hs[1:]``). The product and ``b_hh`` are added into ``x_proj[t]``
    in place (through BLAS; the loop works on a padded copy), so ``x_proj`` is scratch.
    """
    alone = parts < 2 or team[0] == 0
    job = _job(x_proj, relu, gemm, threads, (0, 0, 0) if alone else team, _FORWARD_JOB)
    job[8], job[9], job[10], job[11], job[12] = (x_proj.ctypes.data, h0.ctypes.data, w_hh.ctypes.data,
                                                  b_hh.ctypes.data, b_hh.shape[0])
    job[13], job[14], job[15], job[16] = lengths.ctypes.data, out.ctypes.data, out.shape[0], hs.ctypes.data
    if alone:
        run_alone(part, job)
    else:
        run_team(team[0], part, job, parts)


@jit
def rnn_backward(w_hh, hs, d_out, d_hn, lengths, relu, d_pre, d_h0, d_bias, gemm, threads, team, part, parts):
    """Backpropagation through time. ``w_hh`` ``(H, H)``; ``hs`` from :func:`rnn_forward`; ``d_out``
    ``(L, N, H)`` and ``d_hn`` ``(N, H)`` the incoming gradients. ``d_out`` may have length 1 in time or in
    the batch, broadcast across it (a loss like ``out.sum()`` hands in one value for every element). The
    last five arguments as :func:`rnn_forward`'s (``part`` the second of :func:`part_addresses`).

    Writes ``d_pre`` ``(L, N, H)`` = ∂loss/∂(pre-activation), which is also the gradient of ``x_proj``;
    ``d_h0`` ``(N, H)``; and ``d_bias`` ``(H,)`` = Σ over steps and rows of ``d_pre``, the gradient of both
    biases (summed in float64 across steps and parts; not written where it has length 0).
    """
    seq_len, batch, hidden = d_pre.shape
    with_bias = d_bias.shape[0] > 0
    alone = parts < 2 or team[0] == 0
    if alone:
        parts = 1
    bias_sums = np.zeros((parts, hidden if with_bias else 0), dtype=np.float64)
    job = _job(d_pre, relu, gemm, threads, (0, 0, 0) if alone else team, _BACKWARD_JOB)
    job[8], job[9], job[10], job[11], job[12] = (w_hh.ctypes.data, hs.ctypes.data, d_out.ctypes.data,
                                                  d_out.shape[0], d_out.shape[1])
    job[13], job[14], job[15], job[16] = d_hn.ctypes.data, lengths.ctypes.data, d_pre.ctypes.data, d_h0.ctypes.data
    job[17], job[18], job[19] = bias_sums.ctypes.data, bias_sums.shape[1], parts
    if alone:
        run_alone(part, job)
    else:
        run_team(team[0], part, job, parts)
    if with_bias:
        for j in range(hidden):
            total = 0.0
            for p in range(parts):
                total += bias_sums[p, j]
            d_bias[j] = total
