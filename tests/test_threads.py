"""The thread choice: the cores other processes leave free, unless the caller or the environment chose."""

import os
import subprocess
import sys
import time

import pytest
import torch

from rnnlab import threads


@pytest.fixture(autouse=True)
def _restore(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_chosen_by_caller", None)
    monkeypatch.delenv("RNNLAB_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("busy,cores,expected", [(0.0, 2, 2), (0.3, 2, 2), (0.7, 2, 1), (1.0, 2, 1), (5.0, 2, 1),
                                                 (1.0, 8, 7), (0.0, 1, 1)])
def test_free_cores(busy, cores, expected):
    assert threads.free_cores(busy, cores) == expected


def test_a_busy_machine_gets_fewer_threads(monkeypatch):
    monkeypatch.setattr(threads, "_DEFAULT", 2)
    monkeypatch.setattr(threads, "_fused_build_running", lambda: False)
    monkeypatch.setattr(threads, "busy_others", lambda: 1.0)  # one CPU-bound process beside us
    assert threads.choose() == 1 and torch.get_num_threads() == 1
    monkeypatch.setattr(threads, "busy_others", lambda: 0.1)
    assert threads.choose() == 2 and torch.get_num_threads() == 2
    monkeypatch.setattr(threads, "busy_others", lambda: None)  # cannot tell: torch's own default
    assert threads.choose() == 2


def test_the_caller_and_the_environment_win(monkeypatch):
    monkeypatch.setattr(threads, "_DEFAULT", 2)
    monkeypatch.setattr(threads, "busy_others", lambda: 1.0)
    monkeypatch.setenv("RNNLAB_THREADS", "2")
    assert threads.choose() == 2
    monkeypatch.delenv("RNNLAB_THREADS")
    threads.use(2)
    assert threads.choose() == 2 and torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="threads: the thread count must be positive, got 0"):
        threads.use(0)


def test_busy_others_reads_the_machine():
    busy = threads.busy_others(0.05)
    assert busy is None or 0.0 <= busy <= 64


def test_our_own_background_build_counts_as_a_busy_core(monkeypatch):
    monkeypatch.setattr(threads, "_DEFAULT", 2)
    monkeypatch.setattr(threads, "busy_others", lambda: 0.0)  # an idle machine, but for the build
    monkeypatch.setattr(threads, "_fused_build_running", lambda: True)
    assert threads.choose() == 1
    monkeypatch.setattr(threads, "_fused_build_running", lambda: False)
    assert threads.choose() == 2


def test_building_reads_the_build_lock(tmp_path, monkeypatch):
    from rnnlab.engines.fused import cache

    monkeypatch.setattr(cache, "_directory", lambda: tmp_path)
    assert not cache.building()
    lock = tmp_path / "rnnlab-fused-build.lock"
    lock.write_text("123")
    assert cache.building()
    os.utime(lock, (0, 0))  # a lock from a build that died long ago
    assert not cache.building()


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_background_build_runs_at_idle_priority():
    code = ("import os; from rnnlab.engines.fused import cache; cache._lowest_priority(); "
            "print(os.sched_getscheduler(0) == os.SCHED_IDLE)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr


def test_busy_others_watches_since_the_import_without_waiting(monkeypatch):
    """A command imports this module while it loads torch: by the time it trains, the interval since then
    tells how busy the machine is, and choose() sleeps for nothing (issue 19: 0.1 s of every warm run)."""
    ticks = os.sysconf("SC_CLK_TCK")
    clock = time.perf_counter()
    monkeypatch.setattr(threads, "_machine_busy", lambda: int(3.0 * ticks))  # 1.5 cores busy over 2 s
    monkeypatch.setattr(threads, "_watch", (0, time.process_time(), clock - 2.0))
    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail(f"slept {s} s"))
    busy = threads.busy_others()
    assert busy == pytest.approx(1.5, abs=0.05)  # less this process's own CPU time: ~0 here


def test_busy_others_samples_afresh_when_the_watch_is_old_or_short(monkeypatch):
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    monkeypatch.setattr(threads, "_watch", (0, 0.0, time.perf_counter() - 3600))  # an hour ago: not "now"
    threads.busy_others()
    monkeypatch.setattr(threads, "_watch", (threads._machine_busy(), time.process_time(), time.perf_counter()))
    threads.busy_others()  # just started: waits for the rest of the tenth of a second
    assert slept[0] == threads.SAMPLE_SECONDS and 0 < slept[1] <= threads.SAMPLE_SECONDS
