"""The command line: argument parsing only. Every command calls the library and prints what it returns.

Flags default to ``None`` so that only the flags a user typed override the configuration file
(``--config file.toml``), which in turn overrides the defaults of the task's config dataclass.
A user's mistake (``ValueError``, ``TypeError``, a missing file, undecodable text) is one line on stderr and
exit status 2; ``RNNLAB_DEBUG=1`` shows the traceback instead. Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import os
import sys


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
    from rnnlab import checkpoint, config, text

    if args.epochs is not None:
        raise ValueError("text: --epochs does not apply; give the budget with --steps or --minutes")
    if args.resume:
        model = text.CharModel(quiet=bool(args.quiet)).fit(run_dir=args.resume, resume=True)
        run_dir = args.resume
    else:
        settings = config.resolve(text.TextConfig, args.config, overrides(args, "resume", "out", "epochs"),
                                  section="text")
        run_dir = checkpoint.new_run_dir("text", args.out)
        model = text.CharModel(settings).fit(run_dir=run_dir)
    m = model.metrics_
    print(f"\n{'split':<12}{'nats/char':>10}{'bits/char':>10}")
    print(f"{'validation':<12}{m['val_loss']:>10.4f}{m['val_bpc']:>10.4f}")
    print(f"{'test':<12}{m['test_loss']:>10.4f}{m['test_bpc']:>10.4f}")
    print(f"{m['steps']} steps in {m['train_seconds']:.0f} s, {m['chars_per_second']:,.0f} chars/s")
    print(f"\n--- sample, temperature 0.8 ---\n{model.samples_[0.8]}\n---")
    print(f"run directory: {run_dir}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from rnnlab import text

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
    # text / sample: rnnlab.text
    p = sub.add_parser("text", help="train a character-level language model on a text file or a built-in corpus")
    _add_common(p)
    p.add_argument("--data", help="a UTF-8 text file, '-' for standard input, or python-stdlib (default)")
    p.add_argument("--encoding", help="encoding of the text (default utf-8)")
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
    # bench: rnnlab.bench
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as e:  # rnnlab.train.TrainingInterrupted carries where its checkpoint is
        checkpoint_dir, run_dir = getattr(e, "checkpoint_dir", None), getattr(e, "run_dir", None)
        if checkpoint_dir is not None:
            print(f"rnnlab {args.command}: interrupted; checkpoint saved in {checkpoint_dir}; "
                  f"continue with --resume {run_dir}", file=sys.stderr)
        else:
            print(f"rnnlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, UnicodeError) as e:
        if os.environ.get("RNNLAB_DEBUG"):
            raise
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"rnnlab {args.command}: error: {message}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        from rnnlab.train import TrainingDiverged

        if not isinstance(e, TrainingDiverged) or os.environ.get("RNNLAB_DEBUG"):
            raise
        print(f"rnnlab {args.command}: {str(e).splitlines()[0]}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
