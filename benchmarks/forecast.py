"""Forecast accuracy and fit time on the bundled series; see ``rnnlab.bench.forecast``.

Usage: python benchmarks/forecast.py [--quick] [--json FILE]
"""

from rnnlab.bench.forecast import main

if __name__ == "__main__":
    raise SystemExit(main())
