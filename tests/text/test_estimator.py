"""rnnlab.text: CharModel (fit, evaluate, sample, save/load), the one-step sampler and split evaluation."""

import json
import math
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlab.data.text import Vocab
from rnnlab.models import CharLM
from rnnlab.text.generate import Stepper
from rnnlab.text.estimator import CharModel, split_loss

TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 60
SMALL = dict(hidden_size=16, num_layers=1, embedding_size=8, batch_size=4, seq_len=12, eval_every=4, quiet=True)


def untrained(cell="rnn", vocab="abcdefgh\n", layers=2, seed=0):
    """A CharModel with random weights, without training."""
    torch.manual_seed(seed)
    m = CharModel(cell=cell)
    m.vocab_ = Vocab(vocab)
    m.model_ = CharLM(m.vocab_.size, 6, 10, layers, cell).eval()
    return m


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stepper_matches_the_network(cell):
    m = untrained(cell)
    ids = torch.randint(0, m.vocab_.size, (1, 30), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full, _ = m.model_(ids)  # oracle: the whole sequence in one call
        _, state = m.model_(ids[:, :5])
    step = Stepper(m.model_, state)
    for t in range(5, 30):
        np.testing.assert_allclose(step(int(ids[0, t])), full[0, t].numpy(), atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("temperature,top_k,greedy", [(0.8, None, False), (1.3, 3, False), (1.0, None, True)])
def test_compiled_sampler_draws_what_the_numpy_steps_draw(cell, temperature, top_k, greedy):
    """The numba sampler (one call per 1,024 characters) against the NumPy stepper, the reference: the same
    characters from the same seed, across a chunk boundary, and the same state after."""
    pytest.importorskip("numba")
    m = untrained(cell, vocab="abcdefghijklmnopq", layers=2)
    with torch.no_grad():
        logits, state = m.model_(torch.tensor([[1, 2, 3]]))
    before = [s.clone() for s in (state if cell == "lstm" else (state,))]
    runs = []
    for compiled in (True, False):
        step = Stepper(m.model_, state)
        ids = list(step.tokens(logits[0, -1].numpy(), 1100, temperature, top_k, greedy,
                               np.random.default_rng(9), compiled=compiled))
        runs.append((ids, step.h.copy(), None if step.c is None else step.c.copy()))
    (fast, h_fast, c_fast), (reference, h_ref, c_ref) = runs
    for s, b in zip(state if cell == "lstm" else (state,), before):
        assert torch.equal(s, b)  # the steppers worked on copies of the caller's state
    assert fast == reference
    assert len(set(fast)) > (1 if greedy or top_k else 8)  # not stuck on one character
    np.testing.assert_allclose(h_fast, h_ref, atol=1e-5)
    if c_ref is not None:
        np.testing.assert_allclose(c_fast, c_ref, atol=1e-5)


def test_sampler_is_compiled_only_for_long_samples_and_falls_back_without_numba(monkeypatch):
    from rnnlab.text import generate as stepper

    asked = []
    monkeypatch.setattr(stepper.fused_cpu, "kernels", None)  # as without numba
    monkeypatch.setattr(stepper.fused_cpu, "_kernels", lambda: asked.append(True))  # returns None
    m = untrained("lstm")
    with torch.no_grad():
        logits, state = m.model_(torch.tensor([[1, 2]]))
    asked.clear()  # (the layer's engine choice asks too)
    draws = {}
    for n in (50, stepper.COMPILED_FROM):
        for compiled in (None, False):
            ids = Stepper(m.model_, state).tokens(logits[0, -1].numpy(), n, 0.9, None, False,
                                                  np.random.default_rng(2), compiled)
            draws[n, compiled] = list(ids)
    assert len(asked) == 1  # only the long sample by length asked for the kernels
    assert draws[50, None] == draws[50, False]
    assert draws[stepper.COMPILED_FROM, None] == draws[stepper.COMPILED_FROM, False]  # NumPy in their place


def test_sampler_stays_compiled_at_any_length_once_loaded(monkeypatch):
    from rnnlab.text import generate as stepper

    calls = []

    class LoadedGenerate:  # stands for the kernel after its first use in this process
        signatures = ["(float32 arrays...)"]

        def __call__(self, *args):
            ids = args[-1]
            calls.append(len(ids))
            ids[:] = 3

    loaded = types.SimpleNamespace(generate=LoadedGenerate())
    monkeypatch.setattr(stepper.fused_cpu, "kernels", loaded)
    monkeypatch.setattr(stepper.fused_cpu, "_kernels", lambda: loaded)
    m = untrained("rnn")
    with torch.no_grad():
        logits, state = m.model_(torch.tensor([[1, 2]]))
    ids = list(Stepper(m.model_, state).tokens(logits[0, -1].numpy(), 50, 0.9, None, False, np.random.default_rng(0)))
    assert calls == [50] and ids == [3] * 50


def test_split_loss_equals_one_full_pass():
    m = untrained("lstm")
    ids = np.random.default_rng(0).integers(0, m.vocab_.size, 500)
    with torch.no_grad():
        logits, _ = m.model_(torch.from_numpy(ids[:-1])[None])
        expected = F.cross_entropy(logits[0], torch.from_numpy(ids[1:])).item()
        got, n = split_loss(m.model_, ids, torch.device("cpu"), chunk=7)  # chunks with the state carried
    assert n == 499
    assert got == pytest.approx(expected, rel=1e-5)


def test_evaluate_reports_nats_and_bits():
    m = untrained()
    s = "abcabc\nhgfedcba" * 5
    score = m.evaluate(s)
    ids = torch.from_numpy(m.vocab_.encode(s).astype(np.int64))
    with torch.no_grad():
        logits, _ = m.model_(ids[None, :-1])
    assert score["loss"] == pytest.approx(F.cross_entropy(logits[0], ids[1:]).item(), rel=1e-5)
    assert score["bpc"] == pytest.approx(score["loss"] / math.log(2))
    with pytest.raises(ValueError, match="evaluation text has 1 character\\(s\\) the model has never seen: 'z'"):
        m.evaluate("abz")


def test_greedy_follows_the_argmax_of_the_full_network():
    m = untrained("gru")
    out = m.sample(15, prime="abc", greedy=True)
    seq = "abc"
    with torch.no_grad():
        for _ in range(15):  # oracle: re-read the whole prefix every step
            logits, _ = m.model_(torch.from_numpy(m.vocab_.encode(seq).astype(np.int64))[None])
            seq += m.vocab_.chars[int(logits[0, -1].argmax())]
    assert out == seq[3:]
    assert m.sample(15, prime="abc", top_k=1, seed=5) == out  # top_k=1 is greedy


def test_prime_is_read_once():
    m = untrained()
    shapes = []
    m.model_.register_forward_hook(lambda mod, inp, out: shapes.append(tuple(inp[0].shape)))
    m.sample(50, prime="abcdef", seed=0)
    assert shapes == [(1, 6)]


def test_sampling_is_reproducible_and_seed_dependent():
    m = untrained(vocab="abcdefghijklmnop")
    assert m.sample(200, prime="ab", seed=3) == m.sample(200, prime="ab", seed=3)
    assert m.sample(200, prime="ab", seed=3) != m.sample(200, prime="ab", seed=4)
    assert len(m.sample(0)) == 0


def constant_model(log_p):
    """A model whose logits are log_p whatever the state: samples are i.i.d. from softmax(log_p / T)."""
    m = untrained(vocab="abcd", layers=1)
    with torch.no_grad():
        m.model_.fc.weight.zero_()
        m.model_.fc.bias.copy_(torch.tensor(log_p))
    return m


@pytest.mark.parametrize("temperature,top_k", [(1.0, None), (0.5, None), (1.0, 2)])
def test_sample_frequencies_follow_softmax(temperature, top_k):
    log_p = np.log([0.1, 0.2, 0.3, 0.4])
    m = constant_model(log_p)
    n = 6000
    out = m.sample(n, temperature=temperature, top_k=top_k, seed=11)
    z = log_p / temperature
    if top_k:
        z = np.where(z < np.sort(z)[-top_k], -np.inf, z)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()  # oracle
    freq = np.array([out.count(c) for c in "abcd"]) / n
    np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(0.25 / n))


def test_bad_sampling_arguments():
    m = untrained()
    with pytest.raises(ValueError, match=r"prime has 2 character\(s\) the model has never seen: 'X', 'Y'"):
        m.sample(5, prime="aXbY")
    with pytest.raises(ValueError, match="temperature must be > 0"):
        m.sample(5, temperature=0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        m.sample(5, top_k=0)
    with pytest.raises(ValueError, match="not fitted"):
        CharModel().sample(5)


def test_init_stores_only_and_rejects_unknown_settings():
    m = CharModel(hidden_size=12, cell="gru")
    assert m.config.hidden_size == 12 and not hasattr(m, "model_")
    with pytest.raises(ValueError, match="unknown key 'hidden'"):
        CharModel(hidden=3)


def test_load_refuses_other_run_directories(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"task": "forecast"}))
    with pytest.raises(ValueError, match="holds a forecast model, not a character model; use rnnlab predict"):
        CharModel.load(tmp_path)
    with pytest.raises(ValueError, match="run directory not found"):
        CharModel.load(tmp_path / "nothing")


def test_bad_input_writes_nothing(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"abc\xff")
    with pytest.raises(ValueError, match="not valid utf-8"):
        CharModel(**SMALL).fit(bad, steps=2, run_dir=tmp_path / "run")
    with pytest.raises(ValueError, match="too short"):
        CharModel(**SMALL).fit("abc" * 10, steps=2, run_dir=tmp_path / "run")
    with pytest.raises(ValueError, match="lr must be > 0"):
        CharModel(**SMALL, lr=-1.0).fit(TEXT, steps=2, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
