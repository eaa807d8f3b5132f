"""The drawing process (``rnnlab.drawing``): figures drawn by a forked process that never loads torch, and drawn
again by the command where that process fails or is gone — never a missing figure."""

import subprocess
import sys
import textwrap

import pytest

FIGURES = '''
import os, sys
from pathlib import Path
from rnnlab.report import new_figure

def figure(record, fail_in_pid=None):
    if fail_in_pid is not None and os.getpid() != fail_in_pid:
        raise RuntimeError("this figure fails outside the command's process")
    Path(record).write_text(f"{os.getpid()} {'torch' in sys.modules}")
    fig, ax = new_figure(3, 2)
    ax.plot([1, 3, 2])
    return fig
'''


def _run(tmp_path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "figs.py").write_text(FIGURES)
    script = "import os, sys\nsys.path.insert(0, %r)\nfrom rnnlab import drawing\nimport figs\n" % str(tmp_path)
    result = subprocess.run([sys.executable, "-c", script + textwrap.dedent(body)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result


def _png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no os.fork here")
def test_the_drawing_process_draws_without_torch(tmp_path):
    result = _run(tmp_path, """
        drawing.start()
        import torch  # the command's own work, after the fork
        name = drawing.draw(figs.figure, ("record",), ".", "a.png")
        drawing.wait()
        print(os.getpid(), name)
    """)
    parent, name = result.stdout.split()
    drawer, torch_loaded = (tmp_path / "record").read_text().split()
    assert name == "a.png" and _png(tmp_path / "a.png")
    assert drawer != parent and torch_loaded == "False"


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no os.fork here")
def test_a_figure_that_fails_there_is_drawn_again_here(tmp_path):
    result = _run(tmp_path, """
        drawing.start()
        drawing.draw(figs.figure, ("record", os.getpid()), ".", "b.png")
        drawing.wait()
        print(os.getpid())
    """)
    assert _png(tmp_path / "b.png")
    assert (tmp_path / "record").read_text().split()[0] == result.stdout.strip()  # drawn by the command


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no os.fork here")
def test_figures_sent_to_a_dead_drawing_process_are_drawn_here(tmp_path):
    result = _run(tmp_path, """
        import signal, time
        drawing.start()
        os.kill(drawing._worker.pid, signal.SIGKILL)
        os.waitpid(drawing._worker.pid, 0)
        for name in ("c.png", "d.png"):
            drawing.draw(figs.figure, ("record",), ".", name)
        drawing.wait()
        print(os.getpid())
    """)
    assert _png(tmp_path / "c.png") and _png(tmp_path / "d.png")
    assert (tmp_path / "record").read_text().split()[0] == result.stdout.strip()


def test_without_a_drawing_process_figures_are_drawn_at_once(tmp_path):
    _run(tmp_path, """
        os.environ["RNNLAB_DRAW_PROCESS"] = "0"
        drawing.start()
        assert drawing._worker is None
        drawing.draw(figs.figure, ("record",), ".", "e.png")
        assert os.path.exists("e.png")  # before wait(): drawn here, now
        drawing.wait()
    """)
