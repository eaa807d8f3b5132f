"""explain gradients: ∂L/∂h_t read off the graph equal autograd and the BPTT recursion worked by hand."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from rnnlab.explain.gradients import (CLAIM, QUICK, GradientsConfig, gate_spectral_radii, gradient_flow,
                                      gradients_conclusion, last_layer_gradients, spectral_radius)
from rnnlab.explain.tasks import AddingProblem, DelayedRecall, task_model
from rnnlab.models import SequenceRegressor


def _model(cell, hidden=6, k=3, seed=0):
    torch.manual_seed(seed)
    return SequenceRegressor(k + 2, hidden, k, cell=cell)


def test_rnn_gradients_follow_the_bptt_recursion_by_hand():
    model = _model("rnn")
    x, y = DelayedRecall(6, num_symbols=3).sample(5, torch.Generator().manual_seed(0))
    x = x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))  # make every step matter
    grads, _ = last_layer_gradients(model, x, y)
    with torch.no_grad():
        out, _ = model.rnn(x)  # (N, L, H)
        logits = model.fc(out[:, -1])
        # ∂L/∂h_T = (softmax(z) - onehot(y)) W_fc / N    for L = mean cross-entropy
        g = (logits.softmax(1) - nn.functional.one_hot(y, 3).float()) @ model.fc.weight / len(y)
        w_hh = model.rnn.weight_hh_l0
        expected = [g]
        for t in range(x.shape[1] - 1, 0, -1):
            # ∂L/∂h_{t-1} = (∂L/∂h_t ⊙ (1 - h_t²)) W_hh
            g = (g * (1 - out[:, t] ** 2)) @ w_hh
            expected.append(g)
    for got, want in zip(reversed(grads), expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_retained_gradients_equal_autograd_grad_on_the_same_tensors(cell):
    model = _model(cell)
    x, y = DelayedRecall(8, num_symbols=3).sample(4, torch.Generator().manual_seed(2))
    grads, loss = last_layer_gradients(model, x, y)
    out, _, states = model.rnn.trace(x)
    h = [s[0] if isinstance(s, tuple) else s for s in states[-1][0]]
    oracle_loss = nn.functional.cross_entropy(model.fc(out[:, -1]), y)
    oracle = torch.autograd.grad(oracle_loss, h)
    assert loss.item() == pytest.approx(oracle_loss.item())
    assert len(grads) == x.shape[1]
    for got, want in zip(grads, oracle):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-8)


def test_gradient_at_an_early_state_matches_a_finite_difference():
    """Nudge the input at t=0 along ∂L/∂x_0 and compare the loss change with the chain rule through h_0."""
    model = _model("rnn").double()
    x, y = DelayedRecall(4, num_symbols=3).sample(3, torch.Generator().manual_seed(3))
    x = x.double()
    grads, loss = last_layer_gradients(model, x, y)
    # L depends on x_0 only through h_0 = tanh(W_ih x_0 + b_ih + b_hh):  ∂L/∂x_0 = (∂L/∂h_0 ⊙ (1 - h_0²)) W_ih
    with torch.no_grad():
        h_0 = model.rnn(x[:, :1])[0][:, 0]
        dx0 = (grads[0] * (1 - h_0 ** 2)) @ model.rnn.weight_ih_l0
        eps, direction = 1e-6, torch.randn(dx0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
        shifted = x.clone()
        shifted[:, 0] += eps * direction
        up = nn.functional.cross_entropy(model(shifted), y)
        shifted[:, 0] -= 2 * eps * direction
        down = nn.functional.cross_entropy(model(shifted), y)
    assert ((up - down) / (2 * eps)).item() == pytest.approx((dx0 * direction).sum().item(), rel=1e-5)


def test_spectral_radius_is_the_largest_eigenvalue_modulus():
    rotation = torch.tensor([[0.0, -0.5], [0.5, 0.0]])  # eigenvalues ±0.5i
    assert spectral_radius(rotation) == pytest.approx(0.5)
    w = torch.randn(7, 7, generator=torch.Generator().manual_seed(0))
    assert spectral_radius(w) == pytest.approx(np.abs(np.linalg.eigvals(w.numpy().astype(np.float64))).max())


def test_gate_blocks_are_cut_in_torch_gate_order():
    model = _model("lstm", hidden=5)
    radii = gate_spectral_radii(model.rnn, "lstm")
    assert list(radii) == ["i", "f", "g", "o"]
    forget = model.rnn.weight_hh_l0.detach()[5:10].double().numpy()  # rows H..2H are the forget gate
    assert radii["f"] == pytest.approx(np.abs(np.linalg.eigvals(forget)).max())
    assert list(gate_spectral_radii(_model("gru").rnn, "gru")) == ["r", "z", "n"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_mse_gradients_on_the_adding_problem_equal_autograd(cell):
    task = AddingProblem(7, lead=3)
    torch.manual_seed(0)
    model = task_model(cell, task, 5)
    x, y = task.sample(4, torch.Generator().manual_seed(2))
    grads, loss = last_layer_gradients(model, x, y, nn.functional.mse_loss)
    out, _, states = model.rnn.trace(x)
    h = [s[0] if isinstance(s, tuple) else s for s in states[-1][0]]
    oracle = torch.autograd.grad(nn.functional.mse_loss(model.fc(out[:, -1]), y), h)
    assert len(grads) == task.length == 3 + 7 + 1
    for got, want in zip(grads, oracle):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-8)


def test_gradient_flow_reports_ratios_per_cell_and_state():
    import matplotlib.pyplot as plt

    config = GradientsConfig(cells=("rnn", "lstm"), hidden_size=6, delay=12, epochs=2, batches_per_epoch=5,
                             batch_size=16, probe_size=32, device="cpu", quiet=True)
    result = gradient_flow(config)
    for cell in ("rnn", "lstm"):
        for state in ("init", "trained"):
            norms = result.norms[state][cell]
            assert len(norms) == 10 + 12 + 1  # lead + delay + 1 steps
            assert result.ratio(cell, state, 10) == pytest.approx(norms[10] / norms[0])
            assert result.ratio(cell, state, 50) is None and result.ratio(cell, state, 100) is None
            assert result.relative_mse[cell][state] > 0
            assert result.learned(cell, state) == (result.relative_mse[cell][state] <= 0.1)
    assert result.lstm_over_rnn(10, "init") == pytest.approx(
        result.ratio("lstm", "init", 10) / result.ratio("rnn", "init", 10))
    metrics = json.loads(json.dumps(result.metrics()))
    assert set(metrics["ratio"]["lstm"]) == {"init", "trained"}
    assert set(metrics["ratio"]["rnn"]["trained"]) == {"10", "50", "100"}
    assert "hh" in metrics["spectral_radius"]["rnn"]["init"]
    assert "LSTM / RNN" not in result.summary()  # k=50 does not exist for a sequence of 23 steps
    assert metrics["conclusion"].startswith("The claim cannot be checked in this run")
    # the figure plots exactly the measured norms, relative to k = 0, one line per cell in each panel
    fig = result.plot()
    for ax, state in zip(fig.axes, ("init", "trained")):
        lines = ax.get_lines()
        assert [line.get_label().split()[0] for line in lines] == ["RNN", "LSTM"]
        for line, cell in zip(lines, ("rnn", "lstm")):
            norms = result.norms[state][cell]
            assert list(line.get_xdata()) == list(range(len(norms)))
            np.testing.assert_allclose(line.get_ydata(), [n / norms[0] for n in norms])
    plt.close(fig)


def test_the_gradients_conclusion_follows_the_numbers():
    holds = gradients_conclusion(1e-2, 1e-20, 0.01, 1.0)
    assert holds.startswith("The claim holds") and "1e+18× more" in holds
    assert gradients_conclusion(1e-2, 1e-3, 0.01, 1.0).startswith("The claim does not hold")  # only 10×
    assert f"(the claim is ≥ {CLAIM:g}×)" in gradients_conclusion(1e-2, 1e-3, 0.01, 1.0)
    unlearned = gradients_conclusion(1e-2, 1e-20, 0.5, 1.0)  # a large ratio, but the LSTM did not learn
    assert unlearned.startswith("The claim does not hold") and "the LSTM did not learn the task" in unlearned
    assert gradients_conclusion(None, 1e-3, 0.01, 1.0).startswith("The claim cannot be checked")


@pytest.mark.slow
def test_quick_run_a_trained_lstm_passes_more_gradient_back_than_the_rnn():
    result = gradient_flow(GradientsConfig(device="cpu", quiet=True, **QUICK))
    assert result.ratio("lstm", "trained", 50) > 100 * result.ratio("rnn", "trained", 50)
    assert result.relative_mse["lstm"]["trained"] < result.relative_mse["rnn"]["trained"]


def test_gradient_flow_rejects_an_unknown_cell():
    with pytest.raises(ValueError, match="explain gradients: unknown cell 'elman'; choose from rnn, lstm, gru"):
        gradient_flow(GradientsConfig(cells=("elman",)))
