"""Text corpora for character models: vocabulary, a compact encoding behind a memory map, splits, TBPTT streams.

A corpus is read twice in chunks, never as one Python string: the first pass decodes it (strictly; a bad
byte is reported with its offset and line) and counts every character, which gives the vocabulary (any
Unicode characters, sorted by code point); the second pass encodes each chunk to character ids and
appends them to a binary file of the smallest unsigned type that holds them (``uint8`` for up to 256
characters, ``uint16`` up to 65,536, else ``int32``). Training then reads that file through
:class:`numpy.memmap`, so memory does not grow with the corpus.

Sources and their encodings (byte order marks recognised) are read by :mod:`rnnlab.data.text_sources`.

The encoded file's size and SHA-256 are recorded (:meth:`Corpus.to_dict`) and checked when it is reopened
(:meth:`Corpus.open`), so a resumed run never continues on a corpus that grew or changed.

Where the encoded file lives: ``corpus.bin`` inside the run directory when there is one (so ``--resume``
needs nothing else, standard input included), otherwise a temporary directory that lives as long as the
:class:`Corpus` object.

Symbols: ``T`` characters, ``V`` vocabulary size, ``N`` streams (batch), ``L`` steps per chunk (seq_len).

Example:
    >>> corpus = Corpus.build("hello world, " * 100)
    >>> corpus.vocab.decode(corpus.vocab.encode("hello"))
    'hello'
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from rnnlab.data.text_sources import BUILTIN, capped, open_source  # noqa: F401  (BUILTIN: part of this API)

CHUNK_BYTES = 1 << 20  # bytes hashed per read
SPLIT = (0.90, 0.05, 0.05)  # train / validation / test fractions, contiguous, in this order


class Vocab:
    """The characters of a corpus, sorted by code point; id ``i`` is ``chars[i]``.

    Args:
        chars: distinct single characters.

    Example:
        >>> v = Vocab(["b", "a"])
        >>> v.chars, v.encode("ab").tolist(), v.decode([1, 0])
        (['a', 'b'], [0, 1], 'ba')
    """

    def __init__(self, chars) -> None:
        chars = sorted(set(chars))
        if not chars or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("text: vocabulary must be a non-empty list of single characters")
        self.chars = chars
        self.size = len(chars)
        self._code_points = np.array([ord(c) for c in chars], dtype=np.int64)
        # code point -> id, -1 for characters outside the vocabulary
        self._table = np.full(int(self._code_points[-1]) + 1, -1, dtype=np.int32)
        self._table[self._code_points] = np.arange(self.size, dtype=np.int32)

    @property
    def dtype(self) -> np.dtype:
        """The smallest integer type that holds every id."""
        if self.size <= 1 << 8:
            return np.dtype(np.uint8)
        return np.dtype(np.uint16) if self.size <= 1 << 16 else np.dtype(np.int32)

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` outside the vocabulary, in order of code point."""
        cps = _code_points(text)
        outside = cps[(cps >= len(self._table)) | (self._table[np.minimum(cps, len(self._table) - 1)] < 0)]
        return [chr(c) for c in np.unique(outside)]

    def encode(self, text: str, what: str = "text") -> np.ndarray:
        """Ids of ``text`` as a ``(T,)`` array of :attr:`dtype`; unseen characters are a ``ValueError`` naming them."""
        cps = _code_points(text)
        ids = self._table[np.minimum(cps, len(self._table) - 1)]
        if ((cps >= len(self._table)) | (ids < 0)).any():
            unseen = self.unknown(text)
            shown = ", ".join(repr(c) for c in unseen[:20]) + (", ..." if len(unseen) > 20 else "")
            raise ValueError(f"text: the {what} has {len(unseen)} character(s) the model has never seen: {shown}")
        return ids.astype(self.dtype)

    def decode(self, ids) -> str:
        """The text of a sequence of ids."""
        return "".join(self.chars[int(i)] for i in ids)


def _code_points(text: str) -> np.ndarray:
    """``(T,)`` uint32 code points of ``text`` (lone surrogates pass through)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)


# ---------------------------------------------------------------- the encoded corpus


@dataclass
class Corpus:
    """An encoded corpus: ``T`` character ids in a binary file read through a memory map, and its splits.

    Build one with :meth:`Corpus.build`; reopen a built one with :meth:`Corpus.open`.

    Attributes:
        path: the encoded file (``T`` ids of ``vocab.dtype``, native byte order).
        vocab: its :class:`Vocab`.
        n_chars: ``T``.
        source: where the text came from (a path, ``"<stdin>"``, ``"<string>"`` or a built-in name).
        split: train / validation / test fractions.
        encoding: the codec the source was read with (``None`` for a string or a built-in corpus).
        sha256: hex digest of the encoded file (``None`` when reopened without one recorded).
    """

    path: Path
    vocab: Vocab
    n_chars: int
    source: str
    split: tuple = SPLIT
    encoding: str | None = None
    sha256: str | None = None
    _tmp: object = None  # a TemporaryDirectory kept alive with the corpus
    _map: np.memmap | None = None  # opened once: the mapping outlives the file's name

    @classmethod
    def build(cls, source: str | Path, out: str | Path | None = None, encoding: str = "utf-8",
              max_chars: int | None = None, batches: tuple[int, int, int] | None = None) -> "Corpus":
        """Read ``source`` (text, a file path, ``"-"`` for stdin, or a name in :data:`BUILTIN`) and encode it.

        Args:
            source: a ``Path`` is a file; ``"-"`` is standard input; ``"python-stdlib"`` the built-in
                corpus; a one-line string that names an existing file or directory, or looks like a path
                (:func:`looks_like_path`: ``"/no/such/file.txt"``, ``"notes.txt"``), is a path, and a
                ``ValueError`` if nothing is there; any other string is the text itself.
            out: the encoded file to write (e.g. ``run_dir / "corpus.bin"``); ``None`` for a temporary one.
            encoding: of a file or standard input. Default: ``"utf-8"``.
            max_chars: read at most this many characters (``None``: all).
            batches: ``(batch_size, seq_len, world_size)`` to check the split sizes against before anything
                is written (see :func:`check_sizes`).

        Raises:
            ValueError: a missing file or a directory, text that does not decode (a byte order mark that
                contradicts ``encoding``, UTF-16 without a mark), an empty text.
        """
        chunks, name, tmp, encoding = open_source(source, encoding)
        if max_chars is not None:
            chunks = capped(chunks, max_chars)
        # pass 1: decode everything once, counting characters (this is where bad bytes are found)
        counts = np.zeros(0, dtype=np.int64)
        n_chars = 0
        for text in chunks():
            cps = _code_points(text)
            c = np.bincount(cps)
            if len(c) > len(counts):
                counts = np.concatenate([counts, np.zeros(len(c) - len(counts), dtype=np.int64)])
            counts[: len(c)] += c
            n_chars += len(text)
        if n_chars == 0:
            raise ValueError(f"text: {name} is empty")
        if batches is not None:
            check_sizes(n_chars, name, *batches)
        vocab = Vocab([chr(c) for c in np.flatnonzero(counts)])
        # pass 2: encode chunk by chunk into the binary file, written beside it and renamed when complete
        if out is None:
            tmp = tmp or tempfile.TemporaryDirectory(prefix="rnnlab-corpus-")
            out = Path(tmp.name) / "corpus.bin"
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(f"{out.name}.part-{os.getpid()}")  # one per process under torchrun
        digest = hashlib.sha256()
        try:
            with part.open("wb") as f:
                for text in chunks():
                    data = vocab.encode(text).tobytes()
                    digest.update(data)
                    f.write(data)
            os.replace(part, out)
        except BaseException:  # Ctrl-C while encoding a large text: no .part file left behind
            part.unlink(missing_ok=True)
            raise
        return cls(path=out, vocab=vocab, n_chars=n_chars, source=name, encoding=encoding,
                   sha256=digest.hexdigest(), _tmp=tmp)

    @classmethod
    def open(cls, path: str | Path, vocab: Vocab, source: str = "", split: tuple = SPLIT,
             n_chars: int | None = None, sha256: str | None = None, encoding: str | None = None) -> "Corpus":
        """A corpus built earlier (e.g. a run directory's ``corpus.bin``) with its vocabulary.

        Args:
            path: the encoded file.
            vocab: its vocabulary.
            source, split, encoding: as recorded by :meth:`to_dict`.
            n_chars, sha256: as recorded; when given, the file must still match them (a resumed run
                continues on the same characters or not at all).

        Raises:
            ValueError: the file is missing, or its size or checksum differ from the record.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"text: encoded corpus not found: {path}")
        size, itemsize = path.stat().st_size, vocab.dtype.itemsize
        restart = "it was changed after the run began; start a new run (a new `out`) on the text you want"
        if size % itemsize or (n_chars is not None and size != n_chars * itemsize):
            held = f"{size // itemsize:,} characters" if size % itemsize == 0 else f"{size:,} bytes"
            raise ValueError(f"text: {path} holds {held} but config.json records {n_chars:,}; {restart}"
                             if n_chars is not None else f"text: {path} holds {size:,} bytes, not a whole number "
                             f"of {vocab.dtype.name} ids; {restart}")
        if sha256 is not None and _file_sha256(path) != sha256:
            raise ValueError(f"text: {path} does not match the SHA-256 recorded in config.json; {restart}")
        return cls(path=path, vocab=vocab, n_chars=size // itemsize, source=source, split=tuple(split),
                   encoding=encoding, sha256=sha256)

    @property
    def ids(self) -> np.ndarray:
        """``(T,)`` the whole corpus as a read-only memory map."""
        if self._map is None:
            self._map = np.memmap(self.path, dtype=self.vocab.dtype, mode="r", shape=(self.n_chars,))
        return self._map

    def bounds(self) -> dict[str, tuple[int, int]]:
        """``{"train": (start, stop), "val": ..., "test": ...}`` character offsets of the contiguous splits."""
        n_train = int(self.n_chars * self.split[0])
        n_val = int(self.n_chars * self.split[1])
        return {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, self.n_chars)}

    def part(self, name: str) -> np.ndarray:
        """One split (``"train"``, ``"val"`` or ``"test"``) as a slice of the memory map."""
        start, stop = self.bounds()[name]
        return self.ids[start:stop]

    def check(self, batch_size: int, seq_len: int, world_size: int = 1) -> None:
        """Raise a ``ValueError`` saying what is missing when the splits are too short to train and evaluate."""
        check_sizes(self.n_chars, self.source, batch_size, seq_len, world_size, self.split)

    def describe(self) -> str:
        """One line: source, characters, vocabulary size, split sizes, storage."""
        sizes = ", ".join(f"{k} {b - a:,}" for k, (a, b) in self.bounds().items())
        return (f"{self.source}: {self.n_chars:,} characters, vocabulary {self.vocab.size} ({sizes}); "
                f"encoded as {self.vocab.dtype.name} in {self.path}")

    def to_dict(self) -> dict:
        """A JSON-able description for ``config.json``."""
        return {"source": self.source, "n_chars": self.n_chars, "vocab_size": self.vocab.size,
                "split": list(self.split), "bounds": self.bounds(), "dtype": self.vocab.dtype.name,
                "file": self.path.name, "encoding": self.encoding, "sha256": self.sha256}


def check_sizes(n_chars: int, source: str, batch_size: int, seq_len: int, world_size: int = 1,
                split: tuple = SPLIT) -> None:
    """Raise a ``ValueError`` saying what is missing when ``n_chars`` are too few for the splits and batches."""
    n_train, n_val = int(n_chars * split[0]), int(n_chars * split[1])
    sizes = {"train": n_train, "val": n_val, "test": n_chars - n_train - n_val}
    need = batch_size * world_size * seq_len + 1
    if sizes["train"] < need:
        raise ValueError(
            f"text: {source} is too short: {n_chars} characters give a training split of {sizes['train']}, "
            f"but batch_size {batch_size} x seq_len {seq_len}{f' x {world_size} processes' if world_size > 1 else ''}"
            f" needs at least {need}; use a longer text or a smaller `batch_size` / `seq_len`"
        )
    for name, fraction in (("val", split[1]), ("test", split[2])):
        if sizes[name] < 2:
            raise ValueError(f"text: {source} is too short: its {name} split ({fraction:.0%} of {n_chars} "
                             f"characters) has {sizes[name]}; at least 2 are needed")


def _file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK_BYTES * 8):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- batches


def stream_batches(ids: np.ndarray, batch_size: int, seq_len: int, shift: int = 0, rank: int = 0,
                   world_size: int = 1, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Truncated-BPTT batches: ``N = batch_size`` contiguous streams per rank, ``L = seq_len`` steps per chunk.

    The text after ``shift`` is cut into ``batch_size * world_size`` equal streams; rank ``r`` reads
    streams ``r * N ... (r + 1) * N - 1``. Batch ``i`` holds chunk ``i`` of each stream, so the state
    after batch ``i`` is the right context for batch ``i + 1``.

    Args:
        ids: ``(T,)`` character ids (a memory map is read only where the batches fall).
        batch_size: streams per rank ``N``.
        seq_len: steps per chunk ``L``.
        shift: characters skipped at the start (varies the chunk boundaries from epoch to epoch).
        rank, world_size: this process and how many there are.
        start: the first batch to yield (resuming inside an epoch).

    Yields:
        ``(x, y)`` int64 tensors ``(N, L)``: the inputs and the next characters.
    """
    n_streams = batch_size * world_size
    stream_len = (len(ids) - shift - 1) // n_streams
    # (N,) offset of each of this rank's streams in ids
    offsets = shift + stream_len * np.arange(rank * batch_size, (rank + 1) * batch_size, dtype=np.int64)
    window = np.arange(seq_len + 1, dtype=np.int64)
    for i in range(start, stream_len // seq_len):
        chunk = torch.from_numpy(ids[(offsets + i * seq_len)[:, None] + window].astype(np.int64))  # (N, L + 1)
        yield chunk[:, :-1], chunk[:, 1:]


def batches_per_epoch(n_train: int, batch_size: int, seq_len: int, shift: int = 0, world_size: int = 1) -> int:
    """How many batches :func:`stream_batches` yields."""
    return ((n_train - shift - 1) // (batch_size * world_size)) // seq_len
