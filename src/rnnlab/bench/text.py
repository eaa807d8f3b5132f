"""``rnnlab bench text``: validation bits per char after a fixed wall-clock budget, rnnlab against a plain loop.

On one text file and one budget, in the same run:

- ``rnnlab``: ``CharModel(cell="rnn")`` with rnnlab's defaults otherwise (schedule, lr, clip, batches;
  periodic validation and checkpoint-free training counted inside the budget);
- ``plain PyTorch``: the hand-written char-RNN loop people write first — ``nn.Embedding(V, 64)``, 2 x 256
  ``nn.RNN``, ``nn.Linear``, batch 64 contiguous streams, seq 100, Adam 2e-3, clip 5, the state carried and
  detached, no schedule, no evaluation until the budget ends.

Both read the same training split of the same encoded corpus and are scored by the same function
(:func:`rnnlab.text.split_loss`) on the same validation split. Then the sampling speed of the rnnlab model.

Example:
    python -m rnnlab bench text --data tinyshakespeare.txt --minutes 3
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch
from torch import nn

from rnnlab import threads
from rnnlab.bench import add_common_arguments, finish
from rnnlab.bench.sample import chars_per_second
from rnnlab.data.text import Corpus, stream_batches
from rnnlab.text.estimator import LN2, CharModel, split_loss


class PlainCharRNN(nn.Module):
    """The reference network: embedding 64 -> 2 x 256 ``torch.nn.RNN`` -> linear; ``(N, L)`` -> ``(N, L, V)``."""

    def __init__(self, vocab_size: int, embedding_size: int = 64, hidden_size: int = 256, num_layers: int = 2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = nn.RNN(embedding_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx, state=None):
        out, state = self.rnn(self.embedding(idx), state)
        return self.fc(out), state


def plain_loop(corpus: Corpus, seconds: float, seed: int = 0, batch_size: int = 64, seq_len: int = 100,
               lr: float = 2e-3, clip: float = 5.0) -> dict:
    """Train :class:`PlainCharRNN` for ``seconds`` of wall clock, epochs of contiguous streams, then score it."""
    torch.manual_seed(seed)
    model = PlainCharRNN(corpus.vocab.size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        state = None
        for x, y in stream_batches(corpus.part("train"), batch_size, seq_len):
            logits, state = model(x, state)
            state = state.detach()
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            steps += 1
            if time.perf_counter() - start >= seconds:
                break
    train_seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        val, _ = split_loss(model, corpus.part("val"), torch.device("cpu"))
    return {"name": "plain PyTorch", "steps": steps, "train_seconds": train_seconds,
            "chars_per_second": steps * batch_size * seq_len / train_seconds, "val_loss": val, "val_bpc": val / LN2}


def run(data: str, minutes: float, seed: int = 0, max_chars: int | None = None, sample_length: int = 5000) -> dict:
    """Both contenders on ``data`` for ``minutes`` each; returns the table rows and the sampling speed."""
    model = CharModel(cell="rnn", seed=seed, quiet=True, device="cpu", max_chars=max_chars)
    model.fit(Path(data) if data not in ("python-stdlib", "-") else data, minutes=minutes)
    m = model.metrics_
    # the same validation split, scored by the same function as the reference below
    ours = {"name": "rnnlab (defaults, rnn)", "steps": m["steps"], "train_seconds": m["train_seconds"],
            "chars_per_second": m["chars_per_second"], "val_loss": m["val_loss"], "val_bpc": m["val_bpc"]}
    plain = plain_loop(model.corpus_, 60 * minutes, seed)
    prime = model.vocab_.chars[0]
    speed = chars_per_second(lambda n: model.sample(n, prime=prime, seed=0), sample_length, 3)
    c = model.config
    return {"benchmark": "text", "data": model.corpus_.describe(), "minutes": minutes, "rows": [ours, plain],
            "rnnlab_config": {k: getattr(c, k) for k in ("cell", "hidden_size", "num_layers", "embedding_size",
                                                         "seq_len", "batch_size", "lr", "schedule", "warmup_steps",
                                                         "min_lr_ratio", "clip", "dropout")},
            "sample_chars_per_second": speed, "machine": platform.platform(), "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnlab bench text", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="python-stdlib", help="text file (default: the python-stdlib corpus)")
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget of each contender (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="15 s each on the first 300,000 characters")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.threads:
        threads.use(args.threads)
    minutes, max_chars = (0.25, 300_000) if args.quick else (args.minutes, None)
    result = run(args.data, minutes, args.seed, max_chars, 1000 if args.quick else 5000)
    print(f"{result['data']}\nbudget {minutes:g} min each, torch {result['torch']}, {result['threads']} threads")
    print(f"{'':<24}{'steps':>8}{'chars/s':>10}{'val nats':>10}{'val bpc':>9}")
    for r in result["rows"]:
        print(f"{r['name']:<24}{r['steps']:>8}{r['chars_per_second']:>10,.0f}{r['val_loss']:>10.4f}{r['val_bpc']:>9.4f}")
    print(f"sampling (rnnlab model): {result['sample_chars_per_second']:,.0f} chars/s")
    return finish(args, result)


if __name__ == "__main__":
    raise SystemExit(main())
