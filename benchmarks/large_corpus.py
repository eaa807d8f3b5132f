"""Large corpora: peak memory and throughput of encoding and training on a 10 MB and a 200 MB generated text.

The text is encoded once, in chunks, into a file read through a memory map (``rnnlab.data.text``), so
memory should stay flat as the corpus grows, and training throughput should not depend on its size.
Each size runs in a fresh process, which reports its peak resident memory (``ru_maxrss``) and, at the
end, its resident memory split into anonymous pages (what the process really holds) and file pages (the
memory-mapped corpus pages it touched, which the kernel can drop at any time).

Usage:
    python benchmarks/large_corpus.py [--sizes 10,200] [--steps 150] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def generate(path: Path, megabytes: float, seed: int = 0) -> None:
    """Write ``megabytes`` MB of lines of pseudo-words (deterministic for a seed), 1 MB at a time."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlucmfwypvbgkjqxz"))
    words = ["".join(rng.choice(letters, rng.integers(1, 9))) for _ in range(5000)]
    words += ["The", "And", ",", ".", ";", "é", "ß", "→"]  # a few non-ASCII characters too
    target = int(megabytes * 1_000_000)
    with path.open("w", encoding="utf-8") as f:
        written = 0
        while written < target:
            picks = rng.integers(0, len(words), 200_000)
            block = " ".join(words[i] for i in picks)
            block = block.replace(" . ", ".\n")[: target - written]
            f.write(block)
            written += len(block.encode("utf-8"))


def rss_parts() -> dict:
    """Current resident memory in MB: total, anonymous, file-backed (Linux /proc)."""
    parts = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                parts[key] = int(value.split()[0]) / 1024
    return parts


def child(path: str, workdir: str, steps: int) -> dict:
    """Encode ``path``, then train rnnlab's default network for ``steps`` steps; report time and memory."""
    import torch

    from rnnlab import train
    from rnnlab.data.text import Corpus
    from rnnlab.models import CharLM
    from rnnlab.text.estimator import TextConfig, TextTask

    start = time.perf_counter()
    corpus = Corpus.build(Path(path), out=Path(workdir) / "corpus.bin")
    build_seconds = time.perf_counter() - start
    peak_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c = TextConfig(eval_chars=50_000, quiet=True, device="cpu")
    torch.manual_seed(0)
    model = CharLM(corpus.vocab.size, c.embedding_size, c.hidden_size, c.num_layers, c.cell)
    task = TextTask(corpus, c)
    config = train.TrainConfig(steps=steps, lr=c.lr, schedule=c.schedule, warmup_steps=min(c.warmup_steps, steps),
                               clip=c.clip, eval_every=steps, quiet=True, device="cpu")
    result = train.fit(model, task, config)
    return {"megabytes": os.path.getsize(path) / 1e6, "chars": corpus.n_chars, "vocab": corpus.vocab.size,
            "dtype": corpus.vocab.dtype.name, "build_seconds": build_seconds,
            "build_chars_per_second": corpus.n_chars / build_seconds, "peak_rss_mb_after_build": peak_build,
            "train_steps": result.steps, "train_chars_per_second": steps * c.batch_size * c.seq_len / result.seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_end_mb": rss_parts(),
            "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,200", help="corpus sizes in MB, comma-separated (default 10,200)")
    parser.add_argument("--steps", type=int, default=150, help="training steps per size (default 150)")
    parser.add_argument("--quick", action="store_true", help="2 and 20 MB, 20 steps")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--child", nargs=3, metavar=("PATH", "WORKDIR", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], int(args.child[2]))))
        return 0
    sizes = [2.0, 20.0] if args.quick else [float(s) for s in args.sizes.split(",")]
    steps = 20 if args.quick else args.steps
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnnlab-large-") as tmp:
        for mb in sizes:
            path = Path(tmp) / f"corpus-{mb:g}MB.txt"
            generate(path, mb)
            done = subprocess.run([sys.executable, __file__, "--child", str(path), tmp, str(steps)],
                                  capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            path.unlink()
    print(f"{'MB':>6}{'chars':>13}{'V':>5}{'encode s':>10}{'enc chars/s':>13}{'train chars/s':>15}"
          f"{'peak RSS MB':>13}{'RSS anon':>10}{'RSS file':>10}")
    for r in rows:
        print(f"{r['megabytes']:>6.0f}{r['chars']:>13,}{r['vocab']:>5}{r['build_seconds']:>10.1f}"
              f"{r['build_chars_per_second']:>13,.0f}{r['train_chars_per_second']:>15,.0f}{r['peak_rss_mb']:>13.0f}"
              f"{r['rss_end_mb'].get('RssAnon', float('nan')):>10.0f}"
              f"{r['rss_end_mb'].get('RssFile', float('nan')):>10.0f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"benchmark": "large_corpus", "steps": steps, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
