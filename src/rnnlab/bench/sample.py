"""``rnnlab bench sample``: characters per second of generation, one network step per character.

Three ways of producing text, measured in the same run on the same network:

- ``compiled``: what :meth:`rnnlab.CharModel.generate` does for long samples — the prime read once, then
  the characters drawn by :meth:`rnnlab.text.generate.Stepper.tokens`, 1,024 per numba call (no dispatch per
  character; its one-off start, ~0.8 s a process, is left out as a warm-up);
- ``numpy steps``: the same draws through the NumPy stepper, one step of NumPy calls per character (what
  ``generate`` does for short samples and without numba; the same text for the same seed);
- ``module``: the obvious PyTorch loop — ``logits, state = model(x, state)`` on a ``(1, 1)`` input per
  character, ``torch.multinomial`` on the softmax — also carrying the state, never re-reading the prefix.

With ``--model RUN_DIR`` the network is that run's; otherwise untrained networks (speed does not depend
on the weights) for each cell, of rnnlab's default size (2 × 256) and of the lesson's (1 × 64).

Example:
    python -m rnnlab bench sample --quick
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

import numpy as np

from rnnlab import threads
from rnnlab.bench import add_common_arguments, finish
from rnnlab.data.text import Vocab
from rnnlab.models import CharLM
from rnnlab.text.generate import Stepper
from rnnlab.text.estimator import CharModel

SIZES = ((2, 256), (1, 64))  # (layers, hidden): rnnlab text's default, the lesson's


def module_loop(model: CharLM, vocab: Vocab, n: int, prime: str, temperature: float, seed: int) -> str:
    """The plain PyTorch way: the module called on one character per step, the state carried."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    with torch.inference_mode():
        logits, state = model(torch.from_numpy(vocab.encode(prime).astype("int64"))[None])
        x = torch.empty(1, 1, dtype=torch.long)
        for _ in range(n):
            i = int(torch.multinomial(torch.softmax(logits[0, -1] / temperature, -1), 1, generator=gen))
            out.append(vocab.chars[i])
            x[0, 0] = i
            logits, state = model(x, state)
    return "".join(out)


def stepper_loop(m: CharModel, n: int, prime: str, temperature: float, seed: int, compiled: bool) -> str:
    """:meth:`CharModel.generate`'s draws, with the numba sampler or the NumPy steps."""
    with torch.inference_mode():
        logits, state = m.model_(torch.from_numpy(m.vocab_.encode(prime).astype("int64"))[None])
    step = Stepper(m.model_, state)
    ids = step.tokens(logits[0, -1].numpy(), n, temperature, None, False, np.random.default_rng(seed), compiled)
    return "".join(m.vocab_.chars[i] for i in ids)


def chars_per_second(fn, n: int, repeats: int) -> float:
    """Best of ``repeats`` timings of ``fn(n)`` (the least disturbed by other processes)."""
    fn(min(n, 200))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - start)
    return n / best


def run(model_dir: str | None = None, length: int = 5000, repeats: int = 3, cells=("rnn", "lstm", "gru")) -> list[dict]:
    """The table rows: one per (network, method)."""
    models = []
    if model_dir:
        models.append(CharModel.load(model_dir))
    else:
        vocab = Vocab([chr(32 + i) for i in range(95)] + ["\n"])  # printable ASCII, like source code
        for (layers, hidden), cell in ((size, cell) for size in SIZES for cell in cells):
            m = CharModel(cell=cell, num_layers=layers, hidden_size=hidden)
            c = m.config
            torch.manual_seed(0)
            m.vocab_, m.model_ = vocab, CharLM(vocab.size, c.embedding_size, c.hidden_size, c.num_layers, cell).eval()
            models.append(m)
    rows = []
    for m in models:
        c, prime = m.config, m.vocab_.chars[0]
        size = f"{c.cell} {c.num_layers}x{c.hidden_size}, V={m.vocab_.size}"
        ours = chars_per_second(lambda n: stepper_loop(m, n, prime, 0.8, 0, True), length, repeats)
        steps = chars_per_second(lambda n: stepper_loop(m, n, prime, 0.8, 0, False), length, repeats)
        plain = chars_per_second(lambda n: module_loop(m.model_, m.vocab_, n, prime, 0.8, 0), length, repeats)
        rows.append({"model": size, "method": "compiled", "chars_per_second": ours, "ratio": ours / plain})
        rows.append({"model": size, "method": "numpy steps", "chars_per_second": steps, "ratio": steps / plain})
        rows.append({"model": size, "method": "module per step", "chars_per_second": plain, "ratio": 1.0})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnlab bench sample", description=__doc__.splitlines()[0])
    parser.add_argument("--model", metavar="RUN_DIR", help="a run directory of rnnlab text (default: untrained)")
    parser.add_argument("--length", type=int, default=5000, help="characters per timing (default 5000)")
    parser.add_argument("--quick", action="store_true", help="1,000 characters, one timing (seconds)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.threads:
        threads.use(args.threads)
    length, repeats = (1000, 1) if args.quick else (args.length, 3)
    rows = run(args.model, length, repeats)
    print(f"sampling speed, {length} characters, best of {repeats}, {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'model':<28}{'method':<18}{'chars/s':>10}{'x module':>10}")
    for r in rows:
        print(f"{r['model']:<28}{r['method']:<18}{r['chars_per_second']:>10,.0f}{r['ratio']:>10.2f}")
    return finish(args, {"benchmark": "sample", "length": length, "repeats": repeats, "rows": rows,
                         "machine": platform.platform(), "torch": torch.__version__})


if __name__ == "__main__":
    raise SystemExit(main())
