"""rnnlab's defaults against a plain PyTorch char-RNN loop at the same wall-clock budget; see ``rnnlab.bench.text``.

Usage: python benchmarks/text.py --data FILE --minutes 3 [--json out.json]   (or --quick)
"""

from rnnlab.bench.text import main

if __name__ == "__main__":
    raise SystemExit(main())
