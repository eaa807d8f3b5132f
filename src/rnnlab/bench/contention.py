"""``rnnlab bench contention``: training and layer speed with another CPU-bound process running, by thread count.

A laptop always has another process running. This benchmark starts one — a Python busy loop pinned to
the last core where the system allows it — and measures, for ``--threads 1``, ``2`` and ``auto``
(:mod:`rnnlab.threads`), each in a fresh process and in alternating order over ``--rounds``:

- ``text``: ``rnnlab text --cell rnn`` on the given file for a fixed budget: steps and chars/s;
- ``layer``: ``rnnlab bench layer --cell rnn --hidden 256 --batch 64`` (the text model's layer size):
  forward + backward µs per step of the fused engine and of ``torch.nn``.

With ``--idle`` it also runs ``auto`` without the competing process first, the reference the loaded runs
are quoted against (``steps kept``). On a shared machine nothing is idle: the load average is printed
with the table, and only the ratios within one run mean much.

Example:
    python -m rnnlab bench contention --data tinyshakespeare.txt --seconds 60 --idle
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnlab.bench import add_common_arguments, finish

SETTINGS = ("1", "2", "auto")


def competitor() -> subprocess.Popen:
    """A CPU-bound process (a busy loop) on the last core where affinity can be set; the caller kills it."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(process.pid, {max(os.sched_getaffinity(0))})
        except OSError:
            pass
    return process


def _python(code: str, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh interpreter (its own torch threads); it prints one JSON line, returned."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, **(env or {})))
    return json.loads(out.stdout.strip().splitlines()[-1])


def text_run(data: str, seconds: float, threads: str, max_chars: int | None) -> dict:
    """One ``CharModel(cell="rnn")`` fit for ``seconds`` on ``threads`` (``auto``: :func:`rnnlab.threads.choose`)."""
    pin = "" if threads == "auto" else f"threads.use({int(threads)}); "
    source = repr(data) if data in ("python-stdlib", "-") else f"pathlib.Path({data!r})"
    code = ("import json, pathlib, torch; from rnnlab import threads; from rnnlab.text import CharModel; " + pin
            + f"m = CharModel(cell='rnn', quiet=True, device='cpu', max_chars={max_chars!r}).fit({source}, "
            f"minutes={seconds / 60!r}); "
            "print(json.dumps({'steps': m.metrics_['steps'], 'chars_per_second': m.metrics_['chars_per_second'], "
            "'threads': torch.get_num_threads(), 'val_loss': m.metrics_['val_loss']}))")
    return _python(code)


def layer_run(threads: str, repeats: int) -> dict:
    """``rnnlab bench layer`` on the text model's layer size, on ``threads``: µs per step of fused and torch.nn."""
    with tempfile.TemporaryDirectory(prefix="rnnlab-contention-") as tmp:
        path = Path(tmp) / "layer.json"
        code = ("import json, torch, contextlib, io; from rnnlab.bench import layer; "
                "f = io.StringIO(); "
                f"ctx = contextlib.redirect_stdout(f); ctx.__enter__(); "
                f"layer.main(['--cell', 'rnn', '--hidden', '256', '--batch', '64', '--repeats', '{repeats}', "
                f"'--threads', '{threads}', '--json', {str(path)!r}]); ctx.__exit__(None, None, None); "
                f"r = json.load(open({str(path)!r})); row = r['rows'][0]['engines']; "
                "print(json.dumps({'threads': r['machine']['torch_threads'], "
                "'fused_us': row.get('fused', {}).get('us_per_step'), 'torch_us': row['torch.nn']['us_per_step']}))")
        return _python(code)


def run(data: str, seconds: float, rounds: int, idle: bool, max_chars: int | None, repeats: int) -> dict:
    """Every setting under contention (and ``auto`` idle first with ``idle``); returns rows per setting."""
    results: dict[str, dict[str, list]] = {}
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if idle:
        results["auto, no competitor"] = {"text": [text_run(data, seconds, "auto", max_chars)],
                                          "layer": [layer_run("auto", repeats)]}
    process = competitor()
    try:
        time.sleep(0.5)  # let it reach full speed
        for r in range(rounds):
            order = SETTINGS[r % 3:] + SETTINGS[:r % 3]  # alternate, so drift in the machine's load spreads
            for setting in order:
                entry = results.setdefault(f"{setting}, competitor", {"text": [], "layer": []})
                entry["text"].append(text_run(data, seconds, setting, max_chars))
                entry["layer"].append(layer_run(setting, repeats))
    finally:
        process.kill()
        process.wait()
    return {"benchmark": "contention", "data": data, "seconds": seconds, "rounds": rounds, "results": results,
            "load_average_1min_before": load_before,
            "load_average_1min_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "cpu_count": os.cpu_count()}


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def format_table(result: dict) -> str:
    """One row per setting: text steps, chars/s (and % of the idle auto run), threads used; layer µs/step."""
    results = result["results"]
    idle = results.get("auto, no competitor")
    idle_steps = _mean([t["steps"] for t in idle["text"]]) if idle else None
    lines = [f"{'':<22}{'threads':>8}{'steps':>8}{'chars/s':>10}{'kept':>7}{'fused µs':>10}{'torch.nn µs':>12}"]
    for name, entry in results.items():
        steps = _mean([t["steps"] for t in entry["text"]])
        used = "/".join(sorted({str(t["threads"]) for t in entry["text"]}))
        kept = f"{steps / idle_steps:.0%}" if idle_steps else "-"
        lines.append(f"{name:<22}{used:>8}{steps:>8.0f}{_mean([t['chars_per_second'] for t in entry['text']]):>10,.0f}"
                     f"{kept:>7}{_mean([x['fused_us'] for x in entry['layer']]):>10.1f}"
                     f"{_mean([x['torch_us'] for x in entry['layer']]):>12.1f}")
    load = result["load_average_1min_before"]
    lines.append(f"{result['cpu_count']} CPUs; text: {result['seconds']:g} s a run, mean of {result['rounds']} "
                 f"round(s); layer: rnn 256 × batch 64, µs per step"
                 + (f"; load average {load:.1f} before, {result['load_average_1min_end']:.1f} after"
                    if load is not None else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnlab bench contention", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="python-stdlib", help="text file (default: the python-stdlib corpus)")
    parser.add_argument("--seconds", type=float, default=60.0, help="training budget of each text run (default 60)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds over the settings, order rotated (default 1)")
    parser.add_argument("--idle", action="store_true", help="also run auto without the competitor, first")
    parser.add_argument("--quick", action="store_true", help="10 s text runs on the first 300,000 characters")
    add_common_arguments(parser, threads=False)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rounds <= 0:
        raise ValueError("bench contention: --seconds and --rounds must be positive")
    seconds, max_chars, repeats = (10.0, 300_000, 2) if args.quick else (args.seconds, None, 5)
    result = run(args.data, seconds, args.rounds, args.idle, max_chars, repeats)
    print(format_table(result))
    return finish(args, result)


if __name__ == "__main__":
    raise SystemExit(main())
