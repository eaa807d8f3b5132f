"""The synthetic tasks behind the explanations: their data satisfy their definitions, baselines are analytic."""

import math

import pytest
import torch
from torch import nn

from rnnlab.explain.tasks import DelayedRecall, SineWindows, check_forget_bias, lesson_sine, task_model


@pytest.mark.parametrize("delay,num_symbols,lead", [(0, 2, 0), (3, 4, 5), (17, 6, 2)])
def test_delayed_recall_sequences_follow_the_definition(delay, num_symbols, lead):
    task = DelayedRecall(delay, num_symbols, lead=lead)
    x, y = task.sample(300, torch.Generator().manual_seed(1))
    k, length = num_symbols, lead + delay + 2
    assert x.shape == (300, length, k + 2) and y.shape == (300,) and task.length == length
    assert y.min() >= 0 and y.max() < k
    # t = lead: the target symbol, one-hot, with the marker
    assert torch.equal(x[:, lead, :k], nn.functional.one_hot(y, k).float()) and torch.all(x[:, lead, k] == 1)
    # every other step before the cue: exactly one symbol on the same channels, no marker, no cue
    others = torch.cat([x[:, :lead], x[:, lead + 1:-1]], dim=1)
    assert torch.all(others[..., :k].sum(-1) == 1) and torch.all(others[..., k:] == 0)
    # the distractors are random: every symbol occurs among them, and they do not copy the target
    if delay >= 3:
        assert set(x[:, lead + 1:-1, :k].argmax(-1).flatten().tolist()) == set(range(k))
        agree = (x[:, lead + 1, :k].argmax(-1) == y).float().mean().item()
        assert abs(agree - 1 / k) < 0.1
    # t = L - 1: the cue alone
    assert torch.all(x[:, -1, k + 1] == 1) and torch.all(x[:, -1, :k + 1] == 0)
    assert set(y.tolist()) == set(range(k))


def test_varied_delays_are_log_uniform_up_to_the_delay_and_validation_stays_at_it():
    task = DelayedRecall(50, batch_size=2, batches_per_epoch=400, lead=3, vary=True)
    generator = torch.Generator().manual_seed(0)
    lengths = [x.shape[1] - 3 - 2 for x, _ in task.batches(0, generator)]  # the delay of each batch
    assert min(lengths) == 0 and max(lengths) == 50
    # log-uniform: P(d + 1 <= 7) = log 8 / log 52, about 0.53 (a uniform draw would give 0.14)
    assert abs(sum(d + 1 <= 7 for d in lengths) / len(lengths) - math.log(8) / math.log(52)) < 0.08
    x, _ = task.validation()
    assert x.shape[1] == 3 + 50 + 2


def test_task_model_sets_the_lstm_forget_gate_bias():
    task = DelayedRecall(3)
    torch.manual_seed(0)
    lstm = task_model("lstm", task, 5, forget_bias=1.0).rnn
    # the forget gate's bias is rows H..2H of b_ih + b_hh (gate order i, f, g, o)
    assert torch.equal((lstm.bias_ih_l0 + lstm.bias_hh_l0)[5:10], torch.ones(5))
    torch.manual_seed(0)
    default = task_model("lstm", task, 5, forget_bias="torch").rnn
    torch.manual_seed(0)
    oracle = nn.LSTM(task.input_size, 5, batch_first=True)  # PyTorch's own initialisation, same seed
    assert torch.equal(default.bias_hh_l0, oracle.bias_hh_l0) and torch.equal(default.weight_ih_l0, oracle.weight_ih_l0)
    assert torch.equal(lstm.bias_ih_l0[:5], default.bias_ih_l0[:5])  # the other gates are left alone
    torch.manual_seed(0)
    gru = task_model("gru", task, 5, forget_bias=3.0).rnn
    torch.manual_seed(0)
    assert torch.equal(gru.bias_ih_l0, nn.GRU(task.input_size, 5).bias_ih_l0)  # no forget gate: untouched


@pytest.mark.parametrize("bad", [float("nan"), "default", None, True])
def test_a_bad_forget_bias_is_explained(bad):
    with pytest.raises(ValueError, match="explain memory: forget_bias must be a number or 'torch'"):
        check_forget_bias("explain memory", bad)


class _Uniform(nn.Module):
    """Knows nothing: equal logits for every symbol (the trivial baseline)."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.zeros(x.shape[0], self.k) + 0 * self.dummy


def test_trivial_baseline_scores_log_k_and_chance():
    task = DelayedRecall(5, num_symbols=5)
    assert task.chance_loss == pytest.approx(math.log(5)) and task.chance_accuracy == pytest.approx(0.2)
    assert task.evaluate(_Uniform(5)) == pytest.approx(math.log(5), rel=1e-6)
    # argmax of equal logits is always symbol 0: its accuracy is symbol 0's frequency
    x, y = task.sample(4000, torch.Generator().manual_seed(0))
    assert task.accuracy(_Uniform(5), x, y) == pytest.approx((y == 0).float().mean().item())


def test_delayed_recall_batches_are_deterministic_given_the_generator():
    task = DelayedRecall(4, batch_size=8, batches_per_epoch=3)
    a = list(task.batches(0, torch.Generator().manual_seed(5)))
    b = list(task.batches(0, torch.Generator().manual_seed(5)))
    assert len(a) == 3 and all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b))


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_delayed_recall_rejects_a_bad_delay(bad):
    with pytest.raises(ValueError, match="delayed recall: delay must be a non-negative integer"):
        DelayedRecall(bad)
    with pytest.raises(ValueError, match="delayed recall: lead must be a non-negative integer"):
        DelayedRecall(3, lead=bad)


def test_sine_windows_read_the_previous_values_and_share_targets():
    t, x = lesson_sine()
    assert torch.allclose(t, torch.linspace(0, 20, 100)) and torch.allclose(x, torch.sin(t))
    for lookback in (1, 5, 20):
        task = SineWindows(lookback, first_target=20, test_size=20)
        assert list(task.train_targets) == list(range(20, 80)) and list(task.test_targets) == list(range(80, 100))
        inputs, targets = task.windows(task.test_targets)
        assert inputs.shape == (20, lookback, 1) and targets.shape == (20, 1)
        for n, i in enumerate(task.test_targets):
            assert torch.equal(inputs[n, :, 0], x[i - lookback:i]) and targets[n, 0] == x[i]


def test_sine_windows_reject_a_lookback_longer_than_the_first_target():
    with pytest.raises(ValueError, match=r"lookback: lookback must be an integer in 1..20, got 21"):
        SineWindows(21, first_target=20)
