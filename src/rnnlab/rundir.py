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
