"""The command line: argument parsing only. Every command calls the library and prints what it returns.

Flags default to ``None`` so that only the flags a user typed override the configuration file
(``--config file.toml``), which in turn overrides the defaults of the task's config dataclass.
A user's mistake (``ValueError``, ``TypeError``, a missing file, undecodable text) is one line on stderr and
exit status 2; ``RNNLAB_DEBUG=1`` shows the traceback instead. Ctrl-C exits with 130, SIGTERM (handled like
Ctrl-C: a checkpoint, the resume command) with 143. The library's messages
name parameters in backticks (`` `lr` ``, `` `fill='interpolate'` ``); on the command line they read as the flags
that set them (``--lr``, ``--fill interpolate``).
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import signal
import sys
import threading


def _add_common(p: argparse.ArgumentParser, training: bool = True) -> None:
    """Options shared by the training commands (DESIGN.md: Common options)."""
    g = p.add_argument_group("common")
    if training:
        g.add_argument("--cell", choices=("rnn", "lstm", "gru"), help="recurrent cell")
        g.add_argument("--hidden", dest="hidden_size", type=int, help="hidden units per layer")
        g.add_argument("--layers", dest="num_layers", type=int, help="stacked recurrent layers")
        g.add_argument("--dropout", type=float, help="dropout between layers")
        g.add_argument("--epochs", type=int, help="training epochs")
        g.add_argument("--steps", type=int, help="training steps (optimizer updates)")
        g.add_argument("--minutes", type=float, help="training budget in wall-clock minutes")
        g.add_argument("--batch-size", dest="batch_size", type=int, help="batch size")
        g.add_argument("--lr", type=float, help="learning rate")
        g.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run exactly")
    g.add_argument("--seed", type=int, help="random seed")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where to run (default auto)")
    g.add_argument("--out", metavar="DIR", help="run directory (default runs/<command>-<timestamp>)")
    g.add_argument("--config", metavar="FILE", help="TOML file of settings; flags override it")
    g.add_argument("--quiet", action="store_true", default=None, help="no progress bar")


def overrides(args: argparse.Namespace, *skip: str) -> dict:
    """The settings the user gave explicitly (not None), minus CLI-only names."""
    cli_only = {"command", "func", "config", "explain_command", "bench_command", *skip}
    return {k: v for k, v in vars(args).items() if v is not None and k not in cli_only}


def _cmd_lesson(args: argparse.Namespace) -> int:
    from rnnlab import lesson

    lesson.run(seed=42 if args.seed is None else args.seed, out=sys.stdout)
    return 0


def _cmd_text(args: argparse.Namespace) -> int:
    from rnnlab import config
    from rnnlab.text import run as text_run
    from rnnlab.text.estimator import TextConfig

    if args.epochs is not None:
        raise ValueError("text: --epochs does not apply; give the budget with --steps or --minutes")
    given = overrides(args, "resume", "out", "epochs")
    if args.resume:  # the run's own settings, with those given again that may change (config.resume_with)
        result = text_run.run(TextConfig(), resume=args.resume, given=config.given(args.config, given, "text"))
    else:
        settings = config.resolve(TextConfig, args.config, given, section="text")
        result = text_run.run(settings, out=args.out)
    if not result.writer:
        return 0
    m = result.metrics
    print()
    print(text_run.format_table(result.table))
    print(f"{m['steps']} steps in {m['train_seconds']:.0f} s, {m['chars_per_second']:,.0f} chars/s")
    print(f"\n--- sample, temperature 0.8 ---\n{result.samples[0.8]}\n---")
    print(f"run directory: {result.run_dir}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from rnnlab.text import estimator as text

    model = text.CharModel.load(args.model)
    chars = model.generate(args.length, prime=args.prime, temperature=args.temperature, top_k=args.top_k,
                           seed=args.seed, greedy=args.greedy)
    first = next(chars, "")  # a bad prime or setting fails here, before anything is printed
    sys.stdout.write(args.prime + first)
    for i, ch in enumerate(chars):
        sys.stdout.write(ch)
        if ch == "\n" or i % 64 == 0:
            sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def _cmd_forecast(args: argparse.Namespace) -> int:
    if _program:  # the report's figures drawn beside the work (rnnlab.drawing); before torch is imported
        from rnnlab import drawing

        drawing.start()
    from rnnlab import config
    from rnnlab.forecast import estimator as forecast, run as forecast_run

    given = overrides(args, "resume", "out")
    if args.resume:  # the run's own settings, with those given again that may change (config.resume_with)
        result = forecast_run.run(forecast.ForecastConfig(), resume=args.resume,
                                  given=config.given(args.config, given, "forecast"))
    else:
        settings = config.resolve(forecast.ForecastConfig, args.config, given, section="forecast")
        result = forecast_run.run(settings, out=args.out)
    if not result.writer:
        return 0
    print(result.description)
    m = result.metrics
    if "backtest" in m:
        from rnnlab.forecast.backtest_run import summary_lines

        print("\n".join(summary_lines(result)))
    elif "series" in m:
        from rnnlab.forecast.panel_run import summary_lines

        trained = (f"{len(m['lookbacks'])} member(s), lookbacks {', '.join(map(str, m['lookbacks']))}; "
                   f"{m['steps']} steps" if m["mode"] == "global" else f"lookback {m['lookback']}; {m['epochs']} "
                   f"epochs per series (mean)")
        print(f"test: {len(result.backtest)} points of {m['series']} series, horizon {m['horizon']}; mode "
              f"{m['mode']}, {trained} in {m['train_seconds']:.1f} s")
        print(forecast_run.format_table(result.table))
        print("\n".join(summary_lines(result)))
    else:
        print(f"test: last {len(result.backtest)} points, horizon {m['horizon']}, lookback {m['lookback']}; "
              f"{m['epochs']} epochs in {m['train_seconds']:.1f} s")
        print(forecast_run.format_table(result.table))
    print(f"run directory: {result.run_dir}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import pandas as pd

    from rnnlab import config
    from rnnlab.forecast import run as forecast_run

    s = config.resolve(forecast_run.PredictConfig, args.config, overrides(args), section="predict")
    if s.model is None:
        raise ValueError("predict: give the trained model with --model RUN_DIR (or model = ... in --config)")
    forecast = forecast_run.predict(s.model, s.horizon, s.data, s.column, s.time_column, s.fill, s.id_column,
                                    s.encoding, s.covariates)
    if isinstance(forecast, pd.DataFrame):  # a panel: long id, time, forecast
        if s.csv:
            forecast.to_csv(s.csv, index=False)
        print(forecast.to_string(index=False, max_rows=40))
    else:
        frame = forecast.rename_axis("time").to_frame()
        if s.csv:
            frame.to_csv(s.csv)
        print(frame.to_string())
    if s.csv:
        print(f"written: {s.csv}")
    return 0


class _JoinQuantiles(argparse.Action):
    """``--quantiles 0.1 0.9`` -> the setting's text ``"0.1 0.9"``; ``--quantiles`` alone -> ``"0.1 0.5 0.9"``."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, " ".join(values) if values else "0.1 0.5 0.9")


def _comma_list(kind):
    """An argparse type: ``"a,b,c"`` -> a tuple of ``kind``."""
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}, got {text!r}")
    return parse


def _forget_bias(text: str) -> float | str:
    """An argparse type: a number, or ``torch`` for PyTorch's own initialisation."""
    if text == "torch":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'torch', got {text!r}")


def _cmd_explain(args: argparse.Namespace) -> int:
    from rnnlab import config, explain
    from rnnlab.rundir import check_new, new_run_dir

    what = args.explain_command
    configs = {"hidden": explain.HiddenConfig, "gradients": explain.GradientsConfig,
               "memory": explain.MemoryConfig, "lookback": explain.LookbackConfig}
    given = overrides(args, "out", "model", "quick")
    if getattr(args, "quick", None):  # a small preset: over the defaults and the file, under the flags
        given = {**{"gradients": explain.GRADIENTS_QUICK, "memory": explain.MEMORY_QUICK}[what], **given}
    settings = config.resolve(configs[what], args.config, given, section=f"explain-{what}")
    run_dir = check_new(new_run_dir(f"explain-{what}", args.out), resumable=False)  # before the work: never overwritten
    if what == "hidden":
        model, x, source = (explain.saved_forecaster(args.model) if args.model else explain.default_model(settings))
        result = explain.hidden_states(model, x, source, settings.units)
        result.save(run_dir, {**config.to_dict(settings), "model": args.model})
    else:
        run = {"gradients": explain.gradient_flow, "memory": explain.memory_horizon,
               "lookback": explain.lookback_effect}[what]
        result = run(settings)
        result.save(run_dir)
    print(result.summary())
    print(f"run directory: {run_dir}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from rnnlab import bench

    return bench.run(args.bench_command, args.bench_args)


def build_parser() -> argparse.ArgumentParser:
    from rnnlab import __version__

    parser = argparse.ArgumentParser(
        prog="rnnlab",
        description="Recurrent neural networks on sequences: forecast series, model text, see why they work.",
    )
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("lesson", help="the RNN lesson, step by step, run for real")
    p.add_argument("--seed", type=int, help="random seed (default 42, the lesson's)")
    p.set_defaults(func=_cmd_lesson)

    # forecast / predict: rnnlab.forecast
    p = sub.add_parser("forecast", help="train and evaluate a forecaster on a series (default: the lesson's sine)")
    _add_common(p)
    p.add_argument("--data", help="sine (default), a bundled series (airline, sunspots, co2, nile) or a CSV path")
    p.add_argument("--column", help="CSV: the column to forecast")
    p.add_argument("--time-column", dest="time_column", help="CSV: the column of dates (or years)")
    p.add_argument("--id-column", dest="id_column", help="long panel CSV: the column of series ids (one model "
                                                         "for all series)")
    p.add_argument("--columns", help="wide panel CSV: comma-separated series columns (or 'all' numeric ones)")
    p.add_argument("--encoding", help="CSV text encoding (default utf-8), e.g. latin-1")
    p.add_argument("--mode", choices=("auto", "global", "local"), help="panel: one global network, or one model "
                                                                       "per series (default auto)")
    p.add_argument("--batches-per-epoch", dest="batches_per_epoch", type=int, help="panel: steps between evaluations")
    p.add_argument("--select", choices=("validation", "model"), help="panel, local mode: 'validation' keeps the "
                        "seasonal naive unless the model or linear is 10%% better on validation; 'model' always")
    p.add_argument("--clip", type=float, help="max gradient norm (default 1.0)")
    p.add_argument("--schedule", choices=("constant", "cosine"), help="learning rate schedule (default: constant for "
                                                                    "one series, cosine for a global model)")
    p.add_argument("--min-lr-ratio", dest="min_lr_ratio", type=float, help="cosine floor, a fraction of --lr")
    p.add_argument("--warmup-steps", dest="warmup_steps", type=int, help="steps of linear warm-up (default 0)")
    p.add_argument("--weight-decay", dest="weight_decay", type=float, help="AdamW weight decay (default 0)")
    p.add_argument("--eval-every", dest="eval_every", type=int, help="steps between validations (default: each epoch)")
    p.add_argument("--fill", choices=("interpolate",), help="fill missing values instead of rejecting them")
    p.add_argument("--length", type=int, help="sine: points (default 400)")
    p.add_argument("--noise", type=float, help="sine: noise standard deviation (default 0)")
    p.add_argument("--lookback", type=int, help="past values the model reads (default: season if >= 12, else 20)")
    p.add_argument("--horizon", type=int, help="steps forecast at once (default: the season, else 1)")
    p.add_argument("--test-size", dest="test_size", type=int, help="last points held out (default max(horizon, 20%%))")
    p.add_argument("--val-size", dest="val_size", type=int, help="points before the test for early stopping")
    p.add_argument("--season", type=int, help="season length (default: from the frequency)")
    p.add_argument("--strategy", choices=("direct", "recursive"), help="all horizon steps at once, or one fed back")
    p.add_argument("--skip", choices=("linear", "none"), help="linear: RNN on a least-squares AR skip (default)")
    p.add_argument("--transform", choices=("auto", "log", "none"), help="auto: log for positive series")
    p.add_argument("--patience", type=int, help="epochs without validation improvement before stopping")
    p.add_argument("--engine", help="recurrent engine: auto (default), torch, fused, loop")
    p.add_argument("--quantiles", nargs="*", action=_JoinQuantiles, metavar="Q",
                   help="global model: forecast these quantile levels (no values: 0.1 0.5 0.9, an 80%% interval)")
    p.add_argument("--backtest", type=int, metavar="K", help="rolling-origin backtest from K origins a horizon apart "
                                                             "at the end of every series, instead of one split")
    p.add_argument("--refit", action="store_true", default=None, help="backtest: fit again at every origin")
    p.add_argument("--future-columns", dest="future_columns", metavar="COLS",
                   help="CSV columns known ahead for the forecast period (comma-separated; global model)")
    p.add_argument("--past-columns", dest="past_columns", metavar="COLS",
                   help="CSV columns known only up to the forecast origin (comma-separated; global model)")
    p.add_argument("--static-columns", dest="static_columns", metavar="COLS",
                   help="long CSV: columns holding one value per series (comma-separated; global model)")
    p.add_argument("--calendar", action=argparse.BooleanOptionalAction, default=None,
                   help="global model: calendar features of the dates (default: on where there are dates)")
    p.set_defaults(func=_cmd_forecast)
    p = sub.add_parser("predict", help="forecast the future with a trained forecaster")
    p.add_argument("--model", metavar="RUN_DIR", help="run directory of rnnlab forecast (required)")
    p.add_argument("--horizon", type=int, help="steps to forecast (default: the model's horizon)")
    p.add_argument("--data", help="a CSV continuing the series: forecast after its end instead")
    p.add_argument("--column", help="CSV: the column (default: the one the model was trained on)")
    p.add_argument("--time-column", dest="time_column", help="CSV: the column of dates (or years)")
    p.add_argument("--id-column", dest="id_column", help="panel CSV: the column of series ids (default: the model's)")
    p.add_argument("--encoding", help="CSV text encoding (default utf-8)")
    p.add_argument("--fill", choices=("interpolate",), help="fill missing values instead of rejecting them")
    p.add_argument("--csv", metavar="OUT", help="also write the forecast to this CSV file")
    p.add_argument("--covariates", metavar="CSV", help="the model's future covariates for the forecast period "
                                                       "(its time, id and future columns)")
    p.add_argument("--config", metavar="FILE", help="TOML file of these settings ([predict]); flags override it")
    p.set_defaults(func=_cmd_predict)
    # text / sample: rnnlab.text
    p = sub.add_parser("text", help="train a character-level language model on a text file or a built-in corpus")
    _add_common(p)
    p.add_argument("--data", help="a text file (UTF-8, or UTF-16/32 with a byte order mark), '-' for standard "
                                  "input, or python-stdlib (default)")
    p.add_argument("--encoding", help="encoding of the text (default utf-8; a byte order mark is recognised)")
    p.add_argument("--max-chars", dest="max_chars", type=int, help="read at most this many characters")
    p.add_argument("--seq-len", dest="seq_len", type=int, help="characters per chunk (truncated BPTT length)")
    p.add_argument("--embedding", dest="embedding_size", type=int, help="character embedding width")
    p.add_argument("--eval-every", dest="eval_every", type=int, help="steps between validations")
    p.add_argument("--engine", help="recurrent engine (default auto)")
    p.set_defaults(func=_cmd_text)
    p = sub.add_parser("sample", help="generate text with a trained character model")
    p.add_argument("--model", required=True, metavar="RUN_DIR", help="run directory of rnnlab text")
    p.add_argument("--prime", default="", help="text to continue")
    p.add_argument("--length", type=int, default=500, help="characters to generate (default 500)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    p.add_argument("--top-k", dest="top_k", type=int, help="sample among the k likeliest characters")
    p.add_argument("--seed", type=int, help="random seed (same seed, same text)")
    p.add_argument("--greedy", action="store_true", help="always take the likeliest character")
    p.set_defaults(func=_cmd_sample)
    # explain: rnnlab.explain
    p = sub.add_parser("explain", help="the lesson's 'why': hidden states, gradients, memory, lookback")
    what = p.add_subparsers(dest="explain_command", metavar="WHAT", required=True)
    q = what.add_parser("hidden", help="every layer's h_t for an input: heat map and unit traces")
    q.add_argument("--model", metavar="RUN_DIR", help="trace a saved forecaster (default: the lesson's sine "
                                                     "model, trained on the spot)")
    q.add_argument("--epochs", type=int, help="training epochs of the default model (default 200)")
    q.add_argument("--units", type=int, help="unit traces drawn per layer (default 4)")
    q = what.add_parser("gradients", help="|dL/dh_t| against distance from the loss, RNN vs LSTM vs GRU")
    q.add_argument("--delay", type=int, help="distance: noise steps after the two marked numbers (default 100)")
    q = what.add_parser("memory", help="the adding problem: error against the distance to remember, per cell type")
    q.add_argument("--delays", type=_comma_list(int), help="comma-separated distances (default 10,30,100,300)")
    q = what.add_parser("lookback", help="the lesson's sine model: test MSE against lookback")
    q.add_argument("--lookbacks", type=_comma_list(int), help="comma-separated lookbacks (default 1,2,5,10,20)")
    q.add_argument("--cell", choices=("rnn", "lstm", "gru"), help="recurrent cell (default rnn, the lesson's)")
    for name, q in what.choices.items():
        if name in ("gradients", "memory"):
            q.add_argument("--cells", type=_comma_list(str), help="comma-separated cell types (default rnn,lstm,gru)")
            q.add_argument("--epochs", type=int, help="training epochs of 50 batches per model (default 16)")
            q.add_argument("--forget-bias", dest="forget_bias", type=_forget_bias,
                           help="LSTM forget-gate bias at init (default 1, as char-rnn; 'torch' for PyTorch's "
                                "initialisation, about 0)")
            q.add_argument("--quick", action="store_true", default=None,
                           help="a small run in seconds that still shows the direction (for tests)")
        if name in ("gradients", "memory", "lookback"):
            q.add_argument("--hidden", dest="hidden_size", type=int, help="hidden units")
            q.add_argument("--lr", type=float, help="learning rate")
        if name == "lookback":
            q.add_argument("--epochs", type=int, help="full-batch training epochs per lookback (default 300)")
        _add_common(q, training=False)
        q.set_defaults(func=_cmd_explain)
    # bench: rnnlab.bench
    from rnnlab.bench import NAMES as BENCHMARKS

    p = sub.add_parser("bench", help="the performance tables (layer, forecast, text, sample, contention)",
                       description="Performance tables; each benchmark takes its own options "
                                   "(e.g. rnnlab bench layer --quick --json out.json; rnnlab bench layer --help).")
    p.add_argument("bench_command", choices=BENCHMARKS, metavar="{" + ",".join(BENCHMARKS) + "}",
                   help="which table")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="the benchmark's own options")
    p.set_defaults(func=_cmd_bench)
    return parser


def flag_spelling(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` with each backticked parameter spelled as the flag that sets it: `` `lr` `` -> ``--lr``,
    `` `fill='interpolate'` `` -> ``--fill interpolate`` (a parameter no flag sets loses its backticks only)."""
    flags: dict[str, str] = {}

    def collect(p: argparse.ArgumentParser) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    collect(sub)
            elif action.option_strings:
                flags.setdefault(action.dest, action.option_strings[-1])

    collect(parser)
    def spell(m: re.Match) -> str:
        name, value = m[1], m[2]
        if name not in flags:
            return m[0][1:-1]
        return flags[name] if value is None else f"{flags[name]} {value.strip(chr(39) + chr(34))}"

    return re.sub(r"`(\w+)(?:=([^`]*))?`", spell, message)


class Terminated(KeyboardInterrupt):
    """SIGTERM outside the training loop: unwinds like Ctrl-C, so what a failed run made is cleaned up."""

    signum = signal.SIGTERM


def _terminate(signum, frame):
    raise Terminated("terminated")


_program = False  # True in the rnnlab program (entry), False where main() is called from Python (the tests)


def entry() -> None:
    """The ``rnnlab`` program (the console script and ``python -m rnnlab``): :func:`main`, then a quick exit.

    Once the command has returned, every file it wrote is complete (written atomically and closed), so the
    process ends without the interpreter's teardown, which frees every module and object one by one: with
    torch, pandas and matplotlib loaded that took ~0.5 s of a 4.7 s ``rnnlab forecast`` (issue 19). Output
    streams are flushed, ``atexit`` handlers run and threads that are not daemons are waited for first, as
    at a normal exit. An exception leaving :func:`main` takes the normal way out (its traceback, its status).
    """
    global _program
    _program = True
    code = main()
    from rnnlab import drawing

    drawing.stop()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`rnnlab ... | head`): nothing more can be said
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None  # the loop defers its own
    try:
        return _main(args, parser)
    finally:
        if in_main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the command; a user's mistake, an interrupt or a divergence becomes one line and an exit status."""
    try:
        if getattr(args, "resume", None) and getattr(args, "out", None):
            raise ValueError("--out does not apply with --resume: a resumed run continues in its own directory")
        return int(args.func(args) or 0)
    except KeyboardInterrupt as e:  # rnnlab.train.TrainingInterrupted carries where its checkpoint is
        checkpoint_dir, run_dir = getattr(e, "checkpoint_dir", None), getattr(e, "run_dir", None)
        signum = getattr(e, "signum", signal.SIGINT)
        how = "interrupted" if signum == signal.SIGINT else f"interrupted ({signal.Signals(signum).name})"
        if checkpoint_dir is not None:
            print(f"rnnlab {args.command}: {how}; checkpoint saved in {checkpoint_dir}; "
                  f"continue with --resume {run_dir}", file=sys.stderr)
        else:
            print(f"rnnlab {args.command}: {how}", file=sys.stderr)
        return 128 + signum  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them
    except (ValueError, TypeError, OSError, UnicodeError) as e:
        if os.environ.get("RNNLAB_DEBUG"):
            raise
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"rnnlab {args.command}: error: {flag_spelling(message, parser)}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        from rnnlab.train import TrainingDiverged

        if not isinstance(e, TrainingDiverged) or os.environ.get("RNNLAB_DEBUG"):
            raise
        print(f"rnnlab {args.command}: {flag_spelling(str(e).splitlines()[0], parser)}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
