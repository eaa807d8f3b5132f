"""explain hidden: the traced states are the layer's own, and the equation recomputed by hand gives them."""

import numpy as np
import pytest
import torch

from rnnlab.explain.hidden import HiddenConfig, default_model, hidden_states
from rnnlab.models import SequenceRegressor
from rnnlab.nn import RNN


def _by_hand_rnn(model, x):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), layer after layer, in plain loops. x (L, H_in)."""
    layer_input, states = x, []
    for k in range(model.rnn.num_layers):
        w_ih, w_hh, b_ih, b_hh = (p.detach() for p in model.rnn.layer_weights(k, 0))
        h, hs = torch.zeros(w_hh.shape[1]), []
        for x_t in layer_input:
            h = torch.tanh(w_ih @ x_t + b_ih + w_hh @ h + b_hh)
            hs.append(h)
        layer_input = torch.stack(hs)
        states.append(layer_input.numpy())
    return states


def test_traced_states_equal_the_equation_by_hand_and_the_layer_output():
    torch.manual_seed(3)
    model = SequenceRegressor(input_size=2, hidden_size=5, num_layers=2)
    x = torch.randn(7, 2)
    result = hidden_states(model, x)
    assert [s.shape for s in result.states] == [(7, 5), (7, 5)]
    for traced, hand in zip(result.states, _by_hand_rnn(model, x)):
        np.testing.assert_allclose(traced, hand, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        output, h_n = model.rnn(x.unsqueeze(0))  # the layer's fast path
    np.testing.assert_allclose(result.states[-1], output[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.stack([s[-1] for s in result.states]), h_n[:, 0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.input, x.numpy())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_match_torch_nn(cell):
    torch.manual_seed(0)
    model = SequenceRegressor(input_size=1, hidden_size=4, num_layers=2, cell=cell)
    oracle = getattr(torch.nn, cell.upper())(1, 4, num_layers=2, batch_first=True)
    oracle.load_state_dict(model.rnn.state_dict())
    x = torch.randn(1, 9, 1)
    result = hidden_states(model, x)
    with torch.no_grad():
        out, _ = oracle(x)
    np.testing.assert_allclose(result.states[-1], out[0].numpy(), rtol=1e-5, atol=1e-6)


def test_bidirectional_states_are_in_time_order_and_match_torch():
    torch.manual_seed(1)
    model = SequenceRegressor(input_size=1, hidden_size=3)
    model.rnn = RNN(1, 3, batch_first=True, bidirectional=True)
    oracle = torch.nn.RNN(1, 3, batch_first=True, bidirectional=True)
    oracle.load_state_dict(model.rnn.state_dict())
    x = torch.randn(1, 6, 1)
    result = hidden_states(model, x)
    with torch.no_grad():
        out, _ = oracle(x)
    assert result.states[0].shape == (6, 6)
    np.testing.assert_allclose(result.states[0], out[0].numpy(), rtol=1e-5, atol=1e-6)


def test_shapes_are_spelled_out():
    model = SequenceRegressor(input_size=1, hidden_size=6, num_layers=2)
    text = "\n".join(hidden_states(model, torch.zeros(11, 1)).shapes)
    assert "(N, L, H_in) = (1, 11, 1)" in text
    assert "layer 1: L=11 tensors h_t of shape (N, H) = (1, 6)" in text
    assert "(num_layers, N, H) = (2, 1, 6)" in text


def test_a_wrong_input_is_explained():
    model = SequenceRegressor(input_size=1, hidden_size=3)
    with pytest.raises(ValueError, match=r"explain hidden: the input must be one sequence \(L, 1\).*got \(2, 5, 1\)"):
        hidden_states(model, torch.zeros(2, 5, 1))


def test_default_model_traces_the_lesson_sine_through_both_layers():
    model, x, source = default_model(HiddenConfig(epochs=2, quiet=True))
    assert x.shape == (100, 1) and model.rnn.num_layers == 2 and "sine" in source
    result = hidden_states(model, x, source)
    assert [s.shape for s in result.states] == [(100, 20), (100, 20)]
    assert np.all(np.abs(np.concatenate(result.states)) < 1)  # tanh states
