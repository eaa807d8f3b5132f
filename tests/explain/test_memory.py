"""explain memory: rows against the analytic baseline, the conclusion computed from the numbers, the figure's data."""

import math

import pytest

from rnnlab.explain.memory import QUICK, SOLVED, MemoryConfig, memory_conclusion, memory_horizon


def _row(cell, delay, relative_mse, at_baseline=False):
    return {"cell": cell, "delay": delay, "mse": relative_mse / 6, "relative_mse": relative_mse,
            "at_baseline": at_baseline, "train_seconds": 0.0}


def _rows(rnn, lstm, gru, delays=(10, 100)):
    """Hand-made rows: per cell, a relative MSE per distance; the RNN's >= 0.9 count as at the baseline."""
    return [_row(cell, d, v, at_baseline=(cell == "rnn" and v >= 0.9))
            for cell, values in (("rnn", rnn), ("lstm", lstm), ("gru", gru)) for d, v in zip(delays, values)]


def test_the_conclusion_names_the_first_distance_where_the_claim_holds():
    sentence = memory_conclusion(_rows(rnn=(0.01, 1.0), lstm=(0.002, 0.05), gru=(0.001, 0.08)))
    assert sentence.startswith("The claim holds: at distance 100 the plain RNN stays at the trivial baseline")
    assert "LSTM (5.0%)" in sentence and "GRU (8.0%)" in sentence
    assert "RNN up to 10; LSTM up to 100; GRU up to 100" in sentence


@pytest.mark.parametrize("rnn,lstm,gru", [
    ((0.01, 1.0), (0.002, 0.5), (0.001, 0.08)),  # the LSTM forgets at 100
    ((0.01, 1.0), (0.002, 0.05), (0.001, 0.2)),  # the GRU forgets at 100
    ((0.01, 0.6), (0.002, 0.05), (0.001, 0.08)),  # the RNN keeps something: not at the baseline
])
def test_the_conclusion_flips_when_the_numbers_do(rnn, lstm, gru):
    sentence = memory_conclusion(_rows(rnn, lstm, gru))
    assert sentence.startswith("The claim does not hold in this run")
    assert "The claim holds" not in sentence


def test_the_conclusion_needs_the_three_cells():
    assert memory_conclusion([_row("rnn", 5, 1.0, True)], cells=("rnn",)).startswith("The comparison needs all three")


def test_rows_baseline_flags_and_figure_data(tmp_path):
    import matplotlib.pyplot as plt

    config = MemoryConfig(cells=("rnn", "gru"), delays=(1, 3), hidden_size=4, epochs=2, batches_per_epoch=5,
                          batch_size=16, test_size=300, device="cpu", quiet=True)
    result = memory_horizon(config)
    assert [(r["cell"], r["delay"]) for r in result.rows] == [("rnn", 1), ("rnn", 3), ("gru", 1), ("gru", 3)]
    assert result.baseline_mse == pytest.approx(1 / 6)
    # the baseline's MSE estimate on n sequences has sd sqrt(Var((s - 1)^2) / n), Var = 1/15 - 1/36
    tolerance = 3 * math.sqrt((1 / 15 - 1 / 36) / 300)
    for row in result.rows:
        assert row["relative_mse"] == pytest.approx(row["mse"] * 6)
        assert row["at_baseline"] == (row["mse"] >= 1 / 6 - tolerance)
    metrics = result.metrics()
    assert metrics["task"] == "explain-memory" and metrics["steps_per_cell"] == 10
    assert metrics["conclusion"] == result.conclusion() and "d=3" in result.summary()
    assert result.conclusion() in result.summary()
    fig = result.plot()
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    for cell in ("rnn", "gru"):
        assert list(lines[cell.upper()].get_xdata()) == [1, 3]
        assert list(lines[cell.upper()].get_ydata()) == [result.relative_mse(cell, d) for d in (1, 3)]
    assert list(lines["trivial baseline (predict the mean)"].get_ydata()) == [1.0, 1.0]
    assert list(lines[f"remembers (≤ {SOLVED:.0%} of the baseline)"].get_ydata()) == [SOLVED, SOLVED]
    plt.close(fig)


@pytest.mark.slow
def test_quick_run_the_lstm_remembers_where_the_rnn_does_not():
    result = memory_horizon(MemoryConfig(device="cpu", quiet=True, **QUICK))
    (delay,) = QUICK["delays"]
    assert result.relative_mse("lstm", delay) < 0.5 * result.relative_mse("rnn", delay)
    assert result.relative_mse("gru", delay) < 0.5 * result.relative_mse("rnn", delay)


@pytest.mark.parametrize("field,value,message", [
    ("cells", ("rnn", "tcn"), "explain memory: unknown cell 'tcn'"),
    ("delays", (5, -1), "explain memory: delays must be non-negative integers, got -1"),
    ("forget_bias", "none", "explain memory: forget_bias must be a number or 'torch'"),
])
def test_bad_settings_are_explained(field, value, message):
    with pytest.raises(ValueError, match=message):
        memory_horizon(MemoryConfig(**{field: value}))
