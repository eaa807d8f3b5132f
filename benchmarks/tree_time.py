"""Time a command and every process it starts, detached ones included: ``python benchmarks/tree_time.py CMD...``.

``/usr/bin/time`` counts only the children a process waits for; the fused engine's kernel build is detached
(``start_new_session``) and outlives the command, so its CPU is lost there. This wrapper makes itself a child
subreaper (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``), so orphaned descendants are re-parented to it; it waits
for them all and prints, on stderr, the command's wall time, when the last descendant ended, and the CPU
seconds (user, sys) of the whole tree. Used for ``benchmarks/results/suite-cold-warm.json``.
"""

import ctypes
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> int:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    start = time.time()
    rc = subprocess.Popen(argv).wait()
    command_wall = time.time() - start
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"tree_time: command {command_wall:.1f} s wall; all descendants done at {time.time() - start:.1f} s; "
          f"tree CPU {ru.ru_utime:.1f} user {ru.ru_stime:.1f} sys; rc {rc}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
