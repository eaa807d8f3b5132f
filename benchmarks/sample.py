"""Sampling speed (characters per second); see ``rnnlab.bench.sample``. Usage: python benchmarks/sample.py [--quick]"""

from rnnlab.bench.sample import main

if __name__ == "__main__":
    raise SystemExit(main())
