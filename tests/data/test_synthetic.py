"""rnnlab.data.synthetic: the lesson's sine, longer and noisy."""

import numpy as np
import pytest

from rnnlab.data.synthetic import sine


def test_sine_is_the_lessons_linspace():
    # the lesson: t = linspace(0, 20, 100), x = sin t
    np.testing.assert_allclose(sine(100).to_numpy(), np.sin(np.linspace(0, 20, 100)), atol=1e-12)


def test_longer_sine_keeps_the_lessons_step():
    s = sine(400).to_numpy()
    np.testing.assert_allclose(s, np.sin(np.arange(400) * 20 / 99), atol=1e-12)


def test_noise_is_gaussian_with_the_given_std_and_seeded():
    clean = sine(5000).to_numpy()
    noisy = sine(5000, noise=0.1, seed=3).to_numpy()
    assert abs(np.std(noisy - clean) - 0.1) < 0.005
    np.testing.assert_array_equal(noisy, sine(5000, noise=0.1, seed=3).to_numpy())
    assert not np.array_equal(noisy, sine(5000, noise=0.1, seed=4).to_numpy())


@pytest.mark.parametrize("kwargs, message", [({"length": 1}, "length must be an integer >= 2"),
                                             ({"noise": -1.0}, "noise must be >= 0")])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sine(**kwargs)
