"""The engine registry and each engine's per-layer-direction contract, checked against the loop engine."""

import pytest
import torch

from rnnlab import engines

MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _call(mode, hidden=4, batch=3, length=6, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    G = GATES[mode] * hidden
    rand = lambda *s: (torch.randn(*s, generator=g, dtype=torch.float64) * 0.5).requires_grad_()  # noqa: E731
    weights = (rand(G, 2), rand(G, hidden), rand(G) if bias else None, rand(G) if bias else None)
    x = rand(length, batch, 2)
    hx = (rand(batch, hidden), rand(batch, hidden)) if mode == "lstm" else rand(batch, hidden)
    return x, hx, weights


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_torch_engine_run_matches_loop(mode, use_lengths, bias):
    x, hx, weights = _call(mode, bias=bias)
    lengths = torch.tensor([6, 2, 4]) if use_lengths else None
    results = []
    for name in ("loop", "torch"):
        out, hn = engines.get(name).run(mode, x, hx, weights, lengths)
        flat = list(hn) if mode == "lstm" else [hn]
        inputs = [x, *(hx if mode == "lstm" else [hx]), *[w for w in weights if w is not None]]
        grads = torch.autograd.grad(out.pow(2).sum() + sum(s.sum() for s in flat), inputs)
        results.append((out, flat, grads))
    (o1, h1, g1), (o2, h2, g2) = results
    torch.testing.assert_close(o1, o2, atol=1e-10, rtol=1e-10)
    for a, b in zip(h1 + list(g1), h2 + list(g2)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_loop_engine_with_lengths_freezes_state_and_zeroes_padding():
    x, hx, weights = _call("rnn_tanh")
    lengths = torch.tensor([6, 2, 4])
    out, hn = engines.get("loop").run("rnn_tanh", x, hx, weights, lengths)
    assert torch.all(out[2:, 1] == 0) and torch.all(out[4:, 2] == 0)
    full, _ = engines.get("loop").run("rnn_tanh", x[:2, 1:2], hx[1:2], weights)
    torch.testing.assert_close(hn[1], full[-1, 0])


def test_loop_trace_hands_back_each_step():
    x, hx, weights = _call("gru")
    trace = []
    out, hn = engines.get("loop").run("gru", x, hx, weights, trace=trace)
    assert len(trace) == x.shape[0]
    torch.testing.assert_close(torch.stack(trace), out)
    assert trace[-1] is hn


def test_select_auto_and_fallback():
    x = torch.zeros(3, 2, 2)
    assert engines.select("loop", "gru", x, 4).name == "loop"
    assert engines.select("auto", "gru", x, 4).name in engines.names()
    with pytest.raises(ValueError, match="engine: unknown engine 'nope'"):
        engines.select("nope", "gru", x, 4)


def test_registering_an_engine_plugs_it_in_without_touching_the_layers(monkeypatch):
    import rnnlab.nn as rnn

    calls = []

    class Counting:
        name = "counting"

        def supports(self, mode, x, lengths):
            return True

        def wins(self, mode, x, hidden_size):
            return True

        def run(self, mode, x, hx, weights, lengths=None):
            calls.append(mode)
            return engines.get("loop").run(mode, x, hx, weights, lengths)

        def run_stack(self, *args, **kwargs):  # runs layer by layer
            return None

    monkeypatch.setitem(engines._REGISTRY, "counting", Counting())
    layer = rnn.GRU(2, 3, num_layers=2, engine="counting")
    reference = rnn.GRU(2, 3, num_layers=2, engine="loop")
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(4, 1, 2)
    torch.testing.assert_close(layer(x)[0], reference(x)[0])
    assert calls == ["gru", "gru"]
