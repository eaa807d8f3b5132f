"""Character-level language models: :class:`CharModel` fits any text, measures bits per character, samples.

The model is :class:`rnnlab.models.CharLM` (embedding -> recurrent layer -> logits); training goes through
the shared loop :func:`rnnlab.train.fit` with truncated backpropagation through time: ``batch_size``
contiguous streams of the training split, ``seq_len`` characters per chunk, the state carried from chunk
to chunk and detached. Loss is in nats per character; bits per character are nats / ln 2.

The estimator writes no run directory (:mod:`rnnlab.text.run` does, for ``rnnlab text``): :meth:`CharModel.fit`
only passes ``run_dir`` on to the training loop, which keeps its checkpoint there; :meth:`CharModel.save`
writes the model's two files.

Example:
    >>> m = CharModel(hidden_size=32, num_layers=1, batch_size=4, seq_len=16, quiet=True)
    >>> m = m.fit("the cat sat on the mat. " * 200, steps=5)
    >>> len(m.sample(20, prime="the ", seed=0))
    20
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab import checkpoint, distributed, rundir, train
from rnnlab import config as cfg
from rnnlab.data.text import BUILTIN, Corpus, Vocab, stream_batches
from rnnlab.models import CharLM
from rnnlab.text.generate import Stepper

LN2 = math.log(2.0)


@dataclass(frozen=True)
class TextConfig:
    """Settings of a character model and its training (``[text]`` in a TOML file)."""

    data: str = "python-stdlib"  # a text file, "-" for standard input, or a built-in corpus: python-stdlib
    encoding: str = "utf-8"  # of the file or standard input
    max_chars: int | None = None  # read at most this many characters (None: all; python-stdlib is capped at 4M)
    cell: str = "rnn"  # rnn, lstm or gru
    hidden_size: int = 256  # units per layer
    num_layers: int = 2  # stacked recurrent layers
    embedding_size: int = 64  # character embedding width
    dropout: float = 0.0  # between layers and before the head
    engine: str = "auto"  # see rnnlab.engines
    seq_len: int = 100  # characters per chunk (truncated BPTT length)
    batch_size: int = 64  # contiguous streams per process
    lr: float = 4e-3  # peak learning rate (Adam)
    schedule: str = "cosine"  # constant or cosine over the budget
    warmup_steps: int = 100  # linear warm-up
    min_lr_ratio: float = 0.05  # cosine floor, as a fraction of lr
    weight_decay: float = 0.0  # AdamW decay
    clip: float | None = 5.0  # max gradient norm
    steps: int | None = None  # optimizer updates; with minutes, whichever ends first
    minutes: float | None = None  # wall-clock budget; neither steps nor minutes: default_minutes
    default_minutes: float = 2.0  # the budget when neither steps nor minutes is given
    eval_every: int = 200  # steps between validations (and checkpoints)
    eval_chars: int | None = 1_000_000  # characters of the validation split read at each periodic validation
    patience: int | None = None  # validations without improvement before stopping; None: never
    seed: int = 0  # initialisation, batch order and dropout
    device: str = "auto"  # auto (cuda if available), cpu, cuda
    quiet: bool = False  # no progress bar


def split_loss(model: CharLM, ids: np.ndarray, device: torch.device, chunk: int = 512) -> tuple[float, int]:
    """Mean cross-entropy (nats per character) of predicting ``ids[1:]`` from what precedes, and how many.

    The text is cut into ``S`` contiguous streams of at least 4,096 characters (at most 256 streams), read
    together in chunks with the state carried, so every character but the first of each stream is scored
    with its full preceding context in the stream; the last ``< S`` characters are left out.

    Shape:
        ids ``(T,)``; each chunk ``(S, chunk)``.
    """
    n_pred = len(ids) - 1
    n_streams = max(1, min(256, n_pred // 4096))
    stream_len = n_pred // n_streams
    offsets = np.arange(n_streams, dtype=np.int64)[:, None] * stream_len
    total, state = 0.0, None
    for start in range(0, stream_len, chunk):
        window = np.arange(start, min(start + chunk, stream_len) + 1, dtype=np.int64)
        block = torch.from_numpy(np.asarray(ids[offsets + window]).astype(np.int64)).to(device)  # (S, l + 1)
        logits, state = model(block[:, :-1], state)  # -> (S, l, V)
        total += F.cross_entropy(logits.flatten(0, 1), block[:, 1:].flatten(), reduction="sum").item()
    return total / (n_streams * stream_len), n_streams * stream_len


class TextTask:
    """The shared loop's view of a corpus (see :class:`rnnlab.train.Task`): TBPTT batches, loss, validation."""

    def __init__(self, corpus: Corpus, config: TextConfig) -> None:
        self.corpus, self.config = corpus, config
        self.train = corpus.part("train")
        val = corpus.part("val")
        self.val = val if config.eval_chars is None else val[: config.eval_chars + 1]
        self.world_size = 1
        self.last_val: float | None = None

    def batches(self, epoch: int, generator: torch.Generator, rank: int = 0, world_size: int = 1):
        """Chunks of this rank's streams; from the second epoch on, the chunk boundaries shift at random."""
        self.world_size = world_size
        shift = 0 if epoch == 0 else int(torch.randint(0, self.config.seq_len, (1,), generator=generator))
        return stream_batches(self.train, self.config.batch_size, self.config.seq_len, shift, rank, world_size)

    def loss(self, model, batch, state):
        """Cross-entropy in nats per character, and the state to carry into the next chunk."""
        x, y = batch  # (N, L) each
        device = next(model.parameters()).device
        logits, state = model(x.to(device), state)  # -> (N, L, V)
        return F.cross_entropy(logits.flatten(0, 1), y.to(device).flatten()), state

    def evaluate(self, model) -> float:
        device = next(model.parameters()).device
        self.last_val = split_loss(getattr(model, "module", model), self.val, device)[0]
        return self.last_val

    def describe_progress(self, steps_done: int, seconds: float) -> dict:
        chars = steps_done * self.config.batch_size * self.config.seq_len * self.world_size
        shown = {"chars/s": f"{chars / max(seconds, 1e-9):,.0f}"}
        if self.last_val is not None:
            shown["val bpc"] = f"{self.last_val / LN2:.3f}"
        return shown


class CharModel:
    """A character-level language model: fit it on text, measure bits per character, sample from it.

    ``__init__`` only stores settings (any field of :class:`TextConfig`); :meth:`fit` reads the text,
    builds the vocabulary and the network, trains, and sets the learned attributes: ``vocab_``
    (:class:`~rnnlab.data.text.Vocab`), ``corpus_``, ``model_`` (:class:`~rnnlab.models.CharLM`, on the CPU),
    ``result_`` (the training loop's record, its ``history`` one row per evaluation) and ``metrics_``.

    Args:
        config: a :class:`TextConfig` to start from (default: its defaults).
        **params: fields of :class:`TextConfig` to change.

    Example:
        >>> CharModel(cell="lstm", hidden_size=128).config.hidden_size
        128
    """

    def __init__(self, config: TextConfig | None = None, **params) -> None:
        self.config = cfg.resolve(TextConfig, cfg.to_dict(config or TextConfig()), params)

    # ------------------------------------------------------------ training

    def fit(self, data: str | Path | Corpus | None = None, steps: int | None = None, minutes: float | None = None,
            run_dir: str | Path | None = None, resume: bool = False) -> "CharModel":
        """Train on ``data`` (text, a file path, ``"-"`` for stdin, ``"python-stdlib"``, or an encoded
        :class:`~rnnlab.data.text.Corpus`; default ``config.data``).

        Args:
            data: see :meth:`rnnlab.data.text.Corpus.build` for how a string is read.
            steps, minutes: the budget (override the config); neither anywhere: ``config.default_minutes``.
            run_dir: where training keeps its checkpoint (``run_dir/checkpoint/``); nothing else is written.
            resume: continue from that checkpoint exactly (with the same data and settings).

        Returns:
            ``self``, with ``vocab_``, ``corpus_``, ``model_`` (on the CPU), ``result_`` (the training
            loop's :class:`~rnnlab.train.TrainResult`) and ``metrics_`` (validation and test bits per char).

        Raises:
            ValueError: a bad setting or text, before anything is written.
        """
        c = self.resolved(steps, minutes)
        train_config, device = _checked(c)  # every setting is checked before any file is written
        corpus = data if isinstance(data, Corpus) else self.build_corpus(data)
        self.config = c = dataclasses.replace(c, data=corpus.source)  # a name, never the text itself
        corpus.check(c.batch_size, c.seq_len, distributed.world_size())
        torch.manual_seed(c.seed)
        model = _network(corpus.vocab.size, c, c.dropout).to(device)
        self.vocab_, self.corpus_ = corpus.vocab, corpus
        result = train.fit(model, TextTask(corpus, c), train_config, run_dir=run_dir, resume=resume)
        self.model_, self.result_ = model, result
        self.metrics_ = self._measure(result)
        self.model_.cpu()
        return self

    def build_corpus(self, data: str | Path | None = None, out: str | Path | None = None) -> Corpus:
        """Read and encode ``data`` (default ``config.data``) as :meth:`fit` would, into ``out`` (default: a
        temporary file); a bad setting or text is a ``ValueError`` before anything is written."""
        c = self.resolved()
        _checked(c)
        source = data if data is not None else c.data if c.data in ("-", *BUILTIN) else Path(c.data)
        return Corpus.build(source, out=out, encoding=c.encoding, max_chars=c.max_chars,
                            batches=(c.batch_size, c.seq_len, distributed.world_size()))

    def resolved(self, steps: int | None = None, minutes: float | None = None) -> TextConfig:
        """The settings :meth:`fit` trains with, given its budget (neither anywhere: ``default_minutes``)."""
        c = cfg.resolve(TextConfig, cfg.to_dict(self.config), {"steps": steps, "minutes": minutes})
        if c.steps is None and c.minutes is None:
            c = dataclasses.replace(c, minutes=c.default_minutes)
        return c

    def get_params(self) -> dict:
        """The settings (every field of :class:`TextConfig`), as scikit-learn's estimators give them."""
        return cfg.to_dict(self.config)

    def _measure(self, result) -> dict:
        """``metrics.json``'s figures: validation and test loss of the fitted model, and the training's."""
        c, corpus, model = self.config, self.corpus_, self.model_
        device = next(model.parameters()).device
        model.eval()
        with torch.no_grad():
            val, _ = split_loss(model, corpus.part("val"), device)
            test, _ = split_loss(model, corpus.part("test"), device)
        chars = result.steps * c.batch_size * c.seq_len * distributed.world_size()
        return {
            "task": "text", "val_loss": val, "val_bpc": val / LN2, "test_loss": test, "test_bpc": test / LN2,
            "train_seconds": result.seconds, "steps": result.steps,
            "chars_per_second": chars / max(result.seconds, 1e-9), "stopped": result.stopped,
            "vocab_size": corpus.vocab.size, "parameters": sum(p.numel() for p in model.parameters()),
        }

    # ------------------------------------------------------------ using a fitted model

    def evaluate(self, text: str) -> dict:
        """Nats and bits per character of predicting each character of ``text`` from those before it.

        Returns:
            ``{"loss": nats per char, "bpc": bits per char, "chars": characters scored}``.
        """
        self._check_fitted()
        if not isinstance(text, str) or len(text) < 2:
            raise ValueError("text: evaluate needs a string of at least 2 characters")
        ids = self.vocab_.encode(text, what="evaluation text")
        self.model_.eval()
        with torch.no_grad():
            loss, n = split_loss(self.model_, ids, torch.device("cpu"))
        return {"loss": loss, "bpc": loss / LN2, "chars": n}

    def generate(self, n: int, prime: str = "", temperature: float = 0.8, top_k: int | None = None,
                 seed: int | None = None, greedy: bool = False) -> Iterator[str]:
        """Yield ``n`` characters one at a time, each from one step of the network with the state carried.

        The prime is read once, in one call; afterwards each step reads only the character just produced.
        Without a prime the model starts after a newline (or its first character if it has no newline).

        Args:
            n: characters to generate.
            prime: text to continue (not repeated in the output).
            temperature: divides the logits; lower is more conservative. Default: 0.8.
            top_k: sample among the ``k`` likeliest characters only. Default: all.
            seed: the same seed gives the same text; ``None`` draws one.
            greedy: always take the likeliest character (ignores temperature, top_k, seed).
        """
        self._check_fitted()
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"text: sample length must be a non-negative integer, got {n!r}")
        if not temperature > 0:
            raise ValueError(f"text: temperature must be > 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"text: top_k must be >= 1, got {top_k}")
        chars = self.vocab_.chars
        context = prime or ("\n" if "\n" in chars else chars[0])
        ids = torch.from_numpy(self.vocab_.encode(context, what="prime").astype(np.int64))
        rng = np.random.default_rng(seed)
        model = self.model_.eval()
        with torch.inference_mode():
            logits, state = model(ids[None], None)  # the prime, once: (1, P) -> (1, P, V)
        step = Stepper(model, state)
        # the draws (Stepper.tokens): i = argmax_i (z_i / T + g_i) with g_i = -log(-log(u_i)), u_i ~ U(0, 1)
        # — the Gumbel-max trick, p_i = softmax(z / T)_i over the top_k likeliest when given — or the
        # likeliest when greedy
        for i in step.tokens(logits[0, -1].numpy(), n, temperature, top_k, greedy, rng):
            yield chars[i]

    def sample(self, n: int, prime: str = "", temperature: float = 0.8, top_k: int | None = None,
               seed: int | None = None, greedy: bool = False) -> str:
        """``n`` generated characters continuing ``prime`` as one string; see :meth:`generate`."""
        return "".join(self.generate(n, prime, temperature, top_k, seed, greedy))

    # ------------------------------------------------------------ files

    def save(self, run_dir: str | Path) -> Path:
        """Write ``config.json`` (with the vocabulary) and ``model.safetensors`` into ``run_dir``."""
        self._check_fitted()
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.save_weights(run_dir / "model.safetensors", self.model_.state_dict())
        rundir.atomic_write_json(run_dir / "config.json", config_json(self.config, self.vocab_,
                                                                      getattr(self, "corpus_", None)))
        return run_dir

    @classmethod
    def load(cls, run_dir: str | Path) -> "CharModel":
        """A fitted model from a directory written by :meth:`save` (or ``rnnlab text``)."""
        stored = rundir.read_run_config(run_dir)
        check_task(stored, run_dir)
        weights = Path(run_dir) / "model.safetensors"
        if not weights.is_file():
            raise ValueError(f"text: {run_dir} has no model.safetensors (training did not finish; "
                             f"continue it with rnnlab text --resume {run_dir})")
        self = cls(cfg.resolve(TextConfig, stored["config"]))
        c = self.config
        self.vocab_ = Vocab(stored["vocab"])
        self.model_ = _network(self.vocab_.size, c, 0.0)
        checkpoint.load_state_into(self.model_, checkpoint.load_weights(weights), weights)
        self.metrics_ = _read_json(Path(run_dir) / "metrics.json")
        self.model_.eval()
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ValueError("text: this CharModel is not fitted yet; call fit(text) or CharModel.load(run_dir)")


def config_json(config: TextConfig, vocab: Vocab, corpus: Corpus | None = None) -> dict:
    """What a character model's ``config.json`` holds: the settings, the vocabulary, the data, the versions."""
    return {"task": "text", "config": cfg.to_dict(config), "vocab": vocab.chars,
            "data": corpus.to_dict() if corpus is not None else None, "versions": rundir.versions()}


def _network(vocab_size: int, c: TextConfig, dropout: float) -> CharLM:
    return CharLM(vocab_size, embedding_size=c.embedding_size, hidden_size=c.hidden_size,
                  num_layers=c.num_layers, cell=c.cell, dropout=dropout, engine=c.engine)


def _checked(c: TextConfig):
    """The training loop's settings and the device; a bad setting is a ``ValueError`` naming it."""
    if c.cell not in ("rnn", "lstm", "gru"):
        raise ValueError(f"text: unknown cell '{c.cell}'; choose one of rnn, lstm, gru")
    for name in ("hidden_size", "num_layers", "embedding_size", "seq_len", "batch_size", "eval_every"):
        if getattr(c, name) < 1:
            raise ValueError(f"text: {name} must be >= 1, got {getattr(c, name)}")
    # the training loop takes every setting TextConfig shares with TrainConfig (all but epochs)
    return cfg.project(c, train.TrainConfig), distributed.resolve_device(c.device)


def check_task(stored: dict, run_dir) -> None:
    """A ``ValueError`` unless ``stored`` (a ``config.json``) is a character model's."""
    task = stored.get("task")
    if task != "text":
        hint = "; use rnnlab predict" if task == "forecast" else ""
        raise ValueError(f"text: {run_dir} holds a {task or 'non-text'} model, not a character model{hint}")
    missing = [k for k in ("config", "vocab") if k not in stored]
    if missing:
        raise ValueError(f"text: {run_dir}/config.json is incomplete: no {', '.join(missing)}")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
