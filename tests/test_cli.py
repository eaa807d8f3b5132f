"""The program's way out (``rnnlab.cli.entry``): the command's status, after what a normal exit does."""

import subprocess
import sys
import textwrap


def _entry(body: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent(body) + "\nimport rnnlab.cli as cli\ncli.main = main\ncli.entry()\n"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_entry_exits_with_the_commands_status_after_atexit_threads_and_streams(tmp_path):
    done = tmp_path / "thread-done"
    result = _entry(f"""
        import atexit, sys, threading, time
        from pathlib import Path
        atexit.register(print, "atexit ran")
        def late():
            time.sleep(0.3)
            Path({str(done)!r}).write_text("yes")
        def main():
            threading.Thread(target=late).start()  # not a daemon: a normal exit would wait for it
            sys.stdout.write("no newline, still flushed")
            return 3
    """)
    assert result.returncode == 3
    assert result.stdout == "no newline, still flushedatexit ran\n"
    assert done.read_text() == "yes"


def test_an_exception_leaving_main_takes_the_normal_way_out():
    result = _entry("""
        def main():
            raise RuntimeError("boom")
    """)
    assert result.returncode == 1 and "RuntimeError: boom" in result.stderr
