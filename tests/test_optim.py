"""rnnlab.optim.AdamW against its oracle, torch.optim.AdamW / Adam: the same parameters after many steps (with
weight decay, a changing learning rate, a parameter without gradient), and state_dicts that load both ways."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch
from torch import nn

from rnnlab.optim import AdamW


def _model(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).to(dtype)
    model.unused = nn.Parameter(torch.ones(2, dtype=dtype))  # never gets a gradient: no state, never moves
    return model


def _train(model, optimizer, steps, first=0, lr=lambda t: 1e-2):
    for t in range(first, first + steps):  # batch t depends on t alone: a run can continue from any step
        x = torch.randn(16, 3, generator=torch.Generator().manual_seed(t), dtype=next(model.parameters()).dtype)
        optimizer.zero_grad(set_to_none=True)
        loss = (model(x) ** 2).mean() + model[0].weight.abs().sum()
        loss.backward()
        for group in optimizer.param_groups:
            group["lr"] = lr(t)
        optimizer.step()


def _cosine(t, steps=60):
    import math

    return 1e-4 + 0.5 * (1 + math.cos(math.pi * t / steps)) * (3e-2 - 1e-4)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_torch_adamw_step_for_step(weight_decay, dtype):
    ours, theirs = _model(dtype=dtype), _model(dtype=dtype)
    _train(ours, AdamW(ours.parameters(), lr=3e-2, weight_decay=weight_decay), 60, lr=_cosine)
    _train(theirs, torch.optim.AdamW(theirs.parameters(), lr=3e-2, weight_decay=weight_decay), 60, lr=_cosine)
    for (name, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6 if dtype == torch.float32 else 1e-12, atol=0, msg=name)
    assert torch.equal(ours.unused, torch.ones(2, dtype=dtype))


def test_without_weight_decay_it_is_adam():
    ours, theirs = _model(), _model()
    _train(ours, AdamW(ours.parameters(), lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.0), 40)
    _train(theirs, torch.optim.Adam(theirs.parameters(), lr=1e-2, betas=(0.8, 0.99), eps=1e-6), 40)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=0)


def test_state_dict_has_torchs_layout_and_loads_both_ways():
    model = _model()
    ours = AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    _train(model, ours, 5)
    reference = _model()
    theirs = torch.optim.AdamW(reference.parameters(), lr=1e-2, weight_decay=0.01)
    _train(reference, theirs, 5)
    mine, torchs = copy.deepcopy(ours.state_dict()), copy.deepcopy(theirs.state_dict())  # state_dicts share tensors
    assert mine["param_groups"] == torchs["param_groups"]
    assert mine["state"].keys() == torchs["state"].keys() == {1, 2, 3, 4}  # "unused" (index 0) has no state
    for i, entry in torchs["state"].items():
        assert mine["state"][i].keys() == entry.keys()
        for key in entry:
            torch.testing.assert_close(mine["state"][i][key], entry[key], rtol=1e-6, atol=0)

    # continue from the other's state: the same as continuing each from its own
    a, b = _model(), _model()
    a.load_state_dict(model.state_dict())
    b.load_state_dict(reference.state_dict())
    from_torch = AdamW(a.parameters(), lr=1e-2, weight_decay=0.01)
    from_torch.load_state_dict(torchs)
    from_ours = torch.optim.AdamW(b.parameters(), lr=1e-2, weight_decay=0.01)
    from_ours.load_state_dict(mine)
    _train(a, from_torch, 5, first=5)
    _train(b, from_ours, 5, first=5)
    _train(model, ours, 5, first=5)
    for x, y, z in zip(a.parameters(), b.parameters(), model.parameters()):
        torch.testing.assert_close(x, z, rtol=1e-6, atol=0)
        torch.testing.assert_close(y, z, rtol=1e-6, atol=0)


def test_a_resumed_run_is_bit_identical_and_the_loaded_state_a_copy():
    whole = _model()
    opt = AdamW(whole.parameters(), lr=1e-2)
    _train(whole, opt, 10)

    first = _model()
    opt1 = AdamW(first.parameters(), lr=1e-2)
    _train(first, opt1, 4)
    saved_weights = {k: v.clone() for k, v in first.state_dict().items()}
    saved_state = copy.deepcopy(opt1.state_dict())  # a checkpoint (a state_dict shares the live tensors)
    second = _model()
    second.load_state_dict(saved_weights)
    opt2 = AdamW(second.parameters(), lr=1.0)
    opt2.load_state_dict(saved_state)
    for entry in saved_state["state"].values():  # the optimizer holds copies: the source may change
        for value in entry.values():
            value.zero_()
    assert opt2.param_groups[0]["lr"] == 1e-2
    _train(second, opt2, 6, first=4)
    for a, b in zip(whole.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_errors_name_the_problem():
    model = _model()
    with pytest.raises(ValueError, match="empty parameter list"):
        AdamW([])
    with pytest.raises(ValueError, match="betas must be in"):
        AdamW(model.parameters(), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="lr, eps and weight_decay must be >= 0"):
        AdamW(model.parameters(), lr=-1.0)
    other = AdamW(nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match=r"parameter groups of sizes \[2\], this optimizer one group of 5"):
        AdamW(model.parameters()).load_state_dict(other.state_dict())
    small = _model()
    opt = AdamW(small.parameters())
    _train(small, opt, 1)
    state = opt.state_dict()
    state["state"][1]["exp_avg"] = torch.zeros(3, 3)
    with pytest.raises(ValueError, match=r"exp_avg of parameter 1 has shape \(3, 3\), the parameter \(8, 3\)"):
        AdamW(_model().parameters()).load_state_dict(state)


def test_zero_grad_keeps_or_drops_gradients():
    model = _model()
    opt = AdamW(model.parameters())
    (model(torch.ones(1, 3)) ** 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_training_never_imports_torch_dynamo(tmp_path):
    """The reason this module exists: torch.optim imports torch._dynamo (3 s); training (checkpoints included)
    must not. A fresh process: this one has imported it already (the oracle above)."""
    code = ("import sys, torch; from rnnlab.train import TrainConfig, fit\n"
            "class Task:\n"
            "    def batches(self, epoch, generator, rank=0, world_size=1): return [torch.ones(4, 2)] * 3\n"
            "    def loss(self, model, batch, state): return model(batch).pow(2).mean(), None\n"
            "    def evaluate(self, model): return float(model(torch.ones(4, 2)).pow(2).mean())\n"
            f"fit(torch.nn.Linear(2, 1), Task(), TrainConfig(epochs=2, quiet=True), run_dir={str(tmp_path)!r})\n"
            "print(sorted(m for m in sys.modules if m.startswith('torch._dynamo')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    assert (tmp_path / "checkpoint" / "meta.json").is_file()
