"""rnnlab.nn cells against torch.nn.RNNCell/LSTMCell/GRUCell."""

import itertools

import pytest
import torch

import rnnlab.nn as rnn

CELLS = {
    "rnn_tanh": (rnn.RNNCell, torch.nn.RNNCell, {}),
    "rnn_relu": (rnn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (rnn.LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (rnn.GRUCell, torch.nn.GRUCell, {}),
}


def _flat(s):
    return list(s) if isinstance(s, tuple) else [s]


@pytest.mark.parametrize("cell,bias,batched,dtype,given_state",
                         list(itertools.product(CELLS, [True, False], [True, False], [torch.float32, torch.float64],
                                                [True, False])))
def test_cell_matches_torch(cell, bias, batched, dtype, given_state):
    ours_cls, theirs_cls, extra = CELLS[cell]
    torch.manual_seed(0)
    theirs = theirs_cls(3, 4, bias=bias, **extra).to(dtype)
    torch.manual_seed(0)
    ours = ours_cls(3, 4, bias=bias, **extra).to(dtype)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    shape = (2, 3) if batched else (3,)
    x = torch.randn(shape, dtype=dtype)
    state_shape = (2, 4) if batched else (4,)
    hx = None
    if given_state:
        hx = tuple(torch.randn(state_shape, dtype=dtype) for _ in range(2)) if cell == "lstm" else torch.randn(
            state_shape, dtype=dtype)
    results, grads = [], []
    for module in (ours, theirs):
        xi = x.clone().requires_grad_()
        out = _flat(module(xi, hx))
        sum((o * (i + 1)).sum() for i, o in enumerate(out)).backward()
        results.append(out)
        grads.append([xi.grad] + [p.grad for p in module.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def test_cell_shape_errors_name_the_cell_and_shapes():
    cell = rnn.GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"GRUCell: input.size\(-1\) must be equal to input_size. Expected 3, got 5"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"GRUCell: hx has shape \(3, 4\) but expected \(2, 4\)"):
        cell(torch.randn(2, 3), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="GRUCell: expected input to be 1-D .* got 3-D"):
        cell(torch.randn(1, 2, 3))


def test_rnn_cell_recomputed_by_hand():
    cell = rnn.RNNCell(1, 1)
    with torch.no_grad():
        cell.weight_ih.fill_(0.5)
        cell.weight_hh.fill_(-0.25)
        cell.bias_ih.fill_(0.1)
        cell.bias_hh.fill_(0.2)
    h = cell(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
    assert h.item() == pytest.approx(float(torch.tanh(torch.tensor(0.5 * 2 + 0.1 - 0.25 * 1 + 0.2))))
