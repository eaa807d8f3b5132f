"""Generation one character at a time: a fitted :class:`~rnnlab.models.CharLM` as a step function.

Sampling makes one network step per character, so a step's fixed cost (framework dispatch, not
arithmetic) decides the speed. :class:`Stepper` runs the same equations as :mod:`rnnlab.engines.loop`
on NumPy vectors, with the embedding folded into the first layer's input projection; tests check it
against ``CharLM.forward`` for every cell. :meth:`Stepper.tokens` samples many characters at once: for
long samples in one numba call per 1,024 characters where the fused engine's compiled sampler is ready
(:func:`rnnlab.engines.fused.sampler`, no per-step dispatch at all), else step by step in NumPy.
Both draw the same Gumbel noise from the same generator, so a seed gives the same text either way (up
to float32 rounding in near ties).
"""

from __future__ import annotations

import numpy as np

from rnnlab.engines import fused
from rnnlab.models import CharLM

CHUNK = 1024  # characters per draw of Gumbel noise (and per kernel call)
# From this many characters on, :meth:`Stepper.tokens` uses the compiled sampler where its kernels are on
# disk (:func:`rnnlab.engines.fused.ready`). Its first use in a process then costs ~0.8 s (importing numba,
# loading the cached kernel), which NumPy steps only pay back over thousands of characters; where they are
# not on disk it would compile them (many seconds), so NumPy steps it is, at any length (NOTES.md of the
# fused engine). Once a process has used the compiled sampler, it keeps it at any length.
COMPILED_FROM = 8192
_KINDS = {"rnn_tanh": 0, "rnn_relu": 1, "gru": 2, "lstm": 3}


class Stepper:
    """One character in, the next character's logits out: a fitted :class:`CharLM` run one step at a time.

    Sampling makes one network step per character, so the step's fixed cost is what matters. The
    stepper copies the weights into NumPy once, folds the embedding into the first layer
    (``E W_ih^T + b_ih`` is a ``(V, G)`` table, one row per character) and then runs each layer's
    equation on vectors. It computes what ``model(x, state)`` computes (in eval mode) to float precision.

    Args:
        model: the network (``rnn``, ``lstm`` or ``gru``, one direction).
        state: the state after the prime, as the model returns it.

    Shape:
        state ``(num_layers, 1, H)`` (a pair for LSTM); logits ``(V,)``.
    """

    def __init__(self, model: CharLM, state) -> None:
        layer = model.rnn
        self.mode, L = layer.mode, layer.num_layers
        w = {k: v.detach().cpu().float().numpy() for k, v in layer.named_parameters()}
        zero = np.zeros(w["weight_hh_l0"].shape[0], dtype=np.float32)
        self.w_ih = [w[f"weight_ih_l{k}"] for k in range(L)]
        self.w_hh = [w[f"weight_hh_l{k}"] for k in range(L)]
        self.b_ih = [w.get(f"bias_ih_l{k}", zero) for k in range(L)]
        self.b_hh = [w.get(f"bias_hh_l{k}", zero) for k in range(L)]
        emb = model.embedding.weight.detach().cpu().float().numpy()
        # the first layer's input term for every character: (V, E) @ (E, G) + (G,) -> (V, G)
        self.table = emb @ self.w_ih[0].T + self.b_ih[0]
        self.w_fc = model.fc.weight.detach().cpu().float().numpy()
        self.b_fc = model.fc.bias.detach().cpu().float().numpy()
        parts = state if self.mode == "lstm" else (state,)
        # copies (num_layers, H), contiguous: the steps update them in place, not the caller's tensors
        self.h = parts[0][:, 0].detach().cpu().float().numpy().copy()
        self.c = parts[1][:, 0].detach().cpu().float().numpy().copy() if self.mode == "lstm" else None
        self._packed = None  # the arrays of the compiled sampler, built at its first use

    def tokens(self, logits: np.ndarray, n: int, temperature: float, top_k: int | None, greedy: bool,
               rng: np.random.Generator, compiled: bool | None = None):
        """Yield ``n`` token ids, each drawn from the current logits and then fed in (see
        :meth:`rnnlab.text.CharModel.generate` for the sampling rule). ``logits`` ``(V,)``: those after the
        prime. ``compiled``: the numba sampler (True, where numba loads), NumPy steps (False: the reference
        the tests compare against), or by cost (None: at any length once this process has used the
        sampler; from :data:`COMPILED_FROM` characters where they are ready on disk; else NumPy steps)."""
        vocab = len(logits)
        top_k = vocab if top_k is None else min(top_k, vocab)
        if compiled is None:
            compiled = fused.sampler_loaded() or (n >= COMPILED_FROM and fused.ready())
        sampler = fused.sampler() if compiled else None
        logits = np.array(logits, dtype=np.float32)
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            # greedy draws no noise, so that a greedy and a sampled run leave the generator alike
            noise = np.zeros((1, vocab)) if greedy else rng.gumbel(size=(m, vocab))
            if sampler is not None:
                ids = np.empty(m, dtype=np.int64)
                sampler(*self._arrays(), logits, noise, np.float32(temperature), top_k, greedy, ids)
                yield from ids.tolist()
                continue
            for j in range(m):
                if greedy:
                    i = int(logits.argmax())
                else:
                    # i = argmax_i (z_i / T + g_i) over the top_k likeliest: the Gumbel-max trick
                    z = logits / np.float32(temperature)
                    if top_k < vocab:
                        z = np.where(z < np.partition(z, -top_k)[-top_k], -np.inf, z)
                    i = int((z + noise[j]).argmax())
                yield i
                logits = self(i)

    def _arrays(self):
        """The weights and state as :func:`rnnlab.engines.fused.sampler` takes them (built once;
        the state arrays are this stepper's own, so the kernel's updates carry over)."""
        if self._packed is None:
            t = lambda ws: np.ascontiguousarray(np.stack([w.T for w in ws]))  # noqa: E731  (layers, H, G)
            w_ih_t = t(self.w_ih[1:]) if len(self.w_ih) > 1 else np.zeros((1,) + self.w_hh[0].T.shape, np.float32)
            c = self.c if self.c is not None else np.zeros_like(self.h)
            self._packed = (_KINDS[self.mode], np.ascontiguousarray(self.table, dtype=np.float32), w_ih_t,
                            np.stack(self.b_ih), t(self.w_hh), np.stack(self.b_hh),
                            np.ascontiguousarray(self.w_fc.T), self.b_fc, self.h, c)
        return self._packed

    def __call__(self, i: int) -> np.ndarray:
        x = None
        for k in range(len(self.w_hh)):
            gi = self.table[i] if k == 0 else self.w_ih[k] @ x + self.b_ih[k]  # (G,)
            gh = self.w_hh[k] @ self.h[k] + self.b_hh[k]  # (G,)
            if self.mode == "lstm":
                # i, f, g, o = σ, σ, tanh, σ of (W_ih x + b_ih + W_hh h + b_hh);  c' = f c + i g;  h' = o tanh(c')
                g_i, g_f, g_g, g_o = np.split(gi + gh, 4)
                self.c[k] = _sigmoid(g_f) * self.c[k] + _sigmoid(g_i) * np.tanh(g_g)
                self.h[k] = _sigmoid(g_o) * np.tanh(self.c[k])
            elif self.mode == "gru":
                # r, z = σ(...); n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 - z) n + z h
                i_r, i_z, i_n = np.split(gi, 3)
                h_r, h_z, h_n = np.split(gh, 3)
                r, z = _sigmoid(i_r + h_r), _sigmoid(i_z + h_z)
                self.h[k] = (1 - z) * np.tanh(i_n + r * h_n) + z * self.h[k]
            else:
                # h' = tanh(W_ih x + b_ih + W_hh h + b_hh)  (relu for nonlinearity="relu")
                pre = gi + gh
                self.h[k] = np.tanh(pre) if self.mode == "rnn_tanh" else np.maximum(pre, 0)
            x = self.h[k]
        return self.w_fc @ x + self.b_fc  # (V,)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
