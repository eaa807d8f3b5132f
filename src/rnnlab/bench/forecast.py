"""``rnnlab bench forecast``: test accuracy of the default forecaster on every bundled series, and fit time.

For each case, the default ``rnnlab forecast`` settings (plus the case's own flags) are fitted with seeds
0-4 exactly as ``rnnlab forecast`` does (same split, same test points, no run directory written), and the
table gives test MAPE and MASE as mean and standard deviation over the seeds, beside the baselines (which
do not depend on the seed) and the mean and largest fit seconds. Peer libraries are not installed here, so
they are not in the table.

``--suite NAME`` runs a forecasting competition instead (``rnnlab.bench.<NAME>``'s ``main``, given the
other arguments), e.g. ``--suite tourism``.

Example:
    python -m rnnlab bench forecast --quick --json forecast.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace

import numpy as np
import torch

from rnnlab.forecast.estimator import ForecastConfig, Forecaster
from rnnlab.forecast.run import BASELINES, prepare
from rnnlab.metrics import forecast_metrics

# (label, settings over the defaults)
CASES = [
    ("sine", {}),
    ("airline", {"data": "airline"}),
    ("airline h36", {"data": "airline", "horizon": 36, "test_size": 36}),  # issue 3's target
    ("sunspots", {"data": "sunspots"}),
    ("co2", {"data": "co2"}),
    ("nile", {"data": "nile"}),
]
QUICK_CASES = ("sine", "airline h36")


def run_case(settings: dict, seeds) -> dict:
    """Fit one case for every seed; the scores of the model (per seed) and of the baselines."""
    config = replace(ForecastConfig(), quiet=True, device="cpu", **settings)
    series, sizes = prepare(config)
    history, test = series.iloc[:-sizes["test_size"]], series.iloc[-sizes["test_size"]:]
    rows, baselines = [], {}
    for seed in seeds:
        forecaster = Forecaster.from_config(replace(config, seed=seed, val_size=sizes["val_size"]))
        start = time.perf_counter()
        forecaster.fit(history)
        seconds = time.perf_counter() - start
        frame = forecaster.backtest(test)
        score = lambda name: forecast_metrics(frame["actual"], frame[name], history.to_numpy(),  # noqa: E731
                                              forecaster.season_)
        rows.append({"seed": seed, "seconds": seconds, "epochs": forecaster.result_.epochs, **score("model")})
        baselines = {name: score(name) for name in BASELINES}
    return {"sizes": sizes, "seeds": rows, "baselines": baselines}


def summarize(label: str, result: dict) -> dict:
    """One table row: model MAPE / MASE mean and std over seeds, baselines, fit seconds."""
    seeds = result["seeds"]
    stat = lambda key: (float(np.mean([r[key] for r in seeds])), float(np.std([r[key] for r in seeds])))  # noqa: E731
    row = {"case": label, "horizon": result["sizes"]["horizon"], "test": result["sizes"]["test_size"],
           "mape": stat("mape"), "mase": stat("mase")}
    for name in BASELINES:
        row[f"{name}_mape"] = result["baselines"][name]["mape"]
        row[f"{name}_mase"] = result["baselines"][name]["mase"]
    row["fit_s"] = stat("seconds")[0]
    row["fit_s_max"] = float(max(r["seconds"] for r in seeds))
    return row


def format_rows(rows: list[dict]) -> str:
    header = ["case", "H", "test", "model MAPE%", "model MASE", "naive", "seas.naive", "linear", "fit s (max)"]
    lines = []
    for r in rows:
        pair = lambda name: f"{r[name + '_mape']:.2f} / {r[name + '_mase']:.3f}"  # noqa: E731
        lines.append([r["case"], str(r["horizon"]), str(r["test"]), f"{r['mape'][0]:.2f} ± {r['mape'][1]:.2f}",
                      f"{r['mase'][0]:.3f} ± {r['mase'][1]:.3f}", pair("naive"), pair("seasonal_naive"),
                      pair("linear"), f"{r['fit_s']:.2f} ({r['fit_s_max']:.2f})"])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    note = "baselines: MAPE% / MASE; model: mean ± std over seeds"
    return "\n".join([fmt(header), *(fmt(line) for line in lines), note])


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    if "--suite" in argv or any(a.startswith("--suite=") for a in argv):  # a competition: bench/tourism.py
        return _suite(argv)
    parser = argparse.ArgumentParser(prog="rnnlab bench forecast", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"seeds 0-1, cases {', '.join(QUICK_CASES)}")
    parser.add_argument("--json", metavar="FILE", help="write the results here")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    args = parser.parse_args(argv)
    seeds = range(2 if args.quick else args.seeds)
    cases = [c for c in CASES if not args.quick or c[0] in QUICK_CASES]
    rows, raw = [], {}
    for label, settings in cases:
        raw[label] = run_case(settings, seeds)
        rows.append(summarize(label, raw[label]))
        print(f"  {label}: done", flush=True)
    print(format_rows(rows))
    machine = {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
               "torch": torch.__version__, "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
    print(f"machine: {machine['platform']}, {machine['cpus']} CPUs, load average {machine['load_average']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": machine, "defaults": ForecastConfig().__dict__, "rows": rows, "raw": raw}, f,
                      indent=2, default=str)
    return 0


def _suite(argv: list[str]) -> int:
    """``--suite NAME``: the competition benchmark in ``rnnlab.bench.<NAME>`` (e.g. tourism), given the rest."""
    import importlib

    parser = argparse.ArgumentParser(prog="rnnlab bench forecast", add_help=False)
    parser.add_argument("--suite")
    known, rest = parser.parse_known_args(argv)
    try:
        module = importlib.import_module(f"rnnlab.bench.{known.suite}")
    except ModuleNotFoundError as e:
        if e.name != f"rnnlab.bench.{known.suite}":
            raise
        raise ValueError(f"bench forecast: unknown suite '{known.suite}' (no rnnlab.bench.{known.suite})") from None
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
