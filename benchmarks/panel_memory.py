"""A large panel: peak memory of building, training the default global model (3 members) on, and forecasting
100,000 series x 300.

The panel is one float32 array (120 MB for 30 million values) and windows are drawn batch by batch
(``rnnlab.forecast.windows``), so the peak should stay near the values plus torch itself. Runs in this
process and reports its peak resident memory (``ru_maxrss``); for the issue's figure run it under
``/usr/bin/time -v`` too.

Usage:
    python benchmarks/panel_memory.py [--series 100000] [--length 300] [--steps 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()

    from rnnlab.data.synthetic import seasonal_panel
    from rnnlab.forecast.panel import PanelForecaster

    start = time.perf_counter()
    panel = seasonal_panel(args.series, args.length, seed=0)
    built = time.perf_counter() - start
    f = PanelForecaster(horizon=12, season=12, steps=args.steps, batches_per_epoch=20, quiet=True,
                        device="cpu").fit(panel)
    fitted = time.perf_counter()
    forecasts = f.predict()
    result = {"series": args.series, "length": args.length, "steps": f.result_.steps,
              "build_seconds": round(built, 2), "fit_seconds": round(fitted - start - built, 2),
              "predict_seconds": round(time.perf_counter() - fitted, 2), "forecast_rows": len(forecasts),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()
