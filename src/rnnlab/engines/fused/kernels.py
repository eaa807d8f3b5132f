"""Numba kernels of the fused CPU engine for the GRU and the LSTM, and the compiled sampler.

Only the recurrence lives here; the input projection of every step and the weight gradients are one
matrix product each, done by torch in :mod:`rnnlab.engines.fused.engine`. Every kernel goes step by step
over the whole batch, so the recurrence's product ``h_{t-1} W_hhᵀ`` of all rows is one matrix product per
step (:func:`~rnnlab.engines.fused.primitives.add_product`); what the kernels share (the products, tanh and
σ, how they are compiled) is in :mod:`rnnlab.engines.fused.primitives`. The Elman RNN's kernels, which can
also split the batch over torch's threads, are in :mod:`rnnlab.engines.fused.rnn_kernels`.

Symbols: ``L`` length, ``N`` batch, ``H`` hidden units, ``G`` gate rows (``H``, ``3H`` GRU, ``4H`` LSTM).
Every kernel writes into arrays the caller allocates (torch tensors seen through ``.numpy()``), and
``lengths[n]`` is the real length of row ``n`` (``L`` everywhere when none were given): past it the state
stays put, the output is zero and no gradient flows through the step.

When numba is missing, importing this module raises ``ImportError``; when its cache directory is not
writable, the kernels are compiled in memory each process instead of cached on disk.
"""

from __future__ import annotations

import numpy as np

from rnnlab.engines.fused.primitives import (
    ONE,
    ZERO,
    add_matvec,
    add_product,
    jit,
    operands,
    serial_begin,
    serial_end,
    sigmoid,
    tanh,
)

# -- GRU ---------------------------------------------------------------------------------------------------


@jit
def gru_forward(x_proj, h0, w_hh_t, b_hh, lengths, out, hs, gates, h_proj_n, gemm, threads):
    """``x_proj`` ``(L, N, 3H)`` = ``W_ih x_t + b_ih``; ``w_hh_t`` ``(H, 3H)`` = ``W_hhᵀ``; ``b_hh`` ``(3H,)``;
    gates r, z, n.

    Writes ``out`` ``(L, N, H)``, ``hs`` ``(L + 1, N, H)``, ``gates`` ``(L, N, 3H)`` = ``(r_t, z_t, n_t)`` and
    ``h_proj_n`` ``(L, N, H)`` = ``W_hn h_{t-1} + b_hn``, all kept for the backward pass.
    """
    previous = serial_begin(threads)
    seq_len, batch, _ = x_proj.shape
    hidden = hs.shape[2]
    w_t, acc, scratch = operands(w_hh_t, batch, hs)  # acc: W_hh h_{t-1} + b_hh of every row
    hs[0] = h0
    for t in range(seq_len):
        h_prev, h_t = hs[t], hs[t + 1]
        for n in range(batch):
            for j in range(3 * hidden):
                acc[n, j] = b_hh[j]
        add_product(acc, h_prev, w_t, gemm, scratch)
        for n in range(batch):
            if t >= lengths[n]:
                h_t[n] = h_prev[n]
                out[t, n] = 0.0
                gates[t, n] = 0.0
                h_proj_n[t, n] = 0.0
                continue
            for j in range(hidden):
                # r_t = σ(x_r + h_r), z_t = σ(x_z + h_z), n_t = tanh(x_n + r_t ⊙ (W_hn h_{t-1} + b_hn))
                r = sigmoid(x_proj[t, n, j] + acc[n, j])
                z = sigmoid(x_proj[t, n, hidden + j] + acc[n, hidden + j])
                n_t = tanh(x_proj[t, n, 2 * hidden + j] + r * acc[n, 2 * hidden + j])
                # h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
                h_t[n, j] = (ONE - z) * n_t + z * h_prev[n, j]
                out[t, n, j] = h_t[n, j]
                gates[t, n, j], gates[t, n, hidden + j], gates[t, n, 2 * hidden + j] = r, z, n_t
                h_proj_n[t, n, j] = acc[n, 2 * hidden + j]
    serial_end(threads, previous)


@jit
def gru_backward(w_hh, hs, gates, h_proj_n, d_out, d_hn, lengths, d_x, d_h, d_h0, gemm, threads):
    """``w_hh`` ``(3H, H)``; saved tensors from :func:`gru_forward`; ``d_out`` ``(L, N, H)``, ``d_hn`` ``(N, H)``.

    Writes ``d_x`` ``(L, N, 3H)`` = ∂loss/∂x_proj, ``d_h`` ``(L, N, 3H)`` = ∂loss/∂(W_hh h_{t-1} + b_hh) (from
    which torch forms ``dW_hh`` and ``db_hh``) and ``d_h0`` ``(N, H)``.
    """
    previous = serial_begin(threads)
    seq_len, batch, hidden = d_out.shape
    w, dh, scratch = operands(w_hh, batch, hs)
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
                d_n = g * (ONE - z)
                d_z = g * (hs[t, n, j] - n_t)
                d_pre_n = d_n * (ONE - n_t * n_t)
                d_r = d_pre_n * h_proj_n[t, n, j]
                d_pre_r = d_r * r * (ONE - r)
                d_pre_z = d_z * z * (ONE - z)
                d_x[t, n, j], d_x[t, n, hidden + j], d_x[t, n, 2 * hidden + j] = d_pre_r, d_pre_z, d_pre_n
                d_h[t, n, j], d_h[t, n, hidden + j], d_h[t, n, 2 * hidden + j] = d_pre_r, d_pre_z, d_pre_n * r
                # the direct path h_t = ... + z_t ⊙ h_{t-1}
                dh[n, j] = g * z
        # ∂L/∂h_{t-1} += W_hhᵀ d_h_t; rows past their length keep dh (their d_h is zero)
        add_product(dh, d_h[t], w, gemm, scratch)
    d_h0[:] = dh[:, :hidden]
    serial_end(threads, previous)


# -- LSTM --------------------------------------------------------------------------------------------------


@jit
def lstm_forward(x_proj, h0, c0, w_hh_t, lengths, out, hs, cs, gates, gemm, threads):
    """``x_proj`` ``(L, N, 4H)`` = ``W_ih x_t + b_ih + b_hh``; ``w_hh_t`` ``(H, 4H)`` = ``W_hhᵀ``; gates i, f, g, o.

    Writes ``out`` ``(L, N, H)``, ``hs`` and ``cs`` ``(L + 1, N, H)`` (index 0 the initial state) and
    ``gates`` ``(L, N, 4H)`` = ``(i_t, f_t, g_t, o_t)`` after their nonlinearities.
    """
    previous = serial_begin(threads)
    seq_len, batch, _ = x_proj.shape
    hidden = hs.shape[2]
    w_t, acc, scratch = operands(w_hh_t, batch, hs)  # acc: the gates' pre-activations of every row
    hs[0] = h0
    cs[0] = c0
    for t in range(seq_len):
        for n in range(batch):
            for j in range(4 * hidden):
                acc[n, j] = x_proj[t, n, j]
        add_product(acc, hs[t], w_t, gemm, scratch)
        for n in range(batch):
            if t >= lengths[n]:
                hs[t + 1, n] = hs[t, n]
                cs[t + 1, n] = cs[t, n]
                out[t, n] = 0.0
                gates[t, n] = 0.0
                continue
            for j in range(hidden):
                i = sigmoid(acc[n, j])
                f = sigmoid(acc[n, hidden + j])
                g = tanh(acc[n, 2 * hidden + j])
                o = sigmoid(acc[n, 3 * hidden + j])
                # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t;  h_t = o_t ⊙ tanh(c_t)
                c_t = f * cs[t, n, j] + i * g
                cs[t + 1, n, j] = c_t
                hs[t + 1, n, j] = o * tanh(c_t)
                out[t, n, j] = hs[t + 1, n, j]
                gates[t, n, j], gates[t, n, hidden + j] = i, f
                gates[t, n, 2 * hidden + j], gates[t, n, 3 * hidden + j] = g, o
    serial_end(threads, previous)


@jit
def lstm_backward(w_hh, cs, gates, d_out, d_hn, d_cn, lengths, d_pre, d_h0, d_c0, gemm, threads):
    """``w_hh`` ``(4H, H)``; saved tensors from :func:`lstm_forward`; incoming ``d_out``, ``d_hn``, ``d_cn``.

    Writes ``d_pre`` ``(L, N, 4H)`` = ∂loss/∂(gate pre-activations) (the gradient of ``x_proj`` and, summed,
    of both biases), ``d_h0`` and ``d_c0`` ``(N, H)``.
    """
    previous = serial_begin(threads)
    seq_len, batch, hidden = d_out.shape
    w, dh, scratch = operands(w_hh, batch, cs)
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
                tanh_c = tanh(cs[t + 1, n, j])
                d_c = dc[n, j] + g_h * o * (ONE - tanh_c * tanh_c)
                d_pre[t, n, j] = d_c * g * i * (ONE - i)
                d_pre[t, n, hidden + j] = d_c * cs[t, n, j] * f * (ONE - f)
                d_pre[t, n, 2 * hidden + j] = d_c * i * (ONE - g * g)
                d_pre[t, n, 3 * hidden + j] = g_h * tanh_c * o * (ONE - o)
                dc[n, j] = d_c * f
            dh[n] = 0.0
        # ∂L/∂h_{t-1} = W_hhᵀ dpre_t; rows past their length keep dh and dc (their d_pre is zero)
        add_product(dh, d_pre[t], w, gemm, scratch)
    d_h0[:] = dh[:, :hidden]
    d_c0[:] = dc
    serial_end(threads, previous)


# -- generation: a whole network, one character at a time -------------------------------------------------


@jit
def _argmax_plus(z, noise):
    """The index of the largest ``z[v] + noise[v]`` (the first of equals, as numpy's argmax)."""
    best, best_v = -np.inf, 0
    for v in range(z.shape[0]):
        s = z[v] + noise[v]
        if s > best:
            best, best_v = s, v
    return best_v


@jit
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
                add_matvec(gi, h[k - 1], w_ih_t[k - 1])
            gh[:] = b_hh[k]
            add_matvec(gh, h[k], w_hh_t[k])
            for u in range(hidden):
                if kind == 3:
                    # c' = σ(f) c + σ(i) tanh(g);  h' = σ(o) tanh(c')
                    c[k, u] = sigmoid(gi[hidden + u] + gh[hidden + u]) * c[k, u] + (
                        sigmoid(gi[u] + gh[u]) * tanh(gi[2 * hidden + u] + gh[2 * hidden + u]))
                    h[k, u] = sigmoid(gi[3 * hidden + u] + gh[3 * hidden + u]) * tanh(c[k, u])
                elif kind == 2:
                    # r, z = σ(...);  n = tanh(x_n + r (W_hn h + b_hn));  h' = (1 - z) n + z h
                    r = sigmoid(gi[u] + gh[u])
                    update = sigmoid(gi[hidden + u] + gh[hidden + u])
                    n_t = tanh(gi[2 * hidden + u] + r * gh[2 * hidden + u])
                    h[k, u] = (ONE - update) * n_t + update * h[k, u]
                else:
                    pre = gi[u] + gh[u]
                    h[k, u] = (ZERO if pre < ZERO else pre) if kind == 1 else tanh(pre)
        logits[:] = b_fc
        add_matvec(logits, h[layers - 1], w_fc_t)
