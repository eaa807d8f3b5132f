"""rnnlab.lock: one process at a time, stale locks taken over, the file gone after release."""

import os
import subprocess
import sys
import textwrap

import pytest

from rnnlab import lock


def test_acquire_writes_pid_and_host_and_release_removes_the_file(tmp_path):
    with lock.acquire(tmp_path) as held:
        assert held.held
        pid, host = (tmp_path / ".lock").read_text().split()
        assert int(pid) == os.getpid() and host == __import__("socket").gethostname()
        with pytest.raises(ValueError, match=rf"run directory {tmp_path} is in use by process {os.getpid()} on "):
            lock.acquire(tmp_path)  # a second descriptor, even in the same process, is refused
    assert not (tmp_path / ".lock").exists() and not held.held


def test_a_lock_of_another_live_process_is_refused_and_one_of_a_dead_process_taken_over(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from rnnlab import lock
        held = lock.acquire({str(tmp_path)!r})
        print("locked", flush=True)
        sys.stdin.readline()
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=f"in use by process {child.pid} on"):
            lock.acquire(tmp_path)
    finally:
        child.kill()  # SIGKILL: no release runs; the file stays with a dead pid in it
        child.wait()
    assert (tmp_path / ".lock").read_text().split()[0] == str(child.pid)
    with lock.acquire(tmp_path):  # stale: taken over
        assert (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())


def test_a_deleted_directory_is_noticed(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    held = lock.acquire(run)
    import shutil

    shutil.rmtree(run)
    assert not held.held
    held.release()
