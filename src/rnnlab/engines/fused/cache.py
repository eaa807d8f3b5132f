"""The fused engine's compiled kernels on disk: whether they are ready, and a background build that makes them so.

numba compiles a kernel at its first call and caches the machine code on disk (``cache=True``); a later
process loads it in well under a second. The first call on a fresh install, though, compiles for 20–30 s
on two cores (``NOTES.md``) — fifteen times the work of a first ``rnnlab forecast``. So ``engine="auto"``
takes the fused engine only where its kernels are *ready* (:func:`ready`): already loaded in this
process, or built on disk by :func:`build`, which writes a stamp when it is done. Until then ``auto``
runs on ``torch`` and :func:`build_in_background` starts, once, a detached process at the lowest CPU
priority that compiles what ``auto`` and the sampler use (float32: the Elman RNN, the GRU, the sampler)
and writes the stamp, so the next process finds them ready. An explicit ``engine="fused"`` still compiles
in the foreground.

The stamp's name holds what the cache depends on (the Python and numba versions, ``NUMBA_CACHE_DIR``, the
size and modification time of every source file of this package), so an upgrade or an edit makes it stale.
It lives in this package's ``__pycache__`` (numba's own cache directory) where that is writable, else in
the user's cache directory.

``RNNLAB_FUSED_AUTO`` overrides the check: ``1`` ready (compile in the foreground if need be), ``0`` never
(``auto`` stays on ``torch``); ``RNNLAB_FUSED_BUILD=0`` starts no background build. The decision is taken
once a process, so a run does not change engine half-way.

Run ``python -m rnnlab.engines.fused`` to build in the foreground (e.g. after installing).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_LOCK_STALE_SECONDS = 15 * 60  # a build lock older than this is a build that died
_decided: bool | None = None  # the per-process decision of :func:`ready`, once taken


def _directory() -> Path:
    """Where the stamp and the build lock live: numba's in-tree cache directory, or the user's cache."""
    in_tree = _PACKAGE / "__pycache__"
    if os.access(in_tree if in_tree.exists() else _PACKAGE, os.W_OK):
        return in_tree
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnnlab"


def _key() -> str:
    """A digest of what the compiled kernels depend on (see the module docstring)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        numba_version = version("numba")
    except PackageNotFoundError:
        numba_version = "none"
    parts = [sys.version, numba_version, os.environ.get("NUMBA_CACHE_DIR", "")]
    for source in sorted(_PACKAGE.glob("*.py")):
        stat = source.stat()
        parts.append(f"{source.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def stamp() -> Path:
    """The file :func:`build` writes once every kernel ``auto`` uses is on disk."""
    return _directory() / f"rnnlab-fused-ready-{_key()}"


def ready(kernels_loaded: bool = False) -> bool:
    """Whether ``auto`` may take the fused engine without making the user wait for a compile.

    Decided once a process: ``RNNLAB_FUSED_AUTO`` where set; else True where ``kernels_loaded`` (this process
    has the kernels already) or the stamp is there. Where it is not, starts :func:`build_in_background`.
    """
    global _decided
    if _decided is None:
        forced = os.environ.get("RNNLAB_FUSED_AUTO")
        if forced in ("0", "1"):
            _decided = forced == "1"
        else:
            _decided = kernels_loaded or stamp().exists()
            if not _decided:
                build_in_background()
    return _decided


def building() -> bool:
    """Whether a build (:func:`build_in_background`) holds the lock now, i.e. is compiling beside us."""
    lock = _directory() / "rnnlab-fused-build.lock"
    try:
        return time.time() - lock.stat().st_mtime < _LOCK_STALE_SECONDS
    except OSError:
        return False


def build_in_background(every: bool = False, idle: bool = True) -> bool:
    """Start a detached process that runs :func:`build`, unless one is running or ``RNNLAB_FUSED_BUILD=0``.

    The process runs on one thread, outlives this one, and writes nothing to the terminal; at the lowest CPU
    priority unless ``idle`` is False (the test suite's build, which tests wait for: :func:`wait_for_build`).
    ``every``: every specialisation the engine compiles, not only ``auto``'s (see :func:`build`). Returns
    whether it started one.
    """
    if os.environ.get("RNNLAB_FUSED_BUILD", "1") == "0":
        return False
    try:
        lock = _take_lock()
    except OSError:
        return False
    if lock is None:
        return False
    env = dict(os.environ, RNNLAB_FUSED_AUTO="1", RNNLAB_FUSED_BUILD="0", OMP_NUM_THREADS="1")
    source_root = str(_PACKAGE.parents[2])  # the directory this rnnlab is imported from
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
    flags = ["--lock", str(lock)] + (["--every"] if every else []) + ([] if idle else ["--normal-priority"])
    try:
        subprocess.Popen([sys.executable, "-m", "rnnlab.engines.fused", *flags], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
    except OSError:
        lock.unlink(missing_ok=True)
        return False
    return True


def wait_for_build(timeout: float = _LOCK_STALE_SECONDS, directory: Path | None = None) -> bool:
    """Wait while a build holds the lock (in ``directory``, by default this package's) and its process lives,
    so that a process about to compile the same kernels loads them from disk instead. Returns True once no
    live build holds it, False after ``timeout`` seconds."""
    lock = (directory or _directory()) / "rnnlab-fused-build.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if time.time() - lock.stat().st_mtime >= _LOCK_STALE_SECONDS:
                return True  # a build that died long ago
            pid = lock.read_text()
        except OSError:
            return True  # no lock: no build
        try:
            if pid:  # empty only for an instant, while it is written
                os.kill(int(pid), 0)  # the builder (or its parent, until it starts)
        except (ProcessLookupError, ValueError):
            return True  # its process is gone: a build that died
        time.sleep(0.1)
    return False


def _take_lock() -> Path | None:
    """Create the build lock (atomically); None where a live build holds it."""
    directory = _directory()
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / "rnnlab-fused-build.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if time.time() - lock.stat().st_mtime < _LOCK_STALE_SECONDS:
                return None
            lock.unlink(missing_ok=True)  # a build that died: take over
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return lock
    return None


def build(every: bool = False) -> None:
    """Compile (or load) every kernel ``auto`` and the sampler use, then write the stamp.

    Runs the fused engine on small float32 calls of each kind ``auto`` takes — tanh and relu RNN, GRU; with
    and without bias; full and variable lengths; a broadcast and a dense incoming gradient; inference — and
    the compiled sampler, so numba caches each specialisation they need. ``every``: the LSTM and float64 too,
    i.e. every specialisation an explicit ``engine="fused"`` can compile (the test suite's oracle tests run
    them all).
    """
    import numpy as np
    import torch

    from rnnlab.engines.fused import engine

    kernels = engine.load_kernels()
    if kernels is None:  # no numba: nothing to build, and auto never takes the engine anyway
        return
    torch.manual_seed(0)
    fused = engine.FusedCPUEngine()
    modes = ("rnn_tanh", "rnn_relu", "gru") + (("lstm",) if every else ())
    for mode, dtype in itertools.product(modes, (torch.float32, torch.float64) if every else (torch.float32,)):
        _run_each_kind(fused, mode, dtype)
    vocab, hidden, layers = 7, 5, 2
    f32 = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
    for kind in range(4):
        gates = {0: 1, 1: 1, 2: 3, 3: 4}[kind] * hidden
        kernels.generate(kind, f32(vocab, gates), f32(layers - 1, hidden, gates), f32(layers, gates),
                         f32(layers, hidden, gates), f32(layers, gates), f32(hidden, vocab), f32(vocab),
                         f32(layers, hidden), f32(layers, hidden), f32(vocab), np.zeros((3, vocab)), np.float32(1.0),
                         vocab, False, np.empty(3, np.int64))
    path = stamp()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"built {time.strftime('%Y-%m-%d %H:%M:%S')} by process {os.getpid()}\n")


def _run_each_kind(fused, mode: str, dtype) -> None:
    """One mode and dtype through the engine as every caller hands it in (see :func:`build`)."""
    import torch

    gates = {"gru": 3, "lstm": 4}.get(mode, 1)
    new = lambda *shape: torch.randn(*shape, dtype=dtype)  # noqa: E731
    for bias in (True, False):
        for lengths in (None, torch.tensor([6, 3, 5, 6])):
            x = new(6, 4, 3).requires_grad_()
            hx = tuple(new(4, 5).requires_grad_() for _ in range(2 if mode == "lstm" else 1))
            hx = hx if mode == "lstm" else hx[0]
            weights = [new(gates * 5, 3).requires_grad_(), new(gates * 5, 5).requires_grad_()]
            weights += [new(gates * 5).requires_grad_() for _ in range(2)] if bias else [None, None]
            out, h_n = fused.run(mode, x, hx, tuple(weights), lengths)
            (out.sum() + sum(s.sum() for s in _states(h_n))).backward()  # broadcast incoming gradients
            out, h_n = fused.run(mode, x, hx, tuple(weights), lengths)
            ((out * torch.randn_like(out)).sum() + sum((s * s).sum() for s in _states(h_n))).backward()  # dense
            with torch.no_grad():
                fused.run(mode, x, hx, tuple(weights), lengths)
            # batch-first models hand the engine transposed views
            xt = new(4, 6, 3).transpose(0, 1).requires_grad_()
            out, h_n = fused.run(mode, xt, hx, tuple(weights), lengths)
            (out.transpose(0, 1) * new(4, 6, 5)).sum().backward()


def _states(h_n) -> tuple:
    """An engine's final state as a tuple: ``(h_n,)``, or the LSTM's ``(h_n, c_n)``."""
    return h_n if isinstance(h_n, tuple) else (h_n,)


def _lowest_priority() -> None:
    """Run only on a core nothing else wants: ``SCHED_IDLE`` where Linux offers it, else ``nice 19``.

    nice 19 alone was not enough: a cold ``rnnlab forecast`` on 2 cores trained in 30.4 s beside the niced
    build against 0.8 s on one thread — torch's second OpenMP thread shared its core with the build and every
    operator waited for it. A ``SCHED_IDLE`` process is preempted as soon as another wants the core.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        if hasattr(os, "nice"):
            os.nice(19)


def main(argv: list[str]) -> int:
    """``python -m rnnlab.engines.fused [--every]``: :func:`build` in the foreground; ``--lock PATH`` (the
    background build's) also lowers its priority, unless ``--normal-priority``, and removes the lock at the end."""
    lock = Path(argv[argv.index("--lock") + 1]) if "--lock" in argv else None
    try:
        if lock is not None:
            lock.write_text(str(os.getpid()))  # the builder's own pid, for wait_for_build
        if lock is not None and "--normal-priority" not in argv:
            _lowest_priority()
        build(every="--every" in argv)
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
