"""rnnlab.nn layers against the oracle, torch.nn.RNN/LSTM/GRU: weights, outputs, final states, gradients."""

import itertools
import warnings

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnlab.nn as rnn
from oracle import BATCH, CELLS, HIDDEN, INPUT, LENGTH, TOL, assert_same_as_torch, clone, flat, pair, states
from rnnlab import engines

ENGINES = [name for name in engines.names() if name != "auto"] + ["auto"]


GRID = list(itertools.product(CELLS, [True, False], [False, True], [1, 2, 3], [False, True], ENGINES,
                              [torch.float32, torch.float64]))


@pytest.mark.parametrize("cell,bias,batch_first,num_layers,bidirectional,engine,dtype", GRID)
def test_oracle_grid(cell, bias, batch_first, num_layers, bidirectional, engine, dtype):
    ours, theirs = pair(cell, dtype, engine, bias=bias, batch_first=batch_first, num_layers=num_layers,
                         bidirectional=bidirectional)
    x = torch.randn((BATCH, LENGTH, INPUT) if batch_first else (LENGTH, BATCH, INPUT), dtype=dtype)
    hx = states(cell, num_layers * (2 if bidirectional else 1), BATCH, dtype)
    assert_same_as_torch(ours, theirs, x, hx, TOL[dtype])


@pytest.mark.parametrize("cell,engine", list(itertools.product(CELLS, ENGINES)))
def test_unbatched_input_matches_torch(cell, engine):
    ours, theirs = pair(cell, torch.float64, engine, num_layers=2, bidirectional=True)
    x = torch.randn(LENGTH, INPUT, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, x, states(cell, 4, None, torch.float64), 1e-10)


@pytest.mark.parametrize("cell,engine,bidirectional", list(itertools.product(CELLS, ENGINES, [False, True])))
def test_packed_variable_lengths_match_torch(cell, engine, bidirectional):
    ours, theirs = pair(cell, torch.float64, engine, num_layers=2, bidirectional=bidirectional)
    lengths = torch.tensor([2, 5, 1, 4])
    padded = torch.randn(LENGTH, 4, INPUT, dtype=torch.float64, requires_grad=True)
    hx = states(cell, 2 * (2 if bidirectional else 1), 4, torch.float64)
    outs, grads = [], []
    for layer in (ours, theirs):
        x = padded.detach().clone().requires_grad_()
        out, hn = layer(pack_padded_sequence(x, lengths, enforce_sorted=False), clone(hx))
        loss = (out.data ** 2).sum() + sum((s ** 3).sum() for s in flat(hn))
        loss.backward()
        outs.append((out, hn))
        grads.append(x.grad)
    (o1, h1), (o2, h2) = outs
    torch.testing.assert_close(o1.data, o2.data, atol=1e-10, rtol=1e-10)
    assert torch.equal(o1.batch_sizes, o2.batch_sizes) and torch.equal(o1.sorted_indices, o2.sorted_indices)
    for a, b in zip(flat(h1), flat(h2)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_state_dict_round_trips_and_same_seed_gives_same_init(cell):
    ours_cls, theirs_cls, extra = CELLS[cell]
    kwargs = dict(num_layers=2, bidirectional=True, bias=True)
    torch.manual_seed(3)
    ours = ours_cls(INPUT, HIDDEN, **extra, **kwargs)
    torch.manual_seed(3)
    theirs = theirs_cls(INPUT, HIDDEN, **extra, **kwargs)
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in b:
        assert a[key].shape == b[key].shape and torch.equal(a[key], b[key]), key
    # and back: torch weights perturbed, loaded into ours, and ours into a fresh torch layer
    theirs.load_state_dict({k: v + 1 for k, v in b.items()})
    ours.load_state_dict(theirs.state_dict())
    fresh = theirs_cls(INPUT, HIDDEN, **extra, **kwargs)
    fresh.load_state_dict(ours.state_dict())
    assert all(torch.equal(v, theirs.state_dict()[k]) for k, v in fresh.state_dict().items())


def test_dropout_between_layers_in_training_only():
    torch.manual_seed(0)
    layer = rnn.RNN(INPUT, HIDDEN, num_layers=2, dropout=0.5, engine="loop")
    x = torch.randn(LENGTH, BATCH, INPUT)
    layer.eval()
    a, _ = layer(x)
    b, _ = layer(x)
    assert torch.equal(a, b)
    layer.train()
    c, _ = layer(x)
    assert not torch.allclose(a, c)
    # the last layer gets no dropout: a one-layer RNN with dropout is deterministic in training
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = rnn.RNN(INPUT, HIDDEN, num_layers=1, dropout=0.5).train()
    torch.testing.assert_close(single(x)[0], single(x)[0])


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        rnn.RNN(1, 1, dropout=0.2)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.2", True])
def test_dropout_out_of_range_is_rejected(bad):
    with pytest.raises(ValueError, match=r"RNN: dropout should be a number in range \[0, 1\]"):
        rnn.RNN(1, 1, num_layers=2, dropout=bad)


def test_trace_returns_the_graph_states():
    torch.manual_seed(0)
    layer = rnn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True)
    x = torch.randn(LENGTH, BATCH, INPUT)
    out, (h_n, c_n), states = layer.trace(x)
    assert len(states) == 2 and all(len(layer_states) == 2 for layer_states in states)
    assert all(len(direction) == LENGTH for layer_states in states for direction in layer_states)
    # the last layer's forward h_t are the first half of the output; the reverse ones the second half
    torch.testing.assert_close(torch.stack([h for h, _ in states[1][0]]), out[..., :HIDDEN])
    torch.testing.assert_close(torch.stack([h for h, _ in states[1][1]][::-1]), out[..., HIDDEN:])
    torch.testing.assert_close(states[1][0][-1][1], c_n[2])
    # every first-layer state reaches the loss at the last step, through time and the second layer
    h_t = [h for h, _ in states[0][0]]
    for h in h_t:
        h.retain_grad()
    out[-1].sum().backward()
    assert all(h.grad is not None and h.grad.abs().sum() > 0 for h in h_t)


def test_trace_gradients_equal_autograd_on_the_same_states():
    torch.manual_seed(0)
    layer = rnn.RNN(INPUT, HIDDEN, engine="torch")
    x = torch.randn(LENGTH, 1, INPUT)
    out, _, states = layer.trace(x)
    h_t = states[0][0]
    grads = torch.autograd.grad(out[-1].pow(2).sum(), h_t)
    # ∂L/∂h_{T-1} by hand: L = sum(h_T^2), h_T = tanh(W_ih x_T + b_ih + W_hh h_{T-1} + b_hh)
    h_T = out[-1]
    d_pre = 2 * h_T * (1 - h_T ** 2)
    torch.testing.assert_close(grads[-2], d_pre @ layer.weight_hh_l0)
    torch.testing.assert_close(grads[-1], 2 * h_T)


def test_unknown_engine_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="engine: unknown engine 'fast'; choose one of auto, .*loop.*torch"):
        rnn.GRU(2, 3, engine="fast")


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'"):
        rnn.RNN(2, 3, nonlinearity="sigmoid")


def test_repr_shows_the_configuration():
    assert repr(rnn.RNN(2, 3, num_layers=2, nonlinearity="relu")) == "RNN(2, 3, num_layers=2, nonlinearity='relu')"
