"""Signals to a real training process: Ctrl-C (SIGINT), SIGTERM and SIGKILL, then ``--resume``.

Each interrupted run, resumed, must end with weights bit-identical to the same run uninterrupted, and a
signal that stops a process must leave a run directory ``--resume`` can continue (exit status 128 + the
signal number, one line naming the checkpoint and the resume command, no traceback).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnlab.cli import main

from .conftest import TEXT

SETTINGS = ["--hidden", "16", "--layers", "1", "--embedding", "8", "--batch-size", "4", "--seq-len", "12",
            "--eval-every", "5", "--steps", "150", "--quiet", "--engine", "torch"]


def _weights(run: Path) -> dict:
    return load_file(str(run / "model.safetensors"))


def _checkpoint_step(run: Path) -> int | None:
    try:
        return json.loads((run / "checkpoint" / "meta.json").read_text())["step"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("signals")
    data = tmp / "code.txt"
    data.write_text(TEXT * 3, encoding="utf-8")
    run = tmp / "reference"
    assert main(["text", "--data", str(data), "--out", str(run), *SETTINGS]) == 0
    return data, _weights(run)


def _start(data: Path, run: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RNNLAB_DEBUG"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-m", "rnnlab", "text", "--data", str(data), "--out", str(run),
                             *SETTINGS], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signalled_run_resumes_bit_identical(reference, tmp_path, signum, capsys):
    data, expected = reference
    run = tmp_path / "run"
    child = _start(data, run)
    try:
        deadline = time.monotonic() + 240
        while (_checkpoint_step(run) or 0) < 5 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert child.poll() is None, child.communicate()
        child.send_signal(signum)
        out, err = child.communicate(timeout=240)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    stopped_at = _checkpoint_step(run)
    assert stopped_at is not None and stopped_at < 150
    if signum == signal.SIGKILL:
        assert child.returncode == -signal.SIGKILL
    else:
        assert child.returncode == 128 + signum, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert f"checkpoint saved in {run / 'checkpoint'}; continue with --resume {run}" in err
    assert main(["text", "--resume", str(run), "--quiet"]) == 0
    resumed = _weights(run)
    assert resumed.keys() == expected.keys()
    for name in expected:
        assert torch.equal(resumed[name], expected[name]), name
    leftovers = sorted(p.name for p in run.iterdir() if p.name.startswith("."))
    assert leftovers == [], leftovers
