"""An exclusive lock on a run directory, so that one process at a time writes it.

The lock is a file, ``.lock`` inside the directory, holding ``pid hostname``, locked with ``flock``: the
kernel releases it when its process ends however it ends (SIGKILL, a crash, a power cut's reboot), so a
lock left by a dead process is recognised as stale by the next :func:`acquire` and taken over, and its
file is rewritten. A live one makes :func:`acquire` raise a ``ValueError`` that names the process holding
it. :meth:`RunLock.release` removes the file before unlocking, and :func:`acquire` checks, once locked,
that the file it locked is still the one at the path (otherwise it lost a race with a release and tries
again), so two processes can never both hold it.

Example:
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with acquire(d) as lock:
    ...     (d / LOCK_FILE).read_text().split()[0] == str(os.getpid())
    True
    >>> (d / LOCK_FILE).exists()
    False
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path

LOCK_FILE = ".lock"


class RunLock:
    """A held lock: the open, locked file. Release it (or leave the ``with`` block) to let others in."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory, self.path, self._fd = directory, directory / LOCK_FILE, fd

    @property
    def held(self) -> bool:
        """Still held, and the directory still holds this lock file (False once it was deleted or moved)."""
        if self._fd is None:
            return False
        try:
            return os.path.samestat(os.fstat(self._fd), os.stat(self.path))
        except OSError:
            return False

    def release(self) -> None:
        """Remove the lock file, then unlock (idempotent)."""
        if self._fd is None:
            return
        if self.held:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        os.close(self._fd)  # closing the last descriptor unlocks
        self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def holder(directory: str | Path) -> str | None:
    """``"process PID on HOST"`` named by the directory's lock file (None if there is none)."""
    try:
        pid, host = (Path(directory) / LOCK_FILE).read_text(encoding="utf-8").split()[:2]
        return f"process {pid} on {host}"
    except (OSError, ValueError):
        return None


def acquire(directory: str | Path) -> RunLock:
    """Lock ``directory`` (which must exist) for this process, taking over a stale lock of a dead one.

    Raises:
        ValueError: another live process holds it (the message names it).
    """
    directory = Path(directory)
    path = directory / LOCK_FILE
    for _ in range(100):  # a retry only follows another process's release: never many
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            who = holder(directory) or "another process"
            raise ValueError(f"run directory {directory} is in use by {who}; wait for it to finish, or stop it "
                             f"(Ctrl-C saves a checkpoint) and continue with `resume`") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:  # released (and removed) between our open and our lock: try again
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        return RunLock(directory, fd)
    raise ValueError(f"run directory {directory}: could not take its lock")
