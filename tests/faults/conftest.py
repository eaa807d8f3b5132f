"""The fault suite's shared world: user files made once, trained runs, and the checks every case makes.

Every case runs the real command line (``rnnlab.cli.main``, in-process, or as a subprocess where a signal
or a second process matters) on files a user could have made, and checks the promise of the README: a
failure is a non-zero exit with one line on stderr and no traceback, leaves no file behind, and changes
nothing the user made (:func:`snapshot` of every file, before and after).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest

from rnnlab.cli import main

TEXT = "def add(a, b):\n    return a + b\n\n# the sum of two numbers\n" * 60
TINY_TEXT = ["--hidden", "8", "--layers", "1", "--embedding", "4", "--batch-size", "2", "--seq-len", "8",
             "--eval-every", "3", "--quiet"]
TINY_FORECAST = ["--hidden", "4", "--epochs", "2", "--quiet"]
KINDS = {1: "run directory lost or mixed", 2: "wrong input accepted", 3: "resume ignores flags",
         4: "half-written run directory", 5: "misleading message or traceback"}


@dataclass
class Case:
    """One fault: the command (a function of the world and a fresh directory), what it must say, and its kind."""

    id: str
    kind: int  # a key of KINDS
    argv: Callable[[SimpleNamespace, Path], list]
    message: str  # a regular expression the one line of stderr must match
    code: int = 2
    setup: Callable[[SimpleNamespace, Path], None] | None = None  # prepares the fresh directory
    stdin: bytes | None = None
    xfail: str | None = None  # a known failure still to fix (strict: it must fail)

    def param(self, group: str = ""):
        marks = [pytest.mark.xfail(reason=self.xfail, strict=True)] if self.xfail else []
        return pytest.param(self, id=f"k{self.kind}-{group}{self.id}", marks=marks)


def snapshot(*roots: Path) -> dict:
    """Every file and directory under ``roots``: path -> SHA-256 of its bytes (``"dir"`` for a directory)."""
    seen = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            seen[str(path)] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def assert_refused(code: int, err: str, case: Case, before: dict, after: dict) -> None:
    """The README's promise for a failure: exit status, one line, no traceback, no file made or changed."""
    assert "Traceback" not in err, err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert re.search(case.message, lines[0]), lines[0]
    assert code == case.code, (code, err)
    made = sorted(set(after) - set(before))
    lost = sorted(set(before) - set(after))
    changed = sorted(k for k in before if k in after and before[k] != after[k])
    assert not made, f"left behind: {made}"
    assert not lost and not changed, f"user files lost {lost} or changed {changed}"


def run_in_process(argv: list, capsys, monkeypatch, stdin: bytes | None = None) -> tuple[int, str, str]:
    """``rnnlab ARGV`` through the CLI's own entry point; returns (exit status, stdout, stderr)."""
    import io

    monkeypatch.delenv("RNNLAB_DEBUG", raising=False)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(stdin)))
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def run_process(argv: list, cwd: Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """``python -m rnnlab ARGV`` as a real process."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "RNNLAB_DEBUG"}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "rnnlab", *map(str, argv)], cwd=cwd, env=env, capture_output=True,
                          timeout=timeout, **kwargs)


def _csv(path: Path, header: str, rows) -> Path:
    path.write_text(header + "\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> SimpleNamespace:
    """The user's files (made once, never to change) and two small trained runs, forecast and text."""
    w = tmp_path_factory.mktemp("faults-world")
    t = np.arange(200)
    sine = np.sin(2 * np.pi * t / 12) + 2.0
    ns = SimpleNamespace(root=w)
    ns.sine = _csv(w / "sine.csv", "t,v", (f"{i},{v:.6f}" for i, v in zip(t, sine)))
    ns.dated = _csv(w / "dated.csv", "date,v", (f"{d.date()},{v:.6f}" for d, v in
                                                zip(__import__("pandas").date_range("2001-01-01", periods=200,
                                                                                    freq="D"), sine)))
    ns.text = w / "code.txt"
    ns.text.write_text(TEXT, encoding="utf-8")
    ns.utf16_bom = w / "utf16-bom.txt"
    ns.utf16_bom.write_bytes(TEXT.encode("utf-16"))
    ns.utf16_nobom = w / "utf16-nobom.txt"
    ns.utf16_nobom.write_bytes(TEXT.encode("utf-16-le"))
    ns.bad_utf8 = w / "bad-utf8.txt"
    ns.bad_utf8.write_bytes(TEXT.encode() + b"\xff\xfe broken\n")
    ns.empty = w / "empty.txt"
    ns.empty.write_bytes(b"")
    ns.short = w / "short.txt"
    ns.short.write_text("short text\n")
    ns.folder = w / "folder"
    ns.folder.mkdir()
    (ns.folder / "inside.txt").write_text(TEXT)
    ns.forecast_run = w / "forecast-run"
    ns.text_run = w / "text-run"
    assert main(["forecast", "--data", str(ns.sine), "--column", "v", "--out", str(ns.forecast_run),
                 *TINY_FORECAST]) == 0
    assert main(["text", "--data", str(ns.text), "--steps", "4", "--out", str(ns.text_run), *TINY_TEXT]) == 0
    months = __import__("pandas").date_range("2001-01-01", periods=60, freq="MS")
    ns.covariates = _csv(w / "covariates.csv", "date,y,price", (f"{d.date()},{10 + v + i % 3:.6f},{i % 3}" for i, (d, v)
                                                                   in enumerate(zip(months, sine))))
    ns.covariate_run = w / "covariate-run"
    assert main(["forecast", "--data", str(ns.covariates), "--column", "y", "--time-column", "date",
                 "--future-columns", "price", "--horizon", "6", "--lookback", "12", "--steps", "2",
                 "--out", str(ns.covariate_run), *TINY_FORECAST]) == 0
    ns.config = {"forecast": json.loads((ns.forecast_run / "config.json").read_text()),
                 "text": json.loads((ns.text_run / "config.json").read_text())}
    return ns
