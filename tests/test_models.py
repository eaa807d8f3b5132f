"""Models: the lesson's SimpleRNN as SequenceRegressor, and CharLM processing text in chunks."""

import numpy as np
import pytest
import torch

from rnnlab import models
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


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_parameters_counts_what_the_layer_allocates(cell, bidirectional):
    layer = models.make_layer(cell, 7, 5, 3, bidirectional=bidirectional)  # the oracle: the layer itself
    assert models.layer_parameters(cell, 7, 5, 3, bidirectional) == sum(p.numel() for p in layer.parameters())


def test_a_model_that_cannot_fit_is_refused_before_allocation(monkeypatch):
    with pytest.raises(ValueError, match=r"^model: rnn, 2 layer\(s\) of 200,000 units: 120,0\d\d,\d{3},\d{3} "
                                         r"parameters; training needs at least 2.4 TB of memory but the cpu has .* "
                                         r"available; use a smaller `hidden_size`"):
        models.check_fits("rnn", 64, 200_000, 2, 100, 64, 100, "cpu")
    models.check_fits("rnn", 64, 256, 2, 100, 64, 100, "cpu")  # the default text model fits
    # the estimate against a known amount: 5 copies of P float32 parameters + one batch's activations
    params = models.layer_parameters("gru", 1, 10, 1) + 10 * 3 + 3
    need = 4 * (5 * params + 8 * 6 * (1 * 4 * 10 + 2 * 3))
    monkeypatch.setattr(models, "_available_memory", lambda device: need)
    models.check_fits("gru", 1, 10, 1, 3, 8, 6, "cpu")
    monkeypatch.setattr(models, "_available_memory", lambda device: need - 1)
    with pytest.raises(ValueError, match=f"needs at least {need / 1000:.1f} kB"):
        models.check_fits("gru", 1, 10, 1, 3, 8, 6, "cpu")


def test_both_estimators_check_before_allocating():
    from rnnlab import CharModel, Forecaster

    with pytest.raises(ValueError, match="model: lstm, 1 layer.* of 300,000 units"):
        Forecaster(cell="lstm", hidden_size=300_000, epochs=1, quiet=True).fit(np.sin(np.arange(200) / 5))
    with pytest.raises(ValueError, match="model: rnn, 2 layer.* of 200,000 units"):
        CharModel(hidden_size=200_000, quiet=True).fit("the cat sat on the mat. " * 400, steps=1)
