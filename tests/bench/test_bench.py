"""``rnnlab bench``: the dispatcher and the plumbing of the layer table (no timings are asserted)."""

import json

import pytest
import torch

from rnnlab import bench, cli, engines
from rnnlab.bench import layer

TINY = ["--cell", "rnn", "--hidden", "6", "--batch", "2", "--length", "3", "--repeats", "1"]


@pytest.fixture(autouse=True)
def short_rounds(monkeypatch):
    monkeypatch.setattr(layer, "MIN_SECONDS", 0.0)


def test_unknown_benchmark_is_a_value_error_naming_the_choices():
    with pytest.raises(ValueError, match="bench: unknown benchmark 'nope'; choose one of layer, forecast"):
        bench.run("nope", [])


def test_missing_benchmark_module_is_reported_cleanly(monkeypatch):
    monkeypatch.setattr(bench, "NAMES", (*bench.NAMES, "absent"))
    with pytest.raises(ValueError, match=r"'absent' benchmark is not available .*rnnlab\.bench\.absent is missing"):
        bench.run("absent", [])


def test_layer_json_has_every_engine_timed_and_agreeing(tmp_path, capsys):
    out = tmp_path / "layer.json"
    assert layer.main([*TINY, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["benchmark"] == "layer"
    assert {"machine", "settings", "rows", "step", "tolerance"} <= set(result)
    (row,) = result["rows"]
    assert (row["cell"], row["hidden"], row["batch"], row["length"]) == ("rnn", 6, 2, 3)
    expected = {"torch.nn", *(n for n in engines.names() if n != "auto" and
                              engines.get(n).supports("rnn_tanh", torch.zeros(1, 2, 6), None))}
    assert set(row["engines"]) == expected
    assert row["auto"] in expected
    for name, entry in row["engines"].items():
        assert entry["us_per_step"] > 0 and entry["speedup"] > 0
        if name != "torch.nn":
            assert entry["agree"], name
            assert entry["max_diff_output"] < 1e-5 and entry["max_diff_grad"] < 1e-4
    assert row["engines"]["torch.nn"]["speedup"] == 1.0
    assert [s["hidden"] for s in result["step"]] == list(layer.STEP_HIDDEN)
    printed = capsys.readouterr().out
    assert "forward + backward" in printed and "one step through the layer" in printed and f"wrote {out}" in printed


def test_agreement_check_flags_an_engine_that_disagrees():
    layers = layer._layers("gru", 5, 5, torch.device("cpu"), ["torch"])
    with torch.no_grad():
        layers["torch"].weight_hh_l0.add_(1e-3)
    x = torch.randn(4, 3, 5)
    report = layer._agreement(layers, x, (torch.randn(1, 3, 5),))
    assert not report["torch"]["agree"]
    assert report["torch"]["max_diff_output"] > 1e-5


def test_cli_runs_the_layer_table(capsys):
    assert cli.main(["bench", "layer", *TINY]) == 0
    assert "speedup vs torch.nn" in capsys.readouterr().out


def test_cli_bad_option_is_one_line_and_exit_2(capsys):
    assert cli.main(["bench", "layer", "--hidden", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "rnnlab bench: error: bench layer: --hidden must be positive, got 0"


def test_cli_cuda_without_a_gpu_is_one_line_and_exit_2(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert cli.main(["bench", "layer", "--device", "cuda", *TINY]) == 2
    assert "no CUDA device is available" in capsys.readouterr().err


@pytest.mark.slow  # ~50 s on an idle 2-core machine: it loads (or compiles) the numba sampler
def test_sample_rows_time_three_ways_of_drawing_the_same_text(monkeypatch):
    from rnnlab.bench import sample

    monkeypatch.setattr(sample, "SIZES", ((1, 8),))
    rows = sample.run(length=30, repeats=1, cells=("gru",))
    assert [r["method"] for r in rows] == ["compiled", "numpy steps", "module per step"]
    assert all(r["model"] == "gru 1x8, V=96" and r["chars_per_second"] > 0 for r in rows)
    # the compiled sampler and the NumPy steps draw the same characters from the same seed
    m = sample.CharModel(cell="gru", num_layers=1, hidden_size=8)
    torch.manual_seed(0)
    m.vocab_ = sample.Vocab([chr(32 + i) for i in range(95)] + ["\n"])
    m.model_ = sample.CharLM(m.vocab_.size, m.config.embedding_size, 8, 1, "gru").eval()
    text = m.sample(300, prime="a", temperature=0.8, seed=4)
    assert sample.stepper_loop(m, 300, "a", 0.8, 4, compiled=False) == text
    assert sample.stepper_loop(m, 300, "a", 0.8, 4, compiled=True) == text
