"""Models: the lesson's SimpleRNN as SequenceRegressor, and CharLM processing text in chunks."""

import pytest
import torch

from rnnlab.models import CharLM, SequenceRegressor


def test_sequence_regressor_is_the_lessons_simple_rnn():
    """Same state_dict keys and the same output as the lesson's SimpleRNN built from torch.nn."""

    class SimpleRNN(torch.nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.rnn = torch.nn.RNN(input_size, hidden_size, batch_first=True)
            self.fc = torch.nn.Linear(hidden_size, output_size)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1, :])

    lesson = SimpleRNN(1, 20, 1)
    ours = SequenceRegressor(input_size=1, hidden_size=20, output_size=1)
    assert list(ours.state_dict()) == list(lesson.state_dict())
    ours.load_state_dict(lesson.state_dict())
    x = torch.randn(8, 5, 1)
    torch.testing.assert_close(ours(x), lesson(x))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_read_all_gives_every_step_and_last_is_its_final_row(cell):
    model = SequenceRegressor(input_size=2, hidden_size=6, output_size=3, cell=cell, num_layers=2)
    x = torch.randn(4, 7, 2)
    last = model(x)
    model.read = "all"
    every = model(x)
    assert every.shape == (4, 7, 3)
    torch.testing.assert_close(every[:, -1], last)


def test_multi_layer_rnn_is_num_layers_two():
    model = SequenceRegressor(hidden_size=20, num_layers=2)
    assert {"rnn.weight_ih_l1", "rnn.weight_hh_l1"} <= set(model.state_dict())


def test_unknown_cell_and_read():
    with pytest.raises(ValueError, match="model: unknown cell 'transformer'; choose one of rnn, lstm, gru"):
        SequenceRegressor(cell="transformer")
    with pytest.raises(ValueError, match="SequenceRegressor: read must be 'last' or 'all'"):
        SequenceRegressor(read="first")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_charlm_in_chunks_equals_all_at_once(cell):
    torch.manual_seed(0)
    lm = CharLM(vocab_size=11, embedding_size=5, hidden_size=8, num_layers=2, cell=cell).eval()
    idx = torch.randint(0, 11, (3, 12))
    whole, _ = lm(idx)
    state = None
    pieces = []
    for chunk in idx.split([5, 1, 6], dim=1):
        logits, state = lm(chunk, state)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole)
