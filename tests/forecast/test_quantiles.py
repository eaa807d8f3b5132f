"""rnnlab.forecast.quantiles: the pinball loss by hand, non-crossing heads, fitted Gaussian quantiles."""

import numpy as np
import pytest
import torch

from rnnlab.forecast.quantiles import (
    DEFAULT_QUANTILES,
    QuantileHead,
    check_quantiles,
    median_index,
    monotone,
    normal_quantiles,
    pinball_loss,
    pinball_numpy,
)


def test_pinball_loss_by_hand():
    # y = 10; forecasts 8, 10, 13 at q = 0.1, 0.5, 0.9:
    # e = 2, 0, -3 -> rho = max(0.1*2, -0.9*2) = 0.2; 0; max(0.9*-3, -0.1*-3) = 0.3  -> mean 0.5 / 3
    predicted = torch.tensor([[8.0, 10.0, 13.0]])
    target = torch.tensor([10.0])
    assert pinball_loss(predicted, target, (0.1, 0.5, 0.9)).item() == pytest.approx(0.5 / 3)
    np.testing.assert_allclose(pinball_numpy([10.0], [[8.0, 10.0, 13.0]], (0.1, 0.5, 0.9)), [[0.2, 0.0, 0.3]])
    # the median's pinball loss is half the absolute error
    y, p = torch.randn(50), torch.randn(50, 1)
    assert pinball_loss(p, y, (0.5,)).item() == pytest.approx(0.5 * (y - p[:, 0]).abs().mean().item())


def test_quantile_levels_are_checked_sorted_and_hold_the_median():
    assert DEFAULT_QUANTILES == (0.1, 0.5, 0.9)
    assert check_quantiles([0.9, 0.1]) == (0.1, 0.5, 0.9)
    assert check_quantiles((0.025, 0.5, 0.975)) == (0.025, 0.5, 0.975)
    assert median_index((0.05, 0.1, 0.5, 0.9)) == 2
    for bad, message in (([0.1, 1.0], "strictly between 0 and 1, got 1"), ([], "at least one level"),
                         ([0.2, 0.2], "levels must differ"), (["a"], "expected numbers")):
        with pytest.raises(ValueError, match=message):
            check_quantiles(bad)


@pytest.mark.parametrize("center, q", [(0, 3), (1, 3), (2, 5), (4, 5)])
def test_monotone_quantiles_never_cross_for_any_input(center, q):
    raw = torch.randn(64, 7, q, generator=torch.Generator().manual_seed(q + center)) * 20
    out = monotone(raw, center)
    assert out.shape == raw.shape
    assert (out.diff(dim=-1) >= 0).all()
    torch.testing.assert_close(out[..., center], raw[..., center])  # the median is the raw output itself


def test_head_never_crosses_and_shifts_by_the_offset():
    torch.manual_seed(0)
    head = QuantileHead(6, horizon=4, quantiles=(0.05, 0.25, 0.5, 0.75, 0.95))
    torch.nn.init.normal_(head.fc.weight, std=10.0)
    features, offset = torch.randn(100, 6), torch.randn(100, 4)
    out = head(features, offset)
    assert out.shape == (100, 4, 5) and (out.diff(dim=-1) >= 0).all()
    torch.testing.assert_close(out, head(features) + offset[..., None])


def test_init_spread_starts_at_the_given_quantiles():
    head = QuantileHead(3, horizon=2)
    values = np.array([[-1.5, 0.2, 1.0], [-3.0, 0.0, 2.5]])
    head.init_spread(values)
    out = head(torch.randn(5, 3)).detach().numpy()
    np.testing.assert_allclose(out, np.broadcast_to(values, (5, 2, 3)), atol=1e-5)


def test_fitted_quantiles_reach_the_gaussian_ones():
    # y = 2 + 3 x + 1.5 eps: the q-quantile given x is 2 + 3 x + 1.5 z_q (z_0.1 = -1.2816, z_0.9 = 1.2816)
    assert normal_quantiles((0.1, 0.5, 0.9)) == pytest.approx([-1.2816, 0.0, 1.2816], abs=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8000, 1, generator=g)
    y = (2 + 3 * x + 1.5 * torch.randn(8000, 1, generator=g))  # -> (N, H=1)
    torch.manual_seed(0)
    head = QuantileHead(1, horizon=1)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only contend
    try:
        for _ in range(400):
            loss = pinball_loss(head(x), y, head.quantiles)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    grid = torch.tensor([[-1.0], [0.0], [1.5]])
    with torch.no_grad():
        fitted = head(grid)[:, 0].numpy()  # -> (3 points, Q)
    analytic = 2 + 3 * grid.numpy() + 1.5 * normal_quantiles(head.quantiles)[None, :]
    np.testing.assert_allclose(fitted, analytic, atol=0.12)  # sampling error ~0.05; z = +-1 would miss by 0.42
