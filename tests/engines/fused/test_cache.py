"""When ``auto`` may take the fused engine: only once its compiled kernels are ready, never at a compile's cost."""

import os
import subprocess
import sys
import time

import pytest
import torch

from rnnlab import engines
from rnnlab.engines import fused
from rnnlab.engines.fused import cache


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A process that has not decided yet, with its stamp and lock in ``tmp_path`` and no real build."""
    started = []
    monkeypatch.setattr(cache, "_decided", None)
    monkeypatch.setattr(cache, "_directory", lambda: tmp_path)
    monkeypatch.delenv("RNNLAB_FUSED_AUTO", raising=False)
    monkeypatch.setattr(cache, "build_in_background", lambda: started.append(True) or True)
    return started


def test_without_the_stamp_auto_stays_on_torch_and_a_build_starts(fresh):
    x = torch.zeros(50, 64, 20)  # in the fused engine's measured region
    assert not cache.ready()
    assert engines.select("auto", "rnn_tanh", x, 20).name == "torch"
    assert engines.select("fused", "rnn_tanh", x, 20).name == "fused"  # named: still fused
    assert fresh == [True]  # one build, however often auto asks


def test_with_the_stamp_auto_takes_fused_where_it_wins(fresh):
    cache.stamp().write_text("built")
    assert cache.ready()
    assert engines.select("auto", "rnn_tanh", torch.zeros(50, 64, 20), 20).name == "fused"
    assert engines.select("auto", "lstm", torch.zeros(50, 64, 20), 20).name == "torch"  # never wins
    assert not fresh


def test_the_decision_holds_for_the_process(fresh):
    assert not cache.ready()
    cache.stamp().write_text("built")  # a background build finishing half-way through a run
    assert not cache.ready()


def test_kernels_loaded_in_this_process_count_as_ready(fresh):
    assert cache.ready(kernels_loaded=True)
    assert not fresh


@pytest.mark.parametrize("value,expected", [("1", True), ("0", False)])
def test_the_environment_overrides_the_check(fresh, monkeypatch, value, expected):
    monkeypatch.setenv("RNNLAB_FUSED_AUTO", value)
    assert cache.ready() is expected
    assert not fresh


def test_the_stamp_follows_the_sources(monkeypatch, tmp_path):
    """An edit of any source file of the package (its size or time) makes the stamp stale."""
    (tmp_path / "kernels.py").write_text("x = 1\n")
    monkeypatch.setattr(cache, "_PACKAGE", tmp_path)
    before = cache._key()
    os.utime(tmp_path / "kernels.py", ns=(1, 1))
    assert cache._key() != before
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert cache._key() != before


def test_one_build_at_a_time_and_a_dead_one_is_taken_over(monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "_directory", lambda: tmp_path)
    lock = cache._take_lock()
    assert lock is not None and lock.exists()
    assert cache._take_lock() is None  # a live build holds it
    os.utime(lock, (0, 0))  # older than any build takes
    assert cache._take_lock() == lock


def test_no_background_build_when_switched_off(monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "_directory", lambda: tmp_path)
    monkeypatch.setenv("RNNLAB_FUSED_BUILD", "0")
    assert not cache.build_in_background()
    assert not list(tmp_path.iterdir())


def test_a_wait_for_the_build_ends_when_its_lock_goes_or_its_process_is_gone(tmp_path):
    lock = tmp_path / "rnnlab-fused-build.lock"
    assert cache.wait_for_build(timeout=5, directory=tmp_path)  # no lock: no build
    builder = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0.5); "
                                "__import__('os').unlink(sys.argv[1])", str(lock)])
    lock.write_text(str(builder.pid))
    start = time.monotonic()
    assert cache.wait_for_build(timeout=60, directory=tmp_path)
    assert not lock.exists() and time.monotonic() - start >= 0.3  # it waited for the lock to go
    builder.wait()
    lock.write_text(str(builder.pid))  # a lock left by a process that is gone (killed)
    assert cache.wait_for_build(timeout=60, directory=tmp_path)
    lock.write_text(str(os.getpid()))  # a live process that keeps it
    assert not cache.wait_for_build(timeout=0.3, directory=tmp_path)


@pytest.mark.slow
def test_the_build_compiles_what_auto_uses_and_writes_the_stamp(monkeypatch, tmp_path):
    """The build's own entry point (what the background process runs): the stamp appears, the lock goes."""
    pytest.importorskip("numba")
    monkeypatch.setattr(cache, "_directory", lambda: tmp_path)
    monkeypatch.setattr(os, "nice", lambda n: 0)  # not this test process
    lock = cache._take_lock()
    assert cache.main(["--lock", str(lock)]) == 0
    assert cache.stamp().exists() and not lock.exists()
    assert fused.sampler_loaded()  # the sampler was compiled (or loaded) too
