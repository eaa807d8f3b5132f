"""Bad input to every command: one line, a non-zero exit, no traceback, nothing left behind or changed.

Kinds 2 (a wrong input must not give a result with exit 0) and 5 (the message must name the real problem).
Each case runs ``rnnlab`` in-process on the world's files, in a fresh working directory (so a run directory
defaulting to ``runs/…`` would show as a leftover) with ``--out`` inside it.
"""

from __future__ import annotations

import json
import shutil

import pytest

from .conftest import TINY_FORECAST, TINY_TEXT, Case, assert_refused, run_in_process, snapshot


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _csv(tmp, text, name="in.csv"):
    return _write(tmp / name, text)


def _binary(path):
    path.write_bytes(b"\x00\x01\xff\xfe" * 50)
    return path


def _toml(tmp, text):
    return _write(tmp / "c.toml", text)


def _copy_run(w, tmp, which):
    src = w.forecast_run if which == "forecast" else w.text_run
    shutil.copytree(src, tmp / "run")


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _damage(tmp, name, how):
    path = tmp / "run" / name
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    elif how == "header":
        data[:8] = b"\xff" * 8
    elif how == "empty":
        data = bytearray()
    path.write_bytes(bytes(data))


def _resolve(args, w, tmp):
    """Arguments given as functions of (world, fresh directory) are called."""
    return [a(w, tmp) if callable(a) else a for a in args]


def text_(*args, steps=True):
    """``rnnlab text`` with tiny settings; the case's own args last, so they win."""
    budget = ["--steps", "2"] if steps else []
    return lambda w, tmp: ["text", *budget, "--out", tmp / "out", *TINY_TEXT, *_resolve(args, w, tmp)]


def text_on(data, *args, steps=True):
    return text_("--data", data, *args, steps=steps)


def forecast_(*args):
    return lambda w, tmp: ["forecast", "--out", tmp / "out", *TINY_FORECAST, *_resolve(args, w, tmp)]


def forecast_on(data, *args):
    return forecast_("--data", data, *args)


SINE = lambda w, tmp: w.sine  # noqa: E731
ROWS = "".join(f"{i},{i % 7 + 1}\n" for i in range(80))

TEXT_CASES = [
    Case("missing-file", 5, text_on(lambda w, t: t / "missing.txt"),
         r"^rnnlab text: error: text: file not found: .*missing.txt"),
    Case("directory", 5, text_on(lambda w, t: w.folder), r"folder is a directory, not a text file"),
    Case("utf16-bom-told-latin1", 5, text_on(lambda w, t: w.utf16_bom, "--encoding", "latin-1"),
         r"starts with a UTF-16 LE byte order mark, so it is UTF-16 LE, not latin-1"),
    Case("utf16-no-bom", 5, text_on(lambda w, t: w.utf16_nobom), r"looks like UTF-16 without a byte order mark.*"
                                                                 r"--encoding utf-16-le$"),
    Case("utf16-no-bom-told-latin1", 5, text_on(lambda w, t: w.utf16_nobom, "--encoding", "latin-1"),
         r"looks like UTF-16 without a byte order mark"),
    Case("bad-utf8", 5, text_on(lambda w, t: w.bad_utf8),
         r"not valid utf-8: byte 0xff at byte offset \d+ \(line 241\)"),
    Case("empty-file", 5, text_on(lambda w, t: w.empty), r"empty.txt is empty"),
    Case("too-short", 5, text_on(lambda w, t: w.short), r"short.txt is too short"),
    Case("unknown-encoding", 5, text_on(lambda w, t: w.text, "--encoding", "klingon"), r"unknown encoding 'klingon'"),
    Case("empty-stdin", 5, text_on(lambda w, t: "-"), r"<stdin> is empty", stdin=b""),
    Case("utf16-stdin-told-latin1", 5, text_on(lambda w, t: "-", "--encoding", "latin-1"),
         r"<stdin> starts with a UTF-16 LE byte order mark", stdin=b"\xff\xfe" + "abc\n".encode("utf-16-le") * 99),
    Case("hidden-0", 5, text_on(lambda w, t: w.text, "--hidden", "0"), r"hidden_size must be >= 1, got 0"),
    Case("hidden-negative", 5, text_on(lambda w, t: w.text, "--hidden", "-4"), r"hidden_size must be >= 1, got -4"),
    Case("hidden-200000", 5, text_on(lambda w, t: w.text, "--hidden", "200000"),
         r"model: rnn, 1 layer\(s\) of 200,000 units: .* parameters; training needs at least .* but the cpu has"),
    Case("layers-0", 5, text_on(lambda w, t: w.text, "--layers", "0"), r"num_layers must be >= 1, got 0"),
    Case("batch-0", 5, text_on(lambda w, t: w.text, "--batch-size", "0"), r"batch_size must be >= 1, got 0"),
    Case("seq-len-0", 5, text_on(lambda w, t: w.text, "--seq-len", "0"), r"seq_len must be >= 1, got 0"),
    Case("embedding-0", 5, text_on(lambda w, t: w.text, "--embedding", "0"), r"embedding_size must be >= 1"),
    Case("eval-every-0", 5, text_on(lambda w, t: w.text, "--eval-every", "0"),
         r"eval_every must be (>= 1|a positive integer or None), got 0"),
    Case("lr-0", 5, text_on(lambda w, t: w.text, "--lr", "0"), r"lr must be > 0, got 0"),
    Case("lr-negative", 5, text_on(lambda w, t: w.text, "--lr", "-0.1"), r"lr must be > 0"),
    Case("lr-nan", 5, text_on(lambda w, t: w.text, "--lr", "nan"), r"lr must be > 0, got nan"),
    Case("steps-0", 5, text_on(lambda w, t: w.text, "--steps", "0"), r"steps must be a positive integer"),
    Case("minutes-0", 5, text_on(lambda w, t: w.text, "--minutes", "0", steps=False),
         r"minutes must be > 0"),
    Case("epochs", 5, text_on(lambda w, t: w.text, "--epochs", "2"), r"--epochs does not apply"),
    Case("dropout-2", 4, text_on(lambda w, t: w.text, "--dropout", "2"), r"dropout must be in \[0, 1\], got 2"),
    Case("engine-unknown", 4, text_on(lambda w, t: w.text, "--engine", "warp"), r"warp"),
    Case("device-cuda-absent", 5, text_on(lambda w, t: w.text, "--device", "cuda"),
         r"CUDA is not available"),
    Case("config-missing", 5, text_on(lambda w, t: w.text, "--config", lambda w, t: t / "nope.toml"),
         r"config: file not found"),
    Case("config-unknown-key", 5, text_on(lambda w, t: w.text, "--config",
                                          lambda w, t: _toml(t, "[text]\nhiden_size = 3\n")),
         r"unknown key 'hiden_size'"),
    Case("config-not-toml", 5, text_on(lambda w, t: w.text, "--config", lambda w, t: _toml(t, "hidden = [\n")),
         r"config"),
    Case("config-wrong-type", 5, text_on(lambda w, t: w.text, "--config",
                                         lambda w, t: _toml(t, '[text]\nwarmup_steps = "big"\n')),
         r"config: 'warmup_steps' must be int, got 'big'"),
    Case("max-chars-0", 5, text_on(lambda w, t: w.text, "--max-chars", "0"), r"empty|max_chars"),
    Case("resume-missing", 1, lambda w, t: ["text", "--resume", t / "nope", "--quiet"], r"run directory not found"),
    Case("resume-not-a-run", 1, lambda w, t: ["text", "--resume", w.folder, "--quiet"],
         r"is not a run directory \(no config.json\)"),
    Case("resume-a-forecast-run", 1, lambda w, t: ["text", "--resume", w.forecast_run, "--quiet"],
         r"holds a forecast model, not a character model"),
    Case("resume-grown-corpus", 2, lambda w, t: ["text", "--resume", t / "run", "--quiet"],
         r"corpus.bin holds \d[\d,]* characters but config.json records [\d,]+; it was changed",
         setup=lambda w, t: (_copy_run(w, t, "text"), (t / "run" / "corpus.bin").open("ab").write(b"\x01" * 40))),
    Case("resume-changed-corpus", 2, lambda w, t: ["text", "--resume", t / "run", "--quiet"],
         r"corpus.bin does not match the SHA-256 recorded in config.json",
         setup=lambda w, t: (_copy_run(w, t, "text"), (t / "run" / "corpus.bin").write_bytes(
             bytes(reversed((t / "run" / "corpus.bin").read_bytes()))))),
    Case("resume-no-corpus", 4, lambda w, t: ["text", "--resume", t / "run", "--quiet"],
         r"encoded corpus not found",
         setup=lambda w, t: (_copy_run(w, t, "text"), (t / "run" / "corpus.bin").unlink())),
    Case("resume-broken-config", 5, lambda w, t: ["text", "--resume", t / "run", "--quiet"],
         r"config.json is unreadable",
         setup=lambda w, t: (_copy_run(w, t, "text"), _write(t / "run" / "config.json", "{not json"))),
]

FORECAST_CASES = [
    Case("missing-csv", 5, forecast_on(lambda w, t: t / "nope.csv"), r"file not found: .*nope.csv"),
    Case("unknown-builtin", 5, forecast_on(lambda w, t: "airlines"), r"airlines"),
    Case("unknown-column", 5, forecast_on(SINE, "--column", "x"), r"unknown column 'x' .*columns are: t, v"),
    Case("unknown-time-column", 5, forecast_on(SINE, "--column", "v", "--time-column", "when"),
         r"unknown column 'when'"),
    Case("non-numeric", 5, forecast_on(lambda w, t: _csv(t, "v\n" + "1\n" * 30 + "oops\n" + "2\n" * 60)),
         r"non-numeric values in 'v' at in.csv line 32"),
    Case("missing-value", 5, forecast_on(lambda w, t: _csv(t, "t,v\n" + ROWS + "80,\n"), "--column", "v"),
         r"1 missing value\(s\) in 'v' at in.csv line 82; use --fill interpolate"),
    Case("too-short", 5, forecast_on(lambda w, t: _csv(t, "v\n" + "1\n2\n" * 10)), r"too few for lookback"),
    Case("constant", 5, forecast_on(lambda w, t: _csv(t, "v\n" + "3\n" * 80)), r"'v' is constant"),
    Case("header-only", 5, forecast_on(lambda w, t: _csv(t, "t,v\n")), r"in.csv"),
    Case("empty-csv", 5, forecast_on(lambda w, t: _csv(t, "")), r"in.csv"),
    Case("binary-csv", 5, forecast_on(lambda w, t: _binary(t / "in.csv")), r"in.csv"),
    Case("lookback-0", 5, forecast_on(SINE, "--column", "v", "--lookback", "0"), r"lookback must be a positive"),
    Case("horizon-0", 5, forecast_on(SINE, "--column", "v", "--horizon", "0"), r"horizon must be a positive"),
    Case("horizon-huge", 5, forecast_on(SINE, "--column", "v", "--horizon", "500"), r"too few|horizon"),
    Case("hidden-0", 5, forecast_on(SINE, "--column", "v", "--hidden", "0"), r"hidden_size must be a positive"),
    Case("hidden-300000", 5, forecast_on(SINE, "--column", "v", "--hidden", "300000"),
         r"model: rnn, 1 layer\(s\) of 300,000 units: .* needs at least .* but the cpu has"),
    Case("layers-0", 5, forecast_on(SINE, "--column", "v", "--layers", "0"), r"num_layers must be a positive"),
    Case("batch-0", 5, forecast_on(SINE, "--column", "v", "--batch-size", "0"), r"batch_size must be a positive"),
    Case("season-0", 5, forecast_on(SINE, "--column", "v", "--season", "0"), r"season must be a positive"),
    Case("test-size-0", 5, forecast_on(SINE, "--column", "v", "--test-size", "0"), r"test_size"),
    Case("test-size-huge", 5, forecast_on(SINE, "--column", "v", "--test-size", "195"), r"too few|test"),
    Case("lr-0", 5, forecast_on(SINE, "--column", "v", "--lr", "0"), r"lr must be > 0"),
    Case("epochs-0", 5, forecast_on(SINE, "--column", "v", "--epochs", "0"), r"epochs must be a positive integer"),
    Case("minutes-negative", 5, forecast_on(SINE, "--column", "v", "--minutes", "-1"), r"minutes must be > 0"),
    Case("log-of-negative", 5, forecast_on(lambda w, t: "sunspots", "--transform", "log"),
         r"transform 'log' needs a positive series"),
    Case("device-cuda-absent", 5, forecast_on(SINE, "--column", "v", "--device", "cuda"), r"CUDA is not available"),
    Case("engine-unknown", 5, forecast_on(SINE, "--column", "v", "--engine", "warp"), r"warp"),
    Case("config-unknown-key", 5, forecast_on(SINE, "--config", lambda w, t: _toml(t, "[forecast]\nhiden = 3\n")),
         r"unknown key 'hiden'"),
    Case("out-is-a-file", 1, lambda w, t: ["forecast", "--out", w.text, *TINY_FORECAST], r"code.txt"),
    Case("out-holds-a-run", 1, lambda w, t: ["forecast", "--out", w.text_run, *TINY_FORECAST],
         r"already exists and is not empty"),
    Case("resume-missing", 1, lambda w, t: ["forecast", "--resume", t / "nope", "--quiet"], r"run directory not found"),
    Case("resume-a-text-run", 1, lambda w, t: ["forecast", "--resume", w.text_run, "--quiet"],
         r"is not a forecast run \(task 'text'\)"),
    Case("resume-not-a-run", 1, lambda w, t: ["forecast", "--resume", w.folder, "--quiet"], r"not a run directory"),
]

COVARIATE_ROWS = "".join(f"2001-{m:02d}-01,{10 + m % 4},{m % 3}\n" for m in range(1, 13)) + "".join(
    f"2002-{m:02d}-01,{10 + m % 4},{m % 3}\n" for m in range(1, 13)) + "".join(
    f"2003-{m:02d}-01,{10 + m % 4},{m % 3}\n" for m in range(1, 13))


def covariates_on(rows, *args):
    """``rnnlab forecast`` of a dated CSV with a future covariate ``price`` (``rows`` after the header)."""
    return forecast_on(lambda w, t: _csv(t, "date,y,price\n" + rows), "--column", "y", "--time-column", "date",
                       "--future-columns", "price", "--horizon", "6", "--lookback", "12", *args)


FORECAST_CASES += [
    Case("covariate-missing-value", 5, covariates_on(COVARIATE_ROWS.replace(",1\n", ",\n", 1)),
         r"^rnnlab forecast: error: covariates: covariate column 'price' has 1 missing value\(s\), the first at "
         r"in.csv line 2; covariates must be complete$"),
    Case("covariate-non-numeric", 5, covariates_on(COVARIATE_ROWS.replace(",2\n", ",cheap\n", 1)),
         r"covariate column 'price' is not numeric: 'cheap' at in.csv line 3$"),
    Case("covariate-unknown-column", 5, covariates_on(COVARIATE_ROWS, "--past-columns", "kms"),
         r"unknown covariate column 'kms'; columns are: date, y, price"),
    Case("covariate-builtin", 5, forecast_on(lambda w, t: "airline", "--future-columns", "price"),
         r"read columns of a CSV file"),
    Case("covariate-local-mode", 5, covariates_on(COVARIATE_ROWS, "--mode", "local"),
         r"covariates are read by the global network"),
]

PREDICT_CASES = [
    Case("model-missing", 5, lambda w, t: ["predict", "--model", t / "none"], r"run directory not found"),
    Case("model-not-a-run", 5, lambda w, t: ["predict", "--model", w.folder], r"not a run directory"),
    Case("model-a-text-run", 5, lambda w, t: ["predict", "--model", w.text_run], r"text"),
    Case("no-model", 5, lambda w, t: ["predict"], r"give the trained model with --model"),
    Case("horizon-negative", 5, lambda w, t: ["predict", "--model", w.forecast_run, "--horizon", "-3"],
         r"must be a positive integer, got -3"),
    Case("data-missing", 5, lambda w, t: ["predict", "--model", w.forecast_run, "--data", t / "nope.csv"],
         r"file not found"),
    Case("data-unknown-column", 5, lambda w, t: ["predict", "--model", w.forecast_run, "--data", w.sine, "--column",
                                                "x"], r"trained on column 'v', not 'x'"),
    Case("weights-truncated", 2, lambda w, t: ["predict", "--model", t / "run"], r"model.safetensors",
         setup=lambda w, t: (_copy_run(w, t, "forecast"), _damage(t, "model.safetensors", "truncate"))),
    Case("weights-bad-header", 2, lambda w, t: ["predict", "--model", t / "run"], r"model.safetensors",
         setup=lambda w, t: (_copy_run(w, t, "forecast"), _damage(t, "model.safetensors", "header"))),
    Case("weights-empty", 2, lambda w, t: ["predict", "--model", t / "run"], r"model.safetensors",
         setup=lambda w, t: (_copy_run(w, t, "forecast"), _damage(t, "model.safetensors", "empty"))),
    Case("weights-missing", 4, lambda w, t: ["predict", "--model", t / "run"], r"model.safetensors|resume",
         setup=lambda w, t: (_copy_run(w, t, "forecast"), (t / "run" / "model.safetensors").unlink())),
    Case("config-not-json", 5, lambda w, t: ["predict", "--model", t / "run"], r"config.json is unreadable",
         setup=lambda w, t: (_copy_run(w, t, "forecast"), _write(t / "run" / "config.json", "{"))),
    Case("weights-of-another-model", 2, lambda w, t: ["predict", "--model", t / "run"], r"another model",
         setup=lambda w, t: (_copy_run(w, t, "forecast"), _edit_json(
             t / "run" / "config.json", lambda c: c["forecaster"]["params"].update(hidden_size=9)))),
]

PREDICT_CASES += [
    Case("future-covariate-missing", 5, lambda w, t: ["predict", "--model", w.covariate_run],
         r"future covariate 'price' is missing for series '.*' at 2006-01-01 \(6 of the 6 forecast points\); "
         r"a future covariate is needed for every point forecast \(rnnlab predict --covariates FILE\)$"),
    Case("future-covariate-short", 5, lambda w, t: ["predict", "--model", w.covariate_run, "--covariates", _csv(
        t, "date,price\n2006-01-01,1\n2006-02-01,2\n", "future.csv")],
         r"future covariate 'price' is missing for series '.*' at 2006-03-01 \(4 of the 6 forecast points\)"),
    Case("future-covariate-nan", 5, lambda w, t: ["predict", "--model", w.covariate_run, "--covariates", _csv(
        t, "date,price\n" + "".join(f"2006-{m:02d}-01,{'' if m == 2 else 1}\n" for m in range(1, 7)), "future.csv")],
         r"covariate column 'price' has 1 missing value\(s\), the first at future.csv line 3"),
    Case("covariates-for-a-plain-model", 5, lambda w, t: ["predict", "--model", w.forecast_run, "--covariates",
                                                         _csv(t, "date,price\n2004-01-01,1\n", "future.csv")],
         r"covariates|does not apply"),
]

SAMPLE_CASES = [
    Case("model-missing", 5, lambda w, t: ["sample", "--model", t / "none"], r"run directory not found"),
    Case("model-a-forecast-run", 5, lambda w, t: ["sample", "--model", w.forecast_run],
         r"holds a forecast model, not a character model; use rnnlab predict"),
    Case("length-negative", 5, lambda w, t: ["sample", "--model", w.text_run, "--length", "-1"],
         r"non-negative integer"),
    Case("temperature-0", 5, lambda w, t: ["sample", "--model", w.text_run, "--temperature", "0"],
         r"temperature must be > 0"),
    Case("temperature-negative", 5, lambda w, t: ["sample", "--model", w.text_run, "--temperature", "-1"],
         r"temperature must be > 0"),
    Case("top-k-0", 5, lambda w, t: ["sample", "--model", w.text_run, "--top-k", "0"], r"top_k must be >= 1"),
    Case("unseen-prime", 5, lambda w, t: ["sample", "--model", w.text_run, "--prime", "déf€"],
         r"prime has 2 character\(s\) the model has never seen: 'é', '€'"),
    Case("weights-truncated", 2, lambda w, t: ["sample", "--model", t / "run"], r"model.safetensors",
         setup=lambda w, t: (_copy_run(w, t, "text"), _damage(t, "model.safetensors", "truncate"))),
    Case("weights-missing", 4, lambda w, t: ["sample", "--model", t / "run"],
         r"has no model.safetensors .* continue it with rnnlab text --resume",
         setup=lambda w, t: (_copy_run(w, t, "text"), (t / "run" / "model.safetensors").unlink())),
    Case("config-without-vocab", 5, lambda w, t: ["sample", "--model", t / "run"], r"incomplete: no vocab",
         setup=lambda w, t: (_copy_run(w, t, "text"), _edit_json(t / "run" / "config.json",
                                                                 lambda c: c.pop("vocab")))),
    Case("vocab-of-another-model", 2, lambda w, t: ["sample", "--model", t / "run"], r"another model",
         setup=lambda w, t: (_copy_run(w, t, "text"), _edit_json(t / "run" / "config.json",
                                                                 lambda c: c["vocab"].append("\u2603")))),
]

EXPLAIN_CASES = [
    Case("hidden-model-missing", 5, lambda w, t: ["explain", "hidden", "--model", t / "none", "--out", t / "out"],
         r"not found|no config.json"),
    Case("hidden-model-a-text-run", 5, lambda w, t: ["explain", "hidden", "--model", w.text_run, "--out", t / "out"],
         r"text|forecast"),
    Case("config-unknown-key", 5, lambda w, t: ["explain", "memory", "--config", _toml(t, "delays = 3\nbogus = 1\n"),
                                                "--out", t / "out"], r"unknown key"),
]

GROUPS = {"text-": TEXT_CASES, "forecast-": FORECAST_CASES, "predict-": PREDICT_CASES, "sample-": SAMPLE_CASES,
          "explain-": EXPLAIN_CASES}
CASES = [case.param(group) for group, cases in GROUPS.items() for case in cases]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_cleanly(case, world, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if case.setup is not None:
        case.setup(world, tmp_path)
    argv = case.argv(world, tmp_path)
    before = snapshot(world.root, tmp_path)
    code, out, err = run_in_process(argv, capsys, monkeypatch, case.stdin)
    assert_refused(code, err, case, before, snapshot(world.root, tmp_path))
