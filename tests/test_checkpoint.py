"""rnnlab.checkpoint: round trips, atomicity (a crash leaves the old checkpoint whole), one format (no
pickle beside it), and the error messages for missing, corrupt or mismatching files."""

from __future__ import annotations

import json
import re

import pytest
import torch
from torch import nn

from rnnlab import checkpoint as ckpt


def test_checkpoint_round_trip_in_one_format(tmp_path):
    tensors = {"w": torch.randn(3, 4).t(), "rng": torch.get_rng_state(), "step": torch.tensor(7.0)}
    meta = {"step": 3, "best_val": float("inf"), "history": [{"step": 1, "val_loss": 0.5}], "name": "x"}
    ckpt.save_checkpoint(tmp_path / "checkpoint", tensors, meta)
    loaded, loaded_meta = ckpt.load_checkpoint(tmp_path / "checkpoint")
    assert loaded_meta == meta
    assert loaded.keys() == tensors.keys()
    for k in tensors:
        assert torch.equal(loaded[k], tensors[k]) and loaded[k].dtype == tensors[k].dtype
    assert sorted(p.name for p in (tmp_path / "checkpoint").iterdir()) == [ckpt.META_FILE, ckpt.TENSORS_FILE]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]  # no temporary left over


def test_overwrite_is_whole_and_crash_keeps_old(tmp_path, monkeypatch):
    directory = tmp_path / "checkpoint"
    ckpt.save_checkpoint(directory, {"w": torch.zeros(2)}, {"step": 1})
    ckpt.save_checkpoint(directory, {"v": torch.ones(2)}, {"step": 2})
    tensors, meta = ckpt.load_checkpoint(directory)
    assert meta == {"step": 2} and list(tensors) == ["v"]

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.os, "replace", crash)  # fails after both files are written, before the swap
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(directory, {"u": torch.ones(5)}, {"step": 3})
    tensors, meta = ckpt.load_checkpoint(directory)
    assert meta == {"step": 2} and list(tensors) == ["v"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_crash_between_renames_finds_the_old_checkpoint(tmp_path):
    directory = tmp_path / "checkpoint"
    ckpt.save_checkpoint(directory, {"w": torch.arange(3.0)}, {"step": 5})
    directory.rename(tmp_path / ".checkpoint.old-123")  # what the first rename leaves if we crash right after
    tensors, meta = ckpt.load_checkpoint(directory)
    assert meta["step"] == 5 and torch.equal(tensors["w"], torch.arange(3.0))


def test_missing_checkpoint_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match=f"no checkpoint in {re.escape(str(tmp_path))}"):
        ckpt.load_checkpoint(tmp_path)


def test_flatten_unflatten_optimizer_state():
    model = nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    tensors: dict = {}
    skeleton = ckpt.flatten(optimizer.state_dict(), "optimizer", tensors)
    skeleton = json.loads(json.dumps(skeleton))  # it must survive JSON
    assert "optimizer.state.0.exp_avg" in tensors
    rebuilt = ckpt.unflatten(skeleton, tensors)
    original = optimizer.state_dict()
    assert rebuilt["param_groups"] == original["param_groups"]  # tuples (betas) and int keys come back
    assert rebuilt["state"].keys() == original["state"].keys()
    for i, state in original["state"].items():
        for k, v in state.items():
            assert torch.equal(rebuilt["state"][i][k], v)
    nested = ({"a": torch.ones(1)}, [torch.zeros(2), None, 3, "s"])
    back = ckpt.unflatten(json.loads(json.dumps(ckpt.flatten(nested, "s", tensors))), tensors)
    assert isinstance(back, tuple) and isinstance(back[1], list) and back[1][1:] == [None, 3, "s"]
    with pytest.raises(TypeError, match="cannot store a set at x"):
        ckpt.flatten({1, 2}, "x", {})


def test_weights_round_trip_and_errors(tmp_path):
    weight = torch.randn(4, 3)
    state = {"a": weight, "b": weight.t(), "c": weight[1]}  # shared storage, non-contiguous: still saved
    ckpt.save_weights(tmp_path / "model.safetensors", state)
    loaded = ckpt.load_weights(tmp_path / "model.safetensors")
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    with pytest.raises(ValueError, match="weights file not found"):
        ckpt.load_weights(tmp_path / "nope.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="bad.safetensors is not a readable safetensors file"):
        ckpt.load_weights(tmp_path / "bad.safetensors")


def test_load_state_into_names_the_mismatch():
    source = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1)).state_dict()
    model = nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 1))
    with pytest.raises(ValueError, match=r"runs/x holds weights of another model: 0.weight is \(5, 3\) in the "
                                         r"model but \(4, 3\) in the file"):
        ckpt.load_state_into(model, source, "runs/x")
    with pytest.raises(ValueError, match="missing 1.weight, 1.bias; unexpected 2.weight"):
        ckpt.load_state_into(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1)),
                             {"0.weight": torch.zeros(4, 3), "0.bias": torch.zeros(4), "2.weight": torch.zeros(1)},
                             "f")
    target = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    ckpt.load_state_into(target, source, "ok")
    assert all(torch.equal(target.state_dict()[k], v) for k, v in source.items())
