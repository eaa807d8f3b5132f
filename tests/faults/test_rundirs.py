"""Run directories under faults: never overwritten, never mixed, never half-written, cleaned on resume.

Kinds 1 (a run directory lost or mixed), 2 (a damaged file loaded) and 4 (a half-written directory left
behind). Cases that need a second process or a signal run ``rnnlab`` as real processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnlab import Forecaster
from rnnlab.data import text as text_data

from .conftest import TINY_FORECAST, TINY_TEXT, Case, assert_refused, run_in_process, run_process, snapshot


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _flip(path: Path, at_end: int = 5) -> None:
    """Flip one bit of one byte near the end of ``path`` (inside the tensor data of a safetensors file)."""
    data = bytearray(path.read_bytes())
    data[-at_end] ^= 0x10
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------ kind 1: existing directories are never overwritten

OVERWRITE = [
    Case("text-out-holds-a-run", 1, lambda w, t: ["text", "--data", w.text, "--steps", "2", "--out", w.text_run,
                                                  *TINY_TEXT],
         r"text-run already exists and is not empty; choose another (--|`)out`?, or continue the run in it with "
         r"(--|`)resume"),
    Case("text-out-holds-a-forecast-run", 1, lambda w, t: ["text", "--data", w.text, "--steps", "2", "--out",
                                                           w.forecast_run, *TINY_TEXT],
                                                                r"already exists and is not empty"),
    Case("text-out-is-a-users-folder", 1, lambda w, t: ["text", "--data", w.text, "--steps", "2", "--out", w.folder,
                                                        *TINY_TEXT], r"folder already exists and is not empty"),
    Case("text-out-is-a-file", 1, lambda w, t: ["text", "--data", w.text, "--steps", "2", "--out", w.text,
                                                *TINY_TEXT], r"code.txt .*not a directory|exists and is not"),
    Case("forecast-out-is-a-users-folder", 1, lambda w, t: ["forecast", "--data", w.sine, "--column", "v", "--out",
                                                            w.folder, *TINY_FORECAST],
                                                                 r"already exists and is not empty"),
    Case("explain-out-holds-a-run", 1, lambda w, t: ["explain", "lookback", "--lookbacks", "1", "--epochs", "1",
                                                     "--quiet", "--out", w.text_run],
         r"already exists and is not empty; choose another \S+$"),
    Case("text-resume-with-out", 1, lambda w, t: ["text", "--resume", w.text_run, "--out", t / "elsewhere", "--quiet"],
         r"--out does not apply with --resume"),
    Case("forecast-resume-with-out", 1, lambda w, t: ["forecast", "--resume", w.forecast_run, "--out", t / "x",
                                                      "--quiet"], r"--out does not apply with --resume"),
]


@pytest.mark.parametrize("case", [c.param() for c in OVERWRITE])
def test_an_existing_directory_is_never_overwritten(case, world, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = snapshot(world.root, tmp_path)
    code, _, err = run_in_process(case.argv(world, tmp_path), capsys, monkeypatch)
    assert_refused(code, err, case, before, snapshot(world.root, tmp_path))


# ------------------------------------------------------------------ kind 2: damaged weights and checkpoints

def _damaged(world, tmp, which, name):
    run = _copy(world.text_run if which == "text" else world.forecast_run, tmp / "run")
    _flip(run / name)


DAMAGED = [
    Case("predict-flipped-weight", 2, lambda w, t: ["predict", "--model", t / "run"],
         r"model.safetensors is damaged: the SHA-256 of its tensors .* does not match",
         setup=lambda w, t: _damaged(w, t, "forecast", "model.safetensors")),
    Case("sample-flipped-weight", 2, lambda w, t: ["sample", "--model", t / "run"],
         r"model.safetensors is damaged", setup=lambda w, t: _damaged(w, t, "text", "model.safetensors")),
    Case("explain-hidden-flipped-weight", 2, lambda w, t: ["explain", "hidden", "--model", t / "run", "--out",
                                                           t / "out"],
         r"model.safetensors is damaged", setup=lambda w, t: _damaged(w, t, "forecast", "model.safetensors")),
    Case("text-resume-flipped-checkpoint", 2, lambda w, t: ["text", "--resume", t / "run", "--quiet"],
         r"tensors.safetensors is damaged",
         setup=lambda w, t: _damaged(w, t, "text", "checkpoint/tensors.safetensors")),
    Case("forecast-resume-flipped-checkpoint", 2, lambda w, t: ["forecast", "--resume", t / "run", "--quiet"],
         r"tensors.safetensors is damaged",
         setup=lambda w, t: _damaged(w, t, "forecast", "checkpoint/tensors.safetensors")),
]


@pytest.mark.parametrize("case", [c.param() for c in DAMAGED])
def test_a_damaged_file_is_one_clear_line(case, world, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    case.setup(world, tmp_path)
    before = snapshot(world.root, tmp_path)
    code, _, err = run_in_process(case.argv(world, tmp_path), capsys, monkeypatch)
    assert_refused(code, err, case, before, snapshot(world.root, tmp_path))


# ------------------------------------------------------------------ kind 4: nothing half-written after a failure

def _interrupt_encoding(monkeypatch):
    def interrupted(self, text, what="text"):
        raise KeyboardInterrupt
    monkeypatch.setattr(text_data.Vocab, "encode", interrupted)


HALF = [
    Case("forecast-diverges-at-once", 4, lambda w, t: ["forecast", "--data", w.sine, "--column", "v", "--out",
                                                       t / "out", "--lr", "1e30", "--skip", "none", *TINY_FORECAST],
         r"training diverged", code=3),
    Case("text-diverges-at-once", 4, lambda w, t: ["text", "--data", w.text, "--steps", "6", "--out", t / "out",
                                                   *TINY_TEXT, "--lr", "1e38", "--eval-every", "5"],
         r"training diverged", code=3),
    Case("text-ctrl-c-while-encoding", 4, lambda w, t: ["text", "--data", w.text, "--steps", "2", "--out", t / "out",
                                                        *TINY_TEXT], r"interrupted", code=130),
    Case("text-default-out-refused", 4, lambda w, t: ["text", "--data", w.text, "--steps", "2", *TINY_TEXT,
                                                      "--dropout", "3"], r"dropout"),
]


@pytest.mark.parametrize("case", [c.param() for c in HALF])
def test_a_failed_run_leaves_no_directory(case, world, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "encoding" in case.id:
        _interrupt_encoding(monkeypatch)
    before = snapshot(world.root, tmp_path)
    code, _, err = run_in_process(case.argv(world, tmp_path), capsys, monkeypatch)
    assert_refused(code, err, case, before, snapshot(world.root, tmp_path))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no drawing process without os.fork")
def test_a_failed_forecast_leaves_no_directory_with_the_drawing_process(world, tmp_path):
    """The program (``python -m rnnlab``) sends the series figure to its drawing process before training; a fit
    that fails at once must stop that process before the run is removed, or its figure re-creates the run."""
    case = HALF[0]
    before = snapshot(world.root, tmp_path)
    result = run_process(case.argv(world, tmp_path), cwd=tmp_path, timeout=300)
    assert_refused(result.returncode, result.stderr.decode(), case, before, snapshot(world.root, tmp_path))
    time.sleep(0.5)  # a drawing process left running would write after the command's exit
    assert not (tmp_path / "out").exists()


def _interrupted_text_run(world, tmp_path, capsys, monkeypatch, at_step=3):
    """A text run stopped by Ctrl-C after ``at_step`` steps (a checkpoint is saved), and its reference run."""
    from rnnlab.text.estimator import TextTask

    run, reference = tmp_path / "run", tmp_path / "reference"
    argv = ["text", "--data", world.text, "--steps", "9", *TINY_TEXT]
    assert run_in_process([*argv, "--out", reference], capsys, monkeypatch)[0] == 0
    calls = {"n": 0}
    loss = TextTask.loss

    def interrupting(self, model, batch, state):
        calls["n"] += 1
        if calls["n"] == at_step + 1:
            raise KeyboardInterrupt
        return loss(self, model, batch, state)

    with monkeypatch.context() as m:
        m.setattr(TextTask, "loss", interrupting)
        assert run_in_process([*argv, "--out", run], capsys, monkeypatch)[0] == 130
    return run, reference


def _same_weights(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


LEFTOVERS = {".checkpoint.tmp-999999": "dir", ".checkpoint.old-999998": "dir", "corpus.bin.part-999997": "file",
             ".config.json.x1y2z3.tmp": "file", ".model.safetensors.abc.tmp": "file"}


def test_resume_cleans_the_leftovers_of_a_crashed_run(world, tmp_path, capsys, monkeypatch):
    run, reference = _interrupted_text_run(world, tmp_path, capsys, monkeypatch)
    for name, kind in LEFTOVERS.items():  # what a SIGKILL in the middle of a write leaves
        if kind == "dir":
            shutil.copytree(run / "checkpoint", run / name)
        else:
            (run / name).write_bytes(b"\0" * 1000)
    assert run_in_process(["text", "--resume", run, "--quiet"], capsys, monkeypatch)[0] == 0
    assert not [p.name for p in run.iterdir() if p.name in LEFTOVERS or p.name.startswith(".")]
    _same_weights(run, reference)


def test_resume_after_a_crash_between_the_checkpoint_renames(world, tmp_path, capsys, monkeypatch):
    run, reference = _interrupted_text_run(world, tmp_path, capsys, monkeypatch)
    os.rename(run / "checkpoint", run / ".checkpoint.old-999999")  # the old one moved away, the new one not in
    assert run_in_process(["text", "--resume", run, "--quiet"], capsys, monkeypatch)[0] == 0
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]
    _same_weights(run, reference)


# ------------------------------------------------------------------ kind 1: concurrent processes, a deleted directory

def _popen(argv, cwd):
    env = {k: v for k, v in os.environ.items() if k != "RNNLAB_DEBUG"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-m", "rnnlab", *map(str, argv)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(out, seconds=300):
    """Until the training child has written its first checkpoint (or ``seconds`` have passed)."""
    deadline = time.monotonic() + seconds
    while not (out / "checkpoint" / "meta.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.slow
def test_two_processes_on_the_same_out_cannot_both_write_it(world, tmp_path):
    out = tmp_path / "out"
    argv = ["forecast", "--data", world.sine, "--column", "v", "--out", out, "--epochs", "3", "--quiet"]
    children = [_popen([*argv, "--hidden", str(h)], tmp_path) for h in (4, 6)]
    results = [(c.wait(timeout=600), *c.communicate()) for c in children]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[0] == 2)
    assert len(loser[2].strip().splitlines()) == 1 and "Traceback" not in loser[2]
    assert "in use by process" in loser[2] or "already exists and is not empty" in loser[2]
    winner_hidden = json.loads((out / "config.json").read_text())["config"]["hidden_size"]
    assert Forecaster.load(out).hidden_size == winner_hidden  # config and weights of one and the same run
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
def test_a_resume_of_a_run_in_progress_is_refused(world, tmp_path):
    out = tmp_path / "out"
    child = _popen(["text", "--data", world.text, "--steps", "100000", "--out", out, *TINY_TEXT], tmp_path)
    try:
        _wait_for_checkpoint(out)
        before = (out / "config.json").read_bytes()
        done = subprocess.run([sys.executable, "-m", "rnnlab", "text", "--resume", str(out), "--quiet"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
        assert done.returncode == 2 and f"is in use by process {child.pid} on" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert (out / "config.json").read_bytes() == before
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=300)


@pytest.mark.slow
def test_a_run_directory_deleted_while_training_is_not_recreated(world, tmp_path):
    out = tmp_path / "out"
    child = _popen(["text", "--data", world.text, "--steps", "100000", "--out", out, *TINY_TEXT], tmp_path)
    try:
        _wait_for_checkpoint(out)
        os.rename(out, tmp_path / "moved")  # gone at once: rmtree would race the child's next write
        shutil.rmtree(tmp_path / "moved", ignore_errors=True)
        code = child.wait(timeout=300)
        err = child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code == 2, err
    assert "was deleted or moved while" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
