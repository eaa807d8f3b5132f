"""The run directory of an explanation: ``config.json``, ``metrics.json``, figures and ``report.html``.

Everything is written into a temporary sibling directory first and moved into place at the end, so a
failure never leaves a half-written run directory behind.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path

from rnnlab import __version__
from rnnlab.checkpoint import atomic_write_json
from rnnlab.report import Section, save_figure, write_report


def versions() -> dict:
    """The library versions a run records in its ``config.json``."""
    import matplotlib
    import numpy
    import torch

    return {"rnnlab": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "matplotlib": matplotlib.__version__, "python": platform.python_version()}


def write_run(run_dir: str | Path, title: str, config: dict, metrics: dict, figures: dict,
              sections: list[Section]) -> Path:
    """Write one explanation's run directory and return its path.

    Args:
        run_dir: the directory to create; it must not exist, or be empty.
        title: the report's title.
        config: the resolved configuration (stored with the library versions in ``config.json``).
        metrics: the numbers (``metrics.json``).
        figures: ``{file_name.png: matplotlib figure}``; each is saved beside the report and closed.
        sections: the report's sections; they name figures by file name.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ValueError(f"explain: --out {run_dir} exists and is not an empty directory")
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
