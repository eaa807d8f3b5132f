"""Forward + backward time per time step of each engine against torch.nn; see ``rnnlab.bench.layer``.

Usage: python benchmarks/layer.py [--quick] [--cell rnn|lstm|gru|all] [--device auto|cpu|cuda] [--json FILE]
"""

import sys

from rnnlab.bench.layer import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
