"""A run directory: where it goes, how its files are written (atomically), what it records.

Every training or explaining command writes one directory (DESIGN.md, "Run directory"): ``config.json``
(the fully resolved configuration, the data description, :func:`versions`), ``metrics.json``,
``history.csv``, ``report.html`` with its figures, and for training runs ``model.safetensors`` and
``checkpoint/`` (their format is :mod:`rnnlab.checkpoint`'s). The estimators never write one; each
command's ``run`` module does, through the helpers here.

Decisions:

* **One atomic write.** :func:`atomic_write` writes bytes to a temporary file in the target's directory and
  ``os.replace``-s it over the target, so a reader sees the old file or the new one, never half of one;
  :func:`atomic_write_text` and :func:`atomic_write_json` (and :func:`rnnlab.checkpoint.save_weights`)
  are built on it.
* **One owner.** A training command :func:`claim`-s its directory: created with one ``mkdir`` and locked
  (:mod:`rnnlab.lock`) at once, so two processes on the same ``out`` cannot both write it; an existing
  directory that holds anything is never overwritten (:func:`check_new`, before any expensive work, and again
  under the lock); ``resume`` takes the lock and cleans what a crashed run left (:func:`clean_leftovers`).
  A failed run that has no checkpoint yet is removed (:class:`Claim`), and a directory deleted while its
  run writes is noticed (:func:`check_owned`) rather than re-created half-empty.
* **A run is not created until it has something to hold.** :func:`new_run_dir` only names the directory,
  so a run that fails on bad input leaves nothing behind; :func:`write_run` writes a whole small run into
  a temporary sibling and moves it into place at the end.

Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> atomic_write_json(run / "config.json", {"task": "text"})
    >>> read_run_config(run)
    {'task': 'text'}
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import math
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnlab import __version__
from rnnlab.lock import LOCK_FILE, RunLock, acquire

if TYPE_CHECKING:  # pragma: no cover
    from rnnlab.report import Section

# the libraries whose versions a run records (besides rnnlab and Python)
RECORDED = ("torch", "numpy", "pandas", "matplotlib", "safetensors", "numba")


def new_run_dir(command: str, out: str | Path | None) -> Path:
    """The run directory: ``out`` if given, else ``runs/<command>-<YYYYmmdd-HHMMSS>`` (suffixed ``-2``, ``-3``…
    if that exists). The directory is NOT created: a failed run must not leave an empty one behind."""
    if out is not None:
        return Path(out)
    base = Path("runs") / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and ``os.replace``."""
    path = Path(path)
    check_owned(path)  # a run directory deleted while training is not re-created
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def versions() -> dict[str, str | None]:
    """The versions a run was made with: rnnlab, Python, and each of :data:`RECORDED` (``None`` if absent)."""
    found: dict[str, str | None] = {"rnnlab": __version__, "python": platform.python_version()}
    for name in RECORDED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def write_history_csv(path: str | Path, history: list[dict]) -> None:
    """Write one row per evaluation (columns in order of first appearance) to a CSV file, atomically."""
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (repr(v) if isinstance(v, float) and not math.isfinite(v) else v)
                         for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


def read_run_config(run_dir: str | Path) -> dict:
    """The ``config.json`` of a run directory; a ``ValueError`` if ``run_dir`` is not one."""
    path = Path(run_dir) / "config.json"
    if not Path(run_dir).is_dir():
        raise ValueError(f"rundir: run directory not found: {run_dir}")
    if not path.is_file():
        raise ValueError(f"rundir: {run_dir} is not a run directory (no config.json)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"rundir: {path} is unreadable ({e})") from None


def write_run(run_dir: str | Path, title: str, config: dict, metrics: dict, figures: dict,
              sections: list[Section]) -> Path:
    """Write a whole run without a model (an explanation) and return its path.

    Everything is written into a temporary sibling directory first and moved into place at the end, so a
    failure never leaves a half-written run directory behind.

    Args:
        run_dir: the directory to create; it must not exist, or be empty.
        title: the report's title.
        config: the resolved configuration (stored with :func:`versions` in ``config.json``).
        metrics: the numbers (``metrics.json``).
        figures: ``{file_name.png: matplotlib figure}``; each is saved beside the report and closed.
        sections: the report's sections (:class:`rnnlab.report.Section`); they name figures by file name.
    """
    from rnnlab.report import save_figure, write_report  # report writes through this module's atomic_write

    run_dir = Path(run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ValueError(f"rundir: {run_dir} exists and is not an empty directory")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}-", dir=run_dir.parent))
    try:
        atomic_write_json(tmp / "config.json", {**config, "versions": versions()})
        atomic_write_json(tmp / "metrics.json", metrics)
        for name, fig in figures.items():
            save_figure(fig, tmp, name)
        write_report(tmp, title, sections)
        if run_dir.exists():
            run_dir.rmdir()
        os.replace(tmp, run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_dir


# ---------------------------------------------------------------- ownership: one process writes a run directory

LEFTOVER_PATTERNS = (".checkpoint.tmp-*", ".checkpoint.old-*", "corpus.bin.part-*", ".*.tmp")  # of a crashed run
_OWNED: dict[Path, "Claim"] = {}  # the run directories this process holds, by resolved path


class Claim:
    """A run directory this process owns: its lock, whether this process created it, what to do on failure.

    Use it as a context manager around the run: on leaving normally the lock is released; on an exception,
    a run that has no checkpoint yet (nothing ``--resume`` could continue) is removed — the directory if this
    process created it, else what it wrote there — so a failure leaves no half-written run; one with a
    checkpoint (Ctrl-C, a divergence after an evaluation; ``member-K/checkpoint`` for a panel ensemble) is kept
    for ``--resume``.
    """

    def __init__(self, path: Path, lock: RunLock, created: bool, resumed: bool) -> None:
        self.path, self.lock, self.created, self.resumed = path, lock, created, resumed
        self._before = set() if created else {p.name for p in path.iterdir()}

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, kind, error, tb) -> None:
        try:
            checkpoints = [self.path / "checkpoint", *self.path.glob("member-*/checkpoint")]  # a panel ensemble
            if kind is not None and not self.resumed and self.lock.held \
                    and not any((c / "meta.json").is_file() for c in checkpoints):
                self.abandon()
        finally:
            self.release()

    def abandon(self) -> None:
        """Remove what this run wrote (the whole directory if this process created it)."""
        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for entry in self.path.iterdir():
            if entry.name not in self._before and entry.name != LOCK_FILE:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)

    def release(self) -> None:
        _OWNED.pop(self.path.resolve(), None)
        self.lock.release()


def check_new(path: str | Path, resumable: bool = True) -> Path:
    """Refuse, before any expensive work, a ``path`` that holds anything (a run or not): runs are never
    overwritten. The check is repeated under the lock by :func:`claim`. ``resumable``: the command has a
    ``resume`` to suggest."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"rundir: {path} exists and is not a directory; choose another `out`")
    if path.is_dir() and any(p.name != LOCK_FILE for p in path.iterdir()):
        if not resumable:
            raise ValueError(f"rundir: {path} already exists and is not empty; choose another `out`")
        raise ValueError(f"rundir: {path} already exists and is not empty; choose another `out`, or continue the run "
                         f"in it with `resume` {path}")
    return path


def claim(path: str | Path, resume: bool = False) -> Claim:
    """Own ``path`` for this process: create it (or take an empty one) and lock it, or lock a run to resume.

    The directory is created with one ``mkdir`` and locked at once (:func:`rnnlab.lock.acquire`), and its
    emptiness checked again under the lock, so two processes started together on the same ``out`` cannot
    both proceed. Resuming, the leftovers of a crashed run (:data:`LEFTOVER_PATTERNS`) are cleaned under the
    lock, after a checkpoint caught between its two renames is put back.

    Raises:
        ValueError: ``path`` holds something (a new run), is not a run (resume), or another live process
            holds it (named).
    """
    path = Path(path)
    created = False
    if resume:
        read_run_config(path)  # a run directory, or a clear error
    else:
        check_new(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir()
            created = True
        except FileExistsError:
            pass
    lock = acquire(path)  # refused only while another process holds it: then the directory is that one's
    try:
        if resume:
            clean_leftovers(path)
        else:
            check_new(path)  # again, under the lock: another process may have begun in between
    except BaseException:
        lock.release()
        raise
    owned = Claim(path, lock, created, resume)
    _OWNED[path.resolve()] = owned
    return owned


def check_owned(path: str | Path) -> None:
    """Before writing ``path``: if it lies in a run directory this process owns, that directory must still be
    there (with this process's lock): a run directory deleted or moved while training is not re-created."""
    if not _OWNED:
        return
    resolved = Path(path).resolve()
    for root, owned in _OWNED.items():
        if resolved == root or root in resolved.parents:
            if not owned.lock.held:
                raise ValueError(f"rundir: the run directory {owned.path} was deleted or moved while this run was "
                                 f"writing it; stopped without re-creating it")


def clean_leftovers(path: str | Path) -> list[str]:
    """Remove what a crashed run left in ``path`` (temporary files and checkpoint directories, a partly encoded
    corpus); a checkpoint caught between its two renames (only ``.checkpoint.old-PID`` there) is put back
    first. Call it only while holding the lock: then no other process is writing here. Returns the names."""
    path = Path(path)
    checkpoint = path / "checkpoint"
    olds = sorted(path.glob(".checkpoint.old-*"), key=lambda p: p.stat().st_mtime)
    if not (checkpoint / "meta.json").is_file() and olds:
        shutil.rmtree(checkpoint, ignore_errors=True)
        os.replace(olds[-1], checkpoint)
    removed = []
    for pattern in LEFTOVER_PATTERNS:
        for entry in path.glob(pattern):
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def record_resume(run_dir: str | Path, config: dict, changed: dict) -> None:
    """``config.json`` of a run resumed with changed settings (:func:`rnnlab.config.resume_with`): the settings
    it now runs with, and in ``"resumes"`` the step it resumed at and ``{name: [before, after]}``."""
    run_dir = Path(run_dir)
    stored = read_run_config(run_dir)
    try:
        step = json.loads((run_dir / "checkpoint" / "meta.json").read_text(encoding="utf-8"))["step"]
    except (OSError, ValueError, KeyError):
        step = None
    stored["config"] = config
    stored.setdefault("resumes", []).append({"step": step, "changed": changed})
    atomic_write_json(run_dir / "config.json", stored)
