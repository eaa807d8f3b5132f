"""The synthetic tasks behind the explanations: their data satisfy their definitions, baselines are analytic."""

import math

import pytest
import torch
from torch import nn

from rnnlab.explain.tasks import DelayedRecall, SineWindows, lesson_sine


@pytest.mark.parametrize("delay,num_symbols", [(0, 2), (3, 4), (17, 6)])
def test_delayed_recall_sequences_follow_the_definition(delay, num_symbols):
    task = DelayedRecall(delay, num_symbols)
    x, y = task.sample(200, torch.Generator().manual_seed(1))
    assert x.shape == (200, delay + 2, num_symbols + 1) and y.shape == (200,)
    assert y.min() >= 0 and y.max() < num_symbols
    # t = 0: exactly the target symbol, one-hot, and no cue
    assert torch.equal(x[:, 0, :num_symbols], nn.functional.one_hot(y, num_symbols).float())
    assert torch.all(x[:, 0, num_symbols] == 0)
    # t = 1..delay: blank
    assert torch.all(x[:, 1:-1] == 0)
    # t = L - 1: the cue alone
    assert torch.all(x[:, -1, num_symbols] == 1) and torch.all(x[:, -1, :num_symbols] == 0)
    # every symbol occurs (200 draws)
    assert set(y.tolist()) == set(range(num_symbols))


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
