"""Shape errors that teach: component, expected and received shape, the likely cause."""

import pytest
import torch

import rnnlab.nn as rnn


def test_the_lessons_pitfall_is_explained():
    layer = rnn.RNN(input_size=1, hidden_size=1)
    with pytest.raises(ValueError) as info:
        layer(torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1), torch.zeros(1, 1, 1))
    message = str(info.value)
    assert message.startswith("RNN: h0 has shape (1, 1, 1) but expected (1, 4, 1)")
    assert "With batch_first=False the input of shape (1, 4, 1) is read as seq_len=1, batch=4" in message
    assert "pass batch_first=True or an input of shape (4, 1, 1)" in message
    # and both suggested fixes work
    assert rnn.RNN(1, 1, batch_first=True)(torch.zeros(1, 4, 1), torch.zeros(1, 1, 1))[0].shape == (1, 4, 1)
    assert layer(torch.zeros(4, 1, 1), torch.zeros(1, 1, 1))[0].shape == (4, 1, 1)


def test_the_pitfall_the_other_way_round():
    layer = rnn.GRU(2, 3, batch_first=True)
    with pytest.raises(ValueError, match="With batch_first=True the input of shape .* pass batch_first=False"):
        layer(torch.zeros(5, 1, 2), torch.zeros(1, 1, 3))


def test_wrong_feature_size():
    with pytest.raises(ValueError, match=r"LSTM: input.size\(-1\) must be equal to input_size. Expected 3, got 5"):
        rnn.LSTM(3, 4)(torch.zeros(2, 2, 5))


def test_features_in_the_wrong_dimension_hint_a_transpose():
    with pytest.raises(ValueError, match="probably needs a transpose"):
        rnn.RNN(3, 4)(torch.zeros(3, 7, 2))


def test_wrong_number_of_dimensions():
    with pytest.raises(ValueError,
                       match=r"RNN: input must have 2 dimensions .* got 4 dimensions with shape \(1, 2, 3, 4\)"):
        rnn.RNN(4, 4)(torch.zeros(1, 2, 3, 4))


def test_wrong_state_for_layers_and_directions():
    with pytest.raises(ValueError,
                       match=r"h0 has shape \(1, 2, 4\) but expected \(4, 2, 4\).*num_layers \* num_directions=4"):
        rnn.RNN(3, 4, num_layers=2, bidirectional=True)(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))


def test_lstm_state_must_be_a_pair_and_c0_is_checked():
    layer = rnn.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"LSTM: the state must be a tuple \(h0, c0\)"):
        layer(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"LSTM: c0 has shape \(1, 3, 4\) but expected \(1, 2, 4\)"):
        layer(torch.zeros(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 3, 4)))


def test_unbatched_state_shape():
    with pytest.raises(ValueError, match=r"h0 has shape \(1, 1, 4\) but expected \(1, 4\).*unbatched"):
        rnn.GRU(3, 4)(torch.zeros(5, 3), torch.zeros(1, 1, 4))


@pytest.mark.parametrize("arg", ["input_size", "hidden_size", "num_layers"])
def test_sizes_must_be_positive_integers(arg):
    kwargs = {"input_size": 2, "hidden_size": 3, "num_layers": 1, arg: 0}
    with pytest.raises(ValueError, match=f"RNN: {arg} must be a positive integer, got 0"):
        rnn.RNN(**kwargs)
