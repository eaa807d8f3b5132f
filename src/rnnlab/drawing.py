"""A report's figures drawn in a second process, which loads matplotlib while the command loads torch.

A single-series ``rnnlab forecast`` spends ~0.5 s of CPU importing matplotlib and ~0.3 s drawing its three
figures, after training, one after the other, while the machine's second core sits idle (issue 19: the warm
command's budget is 4 s). So the ``rnnlab`` program calls :func:`start` before it imports torch: a forked
process imports matplotlib at once, on the other core, and draws a small figure to load the fonts, then
draws the figures it is sent; a forecast sends each as soon as its data exists (the series before training,
the loss curves before the test forecasts), so that little is left to draw when the command is done.
``draw(function, args, run_dir, name)`` sends one and returns the file name for the report; :func:`wait`
returns once every figure sent is on disk. Where the drawing process failed (a figure's exception, or the
process gone), the figures it did not draw are drawn again here, so an error surfaces with its own traceback
and no figure goes missing.

Without a drawing process — not started (the library used from Python, the tests), no ``os.fork``
(Windows), a torchrun rank other than 0, or ``RNNLAB_DRAW_PROCESS=0`` — :func:`draw` draws in this process.
The functions sent must import without torch (:mod:`rnnlab.forecast.figures`): the drawing process loads
only numpy, pandas and matplotlib. It ignores Ctrl-C (the command handles it) and ends when the command's
process closes the pipe (:func:`stop`, its exit or its crash).

Example:
    >>> from rnnlab import drawing, report
    >>> import tempfile
    >>> def figure(values):
    ...     fig, ax = report.new_figure(3, 2)
    ...     ax.plot(values)
    ...     return fig
    >>> run = tempfile.mkdtemp()
    >>> drawing.draw(figure, ([1, 3, 2],), run, "line.png")  # no drawing process here: drawn now
    'line.png'
    >>> drawing.wait()
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
from pathlib import Path
from typing import Any, Callable

_worker: "_Worker | None" = None


def start() -> None:
    """Fork the drawing process (see the module docstring), unless there is one or it does not apply.

    Call it before torch is imported (torch starts threads, and a process with threads must not fork). numpy
    and pandas are imported first, so that both processes have them for the price of one import.
    """
    global _worker
    if _worker is not None or not hasattr(os, "fork") or os.environ.get("RNNLAB_DRAW_PROCESS") == "0":
        return
    if os.environ.get("RANK", "0") != "0":  # torchrun: only rank 0 writes the run directory
        return
    import pandas  # noqa: F401  (the command needs it too: imported once, before the fork, for both processes)

    _worker = _Worker.fork()


def draw(function: Callable[..., Any], args: tuple, run_dir: str | Path, name: str) -> str:
    """``report.save_figure(function(*args), run_dir, name)``, in the drawing process where there is one;
    returns ``name`` (the figure is on disk once :func:`wait` returns)."""
    if _worker is not None and _worker.send((function, args, str(run_dir), name)):
        return name
    return _draw_here(function, args, run_dir, name)


def wait() -> None:
    """Return once every figure :func:`draw` sent is on disk (drawing here what the drawing process could not)."""
    if _worker is not None:
        for function, args, run_dir, name in _worker.failed():
            _draw_here(function, args, run_dir, name)


def stop() -> None:
    """End the drawing process, if any (the ``rnnlab`` program's last step, after :func:`wait`)."""
    global _worker
    if _worker is not None:
        _worker.stop()
        _worker = None


def _draw_here(function: Callable[..., Any], args: tuple, run_dir: str | Path, name: str) -> str:
    from rnnlab.report import save_figure

    return save_figure(function(*args), run_dir, name)


class _Worker:
    """The parent's end of the drawing process: a pipe of jobs, a pipe of answers, the jobs not yet answered."""

    def __init__(self, pid: int, jobs, answers) -> None:
        self.pid, self.jobs, self.answers, self.pending = pid, jobs, answers, []

    @classmethod
    def fork(cls) -> "_Worker | None":
        job_read, job_write = os.pipe()
        answer_read, answer_write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (job_read, job_write, answer_read, answer_write):
                os.close(fd)
            return None
        if pid == 0:  # the drawing process: never returns
            code = 0
            try:
                os.close(job_write)
                os.close(answer_read)
                _serve(job_read, answer_write)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(job_read)
        os.close(answer_write)
        return cls(pid, os.fdopen(job_write, "wb"), os.fdopen(answer_read, "rb"))

    def send(self, job: tuple) -> bool:
        """Send one job; False where the process is gone (the caller draws it)."""
        if self.jobs is None:
            return False
        try:
            pickle.dump((job[0].__module__, job[0].__qualname__, *job[1:]), self.jobs)
            self.jobs.flush()
        except (OSError, pickle.PicklingError, AttributeError):
            self._close()
            return False
        self.pending.append(job)
        return True

    def failed(self) -> list[tuple]:
        """Wait for every pending job's answer; returns the jobs the process did not draw."""
        failed = []
        for job in self.pending:
            try:
                answer = pickle.load(self.answers) if self.answers is not None else "gone"
            except (OSError, EOFError, pickle.UnpicklingError):
                self._close()
                answer = "gone"
            if answer is not None:
                failed.append(job)
        self.pending = []
        return failed

    def stop(self) -> None:
        """End the process now (every figure waited for is drawn; one not waited for belongs to a failed
        command) and reap it, so that the command leaves nothing running."""
        self._close()
        try:
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def _close(self) -> None:
        for stream in (self.jobs, self.answers):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self.jobs = self.answers = None


def _serve(job_fd: int, answer_fd: int) -> None:
    """The drawing process: load matplotlib, then draw each job and answer ``None`` (done) or the error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the command's handler (a checkpoint, a resume hint)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.backends.backend_agg  # noqa: F401  (the cost this process is here to take early)
    import matplotlib.figure  # noqa: F401

    from rnnlab.report import save_figure

    _warm_up()
    with os.fdopen(job_fd, "rb") as jobs, os.fdopen(answer_fd, "wb") as answers:
        while True:
            try:
                module, qualname, args, run_dir, name = pickle.load(jobs)
            except EOFError:
                return
            try:
                function = importlib.import_module(module)
                for part in qualname.split("."):
                    function = getattr(function, part)
                if not Path(run_dir).is_dir():  # removed since: the command's to notice, not this one's to re-create
                    raise FileNotFoundError(f"run directory {run_dir} is gone")
                save_figure(function(*args), run_dir, name)
                answer = None
            except Exception as e:  # drawn again by the command, where the error shows with its traceback
                answer = f"{type(e).__name__}: {e}"
            pickle.dump(answer, answers)
            answers.flush()


def _warm_up() -> None:
    """Draw a small figure with text into memory: the first draw of a process loads the fonts and fills the
    text caches (~0.05-0.08 s), paid here while the command still imports torch, not after its training."""
    import io

    from rnnlab.report import new_figure

    fig, ax = new_figure(2, 1.5)
    ax.plot([0, 1], [0, 1], label="warm-up")
    ax.set_title("warm-up")
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
    fig.savefig(io.BytesIO(), format="png", dpi=110)
