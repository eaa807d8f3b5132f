"""rnnlab.train under torchrun: 2 CPU processes (gloo) train through fit; the ranks end with identical
weights, equal to a single-process run on the whole batches; only rank 0 writes files; a Ctrl-C reaching one
rank stops both, and the resumed run ends with the uninterrupted run's weights. Also the device and rank
helpers every caller shares."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from rnnlab.distributed import rank, resolve_device, world_size
from rnnlab.train import TrainConfig, fit

SCRIPT = Path(__file__).with_name("ddp_fit_script.py")


def _script_module():
    spec = importlib.util.spec_from_file_location("ddp_fit_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_two_ranks_agree_and_match_single_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(SCRIPT), str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1)]
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert results[0]["steps"] == results[1]["steps"] == 12  # 4 steps per epoch; rank 1's extra batch dropped
    histories = [[{k: v for k, v in row.items() if k != "seconds"} for row in r["history"]] for r in results]
    assert histories[0] == histories[1] and len(histories[0]) == 3  # same losses and evaluations on both ranks

    # interrupted on one rank, resumed on both: the same weights as the uninterrupted run
    for r in (0, 1):
        resumed = load_file(str(tmp_path / f"rank{r}-resumed.safetensors"))
        for name in ranks[0]:
            assert torch.equal(resumed[name], ranks[0][name]), (r, name)

    # only rank 0 wrote its run directory
    assert (tmp_path / "run-0" / "checkpoint" / "meta.json").is_file()
    assert (tmp_path / "run-0" / "history.csv").is_file()
    assert not (tmp_path / "run-1").exists()

    # oracle: one process on the whole 16-sample batches (DDP averages the two halves' gradients)
    script = _script_module()
    torch.manual_seed(100)  # rank 0's initial weights
    model = nn.Linear(3, 1)
    fit(model, script.HalfBatches(), TrainConfig(**script.CONFIG))  # world_size 1: whole batches
    for name, value in model.state_dict().items():
        torch.testing.assert_close(ranks[0][name], value, rtol=1e-5, atol=1e-6)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_rank_and_world_size_read_torchrun_environment(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert (rank(), world_size()) == (0, 1)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert (rank(), world_size()) == (3, 4)
