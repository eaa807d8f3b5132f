"""The oracle comparison shared by the layer tests: an rnnlab layer against torch.nn with the same weights."""

import torch

import rnnlab.nn as rnn

CELLS = {
    "rnn_tanh": (rnn.RNN, torch.nn.RNN, {}),
    "rnn_relu": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnn.LSTM, torch.nn.LSTM, {}),
    "gru": (rnn.GRU, torch.nn.GRU, {}),
}
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
INPUT, HIDDEN, LENGTH, BATCH = 3, 4, 5, 2


def pair(cell, dtype, engine="auto", seed=0, **kwargs):
    """An rnnlab layer and a torch.nn layer holding the same weights (copied torch -> rnnlab)."""
    ours_cls, theirs_cls, extra = CELLS[cell]
    torch.manual_seed(seed)
    theirs = theirs_cls(INPUT, HIDDEN, **extra, **kwargs).to(dtype)
    ours = ours_cls(INPUT, HIDDEN, **extra, **kwargs, engine=engine).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def states(cell, n_states, batch, dtype, seed=1):
    """A random initial state: ``(n_states, batch, HIDDEN)`` (``(n_states, HIDDEN)`` for ``batch=None``)."""
    g = torch.Generator().manual_seed(seed)
    shape = (n_states, batch, HIDDEN) if batch else (n_states, HIDDEN)
    h = torch.randn(shape, generator=g, dtype=dtype)
    c = torch.randn(shape, generator=g, dtype=dtype)
    return (h, c) if cell == "lstm" else h


def flat(hx):
    return list(hx) if isinstance(hx, tuple) else [hx]


def clone(hx):
    """A leaf copy of a state (or an LSTM pair) that records its gradient."""
    if isinstance(hx, tuple):
        return tuple(s.detach().clone().requires_grad_() for s in hx)
    return hx.detach().clone().requires_grad_()


def assert_same_as_torch(ours, theirs, x, hx, tol):
    """Same outputs, final state and gradients w.r.t. input, initial state and every parameter."""
    x1, x2 = x.detach().clone().requires_grad_(), x.detach().clone().requires_grad_()
    h1, h2 = clone(hx), clone(hx)
    out1, hn1 = ours(x1, h1)
    out2, hn2 = theirs(x2, h2)
    torch.testing.assert_close(out1, out2, atol=tol, rtol=tol)
    for a, b in zip(flat(hn1), flat(hn2)):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)
    g = torch.Generator().manual_seed(7)
    w_out = torch.randn(out2.shape, generator=g, dtype=out2.dtype)
    w_h = [torch.randn(s.shape, generator=g, dtype=s.dtype) for s in flat(hn2)]
    loss1 = (out1 * w_out).sum() + sum((s * w).sum() for s, w in zip(flat(hn1), w_h))
    loss2 = (out2 * w_out).sum() + sum((s * w).sum() for s, w in zip(flat(hn2), w_h))
    loss1.backward()
    loss2.backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=tol, rtol=tol)
    for a, b in zip(flat(h1), flat(h2)):
        torch.testing.assert_close(a.grad, b.grad, atol=tol, rtol=tol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs_params[name].grad, atol=tol, rtol=tol, msg=name)
