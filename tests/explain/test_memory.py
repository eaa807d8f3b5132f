"""explain memory: one row per cell and delay, scored against the analytic chance level."""

import math

import pytest

from rnnlab.explain.memory import MemoryConfig, memory_horizon


def test_memory_horizon_rows_and_chance_flags():
    config = MemoryConfig(cells=("rnn", "gru"), delays=(1, 3), hidden_size=4, num_symbols=3, epochs=2,
                          batches_per_epoch=5, batch_size=16, test_size=300, device="cpu", quiet=True)
    result = memory_horizon(config)
    assert [(r["cell"], r["delay"]) for r in result.rows] == [("rnn", 1), ("rnn", 3), ("gru", 1), ("gru", 3)]
    assert result.chance_accuracy == pytest.approx(1 / 3) and result.chance_loss == pytest.approx(math.log(3))
    tolerance = 3 * math.sqrt((1 / 3) * (2 / 3) / 300)  # three binomial standard deviations
    for row in result.rows:
        assert 0 <= row["accuracy"] <= 1 and row["loss"] > 0
        assert row["at_chance"] == (abs(row["accuracy"] - 1 / 3) <= tolerance)
        # accuracies are counts over the scored set
        assert row["accuracy"] * 300 == pytest.approx(round(row["accuracy"] * 300), abs=1e-3)
    metrics = result.metrics()
    assert metrics["task"] == "explain-memory" and metrics["steps_per_cell"] == 10
    assert "d=3" in result.summary()


@pytest.mark.parametrize("field,value,message", [
    ("cells", ("rnn", "tcn"), "explain memory: unknown cell 'tcn'"),
    ("delays", (5, -1), "explain memory: delays must be non-negative integers, got -1"),
])
def test_bad_settings_are_explained(field, value, message):
    with pytest.raises(ValueError, match=message):
        memory_horizon(MemoryConfig(**{field: value}))
