"""How many CPU threads a training run uses: all the cores, less those other processes keep busy.

torch starts one intra-op thread per core, and its OpenMP threads spin-wait for one another at the end
of every parallel operator. On a machine where another process is running — a laptop always has one —
a thread whose core is taken makes every operator wait for it: with one CPU-bound process beside it on
2 cores, ``rnnlab text`` trained at 20k chars/s on torch's 2 threads against 27k on one (issue 19). The
fused engine's RNN splits its batch over the same OpenMP team (:mod:`rnnlab.engines.fused.team`), so it
follows the same count.

:func:`choose` looks at how busy the machine is right now — ``/proc/stat`` over the seconds since this module
was imported (at least a tenth of a second, at most ten: older, it samples a tenth of a second afresh; so a
command, which imports it while it loads torch, waits for nothing), less this process's own CPU time over the
same interval and less work at a lowered priority (``nice``) — and
sets ``torch.set_num_threads`` to the cores left free, rounded, at least 1 and at most torch's own default.
Where ``/proc`` is missing (macOS, Windows) it reads the 1-minute load average instead. The fused engine's own
first build (started here where it is missing: :mod:`rnnlab.engines.fused.cache`) counts as one busy core
while it runs: at idle priority it still holds a core that torch's second thread would wait for. A caller that
chose already (``rnnlab bench --threads``, :func:`use`) or the environment (``RNNLAB_THREADS``,
``OMP_NUM_THREADS``) is left alone.

The choice is made once, when training starts: a thread count that changed during a run would change
its arithmetic (the order of sums), and a resumed run is compared with an uninterrupted one.

Example:
    >>> from rnnlab import threads
    >>> threads.free_cores(busy_others=1.0, cores=2)
    1
    >>> threads.free_cores(busy_others=0.2, cores=2)
    2
"""

from __future__ import annotations

import os
import time

import torch

SAMPLE_SECONDS = 0.1  # how long choose() watches the machine, at least
RECENT_SECONDS = 10.0  # the longest interval that still says how busy the machine is now
_DEFAULT = torch.get_num_threads()  # torch's own choice at import: one per core it may use
_chosen_by_caller: int | None = None  # set by use(): the caller's count, left alone by choose()


def use(n: int) -> None:
    """Run on ``n`` threads, whatever :func:`choose` would say (``rnnlab bench --threads``)."""
    global _chosen_by_caller
    if n <= 0:
        raise ValueError(f"threads: the thread count must be positive, got {n}")
    _chosen_by_caller = n
    torch.set_num_threads(n)


def free_cores(busy_others: float, cores: int) -> int:
    """The cores left for this process when others keep ``busy_others`` cores busy: rounded, 1 … ``cores``."""
    return max(1, min(cores, int(cores - busy_others + 0.5)))


def choose() -> int:
    """Set torch's thread count for a run starting now (see the module docstring); returns it."""
    if _chosen_by_caller is not None:
        return _chosen_by_caller
    pinned = os.environ.get("RNNLAB_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if pinned and pinned.isdigit() and int(pinned) > 0:
        n = int(pinned)
    else:
        busy = busy_others()
        if busy is not None and _fused_build_running():
            busy = max(busy, 1.0)  # our own first build of the fused kernels takes one core for a while
        n = _DEFAULT if busy is None else free_cores(busy, _DEFAULT)
    torch.set_num_threads(n)
    return n


def _fused_build_running() -> bool:
    """Whether the fused engine's background build runs now (started here where ``auto`` may want the kernels).

    It runs at idle priority, but torch's OpenMP team still waits on the core it holds: a cold ``rnnlab
    forecast`` on 2 cores trained in 9.1 s beside it on 2 threads against 0.8 s on one.
    """
    from rnnlab.engines import fused

    return fused.building()


def busy_others(seconds: float = SAMPLE_SECONDS) -> float | None:
    """How many cores other processes keep busy, watched for at least ``seconds`` (since the last watch where
    that is recent: see the module docstring); None where it cannot be read."""
    global _watch
    try:
        now = _now()
        if _watch is None or not 0 <= now[2] - _watch[2] <= RECENT_SECONDS:
            _watch = now
        if now[2] - _watch[2] < seconds:
            time.sleep(seconds - (now[2] - _watch[2]))
            now = _now()
        (before, own_before, clock), (after, own_after, end) = _watch, now
        _watch, elapsed = now, end - clock
    except OSError:
        try:
            return max(0.0, os.getloadavg()[0] - 1.0)  # the load average counts this process too
        except (OSError, AttributeError):
            return None
    ticks = os.sysconf("SC_CLK_TCK")
    machine = (after - before) / ticks / elapsed  # cores busy, this process included
    return max(0.0, machine - (own_after - own_before) / elapsed)


def _now() -> tuple[int, float, float]:
    """``(machine busy ticks, own CPU seconds, clock)``: one end of an interval :func:`busy_others` watches."""
    return _machine_busy(), time.process_time(), time.perf_counter()


def _start_watch() -> tuple[int, float, float] | None:
    """:func:`_now` at import, where :func:`busy_others` starts watching (None where ``/proc`` is missing)."""
    try:
        return _now()
    except OSError:
        return None


def _machine_busy() -> int:
    """The machine's busy CPU time so far, in clock ticks (``/proc/stat``: all but idle, iowait and *nice* time —
    work at a lowered priority, such as the fused engine's background build, yields its core to us)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle - fields[1]


_watch = _start_watch()  # the machine from this import on (see busy_others)
